#include "locnet/train/losses.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace locnet {
namespace {

void check_logits(const Tensor& z, const char* where) {
  if (!z.defined() || z.rank() < 1 || z.numel() == 0)
    raise<ShapeError>("{}: logits must be a non-empty tensor, got {}", where,
                      z.defined() ? z.shape().str() : std::string("an empty tensor"));
  if (z.dtype() != DType::f32 && z.dtype() != DType::f64)
    raise<ShapeError>("{}: logits dtype must be f32 or f64, got {}", where, dtype_name(z.dtype()));
}

void check_targets(const Tensor& z, const Tensor& t, const char* where) {
  check_logits(z, where);
  if (!t.defined() || t.shape() != z.shape())
    raise<ShapeError>("{}: targets shape must be {} (the logits'), got {}", where, z.shape().str(),
                      t.defined() ? t.shape().str() : std::string("an empty tensor"));
}

// n rows of k classes (the last axis).
struct Rows {
  int64_t n, k;
  explicit Rows(const Tensor& z) : n(z.numel() / z.dim(-1)), k(z.dim(-1)) {}
};

// lse of row z[0..k) and p = softmax(z).
double log_softmax_row(const double* z, int64_t k, double* p) {
  double m = *std::max_element(z, z + k), sum = 0;
  for (int64_t j = 0; j < k; ++j) sum += (p[j] = std::exp(z[j] - m));
  for (int64_t j = 0; j < k; ++j) p[j] /= sum;
  return m + std::log(sum);
}

// The rows of z, after checking one label in [0, k) per row.
Rows check_labels(const Tensor& z, std::span<const int64_t> labels, const char* where) {
  check_logits(z, where);
  Rows r(z);
  if (int64_t(labels.size()) != r.n)
    raise<ShapeError>("{}: the number of labels must be {} (one per row of logits {}), got {}", where, r.n,
                      z.shape().str(), labels.size());
  for (int64_t i = 0; i < r.n; ++i)
    if (labels[size_t(i)] < 0 || labels[size_t(i)] >= r.k)
      raise<ShapeError>("{}: labels must be in [0, {}), got labels[{}] = {}", where, r.k, i, labels[size_t(i)]);
  return r;
}

}  // namespace

LossResult softmax_cross_entropy(const Tensor& logits, std::span<const int64_t> labels) {
  Rows r = check_labels(logits, labels, "softmax_cross_entropy");
  const std::vector<double> z = logits.to_vector();
  std::vector<double> g(z.size()), p(size_t(r.k));
  double total = 0;
  for (int64_t i = 0; i < r.n; ++i) {
    int64_t y = labels[size_t(i)];
    const double* zr = z.data() + i * r.k;
    total += log_softmax_row(zr, r.k, p.data()) - zr[y];
    for (int64_t j = 0; j < r.k; ++j) g[size_t(i * r.k + j)] = (p[size_t(j)] - (j == y)) / double(r.n);
  }
  LossResult out{total / double(r.n), Tensor(logits.shape(), logits.dtype())};
  for (size_t i = 0; i < g.size(); ++i) out.grad.set(int64_t(i), g[i]);
  return out;
}

LossResult softmax_cross_entropy(const Tensor& logits, const Tensor& targets) {
  check_targets(logits, targets, "softmax_cross_entropy");
  Rows r(logits);
  const std::vector<double> z = logits.to_vector(), t = targets.to_vector();
  std::vector<double> p(size_t(r.k));
  LossResult out{0.0, Tensor(logits.shape(), logits.dtype())};
  double total = 0;
  for (int64_t i = 0; i < r.n; ++i) {
    const double *zr = z.data() + i * r.k, *tr = t.data() + i * r.k;
    double lse = log_softmax_row(zr, r.k, p.data()), tsum = 0;
    for (int64_t j = 0; j < r.k; ++j) {
      tsum += tr[j];
      total -= tr[j] * zr[j];
    }
    total += lse * tsum;
    for (int64_t j = 0; j < r.k; ++j) out.grad.set(i * r.k + j, (p[size_t(j)] * tsum - tr[j]) / double(r.n));
  }
  out.loss = total / double(r.n);
  return out;
}

LossResult cross_entropy(const Tensor& probabilities, std::span<const int64_t> labels) {
  constexpr double eps = 1e-7;  // Keras backend.epsilon()
  Rows r = check_labels(probabilities, labels, "cross_entropy");
  const std::vector<double> p = probabilities.to_vector();
  LossResult out{0.0, Tensor(probabilities.shape(), probabilities.dtype())};
  double total = 0;
  for (int64_t i = 0; i < r.n; ++i) {
    const int64_t y = labels[size_t(i)];
    const double* pr = p.data() + i * r.k;
    double s = 0;
    for (int64_t j = 0; j < r.k; ++j) s += pr[j];
    const double q = pr[y] / s;
    total -= std::log(std::clamp(q, eps, 1 - eps));
    if (q <= eps || q >= 1 - eps) continue;  // clipped: no gradient
    for (int64_t j = 0; j < r.k; ++j) out.grad.set(i * r.k + j, (1 / s - (j == y) / pr[y]) / double(r.n));
  }
  out.loss = total / double(r.n);
  return out;
}

LossResult binary_cross_entropy(const Tensor& logits, const Tensor& targets) {
  check_targets(logits, targets, "binary_cross_entropy");
  const int64_t m = logits.numel();
  LossResult out{0.0, Tensor(logits.shape(), logits.dtype())};
  double total = 0;
  for (int64_t i = 0; i < m; ++i) {
    double z = logits.item(i), t = targets.item(i);
    total += std::max(z, 0.0) - z * t + std::log1p(std::exp(-std::abs(z)));
    double sig = z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
    out.grad.set(i, (sig - t) / double(m));
  }
  out.loss = total / double(m);
  return out;
}

LossResult mean_squared_error(const Tensor& predictions, const Tensor& targets) {
  check_targets(predictions, targets, "mean_squared_error");
  const int64_t m = predictions.numel();
  LossResult out{0.0, Tensor(predictions.shape(), predictions.dtype())};
  double total = 0;
  for (int64_t i = 0; i < m; ++i) {
    double d = predictions.item(i) - targets.item(i);
    total += d * d;
    out.grad.set(i, 2.0 * d / double(m));
  }
  out.loss = total / double(m);
  return out;
}

std::vector<TypeDoc> loss_docs() {
  return {{"softmax_cross_entropy", {"sparse_categorical_crossentropy", "categorical_crossentropy"},
           "Softmax cross-entropy on logits, with integer labels or one-hot/probability targets (Keras's "
           "from_logits=True).",
           {}},
          {"cross_entropy", {},
           "Cross-entropy on probabilities (a softmax's output) with integer labels, clipped to [1e-7, 1 - 1e-7] "
           "(Keras's from_logits=False).",
           {}},
          {"binary_cross_entropy", {"binary_crossentropy"}, "Sigmoid cross-entropy on logits, targets in [0, 1].", {}},
          {"mean_squared_error", {"mse"}, "Mean of (prediction - target)^2.", {}}};
}

}  // namespace locnet
