#include "kernels/batch_norm/problem.hpp"
#include "kernels/registry.hpp"

LOCNET_KERNEL_LIST(BatchNormKernel, batch_norm_kernels, kBatchNormHwy, kBatchNormRef)
