// The problem of a windowed product, shared by the conv2d and locally_connected kernels: a Window2D
// (include/locnet/core/window.hpp) over x (n, h, w, c) or (n, c, h, w) giving y (n, oh, ow, f) or (n, f, oh, ow).
// What differs between the two ops is only how the kernel (and bias) are laid out: see their problem.hpp.
#pragma once
#include <algorithm>
#include <cstdint>

#include "locnet/core/dtype.hpp"
#include "locnet/core/window.hpp"

namespace locnet::kernels {

struct WindowProblem : Window2D {
  int64_t n = 1, c = 1, f = 1;
  bool channels_last = true;
  bool has_bias = true;
  DType dtype = DType::f32;

  int64_t patch() const { return kh * kw * c; }
  int64_t in_sample() const { return h * w * c; }
  // Offsets within a sample, in the data format's memory order: input (iy, ix, ch) and output (position, filter).
  int64_t in_index(int64_t iy, int64_t ix, int64_t ch) const {
    return channels_last ? (iy * w + ix) * c + ch : (ch * h + iy) * w + ix;
  }
  int64_t out_index(int64_t pos, int64_t filter) const {
    return channels_last ? pos * f + filter : filter * positions() + pos;
  }
  // The output columns [lo, hi) whose tap tap_c lands inside the input row, and the input column `start` of output
  // column 0's tap (output column ox reads start + ox*sw).
  struct InsideCols {
    int64_t start, lo, hi;
  };
  InsideCols inside_cols(int64_t tap_c) const {
    const int64_t start = tap_c * dilation_w - pad_left;
    const int64_t lo = start >= 0 ? 0 : std::min(ow, (-start + sw - 1) / sw);
    const int64_t hi = start >= w ? lo : std::clamp<int64_t>((w - start + sw - 1) / sw, lo, ow);
    return {start, lo, hi};
  }
};

}  // namespace locnet::kernels
