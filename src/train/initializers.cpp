#include "locnet/train/initializers.hpp"

#include <array>
#include <map>
#include <cmath>

namespace locnet {
namespace {
constexpr std::array<std::string_view, 11> kNames{"zeros",         "ones",          "glorot_uniform", "glorot_normal",
                                                  "he_uniform",    "he_normal",     "lecun_uniform",  "lecun_normal",
                                                  "random_uniform", "random_normal", "truncated_normal"};
// Keras's VarianceScaling divides by the stddev of a unit normal truncated to [-2, 2].
constexpr double kTruncatedStd = 0.87962566103423978;
}  // namespace

std::vector<std::string> initializer_names() { return {kNames.begin(), kNames.end()}; }

void check_initializer(std::string_view name, std::string_view where) {
  for (auto n : kNames)
    if (n == name) return;
  raise<ConfigError>("{} must be one of {}, got '{}'", where, fmt::join(kNames, ", "), name);
}

void initialize(std::string_view name, Tensor& t, int64_t fan_in, int64_t fan_out, Rng& rng) {
  check_initializer(name, "initializer");
  double fi = double(std::max<int64_t>(fan_in, 1)), fo = double(std::max<int64_t>(fan_out, 1));
  auto fill = [&](auto draw) {
    for (int64_t i = 0; i < t.numel(); ++i) t.set(i, draw());
  };
  auto uniform = [&](double limit) { fill([&] { return rng.uniform(-limit, limit); }); };
  auto tnormal = [&](double stddev) { fill([&] { return rng.truncated_normal(0.0, stddev); }); };
  if (name == "zeros") t.fill(0.0);
  else if (name == "ones") t.fill(1.0);
  else if (name == "glorot_uniform") uniform(std::sqrt(6.0 / (fi + fo)));
  else if (name == "glorot_normal") tnormal(std::sqrt(2.0 / (fi + fo)) / kTruncatedStd);
  else if (name == "he_uniform") uniform(std::sqrt(6.0 / fi));
  else if (name == "he_normal") tnormal(std::sqrt(2.0 / fi) / kTruncatedStd);
  else if (name == "lecun_uniform") uniform(std::sqrt(3.0 / fi));
  else if (name == "lecun_normal") tnormal(std::sqrt(1.0 / fi) / kTruncatedStd);
  else if (name == "random_uniform") uniform(0.05);
  else if (name == "random_normal") fill([&] { return rng.normal(0.0, 0.05); });
  else if (name == "truncated_normal") tnormal(0.05);
}

std::vector<TypeDoc> initializer_docs() {
  static const std::map<std::string_view, const char*> docs = {
      {"zeros", "All 0."},
      {"ones", "All 1."},
      {"glorot_uniform", "U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (Keras's default kernel initializer)."},
      {"glorot_normal", "Truncated normal with variance 2 / (fan_in + fan_out) (Keras)."},
      {"he_uniform", "U(-l, l), l = sqrt(6 / fan_in)."},
      {"he_normal", "Truncated normal with variance 2 / fan_in (Keras)."},
      {"lecun_uniform", "U(-l, l), l = sqrt(3 / fan_in)."},
      {"lecun_normal", "Truncated normal with variance 1 / fan_in (Keras)."},
      {"random_uniform", "U(-0.05, 0.05)."},
      {"random_normal", "Normal, mean 0, stddev 0.05."},
      {"truncated_normal", "Normal truncated at 2 stddev, stddev 0.05."}};
  std::vector<TypeDoc> out;
  for (const std::string& name : initializer_names()) {
    auto it = docs.find(name);
    out.push_back({name, {}, it == docs.end() ? "" : it->second, {}});
  }
  return out;
}

}  // namespace locnet
