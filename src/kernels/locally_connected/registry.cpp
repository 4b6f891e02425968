#include "kernels/locally_connected/problem.hpp"

namespace locnet::kernels {

extern const LcKernel kLcHwy, kLcBlas, kLcRef;

std::span<const LcKernel> lc_kernels() {
  static const LcKernel list[] = {kLcHwy, kLcBlas, kLcRef};
  return list;
}

}  // namespace locnet::kernels
