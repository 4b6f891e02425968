#pragma once
#include <cstdint>

namespace locnet::kernels {

// A small f32 GEMM for the locally connected kernels (gemm_hwy.cpp, Highway with runtime dispatch):
//   C (m x n) = [C +] [bias +] A B,   A(r, t) = a[r * a_rs + t * a_ts]  (A or A^T in memory),
//   B (k x n) rows ldb apart, C rows ldc apart; accumulate adds to C instead of overwriting it.
// It exists because each position's product is small (N x K times K x F, e.g. 64 x 27 x 64), where a BLAS
// call costs more in packing and dispatch than in arithmetic: the register tile (6 rows x 2 vectors, 6 x 4 with
// AVX-512) reads A by broadcasts straight from strided memory (no packing) and streams B rows once per row block.
// bias: null or one row of n values added to every row of C (fused, so the caller does not copy it first).
// padded: the rows of B and C may be read and written up to n rounded up to a multiple of kLcGemmPad (the
// caller's own zero-padded buffers); otherwise the last n % lanes columns are computed one by one.
inline constexpr int64_t kLcGemmPad = 16;
void lc_sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_rs, int64_t a_ts, const float* b,
              int64_t ldb, const float* bias, bool accumulate, float* c, int64_t ldc, bool padded);

// C (m x n) = [bias +] A B with the steps indexed: A(r, t) = a[r * a_rs + ka[t]], B's row t is b + kb[t] * ldb.
// Reads a position's patch in place, however short its runs, instead of gathering it (one entry per valid tap).
void lc_sgemm_indexed(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_rs, const int64_t* ka,
                      const float* b, const int64_t* kb, int64_t ldb, const float* bias, float* c, int64_t ldc);

// C (m x n) += A B with A's rows indexed: A(r, t) = a[ka[r] + t * a_ts] (dW[p] += Xp^T dY_p, Xp read in place).
void lc_sgemm_rows(int64_t m, int64_t n, int64_t k, const float* a, const int64_t* ka, int64_t a_ts, const float* b,
                   int64_t ldb, float* c, int64_t ldc);

// dst (cols x rows, rows ldd apart) = src (rows x cols, rows lds apart)^T (W[p]^T for the backward products).
void lc_transpose(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst, int64_t ldd);

// sums (cols) = the column sums of src (rows x cols, rows lds apart), the bias gradient of one position, and copy
// (rows x cols) = src packed; either may be null. Packing dY_p matters: its rows lie P * F apart, which maps
// them onto a few L1 sets (shape 1: 230400-byte strides, 4 of 64 sets), so the products read it from L2.
void lc_colsum(int64_t rows, int64_t cols, const float* src, int64_t lds, float* sums, float* copy);

// dst (rows x cols, rows ldd apart) += src (rows x cols, rows lds apart): a run of patch gradients added into dx.
void lc_add_rows(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst, int64_t ldd);

}  // namespace locnet::kernels
