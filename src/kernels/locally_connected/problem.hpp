#pragma once
#include <span>

#include "kernels/product_kernel.hpp"
#include "kernels/window_problem.hpp"

namespace locnet::kernels {

// A locally connected layer as 2D (1D is rows = 1), a windowed product (src/kernels/window_problem.hpp):
// x (n, h, w, c) or (n, c, h, w); kernel (P, K, F) with P = oh*ow positions row-major and K = kh*kw*c in Keras
// order ((tap_r, tap_c, c) channels_last, (c, tap_r, tap_c) channels_first); bias (P*F) added in the output's own
// memory order (p*F + f or f*P + p); y (n, oh, ow, f) or (n, f, oh, ow). Tap j of output o along an axis reads
// input o*s + j*d - pad; outside [0, size) it reads nothing (the Keras locally-connected window rule, generalised
// to dilation and explicit padding): row_taps() / col_taps() give the taps that land inside.
struct LcProblem : WindowProblem {};

struct LcKernel : ProductKernel<LcProblem> {};

std::span<const LcKernel> lc_kernels();  // most specialised first, "ref" last

}  // namespace locnet::kernels
