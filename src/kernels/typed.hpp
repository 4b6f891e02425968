// Kernels written once for a typed element T (float or double). The registries hold untyped entry points,
// Kernel{name, applicable, forward(p, x, w, b, y), backward(p, dy, x, w, dx, dw, db)}; typed_kernel() makes them
// from Impl<T>::forward / Impl<T>::backward taking T pointers, with T = double for f64 problems and float
// otherwise (applicable() keeps other dtypes out).
#pragma once
#include <string>

#include "locnet/core/dtype.hpp"

namespace locnet::kernels {

// True for f32 and f64; otherwise sets *why.
inline bool f32_or_f64(DType dt, std::string* why) {
  if (dt == DType::f32 || dt == DType::f64) return true;
  *why = "dtype must be f32 or f64";
  return false;
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

template <class Kernel, class Problem, template <class> class Impl>
constexpr Kernel typed_kernel(const char* name, bool (*applicable)(const Problem&, std::string*)) {
  return Kernel{name, applicable,
                [](const Problem& p, const void* x, const void* w, const void* b, void* y) {
                  p.dtype == DType::f64 ? typed_forward<double, Impl>(p, x, w, b, y)
                                        : typed_forward<float, Impl>(p, x, w, b, y);
                },
                [](const Problem& p, const void* dy, const void* x, const void* w, void* dx, void* dw, void* db) {
                  p.dtype == DType::f64 ? typed_backward<double, Impl>(p, dy, x, w, dx, dw, db)
                                        : typed_backward<float, Impl>(p, dy, x, w, dx, dw, db);
                }};
}

}  // namespace locnet::kernels
