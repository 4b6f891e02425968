#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "locnet/core/dtype.hpp"

namespace locnet::kernels {

// y (m, n) = x (m, k) @ w (k, n) + b (n); all row-major and contiguous, element type `dtype` (f32 or f64).
struct DenseProblem {
  int64_t m, k, n;
  DType dtype;
  bool has_bias;
};

struct DenseKernel {
  const char* name;
  bool (*applicable)(const DenseProblem&, std::string* why);
  void (*forward)(const DenseProblem&, const void* x, const void* w, const void* b, void* y);
  // dx = dy @ w^T (assigned); dw += x^T @ dy; db += column sums of dy (accumulated).
  void (*backward)(const DenseProblem&, const void* dy, const void* x, const void* w, void* dx, void* dw, void* db);
};

std::span<const DenseKernel> dense_kernels();  // most specialised first, "ref" last

}  // namespace locnet::kernels
