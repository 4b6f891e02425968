#include "kernels/lrn/problem.hpp"

namespace locnet::kernels {

extern const LrnKernel kLrnHwy, kLrnRef;

std::span<const LrnKernel> lrn_kernels() {
  static const LrnKernel list[] = {kLrnHwy, kLrnRef};
  return list;
}

}  // namespace locnet::kernels
