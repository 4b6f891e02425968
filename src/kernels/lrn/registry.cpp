#include "kernels/lrn/problem.hpp"
#include "kernels/registry.hpp"

LOCNET_KERNEL_LIST(LrnKernel, lrn_kernels, kLrnHwy, kLrnRef)
