// Losses on logits (Keras's from_logits=True forms), and cross_entropy on probabilities (from_logits=False) for
// models that end in softmax. Each returns the mean loss and its gradient with respect to its first argument, in
// that argument's dtype (f32 or f64); everything is computed in double.
// Rows: the last axis holds the K classes, every other axis is a row (N = numel / K rows).
//   softmax_cross_entropy (sparse integer labels y_r in [0, K); Keras sparse_categorical_crossentropy):
//       L = mean_r [ lse(z_r) - z_r[y_r] ]                       dL/dz_r = (softmax(z_r) - onehot(y_r)) / N
//   softmax_cross_entropy (targets t of the logits' shape: one-hot or probabilities; categorical_crossentropy):
//       L = mean_r [ lse(z_r) sum_k t_rk - sum_k t_rk z_rk ]     dL/dz_r = (softmax(z_r) sum_k t_rk - t_r) / N
//     lse(z) = m + log sum_k exp(z_k - m), m = max_k z_k: finite for any finite logits (1e4 included).
//   cross_entropy (probabilities p, e.g. a softmax's output, and sparse integer labels; Keras
//   sparse_categorical_crossentropy with from_logits=False): each row is normalised, q_r = p_r / S_r with
//   S_r = sum_k p_rk, and clipped to [eps, 1 - eps], eps = 1e-7 (Keras's epsilon()):
//       L = mean_r -log clip(q_r[y_r])                           dL/dp_rj = (1/S_r - [j = y_r] / p_r[y_r]) / N
//     and dL/dp_r = 0 where q_r[y_r] is clipped (a clip passes no gradient). Through a softmax this gradient
//     becomes softmax(z_r) - onehot(y_r), the logits form's, wherever q_r[y_r] is inside the clip range.
//   binary_cross_entropy (targets t in [0, 1] of the logits' shape, mean over all M elements):
//       l = max(z, 0) - z t + log1p(exp(-|z|))                   dl/dz = (sigmoid(z) - t) / M
//   cross_entropy (probabilities p and one-hot/probability targets t; categorical_crossentropy with
//   from_logits=False): q_r = clip(p_r / S_r), L = mean_r -sum_k t_rk log q_rk, no gradient through clipped terms.
//   mean_squared_error (targets of the prediction's shape, mean over all M elements):
//       l = (z - t)^2                                            dl/dz = 2 (z - t) / M
//   mean_absolute_error: l = |z - t|, dl/dz = sign(z - t) / M (0 at z = t).
//   huber (Keras's Huber, delta > 0): x = z - t, l = x^2 / 2 for |x| <= delta, else delta |x| - delta^2 / 2;
//       dl/dz = clamp(x, -delta, delta) / M.
// Every result also holds per_sample: the loss of each sample (axis 0; a rank-1 row loss is one sample), the
// mean of its rows or elements, so that loss = mean(per_sample). weighted() applies sample weights w_s as Keras
// does (sum_s w_s loss_s / S, S the batch size) and scales each sample's gradient by w_s.
// Errors: ShapeError for targets whose shape (or label count) differs from the logits', a label outside [0, K),
// dtypes other than f32/f64, empty inputs. cross_entropy does not check that p holds probabilities (as Keras).
#pragma once
#include <cstdint>
#include <functional>
#include <span>

#include <memory>
#include <string>

#include "locnet/core/catalog.hpp"
#include "locnet/core/tensor.hpp"

namespace locnet {

struct LossResult {
  double loss = 0.0;
  Tensor grad;  // dL/dlogits, the logits' shape and dtype
  std::vector<double> per_sample;  // the loss of each sample (see above)
};

LossResult softmax_cross_entropy(const Tensor& logits, std::span<const int64_t> labels);
LossResult softmax_cross_entropy(const Tensor& logits, const Tensor& targets);
LossResult cross_entropy(const Tensor& probabilities, std::span<const int64_t> labels);
LossResult binary_cross_entropy(const Tensor& logits, const Tensor& targets);
LossResult cross_entropy(const Tensor& probabilities, const Tensor& targets);
LossResult mean_squared_error(const Tensor& predictions, const Tensor& targets);
LossResult mean_absolute_error(const Tensor& predictions, const Tensor& targets);
LossResult huber(const Tensor& predictions, const Tensor& targets, double delta = 1.0);
// r with sample weights w (one per sample; ShapeError otherwise): loss = sum_s w_s r.per_sample[s] / S.
LossResult weighted(LossResult r, std::span<const double> w);
// A loss by name, as the catalog makes it (kind loss; aliases are Keras's names): the functions above behind one
// object. Calling it with the form the loss does not take (labels for mean_squared_error) is NotSupported.
class Loss : public CatalogObject {
 public:
  using LabelsFn = std::function<LossResult(const Tensor&, std::span<const int64_t>)>;
  using TargetsFn = std::function<LossResult(const Tensor&, const Tensor&)>;
  Loss(std::string type, LabelsFn labels, TargetsFn targets, std::vector<std::pair<std::string, Value>> options = {});
  LossResult operator()(const Tensor& out, std::span<const int64_t> labels) const;
  LossResult operator()(const Tensor& out, const Tensor& targets) const;
  bool takes_labels() const { return bool(labels_); }
  bool takes_targets() const { return bool(targets_); }
  const std::string& type() const { return type_; }
  Call config() const override { return Call{type_, {}, options_, -1}; }

 private:
  std::string type_;
  std::vector<std::pair<std::string, Value>> options_;
  LabelsFn labels_;
  TargetsFn targets_;
};
// A name ("mse") or a call (huber(delta=2.0)); ConfigError "<where> must be one of ..." otherwise.
std::unique_ptr<Loss> make_loss(const Value& spec, std::string_view where = "loss");
// The losses above for `locnet info`.
std::vector<TypeDoc> loss_docs();
void declare_losses(Catalog& c);  // the losses above and their reader, into the catalog

}  // namespace locnet
