#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/pooling/problem.hpp"
#include "locnet/core/parallel.hpp"

namespace locnet::kernels {
namespace {

// Strides in elements within a sample: one pixel step and one channel step, for x and y.
struct Layout {
  int64_t in_pixel, in_channel, out_pixel, out_channel;
  explicit Layout(const PoolProblem& p)
      : in_pixel(p.channels_last ? p.c : 1),
        in_channel(p.channels_last ? 1 : p.h * p.w),
        out_pixel(p.channels_last ? p.c : 1),
        out_channel(p.channels_last ? 1 : p.oh * p.ow) {}
};

// fn(sample, output offset, [y0, y1) x [x0, x1) valid input rows/cols) for every window.
template <class Fn>
void for_each_window(const PoolProblem& p, Fn&& fn) {
  const Layout l(p);
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, p.oh * p.ow * p.c));
  parallel_for(0, p.n, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s)
      for (int64_t oy = 0; oy < p.oh; ++oy) {
        int64_t y0 = std::max<int64_t>(oy * p.sh - p.pt, 0), y1 = std::min(oy * p.sh - p.pt + p.kh, p.h);
        for (int64_t ox = 0; ox < p.ow; ++ox) {
          int64_t x0 = std::max<int64_t>(ox * p.sw - p.pl, 0), x1 = std::min(ox * p.sw - p.pl + p.kw, p.w);
          fn(s, (oy * p.ow + ox) * l.out_pixel, y0, y1, x0, x1);
        }
      }
  });
}

}  // namespace

template <class T>
void max_pool_forward(const PoolProblem& p, const T* x, T* y, int64_t* argmax) {
  if constexpr (std::is_same_v<T, float>)
    if (max_pool_fast_applicable(p)) return max_pool_forward_fast(p, x, y, argmax);
  max_pool_forward_ref(p, x, y, argmax);
}

template <class T>
void max_pool_forward_ref(const PoolProblem& p, const T* x, T* y, int64_t* argmax) {
  const Layout l(p);
  const int64_t in = p.h * p.w * p.c, out = p.oh * p.ow * p.c;
  for_each_window(p, [&](int64_t s, int64_t o, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
    for (int64_t ch = 0; ch < p.c; ++ch) {
      T best = -std::numeric_limits<T>::infinity();
      int64_t arg = -1;
      for (int64_t iy = y0; iy < y1; ++iy)
        for (int64_t ix = x0; ix < x1; ++ix) {
          int64_t i = (iy * p.w + ix) * l.in_pixel + ch * l.in_channel;
          T v = x[s * in + i];
          if (v > best || arg < 0 || (std::isnan(v) && !std::isnan(best))) best = v, arg = i;
        }
      y[s * out + o + ch * l.out_channel] = best;
      argmax[s * out + o + ch * l.out_channel] = arg;
    }
  });
}

template <class T>
void max_pool_backward(const PoolProblem& p, const T* dy, const int64_t* argmax, T* dx) {
  const int64_t in = p.h * p.w * p.c, out = p.oh * p.ow * p.c;
  parallel_for(0, p.n, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s) {
      std::fill(dx + s * in, dx + (s + 1) * in, T(0));
      for (int64_t o = 0; o < out; ++o) dx[s * in + argmax[s * out + o]] += dy[s * out + o];
    }
  });
}

template <class T>
void avg_pool_forward(const PoolProblem& p, const T* x, T* y) {
  const Layout l(p);
  const int64_t in = p.h * p.w * p.c, out = p.oh * p.ow * p.c;
  for_each_window(p, [&](int64_t s, int64_t o, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
    const T scale = T(1) / T((y1 - y0) * (x1 - x0));
    for (int64_t ch = 0; ch < p.c; ++ch) {
      T sum = 0;
      for (int64_t iy = y0; iy < y1; ++iy)
        for (int64_t ix = x0; ix < x1; ++ix) sum += x[s * in + (iy * p.w + ix) * l.in_pixel + ch * l.in_channel];
      y[s * out + o + ch * l.out_channel] = sum * scale;
    }
  });
}

template <class T>
void avg_pool_backward(const PoolProblem& p, const T* dy, T* dx) {
  const Layout l(p);
  const int64_t in = p.h * p.w * p.c, out = p.oh * p.ow * p.c;
  parallel_for(0, p.n, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s) std::fill(dx + s * in, dx + (s + 1) * in, T(0));
  });
  // Windows of one sample overlap in dx; samples never do, so for_each_window's split by sample is race-free.
  for_each_window(p, [&](int64_t s, int64_t o, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
    const T scale = T(1) / T((y1 - y0) * (x1 - x0));
    for (int64_t ch = 0; ch < p.c; ++ch) {
      T g = dy[s * out + o + ch * l.out_channel] * scale;
      for (int64_t iy = y0; iy < y1; ++iy)
        for (int64_t ix = x0; ix < x1; ++ix) dx[s * in + (iy * p.w + ix) * l.in_pixel + ch * l.in_channel] += g;
    }
  });
}

#define LOCNET_POOL(T)                                                                          \
  template void max_pool_forward<T>(const PoolProblem&, const T*, T*, int64_t*);                \
  template void max_pool_forward_ref<T>(const PoolProblem&, const T*, T*, int64_t*);            \
  template void max_pool_backward<T>(const PoolProblem&, const T*, const int64_t*, T*);         \
  template void avg_pool_forward<T>(const PoolProblem&, const T*, T*);                          \
  template void avg_pool_backward<T>(const PoolProblem&, const T*, T*);
LOCNET_POOL(float)
LOCNET_POOL(double)
#undef LOCNET_POOL

}  // namespace locnet::kernels
