// Reference pooling kernels (the spec the SIMD max pooling is tested against): direct loops, OpenMP over the
// batch for the windowed ones. Formulas in src/kernels/pooling/problem.hpp and above each function.
#include <algorithm>
#include <cmath>
#include <limits>

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

// A window's input rows [y0, y1) x cols [x0, x1), and the divisor of average pooling.
struct Span {
  int64_t y0, y1, x0, x1;
  int64_t count;
};

// fn(sample, output offset, span) for every window.
template <class Fn>
void for_each_window(const PoolProblem& p, Fn&& fn) {
  const Layout l(p);
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, p.oh * p.ow * p.c));
  parallel_for(0, p.n, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s)
      for (int64_t oy = 0; oy < p.oh; ++oy) {
        const int64_t top = p.in_row(oy, 0), y0 = std::max<int64_t>(top, 0), y1 = std::min(top + p.kh, p.h);
        const int64_t rows = p.count_include_pad ? std::min(top + p.kh, p.h + p.pad_bottom) - top : y1 - y0;
        for (int64_t ox = 0; ox < p.ow; ++ox) {
          const int64_t left = p.in_col(ox, 0), x0 = std::max<int64_t>(left, 0), x1 = std::min(left + p.kw, p.w);
          const int64_t cols = p.count_include_pad ? std::min(left + p.kw, p.w + p.pad_right) - left : x1 - x0;
          fn(s, (oy * p.ow + ox) * l.out_pixel, Span{y0, y1, x0, x1, rows * cols});
        }
      }
  });
}

// y = max over the window's taps inside the input; argmax = the index (within the sample) of the first maximum in
// (dy, dx) order; a later tap replaces the kept one when greater, or when NaN and the kept one is not.
template <class T>
void max_forward(const PoolProblem& p, const T* x, T* y, int64_t* argmax) {
  const Layout l(p);
  const int64_t in = p.h * p.w * p.c, out = p.oh * p.ow * p.c;
  for_each_window(p, [&](int64_t s, int64_t o, const Span& w) {
    for (int64_t ch = 0; ch < p.c; ++ch) {
      T best = -std::numeric_limits<T>::infinity();
      int64_t arg = -1;
      for (int64_t iy = w.y0; iy < w.y1; ++iy)
        for (int64_t ix = w.x0; ix < w.x1; ++ix) {
          int64_t i = (iy * p.w + ix) * l.in_pixel + ch * l.in_channel;
          T v = x[s * in + i];
          if (v > best || arg < 0 || (std::isnan(v) && !std::isnan(best))) best = v, arg = i;
        }
      y[s * out + o + ch * l.out_channel] = best;
      argmax[s * out + o + ch * l.out_channel] = arg;
    }
  });
}

// dx = 0, then dx[argmax] += dy per output.
template <class T>
void max_backward(const PoolProblem& p, const T* dy, const int64_t* argmax, T* dx) {
  const int64_t in = p.h * p.w * p.c, out = p.oh * p.ow * p.c;
  parallel_for(0, p.n, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s) {
      std::fill(dx + s * in, dx + (s + 1) * in, T(0));
      for (int64_t o = 0; o < out; ++o) dx[s * in + argmax[s * out + o]] += dy[s * out + o];
    }
  });
}

// y = sum over the window's taps inside the input / count (the taps inside the input, or with count_include_pad
// those inside the padded input).
template <class T>
void avg_forward(const PoolProblem& p, const T* x, T* y) {
  const Layout l(p);
  const int64_t in = p.h * p.w * p.c, out = p.oh * p.ow * p.c;
  for_each_window(p, [&](int64_t s, int64_t o, const Span& w) {
    const T scale = T(1) / T(w.count);
    for (int64_t ch = 0; ch < p.c; ++ch) {
      T sum = 0;
      for (int64_t iy = w.y0; iy < w.y1; ++iy)
        for (int64_t ix = w.x0; ix < w.x1; ++ix) sum += x[s * in + (iy * p.w + ix) * l.in_pixel + ch * l.in_channel];
      y[s * out + o + ch * l.out_channel] = sum * scale;
    }
  });
}

// dx[i] = sum over the windows containing i of dy / the window's count (as in avg_forward).
template <class T>
void avg_backward(const PoolProblem& p, const T* dy, T* dx) {
  const Layout l(p);
  const int64_t in = p.h * p.w * p.c, out = p.oh * p.ow * p.c;
  parallel_for(0, p.n, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s) std::fill(dx + s * in, dx + (s + 1) * in, T(0));
  });
  // Windows of one sample overlap in dx; samples never do, so for_each_window's split by sample is race-free.
  for_each_window(p, [&](int64_t s, int64_t o, const Span& w) {
    const T scale = T(1) / T(w.count);
    for (int64_t ch = 0; ch < p.c; ++ch) {
      T g = dy[s * out + o + ch * l.out_channel] * scale;
      for (int64_t iy = w.y0; iy < w.y1; ++iy)
        for (int64_t ix = w.x0; ix < w.x1; ++ix) dx[s * in + (iy * p.w + ix) * l.in_pixel + ch * l.in_channel] += g;
    }
  });
}

// Global average: fn(output index s*c + ch, input index) for every pixel of every sample, pixels outer.
template <class Fn>
void for_each_pixel(const PoolProblem& p, Fn&& fn) {
  const int64_t pixels = p.h * p.w, c = p.c;
  for (int64_t s = 0; s < p.n; ++s)
    for (int64_t px = 0; px < pixels; ++px)
      for (int64_t ch = 0; ch < c; ++ch)
        fn(s * c + ch, s * pixels * c + (p.channels_last ? px * c + ch : ch * pixels + px));
}

// y[n, c] = sum over the h*w pixels / (h*w).
template <class T>
void global_forward(const PoolProblem& p, const T* x, T* y) {
  std::fill(y, y + p.n * p.c, T(0));
  for_each_pixel(p, [&](int64_t o, int64_t i) { y[o] += x[i]; });
  for (int64_t i = 0; i < p.n * p.c; ++i) y[i] /= T(p.h * p.w);
}

// dx[n, pixel, c] = dy[n, c] / (h*w).
template <class T>
void global_backward(const PoolProblem& p, const T* dy, T* dx) {
  for_each_pixel(p, [&](int64_t o, int64_t i) { dx[i] = dy[o] / T(p.h * p.w); });
}

bool float_dtype(const PoolProblem& p, std::string* why) {
  if (p.dtype == DType::f32 || p.dtype == DType::f64) return true;
  *why = "dtype must be f32 or f64";
  return false;
}

template <class T>
const T* in(const void* v) {
  return static_cast<const T*>(v);
}
template <class T>
T* out(void* v) {
  return static_cast<T*>(v);
}

}  // namespace

void max_pool_backward(const PoolProblem& p, const void* dy, const int64_t* argmax, void* dx) {
  visit_float(p.dtype, [&](auto t) { max_backward(p, in<decltype(t)>(dy), argmax, out<decltype(t)>(dx)); });
}

namespace {
// The type-erased entry points: the dtype picks the instance.
void max_fwd(const PoolProblem& p, const void* x, void* y, int64_t* argmax) {
  visit_float(p.dtype, [&](auto t) { max_forward(p, in<decltype(t)>(x), out<decltype(t)>(y), argmax); });
}
void avg_fwd(const PoolProblem& p, const void* x, void* y) {
  visit_float(p.dtype, [&](auto t) { avg_forward(p, in<decltype(t)>(x), out<decltype(t)>(y)); });
}
void avg_bwd(const PoolProblem& p, const void* dy, void* dx) {
  visit_float(p.dtype, [&](auto t) { avg_backward(p, in<decltype(t)>(dy), out<decltype(t)>(dx)); });
}
void global_fwd(const PoolProblem& p, const void* x, void* y) {
  visit_float(p.dtype, [&](auto t) { global_forward(p, in<decltype(t)>(x), out<decltype(t)>(y)); });
}
void global_bwd(const PoolProblem& p, const void* dy, void* dx) {
  visit_float(p.dtype, [&](auto t) { global_backward(p, in<decltype(t)>(dy), out<decltype(t)>(dx)); });
}
}  // namespace

extern const MaxPoolKernel kMaxPoolRef{"ref", float_dtype, max_fwd, max_pool_backward};
extern const AvgPoolKernel kAvgPoolRef{"ref", float_dtype, avg_fwd, avg_bwd};
extern const AvgPoolKernel kGlobalAvgPoolRef{"ref", float_dtype, global_fwd, global_bwd};

}  // namespace locnet::kernels
