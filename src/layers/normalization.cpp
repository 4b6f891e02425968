#include "locnet/layers/normalization.hpp"

#include <algorithm>
#include <cmath>

namespace locnet {
namespace {

constexpr double kKerasEpsilon = 1e-7;  // keras.backend.epsilon()

// The values of a mean= or variance= option: empty for None, one for a number, else the tuple's.
std::vector<double> numbers(const Value& v, const char* name) {
  if (v.is_none()) return {};
  std::vector<Value> items = v.kind() == Value::Kind::Tuple ? v.items() : std::vector<Value>{v};
  std::vector<double> out;
  for (const Value& i : items) {
    if (i.kind() != Value::Kind::Int && i.kind() != Value::Kind::Float)
      raise<ConfigError>("Normalization: {} must be None, a number or a tuple of numbers, got {}", name, v.repr());
    out.push_back(i.as_double());
    if (!std::isfinite(out.back()) || (name == std::string_view("variance") && out.back() < 0))
      raise<ConfigError>("Normalization: {} must hold finite numbers{}, got {}", name,
                         name == std::string_view("variance") ? " >= 0" : "", v.repr());
  }
  if (out.empty()) raise<ConfigError>("Normalization: {} must not be an empty tuple, got ()", name);
  return out;
}

// y = (x - m) / d or y = m + x d per feature c of the (outer, C, inner) view; gradient: dx = dy / d or dy d.
template <class T>
void normalize_ref(const T* x, T* y, int64_t outer, int64_t C, int64_t inner, const double* mean,
                   const double* denom, bool invert, bool gradient) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < C; ++c) {
      const double m = gradient ? 0.0 : mean[c], d = denom[c];
      const int64_t base = (o * C + c) * inner;
      for (int64_t i = base; i < base + inner; ++i)
        y[i] = invert ? T(m + double(x[i]) * d) : T((double(x[i]) - m) / d);
    }
}

}  // namespace

void NormalizationConfig::validate() const {
  if (axis.kind() == Value::Kind::Tuple)
    raise<NotSupported>("Normalization: axis must be one int or None here (several axes are not supported), got {}",
                        axis.repr());
  if (!axis.is_none() && axis.kind() != Value::Kind::Int)
    raise<ConfigError>("Normalization: axis must be an int or None, got {} {}", axis.kind_name(), axis.repr());
  if (mean.is_none() != variance.is_none())
    raise<ConfigError>("Normalization: mean and variance must both be given or both be None, got mean={} variance={}",
                       mean.repr(), variance.repr());
  numbers(mean, "mean");
  numbers(variance, "variance");
}

std::optional<int64_t> Normalization::axis_of(const Shape& s) const {
  if (cfg_.axis.is_none()) return std::nullopt;
  const int64_t rank = int64_t(s.rank()), a = cfg_.axis.as_int() < 0 ? cfg_.axis.as_int() + rank : cfg_.axis.as_int();
  if (a < 1 || a >= rank)
    raise<ShapeError>("{}: axis {} must be a non-batch axis of the input (1 to {}, or -{} to -1), got shape {}",
                      where(), cfg_.axis.as_int(), rank - 1, rank - 1, s.str());
  return a;
}

std::array<int64_t, 3> Normalization::split(const Shape& s) const {
  const std::optional<int64_t> a = axis_of(s);
  std::array<int64_t, 3> v{s[0] < 0 ? 1 : s[0], 1, 1};
  for (size_t i = 1; i < s.rank(); ++i) v[!a ? 2 : int64_t(i) < *a ? 0 : int64_t(i) == *a ? 1 : 2] *= s[i];
  return v;
}

Shape Normalization::output_shape(const Shape& in) const {
  if (in.rank() < 2) raise<ShapeError>("{}: input rank must be >= 2, got shape {}", where(), in.str());
  for (size_t i = 1; i < in.rank(); ++i)
    if (in[i] <= 0)
      raise<ShapeError>("{}: non-batch dimensions must be known and > 0, got shape {}", where(), in.str());
  axis_of(in);
  return in;
}

int64_t Normalization::features() const {
  if (!built()) raise<ConfigError>("{}: the features are known once the layer is built, got an unbuilt layer", where());
  return mean_.value.numel();
}

void Normalization::do_build(const Shape& in, Rng&) {
  require_float_dtype();
  const int64_t C = split(in)[1];
  auto fill = [&](Param& p, const Value& v, const char* name, double absent) {
    std::vector<double> vals = numbers(v, name);
    if (vals.size() > 1 && int64_t(vals.size()) != C)
      raise<ConfigError>("{}: {} must have 1 or {} values (the features), got {}", where(), name, C, vals.size());
    p.value = Tensor(Shape{C}, dtype());
    for (int64_t c = 0; c < C; ++c) p.value.set(c, vals.empty() ? absent : vals[vals.size() > 1 ? size_t(c) : 0]);
  };
  fill(mean_, cfg_.mean, "mean", 0.0);
  fill(variance_, cfg_.variance, "variance", 1.0);
}

void Normalization::set_statistics(std::span<const double> mean, std::span<const double> variance) {
  const int64_t C = features();
  if (int64_t(mean.size()) != C || int64_t(variance.size()) != C)
    raise<ConfigError>("{}: statistics must have {} values each (the features), got {} and {}", where(), C,
                       mean.size(), variance.size());
  for (int64_t c = 0; c < C; ++c) {
    if (!std::isfinite(mean[size_t(c)]) || !(variance[size_t(c)] >= 0) || !std::isfinite(variance[size_t(c)]))
      raise<ConfigError>("{}: statistics must be finite with variance >= 0, got mean {} variance {} at feature {}",
                         where(), mean[size_t(c)], variance[size_t(c)], c);
    mean_.value.set(c, mean[size_t(c)]);
    variance_.value.set(c, variance[size_t(c)]);
  }
}

Tensor Normalization::apply(const Tensor& x, bool gradient) const {
  const std::array<int64_t, 3> v = split(x.shape());
  std::vector<double> mean = mean_.value.to_vector(), denom = variance_.value.to_vector();
  for (double& d : denom) d = std::max(std::sqrt(d), kKerasEpsilon);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  const bool invert = cfg_.invert;
  visit_float(x.dtype(), [&](auto t) {
    using T = decltype(t);
    normalize_ref<T>(x.data<T>(), y.data<T>(), v[0], v[1], v[2], mean.data(), denom.data(), invert, gradient);
  });
  return y;
}

Tensor Normalization::forward(const Tensor& x, Mode mode) {
  check_input(x);
  if (mode == Mode::Training) x_shape_ = x.shape();
  return apply(x, false);
}

Tensor Normalization::backward(const Tensor& dy) {
  if (x_shape_.rank() == 0) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, x_shape_);
  return apply(dy, true);
}

}  // namespace locnet
