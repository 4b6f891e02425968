// The small f32 GEMM of gemm.hpp: Highway SIMD, one binary for every x86 instruction set (runtime dispatch).
// Register tile: M rows of C x NV vectors of columns, accumulated over all k in registers; each step loads
// NV vectors of one B row and broadcasts one A element per row (A is never packed or copied). M = 6 rows; NV = 2
// with 16 registers (AVX2), up to 4 with AVX-512's 32, which reads fewer B and A values per FMA. 12 x 2 tiles
// for AVX-512 measured slower than 6 x 2 (twelve strided A rows at once; see README.md).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/locally_connected/gemm_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <algorithm>
#include <type_traits>

#include "hwy/highway.h"
#include "kernels/locally_connected/gemm.hpp"

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
constexpr bool kWide = true;  // 32 vector registers
#else
constexpr bool kWide = false;
#endif
constexpr int kRows = 6;  // 6 x NV accumulators + NV B vectors + 1 broadcast fit the registers

// kIdx 1: step t reads A at a + ka[t] (+ r * a_rs) and B row kb[t]; 2: row r of A is at a + ka[r] (+ t * a_ts);
// 0: A(r, t) = a[r * a_rs + t * a_ts], B row t (see gemm.hpp).
template <int M, int NV, int kIdx, class D>
HWY_INLINE void Tile(D d, int64_t k, const float* HWY_RESTRICT a, int64_t a_rs, int64_t a_ts, const int64_t* ka,
                     const int64_t* kb, const float* HWY_RESTRICT b, int64_t ldb, const float* HWY_RESTRICT bias,
                     bool accumulate, float* HWY_RESTRICT c, int64_t ldc) {
  using V = hn::Vec<D>;
  const int64_t L = int64_t(hn::Lanes(d));
  V acc[M][NV];
  for (int v = 0; v < NV; ++v) {
    const V init = bias ? hn::LoadU(d, bias + v * L) : hn::Zero(d);
    for (int r = 0; r < M; ++r) acc[r][v] = init;
  }
  for (int64_t t = 0; t < k; ++t) {
    const float* bt = b + (kIdx == 1 ? kb[t] : t) * ldb;
    V bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = hn::LoadU(d, bt + v * L);
    const float* at = a + (kIdx == 1 ? ka[t] : t * a_ts);
    for (int r = 0; r < M; ++r) {
      const V av = hn::Set(d, at[kIdx == 2 ? ka[r] : r * a_rs]);
      for (int v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(av, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < M; ++r)
    for (int v = 0; v < NV; ++v) {
      float* cp = c + r * ldc + v * L;
      hn::StoreU(accumulate ? hn::Add(hn::LoadU(d, cp), acc[r][v]) : acc[r][v], d, cp);
    }
}

// The last rows % M rows of a strip: a tile of exactly `rows` rows.
template <int M, int NV, int kIdx, class D>
HWY_INLINE void TileRows(int rows, D d, int64_t k, const float* a, int64_t a_rs, int64_t a_ts, const int64_t* ka,
                         const int64_t* kb, const float* b, int64_t ldb, const float* bias, bool accumulate, float* c,
                         int64_t ldc) {
  if constexpr (M > 0) {
    if (rows == M)
      Tile<M, NV, kIdx>(d, k, a, a_rs, a_ts, ka, kb, b, ldb, bias, accumulate, c, ldc);
    else
      TileRows<M - 1, NV, kIdx>(rows, d, k, a, a_rs, a_ts, ka, kb, b, ldb, bias, accumulate, c, ldc);
  }
}

// Columns [0, NV lanes) of C for all m rows.
template <int NV, int kIdx>
HWY_NOINLINE void Strip(int64_t m, int64_t k, const float* a, int64_t a_rs, int64_t a_ts, const int64_t* ka,
                        const int64_t* kb, const float* b, int64_t ldb, const float* bias, bool accumulate, float* c,
                        int64_t ldc) {
  const hn::ScalableTag<float> d;
  constexpr int M = kRows;
  int64_t r0 = 0;
  auto ar = [&](int64_t r0) { return kIdx == 2 ? a : a + r0 * a_rs; };
  auto kar = [&](int64_t r0) { return kIdx == 2 ? ka + r0 : ka; };
  for (; r0 + M <= m; r0 += M)
    Tile<M, NV, kIdx>(d, k, ar(r0), a_rs, a_ts, kar(r0), kb, b, ldb, bias, accumulate, c + r0 * ldc, ldc);
  if (r0 < m)
    TileRows<M - 1, NV, kIdx>(int(m - r0), d, k, ar(r0), a_rs, a_ts, kar(r0), kb, b, ldb, bias, accumulate,
                              c + r0 * ldc, ldc);
}

void Gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_rs, int64_t a_ts, const int64_t* ka,
          const int64_t* kb, const float* b, int64_t ldb, const float* bias, bool accumulate, float* c, int64_t ldc,
          bool padded) {
  const hn::ScalableTag<float> d;
  const int64_t L = int64_t(hn::Lanes(d));
  const int64_t n_vec = padded ? (n + L - 1) / L * L : n / L * L;
  int64_t col = 0;
  auto strips = [&](auto nv) {
    constexpr int NV = decltype(nv)::value;
    for (; col + NV * L <= n_vec; col += NV * L)
      if (ka && kb)
        Strip<NV, 1>(m, k, a, a_rs, a_ts, ka, kb, b + col, ldb, bias ? bias + col : nullptr, accumulate, c + col,
                     ldc);
      else if (ka)
        Strip<NV, 2>(m, k, a, a_rs, a_ts, ka, kb, b + col, ldb, bias ? bias + col : nullptr, accumulate, c + col,
                     ldc);
      else
        Strip<NV, 0>(m, k, a, a_rs, a_ts, ka, kb, b + col, ldb, bias ? bias + col : nullptr, accumulate, c + col,
                     ldc);
  };
  if constexpr (kWide) strips(std::integral_constant<int, 4>());
  strips(std::integral_constant<int, 2>());
  strips(std::integral_constant<int, 1>());
  for (; col < n; ++col)  // the last columns when the rows may not be over-read
    for (int64_t r = 0; r < m; ++r) {
      float sum = bias ? bias[col] : 0.0f;
      for (int64_t t = 0; t < k; ++t) {
        const int64_t ai = ka && kb ? r * a_rs + ka[t] : ka ? ka[r] + t * a_ts : r * a_rs + t * a_ts;
        sum += a[ai] * b[(ka && kb ? kb[t] : t) * ldb + col];
      }
      c[r * ldc + col] = accumulate ? c[r * ldc + col] + sum : sum;
    }
}

// dst (cols x rows, rows ldd apart) = src (rows x cols, rows lds apart)^T, in 4 x 4 blocks of 128-bit vectors.
void Transpose(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst, int64_t ldd) {
  int64_t r = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::FixedTag<float, 4> d;
  for (; r + 4 <= rows; r += 4) {
    const float* s = src + r * lds;
    int64_t c = 0;
    for (; c + 4 <= cols; c += 4) {
      const auto v0 = hn::LoadU(d, s + c), v1 = hn::LoadU(d, s + lds + c);
      const auto v2 = hn::LoadU(d, s + 2 * lds + c), v3 = hn::LoadU(d, s + 3 * lds + c);
      const auto t0 = hn::InterleaveLower(d, v0, v1), t1 = hn::InterleaveLower(d, v2, v3);  // a0 b0 a1 b1
      const auto t2 = hn::InterleaveUpper(d, v0, v1), t3 = hn::InterleaveUpper(d, v2, v3);  // a2 b2 a3 b3
      float* o = dst + c * ldd + r;
      hn::StoreU(hn::ConcatLowerLower(d, t1, t0), d, o);
      hn::StoreU(hn::ConcatUpperUpper(d, t1, t0), d, o + ldd);
      hn::StoreU(hn::ConcatLowerLower(d, t3, t2), d, o + 2 * ldd);
      hn::StoreU(hn::ConcatUpperUpper(d, t3, t2), d, o + 3 * ldd);
    }
    for (; c < cols; ++c)
      for (int64_t i = 0; i < 4; ++i) dst[c * ldd + r + i] = s[i * lds + c];
  }
#endif
  for (; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * ldd + r] = src[r * lds + c];
}

// sums (cols, optional) = the column sums of src (rows x cols, rows lds apart), summed in registers four vectors
// of columns at a time; copy (optional) = src packed (rows cols apart), from the same loads.
void ColSum(int64_t rows, int64_t cols, const float* HWY_RESTRICT src, int64_t lds, float* HWY_RESTRICT sums,
            float* HWY_RESTRICT copy) {
  const hn::ScalableTag<float> d;
  const int64_t L = int64_t(hn::Lanes(d));
  int64_t c = 0;
  for (; c + 4 * L <= cols; c += 4 * L) {
    auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
    for (int64_t r = 0; r < rows; ++r) {
      const float* s = src + r * lds + c;
      const auto v0 = hn::LoadU(d, s), v1 = hn::LoadU(d, s + L), v2 = hn::LoadU(d, s + 2 * L),
                 v3 = hn::LoadU(d, s + 3 * L);
      a0 = hn::Add(a0, v0), a1 = hn::Add(a1, v1), a2 = hn::Add(a2, v2), a3 = hn::Add(a3, v3);
      if (copy) {
        float* o = copy + r * cols + c;
        hn::StoreU(v0, d, o), hn::StoreU(v1, d, o + L), hn::StoreU(v2, d, o + 2 * L), hn::StoreU(v3, d, o + 3 * L);
      }
    }
    if (sums) {
      hn::StoreU(a0, d, sums + c), hn::StoreU(a1, d, sums + c + L);
      hn::StoreU(a2, d, sums + c + 2 * L), hn::StoreU(a3, d, sums + c + 3 * L);
    }
  }
  for (; c + L <= cols; c += L) {
    auto a = hn::Zero(d);
    for (int64_t r = 0; r < rows; ++r) {
      const auto v = hn::LoadU(d, src + r * lds + c);
      a = hn::Add(a, v);
      if (copy) hn::StoreU(v, d, copy + r * cols + c);
    }
    if (sums) hn::StoreU(a, d, sums + c);
  }
  for (; c < cols; ++c) {
    float a = 0;
    for (int64_t r = 0; r < rows; ++r) {
      a += src[r * lds + c];
      if (copy) copy[r * cols + c] = src[r * lds + c];
    }
    if (sums) sums[c] = a;
  }
}

// dst (rows x cols, rows ldd apart) += src (rows lds apart): whole vectors, then (AVX-512) one masked vector.
void AddRows(int64_t rows, int64_t cols, const float* HWY_RESTRICT src, int64_t lds, float* HWY_RESTRICT dst,
             int64_t ldd) {
  const hn::ScalableTag<float> d;
  const int64_t L = int64_t(hn::Lanes(d));
  const int64_t full = cols / L * L;
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = src + r * lds;
    float* o = dst + r * ldd;
    for (int64_t c = 0; c < full; c += L) hn::StoreU(hn::Add(hn::LoadU(d, o + c), hn::LoadU(d, s + c)), d, o + c);
#if HWY_TARGET <= HWY_AVX3  // masked loads and stores that never touch the lanes outside the mask
    if (full < cols) {
      const auto m = hn::FirstN(d, size_t(cols - full));
      hn::BlendedStore(hn::Add(hn::MaskedLoad(m, d, o + full), hn::MaskedLoad(m, d, s + full)), m, d, o + full);
    }
#else  // emulated masked loads read the whole vector (past the buffer's end)
    for (int64_t c = full; c < cols; ++c) o[c] += s[c];
#endif
  }
}

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace locnet::kernels {
HWY_EXPORT(Gemm);
HWY_EXPORT(Transpose);
HWY_EXPORT(ColSum);
HWY_EXPORT(AddRows);

void lc_colsum(int64_t rows, int64_t cols, const float* src, int64_t lds, float* sums, float* copy) {
  HWY_DYNAMIC_DISPATCH(ColSum)(rows, cols, src, lds, sums, copy);
}

void lc_add_rows(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst, int64_t ldd) {
  HWY_DYNAMIC_DISPATCH(AddRows)(rows, cols, src, lds, dst, ldd);
}

void lc_transpose(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst, int64_t ldd) {
  HWY_DYNAMIC_DISPATCH(Transpose)(rows, cols, src, lds, dst, ldd);
}

void lc_sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_rs, int64_t a_ts, const float* b,
              int64_t ldb, const float* bias, bool accumulate, float* c, int64_t ldc, bool padded) {
  HWY_DYNAMIC_DISPATCH(Gemm)(m, n, k, a, a_rs, a_ts, nullptr, nullptr, b, ldb, bias, accumulate, c, ldc, padded);
}

void lc_sgemm_indexed(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_rs, const int64_t* ka,
                      const float* b, const int64_t* kb, int64_t ldb, const float* bias, float* c, int64_t ldc) {
  HWY_DYNAMIC_DISPATCH(Gemm)(m, n, k, a, a_rs, 0, ka, kb, b, ldb, bias, false, c, ldc, false);
}

void lc_sgemm_rows(int64_t m, int64_t n, int64_t k, const float* a, const int64_t* ka, int64_t a_ts, const float* b,
                   int64_t ldb, float* c, int64_t ldc) {
  HWY_DYNAMIC_DISPATCH(Gemm)(m, n, k, a, 0, a_ts, ka, nullptr, b, ldb, nullptr, true, c, ldc, false);
}
}  // namespace locnet::kernels
#endif
