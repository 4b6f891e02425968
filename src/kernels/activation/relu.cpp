// ReLU as its own loops, the common activation: without the reference's per-element switch the compiler
// vectorizes them (a compare and a mask per vector). Same rule as the reference: y = z < 0 ? 0 : z keeps NaN (and
// -0); dz = z <= 0 ? 0 : dy passes dy through at a NaN input.
#include "kernels/activation/problem.hpp"
#include "locnet/core/parallel.hpp"

namespace locnet::kernels {
namespace {

template <class T>
void forward_t(const ActivationProblem& p, const void* zv, void* yv) {
  parallel_for(0, p.n, 1 << 14, [zv, yv](int64_t lo, int64_t hi) {
    const T* __restrict zs = static_cast<const T*>(zv);
    T* __restrict ys = static_cast<T*>(yv);
    for (int64_t i = lo; i < hi; ++i) ys[i] = zs[i] < 0 ? T(0) : zs[i];
  });
}

template <class T>
void backward_t(const ActivationProblem& p, const void* zv, const void*, const void* dyv, void* dzv) {
  parallel_for(0, p.n, 1 << 14, [zv, dyv, dzv](int64_t lo, int64_t hi) {
    const T* __restrict zs = static_cast<const T*>(zv);
    const T* __restrict gs = static_cast<const T*>(dyv);
    T* __restrict ds = static_cast<T*>(dzv);
    for (int64_t i = lo; i < hi; ++i) {
      const T g = gs[i];  // loaded unconditionally: a select, not a branch
      ds[i] = zs[i] <= 0 ? T(0) : g;
    }
  });
}

bool applicable(const ActivationProblem& p, std::string* why) {
  if (p.kind != ActivationId::relu) {
    *why = "activation must be relu";
    return false;
  }
  if (p.dtype != DType::f32 && p.dtype != DType::f64) {
    *why = "dtype must be f32 or f64";
    return false;
  }
  return true;
}

void forward(const ActivationProblem& p, const void* z, void* y) {
  visit_float(p.dtype, [&](auto t) { forward_t<decltype(t)>(p, z, y); });
}
void backward(const ActivationProblem& p, const void* z, const void* y, const void* dy, void* dz) {
  visit_float(p.dtype, [&](auto t) { backward_t<decltype(t)>(p, z, y, dy, dz); });
}

}  // namespace

extern const ActivationKernel kActivationRelu{"relu", applicable, forward, backward};

}  // namespace locnet::kernels
