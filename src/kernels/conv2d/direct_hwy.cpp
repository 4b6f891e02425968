// 2D convolution "direct_hwy": f32, channels_last, stride 1 and dilation 1 (any kernel size and padding). Highway
// SIMD with runtime dispatch; no im2col of the input and no BLAS call, whose packing and dispatch cost more than
// the arithmetic at these sizes (a 3x3 kernel over 1 or 32 channels: K = 9 or 288).
//
// Each sample is copied into a zero-padded plane xp (Hp x Wp x C, Hp = oh + kh - 1, Wp = ow + kw - 1) so that
// every tap of every output position lands inside it: tap (tap_r, tap_c) of output (oy, ox) reads
// xp(oy + tap_r, ox + tap_c). For one kernel row tap_r, the kw*C values (tap_c, ch) of a position's patch are
// contiguous in xp and the matching rows of W (kh, kw, C, F) are contiguous too, so every product is a "segmented
// GEMM" (SegGemm below): a register tile of M rows x NV vectors of columns accumulates over nseg segments of klen
// steps, reading A by broadcasts straight from xp (never packed) and B one row of vectors per step:
//   forward  y(oy, :, :) (ow x F) = sum_tap_r xp(oy + tap_r, 0.., :) (ow x kw*C) W[tap_r] (kw*C x F) (+ bias first)
//   dW       dW[tap_r] (kw*C x F) += sum_oy xp(oy + tap_r, 0.., :)^T (kw*C x ow) dY(oy) (ow x F)   per sample
//   dx       dcol(oy) (ow x K)     = dY(oy) (ow x F) W^T (F x K), added into a padded dxp (col2im), then cropped.
// B rows are read as whole vectors (up to F or K rounded up to the vector length): callers pass B with such
// padding (packed copies when F or K is not a multiple of it); C's partial last vector goes through a stack
// buffer. Threads: forward splits the batch; backward cuts it into one contiguous chunk per thread, each
// accumulating its own dW/db, summed in chunk order afterwards (src/kernels/batch_chunks.hpp).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/conv2d/direct_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "hwy/aligned_allocator.h"
#include "hwy/highway.h"
#include "kernels/batch_chunks.hpp"
#include "kernels/conv2d/problem.hpp"
#include "locnet/core/parallel.hpp"

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Rows per register tile: M x 2 accumulators + 2 B vectors + 1 broadcast fit the register file (32 registers
// with AVX-512, 16 otherwise).
constexpr int kRows = HWY_MAX_BYTES >= 64 ? 14 : 6;

// C (m x n) [+]= sum_{s < nseg} A_s (m x klen) B_s (klen x n), with
//   A_s(r, t) = a[s*sa + r*a_rs + t*a_ts],   B_s row t = b + s*sb + t*ldb (readable up to n rounded up to whole
//   vectors),   C rows ldc apart (written only up to n).
struct SegGemm {
  int64_t m, n, nseg, klen;
  const float* a;
  int64_t a_rs, a_ts, sa;
  const float* b;
  int64_t ldb, sb;
  float* c;
  int64_t ldc;
  bool accumulate;
};

template <int M, int NV, class D>
HWY_INLINE void Tile(D d, const SegGemm& g, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b,
                     float* HWY_RESTRICT c, int64_t last_lanes) {
  using V = hn::Vec<D>;
  constexpr int64_t L = int64_t(hn::MaxLanes(D()));
  V acc[M][NV];
  for (int r = 0; r < M; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = hn::Zero(d);
  const int64_t a_rs = g.a_rs, a_ts = g.a_ts, ldb = g.ldb;
  for (int64_t s = 0; s < g.nseg; ++s) {
    const float* HWY_RESTRICT as = a + s * g.sa;
    const float* HWY_RESTRICT bs = b + s * g.sb;
    for (int64_t t = 0; t < g.klen; ++t) {
      V bv[NV];
      for (int v = 0; v < NV; ++v) bv[v] = hn::LoadU(d, bs + t * ldb + v * L);
      const float* HWY_RESTRICT at = as + t * a_ts;
      for (int r = 0; r < M; ++r) {
        const V av = hn::Set(d, at[r * a_rs]);
        for (int v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(av, bv[v], acc[r][v]);
      }
    }
  }
  for (int r = 0; r < M; ++r)
    for (int v = 0; v < NV; ++v) {
      float* cp = c + r * g.ldc + v * L;
      if (v == NV - 1 && last_lanes < L) {  // a partial last vector: through a buffer, never past column n
        HWY_ALIGN float tmp[L];
        hn::Store(acc[r][v], d, tmp);
        for (int64_t i = 0; i < last_lanes; ++i) cp[i] = g.accumulate ? cp[i] + tmp[i] : tmp[i];
      } else {
        hn::StoreU(g.accumulate ? hn::Add(hn::LoadU(d, cp), acc[r][v]) : acc[r][v], d, cp);
      }
    }
}

template <int M>
HWY_INLINE void RowBlock(const SegGemm& g, int64_t r0) {
  const hn::ScalableTag<float> d;
  constexpr int64_t L = int64_t(hn::MaxLanes(hn::ScalableTag<float>()));
  const float* a = g.a + r0 * g.a_rs;
  float* c = g.c + r0 * g.ldc;
  int64_t col = 0;
  for (; col + 2 * L <= g.n; col += 2 * L) Tile<M, 2>(d, g, a, g.b + col, c + col, L);
  const int64_t rest = g.n - col;
  if (rest > L)
    Tile<M, 2>(d, g, a, g.b + col, c + col, rest - L);
  else if (rest > 0)
    Tile<M, 1>(d, g, a, g.b + col, c + col, rest);
}

void Run(const SegGemm& g) {
  // Balanced row tiles of at most kRows rows (14 rows -> one tile of 14, or 7 + 7 with 6-row tiles -> 5 + 5 + 4).
  const int64_t tiles = (g.m + kRows - 1) / kRows;
  for (int64_t i = 0, r0 = 0; i < tiles; ++i) {
    const int64_t rows = g.m * (i + 1) / tiles - g.m * i / tiles;
    switch (rows) {
#define LOCNET_ROWS(R) \
  case R: RowBlock<(R <= kRows ? R : 1)>(g, r0); break;
      LOCNET_ROWS(1) LOCNET_ROWS(2) LOCNET_ROWS(3) LOCNET_ROWS(4) LOCNET_ROWS(5) LOCNET_ROWS(6) LOCNET_ROWS(7)
      LOCNET_ROWS(8) LOCNET_ROWS(9) LOCNET_ROWS(10) LOCNET_ROWS(11) LOCNET_ROWS(12) LOCNET_ROWS(13)
      LOCNET_ROWS(14)
#undef LOCNET_ROWS
      default: break;
    }
    r0 += rows;
  }
}

// dst[i] += src[i], i < len.
HWY_INLINE void AddInto(float* HWY_RESTRICT dst, const float* HWY_RESTRICT src, int64_t len) {
  const hn::ScalableTag<float> d;
  const int64_t L = int64_t(hn::Lanes(d));
  int64_t i = 0;
  for (; i + L <= len; i += L) hn::StoreU(hn::Add(hn::LoadU(d, dst + i), hn::LoadU(d, src + i)), d, dst + i);
  for (; i < len; ++i) dst[i] += src[i];
}

int64_t RoundUp(int64_t v) {
  const int64_t L = int64_t(hn::Lanes(hn::ScalableTag<float>()));
  return (v + L - 1) / L * L;
}

using Buffer = hwy::AlignedFreeUniquePtr<float[]>;
Buffer Zeros(int64_t count) {
  Buffer b = hwy::AllocateAligned<float>(size_t(std::max<int64_t>(count, 1)));
  std::fill(b.get(), b.get() + std::max<int64_t>(count, 1), 0.0f);
  return b;
}

struct Geometry {
  const Conv2dProblem& p;
  const int64_t C = p.c, F = p.f, K = p.kh * p.kw * p.c, Hp = p.oh + p.kh - 1, Wp = p.ow + p.kw - 1;
  const int64_t in = p.h * p.w * p.c, out = p.oh * p.ow * p.f, plane = Hp * Wp * C;
  // Input rows/cols that land inside the padded plane (all of them unless "valid" leaves some unread).
  const int64_t rows = std::min(p.h, Hp - p.pad_top), cols = std::min(p.w, Wp - p.pad_left);
  // Kernel rows [tap_r0, tap_r1) of output row oy that land on input rows (padded rows [pad_top, pad_top + rows));
  // the others read only zeros, so they are skipped, as the reference skips them (a kernel far taller than the
  // input, as with padding="same" and a huge kernel, costs the taps that reach the input, not kh).
  int64_t tap_r0(int64_t oy) const { return std::clamp<int64_t>(p.pad_top - oy, 0, p.kh); }
  int64_t tap_r1(int64_t oy) const { return std::clamp<int64_t>(p.pad_top + rows - oy, tap_r0(oy), p.kh); }
  // The same overlap seen from kernel row tap_r: output rows [oy0, oy1) put it on input rows.
  int64_t oy0(int64_t tap_r) const { return std::clamp<int64_t>(p.pad_top - tap_r, 0, p.oh); }
  int64_t oy1(int64_t tap_r) const { return std::clamp<int64_t>(p.pad_top + rows - tap_r, oy0(tap_r), p.oh); }
  // The most kernel rows one output row reaches.
  const int64_t span = std::min(p.kh, rows);

  // The interior of xp (its border stays zero) from sample xs.
  void pad(const float* xs, float* xp) const {
    for (int64_t iy = 0; iy < rows; ++iy)
      std::memcpy(xp + ((iy + p.pad_top) * Wp + p.pad_left) * C, xs + iy * p.w * C,
                  size_t(cols * C) * sizeof(float));
  }
};

void Forward(const Conv2dProblem& p, const float* x, const float* w, const float* bias, float* y) {
  const Geometry geo{p};
  const int64_t C = geo.C, F = geo.F, Fp = RoundUp(F), rowlen = p.kw * C;
  // B = W's kernel rows [u0, u1) (those some output row reaches) with rows readable up to Fp.
  const int64_t u0 = geo.tap_r0(p.oh - 1), u1 = geo.tap_r1(0);
  Buffer wpack;
  const float* wb = w + u0 * rowlen * F;
  if (Fp != F) {
    wpack = Zeros((u1 - u0) * rowlen * Fp);
    for (int64_t k = 0; k < (u1 - u0) * rowlen; ++k) std::copy(wb + k * F, wb + (k + 1) * F, wpack.get() + k * Fp);
    wb = wpack.get();
  }
  parallel_for(0, p.n, 1, [&](int64_t lo, int64_t hi) {
    Buffer xp = Zeros(geo.plane);
    for (int64_t s = lo; s < hi; ++s) {
      geo.pad(x + s * geo.in, xp.get());
      float* ys = y + s * geo.out;
      if (bias)
        for (int64_t pos = 0; pos < p.oh * p.ow; ++pos) std::copy(bias, bias + F, ys + pos * F);
      for (int64_t oy = 0; oy < p.oh; ++oy) {
        const int64_t d0 = geo.tap_r0(oy);
        Run(SegGemm{p.ow, F, geo.tap_r1(oy) - d0, rowlen, xp.get() + (oy + d0) * geo.Wp * C, C, 1, geo.Wp * C,
                    wb + (d0 - u0) * rowlen * Fp, Fp, rowlen * Fp, ys + oy * p.ow * F, F, bias != nullptr});
      }
    }
  });
}

void Backward(const Conv2dProblem& p, const float* gy, const float* x, const float* w, float* dx, float* dw,
              float* db) {
  const Geometry geo{p};
  const int64_t C = geo.C, F = geo.F, K = geo.K, Fp = RoundUp(F), Kp = RoundUp(K), KF = K * F, rowlen = p.kw * C;
  // W^T (F x K), rows readable up to Kp (and from any kernel row's start to a whole vector past K).
  Buffer wt = Zeros(F * Kp + RoundUp(1));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t f = 0; f < F; ++f) wt[size_t(f * Kp + k)] = w[k * F + f];
  chunked_backward(p.n, KF, F, dw, db, [&](int64_t first, int64_t end, float* pdw, float* pdb) {
    const int64_t ldcol = geo.span * rowlen;  // dcol holds the kernel rows that reach the input
    Buffer xp = Zeros(geo.plane), dxp = Zeros(geo.plane), dcol = Zeros(p.ow * ldcol);
    Buffer gpack = Fp != F ? Zeros(p.oh * p.ow * Fp) : Buffer();
    for (int64_t s = first; s < end; ++s) {
      const float* gs = gy + s * geo.out;
      geo.pad(x + s * geo.in, xp.get());
      // dY as B (rows readable up to Fp).
      const float* gb = gs;
      if (gpack) {
        for (int64_t pos = 0; pos < p.oh * p.ow; ++pos) std::copy(gs + pos * F, gs + (pos + 1) * F, gpack.get() + pos * Fp);
        gb = gpack.get();
      }
      if (db)
        for (int64_t pos = 0; pos < p.oh * p.ow; ++pos)
          for (int64_t f = 0; f < F; ++f) pdb[f] += gs[pos * F + f];
      for (int64_t tap_r = 0; tap_r < p.kh; ++tap_r) {
        const int64_t oy0 = geo.oy0(tap_r), oy1 = geo.oy1(tap_r);
        if (oy1 > oy0)
          Run(SegGemm{rowlen, F, oy1 - oy0, p.ow, xp.get() + (oy0 + tap_r) * geo.Wp * C, 1, C, geo.Wp * C,
                      gb + oy0 * p.ow * Fp, Fp, p.ow * Fp, pdw + tap_r * rowlen * F, F, true});
      }
      if (!dx) continue;  // dx not needed (the layer's input is the model's)
      std::fill(dxp.get(), dxp.get() + geo.plane, 0.0f);
      for (int64_t oy = 0; oy < p.oh; ++oy) {
        const int64_t d0 = geo.tap_r0(oy), d1 = geo.tap_r1(oy);
        if (d1 == d0) continue;
        Run(SegGemm{p.ow, (d1 - d0) * rowlen, 1, F, gs + oy * p.ow * F, F, 1, 0, wt.get() + d0 * rowlen, Kp, 0,
                    dcol.get(), ldcol, false});
        for (int64_t ox = 0; ox < p.ow; ++ox)
          for (int64_t tap_r = d0; tap_r < d1; ++tap_r)
            AddInto(dxp.get() + ((oy + tap_r) * geo.Wp + ox) * C, dcol.get() + ox * ldcol + (tap_r - d0) * rowlen,
                    rowlen);
      }
      float* dxs = dx + s * geo.in;
      for (int64_t iy = 0; iy < p.h; ++iy) {
        float* row = dxs + iy * p.w * C;
        if (iy >= geo.rows) {
          std::fill(row, row + p.w * C, 0.0f);
          continue;
        }
        std::memcpy(row, dxp.get() + ((iy + p.pad_top) * geo.Wp + p.pad_left) * C,
                    size_t(geo.cols * C) * sizeof(float));
        std::fill(row + geo.cols * C, row + p.w * C, 0.0f);
      }
    }
  });
}

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace locnet::kernels {
HWY_EXPORT(Forward);
HWY_EXPORT(Backward);

namespace {

bool applicable(const Conv2dProblem& p, std::string* why) {
  if (p.groups != 1) {
    *why = "groups must be 1";
    return false;
  }
  if (p.dtype != DType::f32) {
    *why = "dtype must be f32";
    return false;
  }
  if (!p.channels_last) {
    *why = "data_format must be channels_last";
    return false;
  }
  if (p.sh != 1 || p.sw != 1 || p.dilation_h != 1 || p.dilation_w != 1) {
    *why = "strides and dilation_rate must be 1";
    return false;
  }
  if (p.positions() == 0 || p.patch() == 0 || p.f == 0 || p.h == 0 || p.w == 0) {
    *why = "empty problem";
    return false;
  }
  if (p.pad_top > p.kh - 1 || p.pad_left > p.kw - 1) {
    *why = "padding must be < the kernel size";
    return false;
  }
  constexpr int64_t kMax = int64_t(1) << 40;
  if ((p.oh + p.kh) * (p.ow + p.kw) * p.c >= kMax || p.patch() * (p.f + 64) >= kMax) {
    *why = "problem too large";
    return false;
  }
  return true;
}

void forward(const Conv2dProblem& p, const void* x, const void* w, const void* b, void* y) {
  HWY_DYNAMIC_DISPATCH(Forward)(p, static_cast<const float*>(x), static_cast<const float*>(w),
                                p.has_bias ? static_cast<const float*>(b) : nullptr, static_cast<float*>(y));
}
void backward(const Conv2dProblem& p, const void* dy, const void* x, const void* w, void* dx, void* dw, void* db) {
  HWY_DYNAMIC_DISPATCH(Backward)(p, static_cast<const float*>(dy), static_cast<const float*>(x),
                                 static_cast<const float*>(w), static_cast<float*>(dx), static_cast<float*>(dw),
                                 p.has_bias ? static_cast<float*>(db) : nullptr);
}

}  // namespace

extern const Conv2dKernel kConv2dDirectHwy{"direct_hwy", applicable, forward, backward, true};

}  // namespace locnet::kernels
#endif
