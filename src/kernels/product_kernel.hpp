// The kernel-registry entry of an op that multiplies an input by a weight kernel and adds a bias (dense, conv2d,
// locally_connected): y = x * w + b forward; dx, and the gradients of w and b, backward. Each op's registry
// holds a list of ProductKernel<its Problem> (src/kernels/registry.hpp chooses one).
// typed_kernel() makes the untyped entry points of a kernel written once for a typed element T: Impl<T>::forward
// and Impl<T>::backward take T pointers, T = float or double by the problem's dtype (visit_float; applicable()
// keeps other dtypes out).
#pragma once
#include <string>

#include "locnet/core/dtype.hpp"

namespace locnet::kernels {

template <class P>
struct ProductKernel {
  using Problem = P;
  const char* name;
  bool (*applicable)(const Problem&, std::string* why);
  // y assigned: bias (if any) plus the product.
  void (*forward)(const Problem&, const void* x, const void* w, const void* b, void* y);
  // dx assigned; dw and db accumulated (db ignored without bias).
  void (*backward)(const Problem&, const void* dy, const void* x, const void* w, void* dx, void* dw, void* db);
  // True: backward also takes dx = null and then skips dx (Layer::set_need_input_grad), dw and db unchanged.
  bool skips_dx = false;
};

// True for f32 and f64; otherwise sets *why.
inline bool f32_or_f64(DType dt, std::string* why) {
  if (dt == DType::f32 || dt == DType::f64) return true;
  *why = "dtype must be f32 or f64";
  return false;
}
// applicable() of the references: any f32 or f64 problem.
template <class Problem>
bool f32_or_f64_problem(const Problem& p, std::string* why) {
  return f32_or_f64(p.dtype, why);
}

template <class T, template <class> class Impl, class Problem>
void typed_forward(const Problem& p, const void* x, const void* w, const void* b, void* y) {
  Impl<T>::forward(p, static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(b),
                   static_cast<T*>(y));
}

template <class T, template <class> class Impl, class Problem>
void typed_backward(const Problem& p, const void* dy, const void* x, const void* w, void* dx, void* dw, void* db) {
  Impl<T>::backward(p, static_cast<const T*>(dy), static_cast<const T*>(x), static_cast<const T*>(w),
                    static_cast<T*>(dx), static_cast<T*>(dw), static_cast<T*>(db));
}

template <class Kernel, template <class> class Impl, class Problem = typename Kernel::Problem>
constexpr Kernel typed_kernel(const char* name,
                              bool (*applicable)(const Problem&, std::string*) = f32_or_f64_problem<Problem>,
                              bool skips_dx = false) {
  return Kernel{name, applicable,
                [](const Problem& p, const void* x, const void* w, const void* b, void* y) {
                  visit_float(p.dtype, [&](auto t) { typed_forward<decltype(t), Impl>(p, x, w, b, y); });
                },
                [](const Problem& p, const void* dy, const void* x, const void* w, void* dx, void* dw, void* db) {
                  visit_float(p.dtype, [&](auto t) { typed_backward<decltype(t), Impl>(p, dy, x, w, dx, dw, db); });
                },
                skips_dx};
}

}  // namespace locnet::kernels
