#include "kernels/batch_norm/problem.hpp"

namespace locnet::kernels {

extern const BatchNormKernel kBatchNormHwy, kBatchNormRef;

std::span<const BatchNormKernel> batch_norm_kernels() {
  static const BatchNormKernel list[] = {kBatchNormHwy, kBatchNormRef};
  return list;
}

}  // namespace locnet::kernels
