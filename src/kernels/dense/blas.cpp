// Dense through CBLAS (OpenBLAS): one GEMM per product, the bias broadcast into y first (beta = 1).
#include <optional>

#include "kernels/blas.hpp"
#include "kernels/dense/problem.hpp"

namespace locnet::kernels {
namespace {

// Products below this many multiply-adds run on one BLAS thread: OpenBLAS would otherwise wake its own threads for
// a few microseconds of work, and they go on spinning (sched_yield) long after, taking the cores from the OpenMP
// threads of the layers around (the default network's Dense: 64 x 800 x 10).
constexpr int64_t kSingleThreadedMacs = int64_t(1) << 22;

// kernels::gemm (src/kernels/blas.hpp), on one BLAS thread for small products.
template <class T>
void dense_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
                T beta, T* c, int64_t ldc) {
  std::optional<BlasSingleThreaded> one;
  if (m * n * k < kSingleThreadedMacs) one.emplace();
  gemm<T>(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

template <class T>
struct Blas {
  static void forward(const DenseProblem& p, const T* x, const T* w, const T* b, T* y) {
    if (p.has_bias)
      for (int64_t i = 0; i < p.m; ++i) std::copy(b, b + p.n, y + i * p.n);
    if (p.k == 0) {
      if (!p.has_bias) std::fill(y, y + p.m * p.n, T(0));
      return;
    }
    dense_gemm<T>(false, false, p.m, p.n, p.k, x, p.k, w, p.n, p.has_bias ? T(1) : T(0), y, p.n);
  }

  static void backward(const DenseProblem& p, const T* dy, const T* x, const T* w, T* dx, T* dw, T* db) {
    if (dx) dense_gemm<T>(false, true, p.m, p.k, p.n, dy, p.n, w, p.n, T(0), dx, p.k);
    dense_gemm<T>(true, false, p.k, p.n, p.m, x, p.k, dy, p.n, T(1), dw, p.n);
    if (p.has_bias)
      for (int64_t i = 0; i < p.m; ++i)
        for (int64_t j = 0; j < p.n; ++j) db[j] += dy[i * p.n + j];
  }
};

bool applicable(const DenseProblem& p, std::string* why) {
  return blas_applicable(p.dtype, {p.m, p.n, p.k, p.m * p.n, p.m * p.k, p.k * p.n}, why);
}

}  // namespace

extern const DenseKernel kDenseBlas = typed_kernel<DenseKernel, Blas>("blas", applicable, true);

}  // namespace locnet::kernels
