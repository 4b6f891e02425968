#pragma once
#include <cstdint>
#include <span>

#include "kernels/product_kernel.hpp"
#include "locnet/core/dtype.hpp"

namespace locnet::kernels {

// y (m, n) = x (m, k) @ w (k, n) + b (n); all row-major and contiguous, element type `dtype` (f32 or f64).
struct DenseProblem {
  int64_t m, k, n;
  DType dtype;
  bool has_bias;
};

struct DenseKernel : ProductKernel<DenseProblem> {};

std::span<const DenseKernel> dense_kernels();  // most specialised first, "ref" last

}  // namespace locnet::kernels
