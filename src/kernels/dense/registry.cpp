#include "kernels/dense/problem.hpp"

namespace locnet::kernels {

extern const DenseKernel kDenseBlas, kDenseRef;

std::span<const DenseKernel> dense_kernels() {
  static const DenseKernel list[] = {kDenseBlas, kDenseRef};
  return list;
}

}  // namespace locnet::kernels
