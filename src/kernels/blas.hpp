// Small CBLAS helpers shared by the BLAS-backed kernels (OpenBLAS).
#pragma once
#include <cblas.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>

#include "locnet/core/dtype.hpp"
#include "locnet/core/parallel.hpp"

namespace locnet::kernels {

// C (m x n) = beta C + op(A) (m x k) op(B) (k x n), row-major, float or double.
template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
          T beta, T* c, int64_t ldc) {
  CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, opa, opb, blasint(m), blasint(n), blasint(k), 1.0f, a, blasint(lda), b, blasint(ldb),
                beta, c, blasint(ldc));
  else
    cblas_dgemm(CblasRowMajor, opa, opb, blasint(m), blasint(n), blasint(k), 1.0, a, blasint(lda), b, blasint(ldb),
                beta, c, blasint(ldc));
}

// Whether a BLAS kernel applies: dtype f32 or f64, and every matrix size given (dimensions and products of them)
// fits the 32-bit BLAS interface and is not zero (an empty problem is left to the reference).
inline bool blas_applicable(DType dtype, std::initializer_list<int64_t> sizes, std::string* why) {
  if (dtype != DType::f32 && dtype != DType::f64) {
    *why = "dtype must be f32 or f64";
    return false;
  }
  for (int64_t s : sizes)
    if (s >= int64_t(1) << 31) {
      *why = "matrix dimensions exceed the 32-bit BLAS interface";
      return false;
    }
  for (int64_t s : sizes)
    if (s == 0) {
      *why = "empty problem";
      return false;
    }
  return true;
}

// OpenBLAS's pthread build would start its own threads inside each of ours: make it single-threaded while our
// parallel loop runs (a process-wide setting, restored afterwards). Its OpenMP build already runs single-threaded
// inside a parallel region, and there openblas_set_num_threads would also change OpenMP's own thread count.
struct BlasSingleThreaded {
  int saved = 0;
  BlasSingleThreaded() {
    if (openblas_get_parallel() == 1 && (saved = openblas_get_num_threads()) > 1) openblas_set_num_threads(1);
  }
  ~BlasSingleThreaded() {
    if (saved > 1) openblas_set_num_threads(saved);
  }
  BlasSingleThreaded(const BlasSingleThreaded&) = delete;
  BlasSingleThreaded& operator=(const BlasSingleThreaded&) = delete;
};

// fn(lo, hi) over [0, count): our threads with BLAS single-threaded when every thread gets an item; otherwise on
// this thread, leaving BLAS its own threads (few items, such as batch 1 or few positions, and large GEMMs).
template <class Fn>
void for_items(int64_t count, Fn&& fn) {
  if (count >= num_threads() && num_threads() > 1) {
    BlasSingleThreaded guard;
    parallel_for(0, count, 1, fn);
  } else if (count > 0) {
    fn(0, count);
  }
}

}  // namespace locnet::kernels
