#include "locnet/train/metrics.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "locnet/core/error.hpp"

namespace locnet {
namespace {

const char* const kNames[] = {"accuracy", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy",
                              "top_k_accuracy", "precision", "recall", "f1", "mae", "rmse"};

// k of "top_k_accuracy" (5) or "top<k>_accuracy"; 0 for other names.
int64_t top_k(std::string_view name) {
  if (name == "top_k_accuracy") return 5;
  if (!name.starts_with("top") || !name.ends_with("_accuracy")) return 0;
  std::string_view digits = name.substr(3, name.size() - 3 - 9);
  if (digits.empty() || digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string_view::npos)
    return 0;
  const int64_t k = std::stoll(std::string(digits));
  return k >= 1 ? k : 0;
}

std::string canonical(const std::string& name) {
  if (name == "mean_absolute_error") return "mae";
  if (name == "root_mean_squared_error") return "rmse";
  return name;
}

int64_t argmax(const double* v, int64_t k) {
  int64_t best = 0;
  for (int64_t j = 1; j < k; ++j)
    if (v[j] > v[best]) best = j;
  return best;
}

double safe_div(double a, double b) { return b > 0 ? a / b : 0.0; }

}  // namespace

bool lower_is_better(std::string_view m) {
  if (m.starts_with("val_")) m.remove_prefix(4);
  return m == "loss" || m.ends_with("_loss") || m == "mae" || m == "rmse" || m.ends_with("_error");
}

std::vector<std::string> metric_names() {
  std::vector<std::string> v(std::begin(kNames), std::end(kNames));
  v.insert(v.end(), {"top<k>_accuracy", "mean_absolute_error", "root_mean_squared_error"});
  return v;
}

ClassScores class_scores(const std::vector<std::vector<int64_t>>& c) {
  const size_t k = c.size();
  ClassScores s{std::vector<double>(k), std::vector<double>(k), std::vector<double>(k), std::vector<int64_t>(k)};
  for (size_t i = 0; i < k; ++i) {
    int64_t predicted = 0;
    for (size_t t = 0; t < k; ++t) predicted += c[t][i], s.support[i] += c[i][t];
    s.precision[i] = safe_div(double(c[i][i]), double(predicted));
    s.recall[i] = safe_div(double(c[i][i]), double(s.support[i]));
    s.f1[i] = safe_div(2 * s.precision[i] * s.recall[i], s.precision[i] + s.recall[i]);
  }
  return s;
}

Metrics::Metrics(std::vector<std::string> names, TargetKind kind, bool binary, double threshold)
    : kind_(kind), binary_(binary && kind == TargetKind::values), threshold_(threshold) {
  for (const std::string& given : names) {
    const std::string n = canonical(given);
    const bool known = top_k(n) > 0 || std::find(std::begin(kNames), std::end(kNames), n) != std::end(kNames);
    if (!known)
      raise<ConfigError>("metrics: unknown metric '{}'; expected one of: {}", given, fmt::join(metric_names(), ", "));
    const bool labels = kind == TargetKind::labels;
    if (labels && (n == "mae" || n == "rmse" || n == "binary_accuracy" || n == "categorical_accuracy"))
      raise<ConfigError>("metrics: {} needs float targets, got class labels", given);
    if (!labels && n == "sparse_categorical_accuracy")
      raise<ConfigError>("metrics: {} needs class labels, got float targets", given);
    names_.push_back(given);
    if (const int64_t k = top_k(n)) top_k_correct_[k] = 0;
  }
}

void Metrics::add(const Tensor& out, const Batch& b) {
  const int64_t n = b.size(), k = out.numel() / std::max<int64_t>(n, 1);
  const std::vector<double> z = out.to_vector();
  const std::vector<double> t = kind_ == TargetKind::values ? b.targets.to_vector() : std::vector<double>{};
  if (kind_ == TargetKind::values && t.size() != z.size())
    raise<ShapeError>("metrics: the targets must have the output's shape {}, got {}", out.shape().str(),
                      b.targets.shape().str());
  if (confusion_.empty() && !binary_) confusion_.assign(size_t(k), std::vector<int64_t>(size_t(k), 0));
  samples_ += n;
  for (int64_t i = 0; i < n; ++i) {
    const double* zr = z.data() + i * k;
    if (kind_ == TargetKind::values) {
      const double* tr = t.data() + i * k;
      for (int64_t j = 0; j < k; ++j) {
        const double d = zr[j] - tr[j];
        abs_sum_ += std::abs(d), sq_sum_ += d * d;
        binary_correct_ += (zr[j] > threshold_) == (tr[j] > 0.5);
      }
      elements_ += k;
      if (binary_) continue;
    }
    const int64_t y = kind_ == TargetKind::labels ? b.labels[size_t(i)] : argmax(t.data() + i * k, k);
    const int64_t pred = argmax(zr, k);
    correct_ += pred == y;
    if (y >= 0 && y < k) ++confusion_[size_t(y)][size_t(pred)];
    for (auto& [kk, hits] : top_k_correct_) {
      int64_t larger = 0;
      for (int64_t j = 0; j < k; ++j) larger += zr[j] > zr[y];
      hits += larger < kk;
    }
  }
}

void Metrics::reduce(Collective& group) {
  // A rank that saw no samples has no confusion matrix yet: take the largest size (the same names on every rank
  // give the same top-k keys in the same order).
  std::vector<double> k{double(confusion_.size())};
  group.all_reduce_max(k);
  const size_t classes = size_t(k[0]);
  if (confusion_.empty() && classes > 0) confusion_.assign(classes, std::vector<int64_t>(classes, 0));
  std::vector<double> v{double(samples_), double(elements_), double(correct_), double(binary_correct_), abs_sum_,
                        sq_sum_};
  for (const auto& [kk, hits] : top_k_correct_) v.push_back(double(hits));
  for (const auto& row : confusion_) v.insert(v.end(), row.begin(), row.end());
  group.all_reduce_sum(v);  // counts stay exact below 2^53
  size_t i = 0;
  samples_ = int64_t(v[i++]), elements_ = int64_t(v[i++]), correct_ = int64_t(v[i++]);
  binary_correct_ = int64_t(v[i++]), abs_sum_ = v[i++], sq_sum_ = v[i++];
  for (auto& [kk, hits] : top_k_correct_) hits = int64_t(v[i++]);
  for (auto& row : confusion_)
    for (int64_t& c : row) c = int64_t(v[i++]);
}

double Metrics::accuracy() const {
  return binary_ ? safe_div(double(binary_correct_), double(elements_)) : safe_div(double(correct_), double(samples_));
}

std::map<std::string, double> Metrics::values() const {
  std::map<std::string, double> v;
  const ClassScores s = class_scores(confusion_);
  auto macro = [&](const std::vector<double>& x) {
    double sum = 0;
    for (double e : x) sum += e;
    return safe_div(sum, double(x.size()));
  };
  for (const std::string& given : names_) {
    const std::string n = canonical(given);
    double& out = v[given];  // keyed by the name asked for
    if (n == "accuracy") out = accuracy();
    else if (n == "sparse_categorical_accuracy" || n == "categorical_accuracy")
      out = safe_div(double(correct_), double(samples_));
    else if (n == "binary_accuracy") out = safe_div(double(binary_correct_), double(elements_));
    else if (n == "precision") out = macro(s.precision);
    else if (n == "recall") out = macro(s.recall);
    else if (n == "f1") out = macro(s.f1);
    else if (n == "mae") out = safe_div(abs_sum_, double(elements_));
    else if (n == "rmse") out = std::sqrt(safe_div(sq_sum_, double(elements_)));
    else out = safe_div(double(top_k_correct_.at(top_k(n))), double(samples_));
  }
  return v;
}

}  // namespace locnet
