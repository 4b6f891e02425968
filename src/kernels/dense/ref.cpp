// Reference dense kernel, the spec the optimized ones are tested against:
//   y[i, j] = b[j] + sum_p x[i, p] w[p, j]
//   dx[i, p] = sum_j dy[i, j] w[p, j];  dw[p, j] += sum_i x[i, p] dy[i, j];  db[j] += sum_i dy[i, j]
// Accumulates in double whatever T is.
#include "kernels/dense/problem.hpp"

namespace locnet::kernels {
namespace {

template <class T>
struct Ref {
  static void forward(const DenseProblem& p, const T* x, const T* w, const T* b, T* y) {
    for (int64_t i = 0; i < p.m; ++i)
      for (int64_t j = 0; j < p.n; ++j) {
        double acc = p.has_bias ? double(b[j]) : 0.0;
        for (int64_t q = 0; q < p.k; ++q) acc += double(x[i * p.k + q]) * double(w[q * p.n + j]);
        y[i * p.n + j] = T(acc);
      }
  }

  static void backward(const DenseProblem& p, const T* dy, const T* x, const T* w, T* dx, T* dw, T* db) {
    for (int64_t i = 0; dx && i < p.m; ++i)
      for (int64_t q = 0; q < p.k; ++q) {
        double acc = 0;
        for (int64_t j = 0; j < p.n; ++j) acc += double(dy[i * p.n + j]) * double(w[q * p.n + j]);
        dx[i * p.k + q] = T(acc);
      }
    for (int64_t q = 0; q < p.k; ++q)
      for (int64_t j = 0; j < p.n; ++j) {
        double acc = 0;
        for (int64_t i = 0; i < p.m; ++i) acc += double(x[i * p.k + q]) * double(dy[i * p.n + j]);
        dw[q * p.n + j] += T(acc);
      }
    if (p.has_bias)
      for (int64_t j = 0; j < p.n; ++j) {
        double acc = 0;
        for (int64_t i = 0; i < p.m; ++i) acc += double(dy[i * p.n + j]);
        db[j] += T(acc);
      }
  }
};

}  // namespace

extern const DenseKernel kDenseRef = typed_kernel<DenseKernel, Ref>("ref", f32_or_f64_problem<DenseProblem>, true);

}  // namespace locnet::kernels
