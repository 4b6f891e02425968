#include "kernels/pooling/problem.hpp"
#include "kernels/registry.hpp"

LOCNET_KERNEL_LIST(MaxPoolKernel, max_pool_kernels, kMaxPoolHwy, kMaxPoolRef)
LOCNET_KERNEL_LIST(AvgPoolKernel, avg_pool_kernels, kAvgPoolRef)
LOCNET_KERNEL_LIST(AvgPoolKernel, global_avg_pool_kernels, kGlobalAvgPoolRef)
