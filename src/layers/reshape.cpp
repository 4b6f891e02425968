#include "locnet/layers/reshape.hpp"

#include <algorithm>

namespace locnet {

void ReshapeConfig::validate() const {
  auto got = detail::to_value(target_shape).repr();
  if (target_shape.empty()) raise<ConfigError>("Reshape: target_shape must be a non-empty tuple, got {}", got);
  for (int64_t d : target_shape)
    if (d == 0 || d < -1) raise<ConfigError>("Reshape: target_shape entries must be > 0 or -1, got {}", got);
  if (std::count(target_shape.begin(), target_shape.end(), -1) > 1)
    raise<ConfigError>("Reshape: target_shape may hold at most one -1, got {}", got);
}

Shape Reshape::output_shape(const Shape& in) const {
  if (in.rank() < 1) raise<ShapeError>("{}: input rank must be >= 1, got shape {}", where(), in.str());
  Shape per_sample = in.without_batch();
  if (!per_sample.known()) raise<ShapeError>("{}: non-batch dimensions must be known, got shape {}", where(), in.str());
  const int64_t total = per_sample.numel();
  const auto misfit = [&] {
    raise<ShapeError>("{}: the input's {} values per sample must fit target_shape {}, got shape {}", where(), total,
                      detail::to_value(cfg_.target_shape).repr(), in.str());
  };
  // The product of the given entries, given up once past total (it cannot fit then, and could overflow int64);
  // only an empty input with a -1 to infer still fits then.
  int64_t known = 1;
  for (int64_t d : cfg_.target_shape)
    if (d > 0 && known > 0) known = known > total / d ? -1 : known * d;
  const bool infer = std::count(cfg_.target_shape.begin(), cfg_.target_shape.end(), -1) == 1;
  if (known < 0 && !(total == 0 && infer)) misfit();
  std::vector<int64_t> out{in[0]};
  for (int64_t d : cfg_.target_shape) out.push_back(d > 0 ? d : (known > 0 ? total / known : 0));
  Shape result(out);
  if (result.without_batch().numel() != total) misfit();
  return result;
}

Tensor ReshapeBase::forward(const Tensor& x, Mode mode) {
  check_input(x);
  if (mode == Mode::Training) last_in_ = x.shape();
  return x.reshape(output_shape(x.shape())).clone();
}

Tensor ReshapeBase::backward(const Tensor& dy) {
  if (!last_in_.rank()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, output_shape(last_in_));
  return dy.reshape(last_in_).clone();
}

Shape Flatten::output_shape(const Shape& in) const {
  if (in.rank() < 2) raise<ShapeError>("{}: input rank must be >= 2, got shape {}", where(), in.str());
  int64_t rest = 1;
  for (size_t i = 1; i < in.rank(); ++i) {
    if (in[i] < 0) raise<ShapeError>("{}: non-batch dimensions must be known, got shape {}", where(), in.str());
    rest = Shape({rest, in[i]}).numel();
  }
  return Shape({in[0], rest});
}

}  // namespace locnet
