// 2D convolution as im2col + GEMM (OpenBLAS), OpenMP over the batch with BLAS single-threaded inside (batch 1 or
// one thread: a single GEMM per sample with BLAS's own threads).
//   channels_last:  col (P x K), row p = the patch of output position p in Keras's (tap_r, tap_c, ch) order;
//                   y_s (P x F) = col @ W (K x F) + b
//   channels_first: colT (K x P) (rows are contiguous output rows); y_s (F x P) = W^T @ colT + b
// A 1x1 kernel with stride 1 and no padding reads x itself as the column matrix.
// Grouped (groups g > 1): the patch columns are ordered (group, tap, channel of the group), so group g's columns
// are one block of Kg = kh*kw*C/groups and its product is one GEMM on sub-matrices (leading dimensions K and F);
// with groups = 1 the order is Keras's (tap, channel).
// Backward per sample: dW += col^T dy_s (colT dy_s^T), dcol = dy_s W^T (W dy_s), added back into dx (col2im).
// The batch is cut into one contiguous chunk per thread, each accumulating its own dW/db, summed in chunk order:
// the same thread count gives the same bits.
#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/batch_chunks.hpp"
#include "kernels/blas.hpp"
#include "kernels/conv2d/problem.hpp"

namespace locnet::kernels {
namespace {

template <class T>
struct Conv {
  const Conv2dProblem& p;
  const int64_t P = p.positions(), K = p.patch(), F = p.f, in = p.in_sample(), out = P * F;
  const int64_t G = p.groups, cg = p.group_channels(), fg = p.group_filters(), taps = p.kh * p.kw, Kg = taps * cg;
  const bool identity = p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.pad_top == 0 &&
                        p.pad_left == 0 && p.oh == p.h && p.ow == p.w;

  // The patch column of (tap, channel ch) in group-major order.
  int64_t column(int64_t tap, int64_t ch) const { return (ch / cg * taps + tap) * cg + ch % cg; }

  // Visits each (column-matrix run, input run) pair: fn(col offset, input offset or -1 for zeros, length, input
  // step). channels_last runs are one kernel row of a position (kw*C values when dilation_w = 1 and groups = 1,
  // else C/groups per tap and group); channels_first runs are one output row of one patch entry.
  template <class Fn>
  void segments(Fn&& fn) const {
    const int64_t C = p.c;
    if (p.channels_last) {
      for (int64_t oy = 0; oy < p.oh; ++oy)
        for (int64_t ox = 0; ox < p.ow; ++ox)
          for (int64_t tap_r = 0; tap_r < p.kh; ++tap_r) {
            const int64_t iy = p.in_row(oy, tap_r), pos = (oy * p.ow + ox) * K, c0 = pos + tap_r * p.kw * cg;
            if (iy < 0 || iy >= p.h) {
              for (int64_t g = 0; g < G; ++g) fn(c0 + g * Kg, -1, p.kw * cg, 1);
              continue;
            }
            const int64_t ix0 = ox * p.sw - p.pad_left;  // input column of tap 0
            if (p.dilation_w == 1 && G == 1) {
              int64_t lo = std::clamp<int64_t>(-ix0, 0, p.kw), hi = std::clamp<int64_t>(p.w - ix0, lo, p.kw);
              if (lo > 0) fn(c0, -1, lo * C, 1);
              if (hi > lo) fn(c0 + lo * C, (iy * p.w + ix0 + lo) * C, (hi - lo) * C, 1);
              if (hi < p.kw) fn(c0 + hi * C, -1, (p.kw - hi) * C, 1);
              continue;
            }
            for (int64_t tap_c = 0; tap_c < p.kw; ++tap_c) {
              const int64_t ix = ix0 + tap_c * p.dilation_w;
              const bool inside = ix >= 0 && ix < p.w;
              for (int64_t g = 0; g < G; ++g)
                fn(pos + column(tap_r * p.kw + tap_c, g * cg), inside ? (iy * p.w + ix) * C + g * cg : -1, cg, 1);
            }
          }
      return;
    }
    for (int64_t tap_r = 0; tap_r < p.kh; ++tap_r)
      for (int64_t tap_c = 0; tap_c < p.kw; ++tap_c)
        for (int64_t ch = 0; ch < C; ++ch) {
          const int64_t row = column(tap_r * p.kw + tap_c, ch) * P;
          for (int64_t oy = 0; oy < p.oh; ++oy) {
            int64_t iy = p.in_row(oy, tap_r);
            if (iy < 0 || iy >= p.h) {
              fn(row + oy * p.ow, -1, p.ow, 0);
              continue;
            }
            const auto [start, lo, hi] = p.inside_cols(tap_c);
            int64_t base = row + oy * p.ow, src = (ch * p.h + iy) * p.w + start;
            if (lo > 0) fn(base, -1, lo, 0);
            if (hi > lo) fn(base + lo, src + lo * p.sw, hi - lo, p.sw);
            if (hi < p.ow) fn(base + hi, -1, p.ow - hi, 0);
          }
        }
  }

  // Plain loops: runs are often a few values long, where a memcpy call costs more than the copy.
  void im2col(const T* xs, T* col) const {
    segments([&](int64_t c0, int64_t i0, int64_t len, int64_t step) {
      T* dst = col + c0;
      if (i0 < 0)
        for (int64_t e = 0; e < len; ++e) dst[e] = T(0);
      else if (step == 1)
        for (int64_t e = 0; e < len; ++e) dst[e] = xs[i0 + e];
      else
        for (int64_t e = 0; e < len; ++e) dst[e] = xs[i0 + e * step];
    });
  }

  void col2im_add(const T* col, T* dxs) const {
    segments([&](int64_t c0, int64_t i0, int64_t len, int64_t step) {
      if (i0 < 0) return;
      const T* src = col + c0;
      for (int64_t e = 0; e < len; ++e) dxs[i0 + e * step] += src[e];
    });
  }

  void forward_sample(const T* xs, const T* w, const T* b, T* ys, T* buf) const {
    const T* col = xs;
    if (!identity) {
      im2col(xs, buf);
      col = buf;
    }
    T beta = 0;
    if (p.has_bias) {
      beta = 1;
      if (p.channels_last)
        for (int64_t pos = 0; pos < P; ++pos) std::copy(b, b + F, ys + pos * F);
      else
        for (int64_t f = 0; f < F; ++f) std::fill(ys + f * P, ys + (f + 1) * P, b[f]);
    }
    for (int64_t g = 0; g < G; ++g) {
      const T* wg = w + g * fg;  // the group's filters: columns [g*fg, (g+1)*fg) of the Kg x F kernel
      if (p.channels_last)
        gemm<T>(false, false, P, fg, Kg, col + g * Kg, K, wg, F, beta, ys + g * fg, F);
      else
        gemm<T>(true, false, fg, P, Kg, wg, F, col + g * Kg * P, P, beta, ys + g * fg * P, P);
    }
  }

  // dxs assigned; dw, db accumulated.
  void backward_sample(const T* xs, const T* w, const T* gy, T* dxs, T* dw, T* db, T* buf, T* dbuf) const {
    const T* col = xs;
    if (!identity) {
      im2col(xs, buf);
      col = buf;
    }
    T* dcol = identity ? dxs : dbuf;
    if (p.channels_last) {
      if (p.has_bias)
        for (int64_t pos = 0; pos < P; ++pos)
          for (int64_t f = 0; f < F; ++f) db[f] += gy[pos * F + f];
      for (int64_t g = 0; g < G; ++g) {
        gemm<T>(true, false, Kg, fg, P, col + g * Kg, K, gy + g * fg, F, T(1), dw + g * fg, F);
        gemm<T>(false, true, P, Kg, fg, gy + g * fg, F, w + g * fg, F, T(0), dcol + g * Kg, K);
      }
    } else {
      if (p.has_bias)
        for (int64_t f = 0; f < F; ++f) {
          T sum = 0;
          for (int64_t pos = 0; pos < P; ++pos) sum += gy[f * P + pos];
          db[f] += sum;
        }
      for (int64_t g = 0; g < G; ++g) {
        gemm<T>(false, true, Kg, fg, P, col + g * Kg * P, P, gy + g * fg * P, P, T(1), dw + g * fg, F);
        gemm<T>(false, false, Kg, P, fg, w + g * fg, F, gy + g * fg * P, P, T(0), dcol + g * Kg * P, P);
      }
    }
    if (!identity) {
      std::fill(dxs, dxs + in, T(0));
      col2im_add(dcol, dxs);
    }
  }
};

template <class T>
std::unique_ptr<T[]> buffer(int64_t count) {
  return std::unique_ptr<T[]>(new T[size_t(std::max<int64_t>(count, 1))]);
}

template <class T>
void forward_t(const Conv2dProblem& p, const T* x, const T* w, const T* b, T* y) {
  Conv<T> cv{p};
  for_items(p.n, [&](int64_t lo, int64_t hi) {
    auto buf = cv.identity ? nullptr : buffer<T>(cv.P * cv.K);
    for (int64_t s = lo; s < hi; ++s) cv.forward_sample(x + s * cv.in, w, b, y + s * cv.out, buf.get());
  });
}

template <class T>
void backward_t(const Conv2dProblem& p, const T* gy, const T* x, const T* w, T* dx, T* dw, T* db) {
  Conv<T> cv{p};
  chunked_backward(p.n, cv.Kg * cv.F, cv.F, dw, p.has_bias ? db : nullptr,
                   [&](int64_t first, int64_t end, T* pdw, T* pdb) {
                     auto buf = cv.identity ? nullptr : buffer<T>(cv.P * cv.K);
                     auto dbuf = cv.identity ? nullptr : buffer<T>(cv.P * cv.K);
                     for (int64_t s = first; s < end; ++s)
                       cv.backward_sample(x + s * cv.in, w, gy + s * cv.out, dx + s * cv.in, pdw, pdb, buf.get(),
                                          dbuf.get());
                   });
}

template <class T>
struct Im2col {
  static constexpr auto forward = forward_t<T>;
  static constexpr auto backward = backward_t<T>;
};

bool applicable(const Conv2dProblem& p, std::string* why) {
  return blas_applicable(p.dtype, {p.positions() * p.patch(), p.positions() * p.f, p.patch() * p.f}, why);
}

}  // namespace

extern const Conv2dKernel kConv2dIm2col = typed_kernel<Conv2dKernel, Im2col>("im2col", applicable);

}  // namespace locnet::kernels
