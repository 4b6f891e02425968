// Resampling along two spatial axes by per-axis tap lists: the one kernel behind zero padding, cropping and
// nearest / bilinear upsampling (include/locnet/layers/spatial_ops.hpp). The input is viewed as
// (outer, h, w, inner): (N, H, W, C) for channels_last, (N*C, H, W, 1) for channels_first, and (N, 1, L, C) or
// (N*C, 1, L, 1) for the 1D layers.
//   y[o, oy, ox, i] = sum_a sum_b rows[oy].w[a] * cols[ox].w[b] * x[o, rows[oy].in[a], cols[ox].in[b], i]
// Output positions with no tap (padding) are 0. Backward is the transpose: dx (assigned) gets each dy spread back
// to the taps with the same weights.
#pragma once
#include <cstdint>
#include <vector>

#include "locnet/core/dtype.hpp"

namespace locnet::kernels {

// The input indices (up to two) and weights one output index along an axis reads.
struct AxisTaps {
  int count = 0;
  int64_t in[2] = {0, 0};
  double w[2] = {0, 0};
};

// The `out` output indices of an axis of input length n upsampled by `size` (nearest: u / size, bilinear: half-pixel
// centers), then shifted by `shift` (cropped before minus padded before): output o reads upsampled index o + shift,
// and nothing (a padded zero) where that lies outside [0, n * size).
std::vector<AxisTaps> axis_taps(int64_t n, int64_t size, int64_t shift, int64_t out, bool bilinear);

struct ResampleProblem {
  int64_t h = 1, w = 1, inner = 1;      // per outer row: input (h, w, inner)
  int64_t channels_per_sample = 1;      // outer rows per sample (C for channels_first, else 1)
  std::vector<AxisTaps> rows, cols;     // output rows: rows.size(), output cols: cols.size()
};

template <class T>
void resample_forward(const ResampleProblem& p, int64_t samples, const T* x, T* y);
template <class T>
void resample_backward(const ResampleProblem& p, int64_t samples, const T* dy, T* dx);

}  // namespace locnet::kernels
