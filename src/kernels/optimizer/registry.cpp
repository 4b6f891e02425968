#include "kernels/optimizer/problem.hpp"
#include "kernels/registry.hpp"

LOCNET_KERNEL_LIST(SgdKernel, sgd_kernels, kSgdRef)
LOCNET_KERNEL_LIST(AdamKernel, adam_kernels, kAdamHwy, kAdamRef)
LOCNET_KERNEL_LIST(RmspropKernel, rmsprop_kernels, kRmspropRef)
LOCNET_KERNEL_LIST(AdagradKernel, adagrad_kernels, kAdagradRef)
