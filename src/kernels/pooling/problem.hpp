#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "locnet/core/dtype.hpp"
#include "locnet/core/window.hpp"

namespace locnet::kernels {

// 2D pooling windows (a Window2D with dilation 1) over x (n, h, w, c) or (n, c, h, w) -> y (n, oh, ow, c) or
// (n, c, oh, ow), element type `dtype` (f32 or f64). Tap (tap_r, tap_c) of output (oy, ox) reads input
// (oy*sh + tap_r - pad_top, ox*sw + tap_c - pad_left); taps outside the input take no part. Every window holds at
// least one input element (the layers keep pads < kernel). Global pooling is the window (kh, kw) = (h, w),
// oh = ow = 1; 1D pooling is h = kh = sh = 1.
struct PoolProblem : Window2D {
  int64_t n = 1, c = 1;
  bool channels_last = true;
  bool count_include_pad = false;  // average: the divisor is the window clipped to the padded input
  DType dtype = DType::f32;
};

// max: y = max over the taps inside the input (NaN propagates: the first NaN wins); argmax = its index within the
// sample, the first maximum in (tap_r, tap_c) order. Backward: dx[argmax] += dy (dx assigned).
struct MaxPoolKernel {
  const char* name;
  bool (*applicable)(const PoolProblem&, std::string* why);
  void (*forward)(const PoolProblem&, const void* x, void* y, int64_t* argmax);
  void (*backward)(const PoolProblem&, const void* dy, const int64_t* argmax, void* dx);
};

// average: y = sum over the taps inside the input / count, where count is the number of those taps (Keras 'same'
// leaves the padding out), or with count_include_pad the taps inside [-pad_top, h + pad_bottom) x [-pad_left,
// w + pad_right) (PyTorch: a ceil_mode window past the padding counts only up to its end); dx[i] = sum over the
// windows containing i of dy / count (dx assigned).
struct AvgPoolKernel {
  const char* name;
  bool (*applicable)(const PoolProblem&, std::string* why);
  void (*forward)(const PoolProblem&, const void* x, void* y);
  void (*backward)(const PoolProblem&, const void* dy, void* dx);
};

std::span<const MaxPoolKernel> max_pool_kernels();          // "max_pool_hwy", "ref"
std::span<const AvgPoolKernel> avg_pool_kernels();          // "ref"
std::span<const AvgPoolKernel> global_avg_pool_kernels();   // "ref"

// The argmax scatter, which every max-pooling kernel shares.
void max_pool_backward(const PoolProblem& p, const void* dy, const int64_t* argmax, void* dx);

}  // namespace locnet::kernels
