#include "kernels/lrn/problem.hpp"

namespace locnet::kernels {

extern const LrnKernel kLrnRef;

std::span<const LrnKernel> lrn_kernels() {
  static const LrnKernel list[] = {kLrnRef};
  return list;
}

}  // namespace locnet::kernels
