#pragma once
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>

#include "locnet/core/dtype.hpp"

namespace locnet::kernels {

// A locally connected layer as 2D (1D is rows = 1): x (n, h, w, c) or (n, c, h, w); kernel (P, K, F) with
// P = oh*ow positions row-major and K = kh*kw*c in Keras order ((dy, dx, c) channels_last, (c, dy, dx)
// channels_first); bias (P*F) added in the output's own memory order (p*F + f or f*P + p); y (n, oh, ow, f) or
// (n, f, oh, ow). Tap j of output o along an axis reads input o*s + j*d - pad; outside [0, size) it reads
// nothing (the Keras locally-connected window rule, generalised to dilation and explicit padding).
struct LcProblem {
  int64_t n = 1, h = 1, w = 1, c = 1, f = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0;  // pad before the first row / column
  int64_t oh = 1, ow = 1;
  bool channels_last = true;
  bool has_bias = true;
  DType dtype = DType::f32;

  int64_t positions() const { return oh * ow; }
  int64_t patch() const { return kh * kw * c; }
  int64_t in_sample() const { return h * w * c; }
  // Valid taps [lo, hi) of output o along one axis: 0 <= o*s + j*d - pad < size.
  static void taps(int64_t o, int64_t s, int64_t d, int64_t pad, int64_t k, int64_t size, int64_t& lo,
                   int64_t& hi) {
    auto ceil_div = [](int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
    int64_t start = o * s - pad;
    lo = std::clamp<int64_t>(ceil_div(-start, d), 0, k);
    hi = std::clamp<int64_t>(ceil_div(size - start, d), lo, k);
  }
  void row_taps(int64_t oy, int64_t& lo, int64_t& hi) const { taps(oy, sh, dh, pt, kh, h, lo, hi); }
  void col_taps(int64_t ox, int64_t& lo, int64_t& hi) const { taps(ox, sw, dw, pl, kw, w, lo, hi); }
};

struct LcKernel {
  const char* name;
  bool (*applicable)(const LcProblem&, std::string* why);
  // y assigned: bias (if any) plus the locally connected product.
  void (*forward)(const LcProblem&, const void* x, const void* w, const void* b, void* y);
  // dx assigned; dw and db accumulated (db ignored without bias).
  void (*backward)(const LcProblem&, const void* dy, const void* x, const void* w, void* dx, void* dw, void* db);
};

std::span<const LcKernel> lc_kernels();  // most specialised first, "ref" last

}  // namespace locnet::kernels
