#include "kernels/activation/problem.hpp"
#include "kernels/registry.hpp"

LOCNET_KERNEL_LIST(ActivationKernel, activation_kernels, kActivationRelu, kActivationRef)
