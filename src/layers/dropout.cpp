#include "locnet/layers/dropout.hpp"

#include <cmath>

namespace locnet {

void DropoutConfig::validate() const {
  if (!(rate >= 0.0 && rate < 1.0)) raise<ConfigError>("Dropout: rate must be in [0, 1), got {}", rate);
  if (!noise_shape.is_none())
    raise<NotSupported>("Dropout: noise_shape must be None, got {}", noise_shape.repr());
}


Shape Dropout::output_shape(const Shape& in) const {
  if (in.rank() < 1) raise<ShapeError>("{}: input rank must be >= 1, got shape {}", where(), in.str());
  return in;
}

void Dropout::do_build(const Shape&, Rng& rng) {
  require_float_dtype();
  rng_ = cfg_.seed ? Rng(uint64_t(*cfg_.seed)) : rng.split();
}

Tensor Dropout::forward(const Tensor& x, Mode mode) {
  check_input(x);
  if (mode == Mode::Inference) return x.clone();
  trained_ = true;
  if (cfg_.rate == 0.0) {
    mask_ = Tensor();
    return x.clone();
  }
  const double scale = 1.0 / (1.0 - cfg_.rate);
  mask_ = Tensor::empty(x.shape(), dtype());
  Tensor y = Tensor::empty(x.shape(), dtype());
  auto run = [&](auto t) {
    using T = decltype(t);
    const T* xs = x.data<T>();
    T* m = mask_.data<T>();
    T* ys = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      m[i] = rng_.uniform() < cfg_.rate ? T(0) : T(scale);
      ys[i] = xs[i] * m[i];
    }
  };
  visit_float(dtype(), run);
  return y;
}

Tensor Dropout::backward(const Tensor& dy) {
  if (!trained_) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  if (!mask_.defined()) {
    check_grad_output(dy, dy.shape());
    return dy.clone();
  }
  check_grad_output(dy, mask_.shape());
  Tensor dx = Tensor::empty(dy.shape(), dtype());
  auto run = [&](auto t) {
    using T = decltype(t);
    const T* g = dy.data<T>();
    const T* m = mask_.data<T>();
    T* d = dx.data<T>();
    for (int64_t i = 0; i < dy.numel(); ++i) d[i] = g[i] * m[i];
  };
  visit_float(dtype(), run);
  return dx;
}

}  // namespace locnet
