#include "kernels/conv2d/problem.hpp"

namespace locnet::kernels {

extern const Conv2dKernel kConv2dDirectHwy, kConv2dIm2col, kConv2dRef;

std::span<const Conv2dKernel> conv2d_kernels() {
  static const Conv2dKernel list[] = {kConv2dDirectHwy, kConv2dIm2col, kConv2dRef};
  return list;
}

}  // namespace locnet::kernels
