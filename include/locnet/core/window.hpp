// Window2D: the geometry of a window sliding over the rows and columns of an input, shared by Conv2D,
// LocallyConnected1D/2D and the pooling layers and by their kernels. Tap (tap_r, tap_c) of output (oy, ox) reads
// input row oy*sh + tap_r*dilation_h - pad_top and column ox*sw + tap_c*dilation_w - pad_left; a tap outside the
// input reads zero (Conv2D) or nothing (LocallyConnected, pooling).
// Per axis, with input length n, kernel k, stride s, dilation d and dilated extent e = (k - 1) d + 1, fit() sets
// the padding before the first element and the output length:
//   valid     before = 0,                    out = floor((n - e) / s) + 1     (does not fit if n < e)
//   same      TensorFlow SAME: total = max((out - 1) s + e - n, 0), before = floor(total / 2), out = ceil(n / s)
//   centered  Keras's locally-connected "same": before = floor(e / 2), out = ceil(n / s)
//   causal    before = e - 1,                out = ceil(n / s)
//   explicit  (before, after) given,         out = floor((n + before + after - e) / s) + 1 (does not fit if
//             n + before + after < e)
// ceil_mode (valid and explicit only; PyTorch, ONNX, Caffe pooling): out = ceil((n + before + after - e) / s) + 1,
// less one when that last window would start at or past n + before (PyTorch's rule: the last window starts inside
// the input or the padding before it), so it may reach past the padding after.
// fit() also sets the padding after the last element (pad_bottom, pad_right): the given one, or for the computed
// modes max((out - 1) s + e - n - before, 0).
#pragma once
#include <algorithm>
#include <cstdint>

namespace locnet {

enum class WindowPadding { valid, same, centered, causal, explicit_ };

struct Window2D {
  int64_t h = 1, w = 1;                    // input rows, cols
  int64_t kh = 1, kw = 1;                  // taps per window along rows, cols
  int64_t sh = 1, sw = 1;                  // strides
  int64_t dilation_h = 1, dilation_w = 1;  // spacing between taps
  int64_t pad_top = 0, pad_left = 0;       // padding before the first row / column
  int64_t pad_bottom = 0, pad_right = 0;   // padding after the last row / column (set by fit())
  int64_t oh = 1, ow = 1;                  // output rows, cols

  int64_t positions() const { return oh * ow; }
  // Dilated kernel extent along axis 0 (rows) or 1 (cols).
  int64_t extent(int axis) const { return axis == 0 ? (kh - 1) * dilation_h + 1 : (kw - 1) * dilation_w + 1; }
  // Input row / column that a tap of an output row / column reads (may lie outside the input).
  int64_t in_row(int64_t oy, int64_t tap_r) const { return oy * sh + tap_r * dilation_h - pad_top; }
  int64_t in_col(int64_t ox, int64_t tap_c) const { return ox * sw + tap_c * dilation_w - pad_left; }

  // Valid taps [lo, hi) of output o along one axis: 0 <= o*s + j*d - pad < size.
  static void taps(int64_t o, int64_t s, int64_t d, int64_t pad, int64_t k, int64_t size, int64_t& lo,
                   int64_t& hi) {
    auto ceil_div = [](int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
    int64_t start = o * s - pad;
    lo = std::clamp<int64_t>(ceil_div(-start, d), 0, k);
    hi = std::clamp<int64_t>(ceil_div(size - start, d), lo, k);
  }
  void row_taps(int64_t oy, int64_t& lo, int64_t& hi) const { taps(oy, sh, dilation_h, pad_top, kh, h, lo, hi); }
  void col_taps(int64_t ox, int64_t& lo, int64_t& hi) const { taps(ox, sw, dilation_w, pad_left, kw, w, lo, hi); }

  // Sets pad_top, pad_left, oh and ow from the sizes, kernel, strides and dilation by the rule of `padding`
  // (`pads` holds the explicit (before, after) of rows and cols). Returns the first axis (0 rows, 1 cols) along
  // which the dilated kernel is longer than the (padded) input, leaving that axis unset, or -1 when both fit.
  int fit(WindowPadding padding, const int64_t (&pads)[2][2] = {{0, 0}, {0, 0}}, bool ceil_mode = false) {
    const int64_t size[2] = {h, w}, stride[2] = {sh, sw};
    int64_t* before[2] = {&pad_top, &pad_left};
    int64_t* after[2] = {&pad_bottom, &pad_right};
    int64_t* out[2] = {&oh, &ow};
    for (int a = 0; a < 2; ++a) {
      const int64_t n = size[a], s = stride[a], e = extent(a);
      switch (padding) {
        case WindowPadding::same:
          *out[a] = (n + s - 1) / s;
          *before[a] = std::max<int64_t>((*out[a] - 1) * s + e - n, 0) / 2;
          break;
        case WindowPadding::centered:
        case WindowPadding::causal:
          *out[a] = (n + s - 1) / s;
          *before[a] = padding == WindowPadding::centered ? e / 2 : e - 1;
          break;
        case WindowPadding::valid:
        case WindowPadding::explicit_: {
          const bool given = padding == WindowPadding::explicit_;
          const int64_t padded = given ? n + pads[a][0] + pads[a][1] : n;
          if (padded < e) return a;
          *before[a] = given ? pads[a][0] : 0;
          *after[a] = given ? pads[a][1] : 0;
          *out[a] = ceil_mode ? (padded - e + s - 1) / s + 1 : (padded - e) / s + 1;
          if (ceil_mode && (*out[a] - 1) * s >= n + *before[a]) --*out[a];
          continue;
        }
      }
      *after[a] = std::max<int64_t>((*out[a] - 1) * s + e - n - *before[a], 0);
    }
    return -1;
  }
};

}  // namespace locnet
