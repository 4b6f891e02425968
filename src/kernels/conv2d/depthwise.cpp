// Depthwise 2D convolution (groups = C, M = F/C filters per channel) as direct loops instead of im2col's C tiny
// GEMMs. channels_last: the inner loop runs along the channels of one input pixel and one kernel tap (contiguous in
// x, y and the kernel); channels_first: along one output row of one filter, reading its input row at stride sw.
// With kernel W (kh, kw, 1, F) and output channel f = c*M + m, over the taps inside the input:
//   y[n, oy, ox, f] = b[f] + sum_{tap_r, tap_c} x[n, iy, ix, c] W[tap_r, tap_c, 0, f]
//   dx[n, iy, ix, c] = sum_{(oy, ox, tap) reading (iy, ix)} sum_m dy[n, oy, ox, c*M + m] W[tap, 0, c*M + m]
//   dW[tap, 0, f] += sum_{n, oy, ox} x[n, iy, ix, c] dy[n, oy, ox, f]        db[f] += sum_{n, oy, ox} dy[n, oy, ox, f]
// Samples run in parallel; backward accumulates dW/db per chunk of the batch (kernels/batch_chunks.hpp).
#include <algorithm>

#include "kernels/batch_chunks.hpp"
#include "kernels/conv2d/problem.hpp"
#include "kernels/window_ref.hpp"

namespace locnet::kernels {
namespace {

template <class T>
struct Depthwise {
  const Conv2dProblem& p;
  const int64_t C = p.c, M = p.group_filters(), F = p.f, in = p.in_sample(), out = p.positions() * F;

  // fn(output offset, kernel offset, input offset) for every tap of every output position that lands inside.
  template <class Fn>
  void each_tap(Fn&& fn) const {
    for_each_inside_tap(p, [&](int64_t pos, int64_t tap_r, int64_t tap_c, int64_t iy, int64_t ix) {
      fn(pos * F, (tap_r * p.kw + tap_c) * F, (iy * p.w + ix) * C);
    });
  }

  // fn(output offset, input offset, output columns [lo, hi), kernel offset) for every output row of filter f and
  // every tap of it that lands inside the input; output column ox reads input offset + ox*sw (channels_first).
  template <class Fn>
  void each_row(int64_t f, Fn&& fn) const {
    const int64_t c = f / M;
    for (int64_t tap_r = 0; tap_r < p.kh; ++tap_r)
      for (int64_t tap_c = 0; tap_c < p.kw; ++tap_c) {
        const WindowProblem::InsideCols cols = p.inside_cols(tap_c);
        if (cols.hi <= cols.lo) continue;
        for (int64_t oy = 0; oy < p.oh; ++oy) {
          const int64_t iy = p.in_row(oy, tap_r);
          if (iy >= 0 && iy < p.h)
            fn((f * p.oh + oy) * p.ow, (c * p.h + iy) * p.w + cols.start, cols.lo, cols.hi,
               (tap_r * p.kw + tap_c) * F + f);
        }
      }
  }

  void forward_planes(const T* xs, const T* w, const T* b, T* ys) const {
    const int64_t P = p.positions(), sw = p.sw;
    for (int64_t f = 0; f < F; ++f) {
      std::fill(ys + f * P, ys + (f + 1) * P, p.has_bias ? b[f] : T(0));
      each_row(f, [&](int64_t o, int64_t i, int64_t lo, int64_t hi, int64_t k) {
        const T wk = w[k];
        for (int64_t ox = lo; ox < hi; ++ox) ys[o + ox] += wk * xs[i + ox * sw];
      });
    }
  }

  // dxs assigned; dw, db accumulated.
  void backward_planes(const T* xs, const T* w, const T* gy, T* dxs, T* dw, T* db) const {
    const int64_t P = p.positions(), sw = p.sw;
    std::fill(dxs, dxs + in, T(0));
    for (int64_t f = 0; f < F; ++f) {
      if (p.has_bias)
        for (int64_t pos = 0; pos < P; ++pos) db[f] += gy[f * P + pos];
      each_row(f, [&](int64_t o, int64_t i, int64_t lo, int64_t hi, int64_t k) {
        const T wk = w[k];
        T sum = 0;
        for (int64_t ox = lo; ox < hi; ++ox) {
          dxs[i + ox * sw] += wk * gy[o + ox];
          sum += xs[i + ox * sw] * gy[o + ox];
        }
        dw[k] += sum;
      });
    }
  }

  void forward_sample(const T* xs, const T* w, const T* b, T* ys) const {
    if (!p.channels_last) return forward_planes(xs, w, b, ys);
    for (int64_t pos = 0; pos < p.positions(); ++pos) {
      if (p.has_bias) std::copy(b, b + F, ys + pos * F);
      else std::fill(ys + pos * F, ys + (pos + 1) * F, T(0));
    }
    each_tap([&](int64_t o, int64_t k, int64_t i) {
      T* __restrict y = ys + o;
      const T* __restrict wk = w + k;
      const T* __restrict x = xs + i;
      if (M == 1)
        for (int64_t c = 0; c < C; ++c) y[c] += x[c] * wk[c];
      else
        for (int64_t c = 0; c < C; ++c)
          for (int64_t m = 0; m < M; ++m) y[c * M + m] += x[c] * wk[c * M + m];
    });
  }

  // dxs assigned; dw, db accumulated.
  void backward_sample(const T* xs, const T* w, const T* gy, T* dxs, T* dw, T* db) const {
    if (!p.channels_last) return backward_planes(xs, w, gy, dxs, dw, db);
    std::fill(dxs, dxs + in, T(0));
    if (p.has_bias)
      for (int64_t pos = 0; pos < p.positions(); ++pos)
        for (int64_t f = 0; f < F; ++f) db[f] += gy[pos * F + f];
    each_tap([&](int64_t o, int64_t k, int64_t i) {
      const T* __restrict g = gy + o;
      const T* __restrict wk = w + k;
      const T* __restrict x = xs + i;
      T* __restrict dx = dxs + i;
      T* __restrict dwk = dw + k;
      if (M == 1) {
        for (int64_t c = 0; c < C; ++c) dx[c] += g[c] * wk[c];
        for (int64_t c = 0; c < C; ++c) dwk[c] += x[c] * g[c];
        return;
      }
      for (int64_t c = 0; c < C; ++c)
        for (int64_t m = 0; m < M; ++m) {
          dx[c] += g[c * M + m] * wk[c * M + m];
          dwk[c * M + m] += x[c] * g[c * M + m];
        }
    });
  }

  static void forward(const Conv2dProblem& p, const T* x, const T* w, const T* b, T* y) {
    const Depthwise d{p};
    parallel_for(0, p.n, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t s = lo; s < hi; ++s) d.forward_sample(x + s * d.in, w, b, y + s * d.out);
    });
  }

  static void backward(const Conv2dProblem& p, const T* gy, const T* x, const T* w, T* dx, T* dw, T* db) {
    const Depthwise d{p};
    chunked_backward(p.n, p.kh * p.kw * d.F, d.F, dw, p.has_bias ? db : nullptr,
                     [&](int64_t first, int64_t end, T* pdw, T* pdb) {
                       for (int64_t s = first; s < end; ++s)
                         d.backward_sample(x + s * d.in, w, gy + s * d.out, dx + s * d.in, pdw, pdb);
                     });
  }
};

bool applicable(const Conv2dProblem& p, std::string* why) {
  if (p.groups != p.c || p.groups == 1) {
    *why = "groups must be the channel count (> 1)";
    return false;
  }
  return f32_or_f64(p.dtype, why);
}

}  // namespace

extern const Conv2dKernel kConv2dDepthwise = typed_kernel<Conv2dKernel, Depthwise>("depthwise", applicable);

}  // namespace locnet::kernels
