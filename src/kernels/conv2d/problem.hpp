#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "locnet/core/dtype.hpp"

namespace locnet::kernels {

// A 2D convolution (cross-correlation): x (n, h, w, c) or (n, c, h, w); kernel (kh, kw, c, f) in Keras's layout
// whatever the data format (row q = (dy*kw + dx)*c + ch of a K x F matrix, K = kh*kw*c); bias (f,);
// y (n, oh, ow, f) or (n, f, oh, ow). Tap (dy, dx) of output (oy, ox) reads input (oy*sh + dy*dh - pt,
// ox*sw + dx*dw - pl); outside the input it reads zero.
struct Conv2dProblem {
  int64_t n = 1, h = 1, w = 1, c = 1, f = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0;  // zeros before the first row / column
  int64_t oh = 1, ow = 1;
  bool channels_last = true;
  bool has_bias = true;
  DType dtype = DType::f32;

  int64_t positions() const { return oh * ow; }
  int64_t patch() const { return kh * kw * c; }
  int64_t in_sample() const { return h * w * c; }
};

struct Conv2dKernel {
  const char* name;
  bool (*applicable)(const Conv2dProblem&, std::string* why);
  // y assigned: bias (if any) plus the convolution.
  void (*forward)(const Conv2dProblem&, const void* x, const void* w, const void* b, void* y);
  // dx assigned; dw and db accumulated (db ignored without bias).
  void (*backward)(const Conv2dProblem&, const void* dy, const void* x, const void* w, void* dx, void* dw, void* db);
};

std::span<const Conv2dKernel> conv2d_kernels();  // most specialised first, "ref" last

}  // namespace locnet::kernels
