#include "locnet/train/losses.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>


namespace locnet {
namespace {

struct NoOptions {
  template <class Self, class V>
  static void fields(Self&, V&&) {}
};

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

namespace {
// The mean over all m elements of l(z, t), where f(z, t) returns {l, dl/dz}; the gradient is dl/dz / m.
template <class F>
LossResult elementwise_mean(const Tensor& z, const Tensor& t, const char* where, F f) {
  check_targets(z, t, where);
  const int64_t m = z.numel();
  LossResult out{0.0, Tensor(z.shape(), z.dtype())};
  double total = 0;
  for (int64_t i = 0; i < m; ++i) {
    auto [l, dl] = f(z.item(i), t.item(i));
    total += l;
    out.grad.set(i, dl / double(m));
  }
  out.loss = total / double(m);
  return out;
}
}  // namespace

LossResult binary_cross_entropy(const Tensor& logits, const Tensor& targets) {
  return elementwise_mean(logits, targets, "binary_cross_entropy", [](double z, double t) {
    double sig = z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z));
    return std::pair{std::max(z, 0.0) - z * t + std::log1p(std::exp(-std::abs(z))), sig - t};
  });
}

LossResult mean_squared_error(const Tensor& predictions, const Tensor& targets) {
  return elementwise_mean(predictions, targets, "mean_squared_error", [](double p, double t) {
    return std::pair{(p - t) * (p - t), 2.0 * (p - t)};
  });
}

Loss::Loss(std::string type, LabelsFn labels, TargetsFn targets)
    : type_(std::move(type)), labels_(labels), targets_(targets) {}

LossResult Loss::operator()(const Tensor& out, std::span<const int64_t> labels) const {
  if (!labels_) raise<NotSupported>("{}: labels must be targets of the output's shape for this loss", type_);
  return labels_(out, labels);
}

LossResult Loss::operator()(const Tensor& out, const Tensor& targets) const {
  if (!targets_) raise<NotSupported>("{}: targets must be integer labels for this loss", type_);
  return targets_(out, targets);
}

std::unique_ptr<Loss> make_loss(const Value& spec, std::string_view where) {
  return catalog().read_as<Loss>(Kind::loss, spec, where);
}

std::vector<TypeDoc> loss_docs() { return catalog().docs(Kind::loss); }

void declare_losses(Catalog& c) {
  using Labels = LossResult (*)(const Tensor&, std::span<const int64_t>);
  using Targets = LossResult (*)(const Tensor&, const Tensor&);
  auto loss = [&c](TypeDoc doc, Labels labels, Targets targets) {
    std::string type = doc.name;
    c.add(declare<NoOptions>(Kind::loss, std::move(doc), [=](NoOptions, const Call&) {
      return std::make_unique<Loss>(type, labels, targets);
    }));
  };
  loss({"softmax_cross_entropy", {"sparse_categorical_crossentropy", "categorical_crossentropy"},
        "Softmax cross-entropy on logits, with integer labels or one-hot/probability targets (Keras's "
        "from_logits=True).",
        {}},
       softmax_cross_entropy, softmax_cross_entropy);
  loss({"cross_entropy", {},
        "Cross-entropy on probabilities (a softmax's output) with integer labels, clipped to [1e-7, 1 - 1e-7] "
        "(Keras's from_logits=False).",
        {}},
       cross_entropy, nullptr);
  loss({"binary_cross_entropy", {"binary_crossentropy"}, "Sigmoid cross-entropy on logits, targets in [0, 1].", {}},
       nullptr, binary_cross_entropy);
  loss({"mean_squared_error", {"mse"}, "Mean of (prediction - target)^2.", {}}, nullptr, mean_squared_error);
  // A name ("mse") or a call without arguments (mse()).
  c.set_reader(Kind::loss, [&c](const Value& v, std::string_view where) -> std::unique_ptr<CatalogObject> {
    const CatalogEntry* e = v.kind() == Value::Kind::Str    ? c.find(Kind::loss, v.as_str())
                            : v.kind() == Value::Kind::Call ? c.find(Kind::loss, v.call().type)
                                                            : nullptr;
    if (!e)
      raise<ConfigError>("{} must be one of {} (a name), got {}", where, fmt::join(c.names(Kind::loss), ", "),
                         v.repr());
    return e->make(v.kind() == Value::Kind::Call ? v.call() : Call{v.as_str(), {}, {}, -1});
  });
}

}  // namespace locnet
