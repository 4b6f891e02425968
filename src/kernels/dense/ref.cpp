// Reference dense kernel, the spec the optimized ones are tested against:
//   y[i, j] = b[j] + sum_p x[i, p] w[p, j]
//   dx[i, p] = sum_j dy[i, j] w[p, j];  dw[p, j] += sum_i x[i, p] dy[i, j];  db[j] += sum_i dy[i, j]
// Accumulates in double whatever T is.
#include "kernels/dense/problem.hpp"

namespace locnet::kernels {
namespace {

template <class T>
void forward_ref(const DenseProblem& p, const void* xv, const void* wv, const void* bv, void* yv) {
  auto x = static_cast<const T*>(xv);
  auto w = static_cast<const T*>(wv);
  auto b = static_cast<const T*>(bv);
  auto y = static_cast<T*>(yv);
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      double acc = p.has_bias ? double(b[j]) : 0.0;
      for (int64_t q = 0; q < p.k; ++q) acc += double(x[i * p.k + q]) * double(w[q * p.n + j]);
      y[i * p.n + j] = T(acc);
    }
}

template <class T>
void backward_ref(const DenseProblem& p, const void* dyv, const void* xv, const void* wv, void* dxv, void* dwv,
                  void* dbv) {
  auto dy = static_cast<const T*>(dyv);
  auto x = static_cast<const T*>(xv);
  auto w = static_cast<const T*>(wv);
  auto dx = static_cast<T*>(dxv);
  auto dw = static_cast<T*>(dwv);
  auto db = static_cast<T*>(dbv);
  for (int64_t i = 0; i < p.m; ++i)
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

bool ref_applicable(const DenseProblem& p, std::string* why) {
  if (p.dtype == DType::f32 || p.dtype == DType::f64) return true;
  *why = "dtype must be f32 or f64";
  return false;
}

void forward(const DenseProblem& p, const void* x, const void* w, const void* b, void* y) {
  visit_float(p.dtype, [&](auto t) { forward_ref<decltype(t)>(p, x, w, b, y); });
}
void backward(const DenseProblem& p, const void* dy, const void* x, const void* w, void* dx, void* dw, void* db) {
  visit_float(p.dtype, [&](auto t) { backward_ref<decltype(t)>(p, dy, x, w, dx, dw, db); });
}

}  // namespace

extern const DenseKernel kDenseRef{"ref", ref_applicable, forward, backward};

}  // namespace locnet::kernels
