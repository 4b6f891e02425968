#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "locnet/core/dtype.hpp"

namespace locnet::kernels {

// x, y, dy, dx are (n, C, S) for channels_first or (n, S, C) for channels_last, S = product of the spatial dims;
// f32 or f64. A channel axis anywhere else (Keras's axis=) is the channels_first problem with n = N * the product
// of the dims before the axis and S = the product of those after it (src/layers/batch_norm.cpp). Per-channel
// values (gamma, beta, statistics) are double arrays of C; m = n * S > 0.
struct BatchNormProblem {
  int64_t n = 1, c = 1, s = 1;
  bool channels_last = true;
  bool relu = false;  // y = max(z, 0), g = dy * (z > 0); NaN z: y = NaN, g = dy
  DType dtype = DType::f32;
  int64_t count() const { return n * s; }  // m, the elements per channel
};

struct BatchNormKernel {
  const char* name;
  bool (*applicable)(const BatchNormProblem&, std::string* why);
  // Batch statistics (mean, biased var: assigned) and y = act(gamma (x - mean) / sqrt(var + eps) + beta).
  void (*forward_training)(const BatchNormProblem&, const void* x, const double* gamma, const double* beta, double eps,
                           void* y, double* mean, double* var);
  // y = act(gamma (x - mean) invstd + beta) with the given statistics.
  void (*forward_inference)(const BatchNormProblem&, const void* x, const double* mean, const double* invstd,
                            const double* gamma, const double* beta, void* y);
  // With z = gamma (x - mean) invstd + beta and g = dy * act'(z): dbeta = sum g, dgamma = invstd sum g (x - mean)
  // (both assigned); dx (assigned) = gamma invstd (g - dbeta/m - (x - mean) invstd dgamma/m) when batch_stats
  // (the statistics came from x), else gamma invstd g.
  void (*backward)(const BatchNormProblem&, const void* x, const void* dy, const double* mean, const double* invstd,
                   const double* gamma, const double* beta, bool batch_stats, void* dx, double* dgamma, double* dbeta);
};

// Both kernels' applicable(): f32 and f64 only.
inline bool f32_or_f64(const BatchNormProblem& p, std::string* why) {
  if (p.dtype == DType::f32 || p.dtype == DType::f64) return true;
  *why = "dtype is not f32 or f64";
  return false;
}

std::span<const BatchNormKernel> batch_norm_kernels();  // most specialised first, "ref" last

}  // namespace locnet::kernels
