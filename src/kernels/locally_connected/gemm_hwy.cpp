// The small f32 GEMM of gemm.hpp: Highway SIMD, one binary for every x86 instruction set (runtime dispatch).
// Register tile: kRows rows of C x NV vectors of columns, accumulated over all k in registers; each step loads
// NV vectors of one B row and broadcasts one A element per row (A is never packed or copied).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/locally_connected/gemm_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <algorithm>

#include "hwy/highway.h"
#include "kernels/locally_connected/gemm.hpp"

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr int kRows = 6;  // 6 x 2 accumulators + 2 B vectors + 1 broadcast fit AVX2's 16 registers

template <int M, int NV, class D>
HWY_INLINE void Tile(D d, int64_t k, const float* HWY_RESTRICT a, int64_t a_rs, int64_t a_ts,
                     const float* HWY_RESTRICT b, int64_t ldb, bool accumulate, float* HWY_RESTRICT c, int64_t ldc) {
  using V = hn::Vec<D>;
  const int64_t L = int64_t(hn::Lanes(d));
  V acc[M][NV];
  for (int r = 0; r < M; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = hn::Zero(d);
  for (int64_t t = 0; t < k; ++t) {
    const float* bt = b + t * ldb;
    V bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = hn::LoadU(d, bt + v * L);
    const float* at = a + t * a_ts;
    for (int r = 0; r < M; ++r) {
      const V av = hn::Set(d, at[r * a_rs]);
      for (int v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(av, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < M; ++r)
    for (int v = 0; v < NV; ++v) {
      float* cp = c + r * ldc + v * L;
      hn::StoreU(accumulate ? hn::Add(hn::LoadU(d, cp), acc[r][v]) : acc[r][v], d, cp);
    }
}

template <int M>
HWY_INLINE void RowBlock(int64_t n, int64_t n_vec, int64_t k, const float* a, int64_t a_rs, int64_t a_ts,
                         const float* b, int64_t ldb, bool accumulate, float* c, int64_t ldc) {
  const hn::ScalableTag<float> d;
  const int64_t L = int64_t(hn::Lanes(d));
  int64_t col = 0;
  for (; col + 2 * L <= n_vec; col += 2 * L) Tile<M, 2>(d, k, a, a_rs, a_ts, b + col, ldb, accumulate, c + col, ldc);
  for (; col + L <= n_vec; col += L) Tile<M, 1>(d, k, a, a_rs, a_ts, b + col, ldb, accumulate, c + col, ldc);
  for (; col < n; ++col)  // the last columns when the rows may not be over-read
    for (int r = 0; r < M; ++r) {
      float sum = 0;
      for (int64_t t = 0; t < k; ++t) sum += a[r * a_rs + t * a_ts] * b[t * ldb + col];
      c[r * ldc + col] = accumulate ? c[r * ldc + col] + sum : sum;
    }
}

void Gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_rs, int64_t a_ts, const float* b, int64_t ldb,
          bool accumulate, float* c, int64_t ldc, bool padded) {
  const hn::ScalableTag<float> d;
  const int64_t L = int64_t(hn::Lanes(d));
  const int64_t n_vec = padded ? (n + L - 1) / L * L : n / L * L;
  for (int64_t r0 = 0; r0 < m; r0 += kRows) {
    const float* ar = a + r0 * a_rs;
    float* cr = c + r0 * ldc;
    switch (std::min<int64_t>(kRows, m - r0)) {
      case 6: RowBlock<6>(n, n_vec, k, ar, a_rs, a_ts, b, ldb, accumulate, cr, ldc); break;
      case 5: RowBlock<5>(n, n_vec, k, ar, a_rs, a_ts, b, ldb, accumulate, cr, ldc); break;
      case 4: RowBlock<4>(n, n_vec, k, ar, a_rs, a_ts, b, ldb, accumulate, cr, ldc); break;
      case 3: RowBlock<3>(n, n_vec, k, ar, a_rs, a_ts, b, ldb, accumulate, cr, ldc); break;
      case 2: RowBlock<2>(n, n_vec, k, ar, a_rs, a_ts, b, ldb, accumulate, cr, ldc); break;
      default: RowBlock<1>(n, n_vec, k, ar, a_rs, a_ts, b, ldb, accumulate, cr, ldc); break;
    }
  }
}

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace locnet::kernels {
HWY_EXPORT(Gemm);

void lc_sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_rs, int64_t a_ts, const float* b,
              int64_t ldb, bool accumulate, float* c, int64_t ldc, bool padded) {
  HWY_DYNAMIC_DISPATCH(Gemm)(m, n, k, a, a_rs, a_ts, b, ldb, accumulate, c, ldc, padded);
}
}  // namespace locnet::kernels
#endif
