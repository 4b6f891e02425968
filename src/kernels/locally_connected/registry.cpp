#include "kernels/locally_connected/problem.hpp"

namespace locnet::kernels {

extern const LcKernel kLcBlas, kLcRef;

std::span<const LcKernel> lc_kernels() {
  static const LcKernel list[] = {kLcBlas, kLcRef};
  return list;
}

}  // namespace locnet::kernels
