#pragma once
#include <span>

#include "kernels/product_kernel.hpp"
#include "kernels/window_problem.hpp"

namespace locnet::kernels {

// A 2D convolution (cross-correlation), a windowed product (src/kernels/window_problem.hpp): x (n, h, w, c) or
// (n, c, h, w); kernel (kh, kw, c, f) in Keras's layout whatever the data format (row q = (tap_r*kw + tap_c)*c + ch
// of a K x F matrix, K = kh*kw*c); bias (f,); y (n, oh, ow, f) or (n, f, oh, ow). Tap (tap_r, tap_c) of output
// (oy, ox) reads input (in_row(oy, tap_r), in_col(ox, tap_c)); outside the input it reads zero.
// Grouped (groups > 1, c and f divisible by it): the kernel is (kh, kw, c/groups, f) and filter f reads only the
// channels of its group g = f / (f/groups), [g*c/groups, (g+1)*c/groups); depthwise is groups = c.
struct Conv2dProblem : WindowProblem {
  int64_t groups = 1;
  int64_t group_channels() const { return c / groups; }
  int64_t group_filters() const { return f / groups; }
};

struct Conv2dKernel : ProductKernel<Conv2dProblem> {};

std::span<const Conv2dKernel> conv2d_kernels();  // most specialised first, "ref" last

}  // namespace locnet::kernels
