#include "locnet/train/losses.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "locnet/io/spec.hpp"

namespace locnet {
namespace {

struct NoOptions {
  template <class Self, class V>
  static void fields(Self&, V&&) {}
};

struct HuberConfig {
  double delta = 1.0;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.delta, Field{"delta", "Where the loss turns from quadratic to linear (> 0)."});
  }
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
// Samples: axis 0 (a rank-1 tensor is one row, one sample); per_sample starts as zeros.
struct Rows {
  int64_t n, k, samples;
  explicit Rows(const Tensor& z) : n(z.numel() / z.dim(-1)), k(z.dim(-1)), samples(z.rank() >= 2 ? z.dim(0) : 1) {}
  int64_t sample(int64_t row) const { return row / (n / samples); }
  // per-sample sums of row losses -> per-sample means
  std::vector<double> means(std::vector<double> sums) const {
    for (double& v : sums) v /= double(n / samples);
    return sums;
  }
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
  std::vector<double> g(z.size()), p(size_t(r.k)), ps(size_t(r.samples));
  double total = 0;
  for (int64_t i = 0; i < r.n; ++i) {
    int64_t y = labels[size_t(i)];
    const double* zr = z.data() + i * r.k;
    const double l = log_softmax_row(zr, r.k, p.data()) - zr[y];
    total += l;
    ps[size_t(r.sample(i))] += l;
    for (int64_t j = 0; j < r.k; ++j) g[size_t(i * r.k + j)] = (p[size_t(j)] - (j == y)) / double(r.n);
  }
  LossResult out{total / double(r.n), Tensor(logits.shape(), logits.dtype()), r.means(std::move(ps))};
  for (size_t i = 0; i < g.size(); ++i) out.grad.set(int64_t(i), g[i]);
  return out;
}

LossResult softmax_cross_entropy(const Tensor& logits, const Tensor& targets) {
  check_targets(logits, targets, "softmax_cross_entropy");
  Rows r(logits);
  const std::vector<double> z = logits.to_vector(), t = targets.to_vector();
  std::vector<double> p(size_t(r.k)), ps(size_t(r.samples));
  LossResult out{0.0, Tensor(logits.shape(), logits.dtype())};
  double total = 0;
  for (int64_t i = 0; i < r.n; ++i) {
    const double *zr = z.data() + i * r.k, *tr = t.data() + i * r.k;
    double lse = log_softmax_row(zr, r.k, p.data()), tsum = 0, row = 0;
    for (int64_t j = 0; j < r.k; ++j) {
      tsum += tr[j];
      row -= tr[j] * zr[j];
    }
    row += lse * tsum;
    total += row;
    ps[size_t(r.sample(i))] += row;
    for (int64_t j = 0; j < r.k; ++j) out.grad.set(i * r.k + j, (p[size_t(j)] * tsum - tr[j]) / double(r.n));
  }
  out.loss = total / double(r.n);
  out.per_sample = r.means(std::move(ps));
  return out;
}

LossResult cross_entropy(const Tensor& probabilities, std::span<const int64_t> labels) {
  constexpr double eps = 1e-7;  // Keras backend.epsilon()
  Rows r = check_labels(probabilities, labels, "cross_entropy");
  const std::vector<double> p = probabilities.to_vector();
  LossResult out{0.0, Tensor(probabilities.shape(), probabilities.dtype())};
  std::vector<double> ps(size_t(r.samples));
  double total = 0;
  for (int64_t i = 0; i < r.n; ++i) {
    const int64_t y = labels[size_t(i)];
    const double* pr = p.data() + i * r.k;
    double s = 0;
    for (int64_t j = 0; j < r.k; ++j) s += pr[j];
    const double q = pr[y] / s, l = -std::log(std::clamp(q, eps, 1 - eps));
    total += l;
    ps[size_t(r.sample(i))] += l;
    if (q <= eps || q >= 1 - eps) continue;  // clipped: no gradient
    for (int64_t j = 0; j < r.k; ++j) out.grad.set(i * r.k + j, (1 / s - (j == y) / pr[y]) / double(r.n));
  }
  out.loss = total / double(r.n);
  out.per_sample = r.means(std::move(ps));
  return out;
}

LossResult cross_entropy(const Tensor& probabilities, const Tensor& targets) {
  constexpr double eps = 1e-7;  // Keras backend.epsilon()
  check_targets(probabilities, targets, "cross_entropy");
  Rows r(probabilities);
  const std::vector<double> p = probabilities.to_vector(), t = targets.to_vector();
  LossResult out{0.0, Tensor(probabilities.shape(), probabilities.dtype())};
  std::vector<double> ps(size_t(r.samples));
  double total = 0;
  for (int64_t i = 0; i < r.n; ++i) {
    const double *pr = p.data() + i * r.k, *tr = t.data() + i * r.k;
    double s = 0, free_t = 0, l = 0;  // free_t: the target mass on unclipped terms
    for (int64_t j = 0; j < r.k; ++j) s += pr[j];
    for (int64_t j = 0; j < r.k; ++j) {
      const double q = pr[j] / s;
      l -= tr[j] * std::log(std::clamp(q, eps, 1 - eps));
      if (q > eps && q < 1 - eps) free_t += tr[j];
    }
    total += l;
    ps[size_t(r.sample(i))] += l;
    for (int64_t j = 0; j < r.k; ++j) {
      const double q = pr[j] / s, own = q > eps && q < 1 - eps ? tr[j] / pr[j] : 0.0;
      out.grad.set(i * r.k + j, (free_t / s - own) / double(r.n));
    }
  }
  out.loss = total / double(r.n);
  out.per_sample = r.means(std::move(ps));
  return out;
}

namespace {
// The mean over all m elements of l(z, t), where f(z, t) returns {l, dl/dz}; the gradient is dl/dz / m.
template <class F>
LossResult elementwise_mean(const Tensor& z, const Tensor& t, const char* where, F f) {
  check_targets(z, t, where);
  const int64_t m = z.numel(), per = m / z.dim(0);
  LossResult out{0.0, Tensor(z.shape(), z.dtype()), std::vector<double>(size_t(z.dim(0)))};
  double total = 0;
  for (int64_t i = 0; i < m; ++i) {
    auto [l, dl] = f(z.item(i), t.item(i));
    total += l;
    out.per_sample[size_t(i / per)] += l / double(per);
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

LossResult mean_absolute_error(const Tensor& predictions, const Tensor& targets) {
  return elementwise_mean(predictions, targets, "mean_absolute_error", [](double p, double t) {
    return std::pair{std::abs(p - t), double((p > t) - (p < t))};
  });
}

LossResult huber(const Tensor& predictions, const Tensor& targets, double delta) {
  if (!(delta > 0)) raise<ConfigError>("huber: delta must be > 0, got {}", delta);
  return elementwise_mean(predictions, targets, "huber", [delta](double p, double t) {
    const double x = p - t, a = std::abs(x);
    return std::pair{a <= delta ? 0.5 * x * x : delta * a - 0.5 * delta * delta, std::clamp(x, -delta, delta)};
  });
}

LossResult weighted(LossResult r, std::span<const double> w) {
  const size_t s = r.per_sample.size();
  if (w.size() != s)
    raise<ShapeError>("weighted loss: the number of sample weights must be {} (one per sample), got {}", s, w.size());
  const int64_t per = r.grad.numel() / int64_t(s);
  double total = 0;
  for (size_t i = 0; i < s; ++i) {
    total += w[i] * r.per_sample[i];
    r.per_sample[i] *= w[i];
    for (int64_t j = 0; j < per; ++j) r.grad.set(int64_t(i) * per + j, r.grad.item(int64_t(i) * per + j) * w[i]);
  }
  r.loss = total / double(s);
  return r;
}

Loss::Loss(std::string type, LabelsFn labels, TargetsFn targets, std::vector<std::pair<std::string, Value>> options)
    : type_(std::move(type)), options_(std::move(options)), labels_(std::move(labels)), targets_(std::move(targets)) {}

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
        "Cross-entropy on probabilities (a softmax's output) with integer labels or one-hot/probability targets, "
        "clipped to [1e-7, 1 - 1e-7] "
        "(Keras's from_logits=False).",
        {}},
       cross_entropy, Targets(cross_entropy));
  loss({"binary_cross_entropy", {"binary_crossentropy"}, "Sigmoid cross-entropy on logits, targets in [0, 1].", {}},
       nullptr, binary_cross_entropy);
  loss({"mean_squared_error", {"mse", "MeanSquaredError"}, "Mean of (prediction - target)^2.", {}}, nullptr,
       mean_squared_error);
  loss({"mean_absolute_error", {"mae", "MeanAbsoluteError"}, "Mean of |prediction - target|.", {}}, nullptr,
       mean_absolute_error);
  c.add(declare<HuberConfig>(
      Kind::loss,
      {"huber", {"Huber", "huber_loss"}, "Keras's Huber: x^2/2 for |x| <= delta, else delta |x| - delta^2/2.", {}},
      [](HuberConfig cfg, const Call&) {
        const double d = cfg.delta;
        if (!(d > 0)) raise<ConfigError>("huber: delta must be > 0, got {}", d);
        return std::make_unique<Loss>("huber", nullptr,
                                      [d](const Tensor& z, const Tensor& t) { return huber(z, t, d); },
                                      config_values(cfg));
      }));
  // A name ("mse") or a call (mse(), huber(delta=2.0)).
  c.set_reader(Kind::loss, [&c](const Value& spec, std::string_view where) -> std::unique_ptr<CatalogObject> {
    const bool text_call = spec.kind() == Value::Kind::Str && spec.as_str().find('(') != std::string::npos;
    const Value v = text_call ? parse_value(spec.as_str()) : spec;  // "huber(delta=2.0)"
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
