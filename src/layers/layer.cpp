#include "locnet/layers/layer.hpp"

#include "locnet/core/catalog.hpp"

namespace locnet {

void Layer::build(const Shape& in, Rng& rng, DType dtype) { build_many({&in, 1}, rng, dtype); }

void Layer::build_many(std::span<const Shape> in, Rng& rng, DType dtype) {
  (void)output_shape_many(in);  // the pure shape check, ShapeError with the layer's own message
  input_shapes_.assign(in.begin(), in.end());
  input_shape_ = in[0];
  dtype_ = dtype;
  do_build_many(in, rng);
  built_ = true;
  set_trainable(trainable_);  // marks the new parameters
  // Known only now (BatchNorm(center=False, scale=False) has none): an optimizer here would silently do nothing.
  if (!optimizer_.is_none() && params().empty()) {
    built_ = false;
    raise<ConfigError>("{}: optimizer must be None for a layer without trainable parameters, got {}", where(),
                       optimizer_.repr());
  }
}

void Layer::check_arity(size_t n) const {
  const Arity a = arity();
  if (n >= a.min && n <= a.max) return;
  std::string want = a.min == a.max               ? fmt::format("exactly {}", a.min)
                     : a.max == SIZE_MAX          ? fmt::format("{} or more", a.min)
                                                  : fmt::format("{} to {}", a.min, a.max);
  raise<ShapeError>("{}: takes {} input{}, got {}", where(), want, a.max == 1 ? "" : "s", n);
}

Shape Layer::output_shape_many(std::span<const Shape> in) const {
  check_arity(in.size());
  return output_shape(in[0]);
}

Tensor Layer::forward_many(std::span<const Tensor> xs, Mode mode) {
  check_arity(xs.size());
  return forward(xs[0], mode);
}

std::vector<Tensor> Layer::backward_many(const Tensor& dy) { return {backward(dy)}; }

std::vector<const Param*> Layer::params() const {
  auto ps = const_cast<Layer*>(this)->params();
  return {ps.begin(), ps.end()};
}
std::vector<const Param*> Layer::buffers() const {
  auto bs = const_cast<Layer*>(this)->buffers();
  return {bs.begin(), bs.end()};
}

int64_t Layer::param_count() const {
  int64_t n = 0;
  for (const Param* p : params()) n += p->trainable ? p->value.numel() : 0;
  return n;
}
int64_t Layer::buffer_count() const {
  int64_t n = 0;
  for (const Param* p : params()) n += p->trainable ? 0 : p->value.numel();
  for (const Param* p : buffers()) n += p->value.numel();
  return n;
}

void Layer::detach_storage() {
  auto all = params();
  for (Param* b : buffers()) all.push_back(b);
  for (Param* p : all) {
    p->value = p->value.clone();
    p->grad = p->grad.clone();
  }
}

LayerWork Layer::work(const Shape& in) const {
  const double e = double(dtype_size(dtype_)), x = double(in.numel()), y = double(output_shape(in).numel());
  return {{0, (x + y) * e}, {0, (2 * x + y) * e}};
}

LayerWork Layer::weighted_work(const Shape& in, double macs, double weights) const {
  const double e = double(dtype_size(dtype_)), x = double(in.numel()), y = double(output_shape(in).numel());
  return {{2 * macs, (x + weights + y) * e}, {4 * macs, (2 * x + y + 2 * weights) * e}};
}

void Layer::zero_grad() {
  for (Param* p : params())
    if (p->grad.defined()) p->grad.fill(0.0);
}

void Layer::require_float_dtype() const {
  if (dtype_ != DType::f32 && dtype_ != DType::f64)
    raise<NotSupported>("{}: dtype must be f32 or f64, got {}", where(), dtype_name(dtype_));
}

int64_t Layer::check_input(const Tensor& x) const {
  if (!built_) raise<ConfigError>("{}: layer must be built before forward, got an unbuilt layer", where());
  if (!x.defined()) raise<ShapeError>("{}: input must be a tensor, got an empty tensor", where());
  const Shape& want = input_shape_;
  bool ok = x.rank() == want.rank();
  for (size_t i = 1; ok && i < want.rank(); ++i) ok = want[i] < 0 || want[i] == x.shape()[i];
  if (!ok)
    raise<ShapeError>("{}: input shape must be {} (as built), got {}", where(), want.str(), x.shape().str());
  if (x.dtype() != dtype_)
    raise<ShapeError>("{}: input dtype must be {} (as built), got {}", where(), dtype_name(dtype_),
                      dtype_name(x.dtype()));
  return x.rank() ? x.shape()[0] : 1;
}

void Layer::check_grad_output(const Tensor& dy, const Shape& expected) const {
  if (!dy.defined() || dy.shape() != expected)
    raise<ShapeError>("{}: output gradient shape must be {}, got {}", where(), expected.str(),
                      dy.defined() ? dy.shape().str() : std::string("an empty tensor"));
  if (dy.dtype() != dtype_)
    raise<ShapeError>("{}: output gradient dtype must be {}, got {}", where(), dtype_name(dtype_),
                      dtype_name(dy.dtype()));
}

Call Layer::make_call(std::vector<std::pair<std::string, Value>> kwargs) const {
  Call c{type(), {}, std::move(kwargs), -1};
  c.kwargs.emplace_back("name", Value(name_));
  if (!optimizer_.is_none()) c.kwargs.emplace_back("optimizer", optimizer_);
  if (!trainable_) c.kwargs.emplace_back("trainable", Value(false));
  return c;
}

void Layer::set_optimizer(Value spec) {
  // Validated through the catalog: the optimizers live above the layers (train/optimizers.hpp).
  if (!spec.is_none()) (void)catalog().read(Kind::optimizer, spec, where() + " optimizer");
  optimizer_ = std::move(spec);
}

void Layer::set_trainable(bool trainable) {
  trainable_ = trainable;
  for (Param* p : params()) p->trainable = trainable;
}

std::string Layer::where() const { return fmt::format("{} ({})", name_.empty() ? "?" : name_, type()); }

}  // namespace locnet
