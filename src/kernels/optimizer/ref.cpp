// Reference optimizer kernels: scalar loops in the element type T, the spec the optimized kernels are tested
// against (Adam: src/kernels/optimizer/adam_hwy.cpp, bit for bit).
// No fused multiply-add: a build for a CPU with FMA would otherwise contract Mul + Add, and the results would no
// longer match the SIMD Adam's (which has none) bit for bit.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#include <cmath>

#include "kernels/optimizer/problem.hpp"

namespace locnet::kernels {
namespace {

// momentum = 0:  w -= lr g
// else:          m = momentum m - lr g;  w += nesterov ? momentum m - lr g : m
template <class T>
void sgd(const SgdProblem& p, T* w, const T* g, T* const* s) {
  const T mu = T(p.momentum), rate = T(p.lr);
  if (p.momentum == 0) {
    for (int64_t i = 0; i < p.n; ++i) w[i] -= rate * g[i];
    return;
  }
  T* m = s[0];
  for (int64_t i = 0; i < p.n; ++i) {
    m[i] = mu * m[i] - rate * g[i];
    w[i] += p.nesterov ? mu * m[i] - rate * g[i] : m[i];
  }
}

// decayed: w -= w decay;  then  m += (g - m) c1;  v += (g^2 - v) c2;  w -= m alpha / (sqrt(v) + eps)
// (decay = lr weight_decay, c1 = 1 - beta_1, c2 = 1 - beta_2, alpha = lr sqrt(1 - beta_2^t) / (1 - beta_1^t))
template <class T>
void adam(const AdamProblem& p, T* w, const T* g, T* const* s) {
  const T decay = T(p.decay), c1 = T(p.c1), c2 = T(p.c2), alpha = T(p.alpha), eps = T(p.eps);
  T *m = s[0], *v = s[1];
  for (int64_t i = 0; i < p.n; ++i) {
    if (p.decayed) w[i] -= w[i] * decay;
    m[i] += (g[i] - m[i]) * c1;
    v[i] += (g[i] * g[i] - v[i]) * c2;
    w[i] -= m[i] * alpha / (std::sqrt(v[i]) + eps);
  }
}

// v = rho v + (1 - rho) g^2;  d = lr g / sqrt(v + eps);  momentum > 0: m = momentum m + d, w -= m;  else w -= d
template <class T>
void rmsprop(const RmspropProblem& p, T* w, const T* g, T* const* s) {
  const T rho = T(p.rho), mu = T(p.momentum), rate = T(p.lr), eps = T(p.eps);
  T* v = s[0];
  for (int64_t i = 0; i < p.n; ++i) {
    v[i] = rho * v[i] + (1 - rho) * g[i] * g[i];
    T d = rate * g[i] / std::sqrt(v[i] + eps);
    if (p.momentum > 0) {
      s[1][i] = mu * s[1][i] + d;
      w[i] -= s[1][i];
    } else {
      w[i] -= d;
    }
  }
}

// a += g^2;  w -= lr g / sqrt(a + eps)
template <class T>
void adagrad(const AdagradProblem& p, T* w, const T* g, T* const* s) {
  const T rate = T(p.lr), eps = T(p.eps);
  T* a = s[0];
  for (int64_t i = 0; i < p.n; ++i) {
    a[i] += g[i] * g[i];
    w[i] -= rate * g[i] / std::sqrt(a[i] + eps);
  }
}

template <class Problem>
bool float_dtype(const Problem& p, std::string* why) {
  if (p.dtype == DType::f32 || p.dtype == DType::f64) return true;
  *why = "dtype must be f32 or f64";
  return false;
}

// The type-erased entry of fn<T> for the problem's dtype.
template <class Problem, void (*F64)(const Problem&, double*, const double*, double* const*),
          void (*F32)(const Problem&, float*, const float*, float* const*)>
void update(const Problem& p, void* w, const void* g, void* const* s) {
  if (p.dtype == DType::f64)
    F64(p, static_cast<double*>(w), static_cast<const double*>(g), reinterpret_cast<double* const*>(s));
  else
    F32(p, static_cast<float*>(w), static_cast<const float*>(g), reinterpret_cast<float* const*>(s));
}

}  // namespace

extern const SgdKernel kSgdRef{"ref", float_dtype, update<SgdProblem, sgd<double>, sgd<float>>};
extern const AdamKernel kAdamRef{"ref", float_dtype, update<AdamProblem, adam<double>, adam<float>>};
extern const RmspropKernel kRmspropRef{"ref", float_dtype, update<RmspropProblem, rmsprop<double>, rmsprop<float>>};
extern const AdagradKernel kAdagradRef{"ref", float_dtype, update<AdagradProblem, adagrad<double>, adagrad<float>>};

}  // namespace locnet::kernels
