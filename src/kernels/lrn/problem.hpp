#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "locnet/core/dtype.hpp"

namespace locnet::kernels {

// x and y are (n, C, S) for channels_first or (n, S, C) for channels_last, S = product of the spatial dims.
struct LrnProblem {
  int64_t n = 1, c = 1;
  int64_t sp[3] = {1, 1, 1};  // spatial dims (nsp of them used)
  int nsp = 0;
  bool channels_last = true;
  bool within = false;
  int64_t behind = 0, ahead = 0;  // across-channel window [c - behind, c + ahead]
  int64_t half = 0;               // within-channel box [p - half, p + half] per spatial axis
  double divisor = 1, alpha = 0, beta = 0, k = 1;
  DType dtype = DType::f32;
  int64_t spatial() const { return sp[0] * sp[1] * sp[2]; }
};

struct LrnKernel {
  const char* name;
  bool (*applicable)(const LrnProblem&, std::string* why);
  void (*forward)(const LrnProblem&, const void* x, void* y);
  // dx from x and dy (N recomputed from x: no workspace).
  void (*backward)(const LrnProblem&, const void* x, const void* dy, void* dx);
};

std::span<const LrnKernel> lrn_kernels();  // most specialised first, "ref" last

}  // namespace locnet::kernels
