#pragma once
#include <cstdint>

namespace locnet::kernels {

// 2D pooling windows over x (n, h, w, c) or (n, c, h, w) -> y (n, oh, ow, c) or (n, c, oh, ow). Tap (dy, dx) of
// output (oy, ox) reads input (oy*sh + dy - pt, ox*sw + dx - pl); taps outside the input take no part.
struct PoolProblem {
  int64_t n = 1, h = 1, w = 1, c = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1;
  int64_t pt = 0, pl = 0;
  int64_t oh = 1, ow = 1;
  bool channels_last = true;
};

// Direct loops, OpenMP over the batch (max forward also has a SIMD path, below).
//   max:     y = max over the taps inside the input (NaN propagates); argmax = its index within the sample, the
//            first maximum in (dy, dx) order;  dx[argmax] += dy (dx assigned)
//   average: y = sum over the taps inside the input / their count (Keras 'same' leaves the padding out of the
//            count);  dx[i] = sum over windows containing i of dy / count (dx assigned)
// max_pool_forward runs max_pool_forward_fast (max_pool_hwy.cpp: f32, channels_last, every window inside the
// input) where it applies, else max_pool_forward_ref (direct loops, the spec it is tested against).
template <class T>
void max_pool_forward(const PoolProblem& p, const T* x, T* y, int64_t* argmax);
template <class T>
void max_pool_forward_ref(const PoolProblem& p, const T* x, T* y, int64_t* argmax);
bool max_pool_fast_applicable(const PoolProblem& p);
void max_pool_forward_fast(const PoolProblem& p, const float* x, float* y, int64_t* argmax);
template <class T>
void max_pool_backward(const PoolProblem& p, const T* dy, const int64_t* argmax, T* dx);
template <class T>
void avg_pool_forward(const PoolProblem& p, const T* x, T* y);
template <class T>
void avg_pool_backward(const PoolProblem& p, const T* dy, T* dx);

}  // namespace locnet::kernels
