#include "kernels/dense/problem.hpp"
#include "kernels/registry.hpp"

LOCNET_KERNEL_LIST(DenseKernel, dense_kernels, kDenseBlas, kDenseRef)
