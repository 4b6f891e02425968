// Losses on logits (Keras's from_logits=True forms). Each returns the mean loss and dL/dlogits, the gradient of
// that mean, in the logits' dtype (f32 or f64); everything is computed in double.
// Rows: the last axis holds the K classes, every other axis is a row (N = numel / K rows).
//   softmax_cross_entropy (sparse integer labels y_r in [0, K); Keras sparse_categorical_crossentropy):
//       L = mean_r [ lse(z_r) - z_r[y_r] ]                       dL/dz_r = (softmax(z_r) - onehot(y_r)) / N
//   softmax_cross_entropy (targets t of the logits' shape: one-hot or probabilities; categorical_crossentropy):
//       L = mean_r [ lse(z_r) sum_k t_rk - sum_k t_rk z_rk ]     dL/dz_r = (softmax(z_r) sum_k t_rk - t_r) / N
//     lse(z) = m + log sum_k exp(z_k - m), m = max_k z_k: finite for any finite logits (1e4 included).
//   binary_cross_entropy (targets t in [0, 1] of the logits' shape, mean over all M elements):
//       l = max(z, 0) - z t + log1p(exp(-|z|))                   dl/dz = (sigmoid(z) - t) / M
//   mean_squared_error (targets of the prediction's shape, mean over all M elements):
//       l = (z - t)^2                                            dl/dz = 2 (z - t) / M
// Errors: ShapeError for targets whose shape (or label count) differs from the logits', a label outside [0, K),
// dtypes other than f32/f64, empty inputs.
#pragma once
#include <cstdint>
#include <span>

#include "locnet/core/tensor.hpp"

namespace locnet {

struct LossResult {
  double loss = 0.0;
  Tensor grad;  // dL/dlogits, the logits' shape and dtype
};

LossResult softmax_cross_entropy(const Tensor& logits, std::span<const int64_t> labels);
LossResult softmax_cross_entropy(const Tensor& logits, const Tensor& targets);
LossResult binary_cross_entropy(const Tensor& logits, const Tensor& targets);
LossResult mean_squared_error(const Tensor& predictions, const Tensor& targets);

}  // namespace locnet
