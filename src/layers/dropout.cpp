#include "locnet/layers/dropout.hpp"

#include <string>

#include "layers/spatial.hpp"

namespace locnet {
namespace {

constexpr int64_t kFull = DropoutNoise::kFull;

DropoutNoise checked(const char* type, double rate, std::vector<int64_t> noise_shape, std::optional<int64_t> seed) {
  if (!(rate >= 0.0 && rate < 1.0)) raise<ConfigError>("{}: rate must be in [0, 1), got {}", type, rate);
  return {rate, std::move(noise_shape), seed};
}

std::string noise_str(const std::vector<int64_t>& noise) {
  std::vector<std::string> items;
  for (int64_t n : noise) items.push_back(n == kFull ? "None" : std::to_string(n));
  return fmt::format("({})", fmt::join(items, ", "));
}

// a * m, with m broadcast along the axes where it has size 1 (m has a's rank).
Tensor times_mask(const Tensor& a, const Tensor& m) {
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  const size_t rank = a.rank();
  std::vector<int64_t> stride(rank, 0), index(rank, 0);  // m's stride along each axis, 0 where it broadcasts
  for (size_t k = rank, s = 1; k-- > 0; s *= size_t(m.dim(k))) stride[k] = m.dim(k) == 1 ? 0 : int64_t(s);
  visit_float(a.dtype(), [&](auto t) {
    using T = decltype(t);
    const T* as = a.data<T>();
    const T* ms = m.data<T>();
    T* os = out.data<T>();
    int64_t mo = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
      os[i] = as[i] * ms[mo];
      for (size_t k = rank; k-- > 0;) {  // the next index, last axis fastest
        mo += stride[k];
        if (++index[k] < a.dim(k)) break;
        mo -= stride[k] * a.dim(k);
        index[k] = 0;
      }
    }
  });
  return out;
}

}  // namespace

DropoutNoise DropoutConfig::validate() const {
  std::vector<int64_t> noise;
  if (!noise_shape.is_none()) {
    bool ok = noise_shape.kind() == Value::Kind::Tuple && !noise_shape.items().empty();
    for (const Value& v : ok ? noise_shape.items() : std::vector<Value>{}) {
      ok = ok && (v.is_none() || (v.kind() == Value::Kind::Int && v.as_int() >= 1));
      noise.push_back(v.is_none() ? kFull : v.as_int());
    }
    if (!ok)
      raise<ConfigError>("Dropout: noise_shape must be None or a tuple of None and positive ints, got {}",
                         noise_shape.repr());
  }
  return checked(kType, rate, std::move(noise), seed);
}

DropoutNoise SpatialDropout1DConfig::validate() const { return checked(kType, rate, {kFull, 1, kFull}, seed); }

DropoutNoise SpatialDropout2DConfig::validate() const {
  const bool last = spatial::channels_last(kType, data_format);
  using Dims = std::vector<int64_t>;
  return checked(kType, rate, last ? Dims{kFull, 1, 1, kFull} : Dims{kFull, kFull, 1, 1}, seed);
}

Shape DropoutBase::mask_shape(const Shape& x) const {
  if (noise_.noise_shape.empty()) return x;
  const std::vector<int64_t>& noise = noise_.noise_shape;
  if (x.rank() != noise.size())
    raise<ShapeError>("{}: input rank must be {} to fit noise_shape {}, got shape {}", where(), noise.size(),
                      noise_str(noise), x.str());
  std::vector<int64_t> dims(noise.size());
  for (size_t k = 0; k < noise.size(); ++k) {
    dims[k] = noise[k] == kFull ? x.dim(k) : noise[k];
    if (noise[k] != kFull && noise[k] != 1 && x.dim(k) != Shape::kUnknown && noise[k] != x.dim(k))
      raise<ShapeError>("{}: noise_shape {} does not fit input shape {}: axis {} must be None, 1 or {}", where(),
                        noise_str(noise), x.str(), k, x.dim(k));
  }
  return Shape(dims);
}

Shape DropoutBase::output_shape(const Shape& in) const {
  if (in.rank() < 1) raise<ShapeError>("{}: input rank must be >= 1, got shape {}", where(), in.str());
  (void)mask_shape(in);
  return in;
}

void DropoutBase::do_build(const Shape&, Rng& rng) {
  require_float_dtype();
  rng_ = noise_.seed ? Rng(uint64_t(*noise_.seed)) : rng.split();
}

Tensor DropoutBase::forward(const Tensor& x, Mode mode) {
  check_input(x);
  if (mode == Mode::Inference) return x.clone();
  trained_ = true;
  x_shape_ = x.shape();
  if (noise_.rate == 0.0) {
    mask_ = Tensor();
    return x.clone();
  }
  const double scale = 1.0 / (1.0 - noise_.rate);
  mask_ = Tensor::empty(mask_shape(x.shape()), dtype());
  visit_float(dtype(), [&](auto t) {
    using T = decltype(t);
    T* m = mask_.data<T>();
    for (int64_t i = 0; i < mask_.numel(); ++i) m[i] = rng_.uniform() < noise_.rate ? T(0) : T(scale);
  });
  return times_mask(x, mask_);
}

Tensor DropoutBase::backward(const Tensor& dy) {
  if (!trained_) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, x_shape_);
  return mask_.defined() ? times_mask(dy, mask_) : dy.clone();
}

}  // namespace locnet
