#pragma once
#include <span>
#include <string>

#include "kernels/window.hpp"

namespace locnet::kernels {

// A locally connected layer as 2D (1D is rows = 1), a windowed product (src/kernels/window.hpp): x (n, h, w, c) or
// (n, c, h, w); kernel (P, K, F) with P = oh*ow positions row-major and K = kh*kw*c in Keras order ((tap_r, tap_c,
// c) channels_last, (c, tap_r, tap_c) channels_first); bias (P*F) added in the output's own memory order
// (p*F + f or f*P + p); y (n, oh, ow, f) or (n, f, oh, ow). Tap j of output o along an axis reads input
// o*s + j*d - pad; outside [0, size) it reads nothing (the Keras locally-connected window rule, generalised to
// dilation and explicit padding): row_taps() / col_taps() give the taps that land inside.
struct LcProblem : WindowProblem {};

struct LcKernel {
  const char* name;
  bool (*applicable)(const LcProblem&, std::string* why);
  // y assigned: bias (if any) plus the locally connected product.
  void (*forward)(const LcProblem&, const void* x, const void* w, const void* b, void* y);
  // dx assigned; dw and db accumulated (db ignored without bias).
  void (*backward)(const LcProblem&, const void* dy, const void* x, const void* w, void* dx, void* dw, void* db);
};

std::span<const LcKernel> lc_kernels();  // most specialised first, "ref" last

}  // namespace locnet::kernels
