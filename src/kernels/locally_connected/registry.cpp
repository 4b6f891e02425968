#include "kernels/locally_connected/problem.hpp"
#include "kernels/registry.hpp"

LOCNET_KERNEL_LIST(LcKernel, lc_kernels, kLcHwy, kLcBlas, kLcRef)
