#include "kernels/conv2d/problem.hpp"
#include "kernels/registry.hpp"

LOCNET_KERNEL_LIST(Conv2dKernel, conv2d_kernels, kConv2dDirectHwy, kConv2dDepthwise, kConv2dIm2col, kConv2dRef)
