#include "locnet/layers/dense.hpp"

#include "kernels/dense/problem.hpp"
#include "kernels/registry.hpp"
#include "locnet/params/initializers.hpp"

namespace locnet {

void DenseConfig::validate() const {
  if (units <= 0) raise<ConfigError>("Dense: units must be a positive integer, got {}", units);
  if (activation) (void)ActivationFn::by_name(*activation, "Dense");
  check_initializer(kernel_initializer, "Dense: kernel_initializer");
  check_initializer(bias_initializer, "Dense: bias_initializer");
  (void)make_regularizer(kernel_regularizer, "Dense: kernel_regularizer");
  (void)make_regularizer(bias_regularizer, "Dense: bias_regularizer");
  (void)make_regularizer(activity_regularizer, "Dense: activity_regularizer");
  (void)make_constraint(kernel_constraint, "Dense: kernel_constraint");
  (void)make_constraint(bias_constraint, "Dense: bias_constraint");
}

Dense::Dense(Config cfg, std::string name) : LayerOf(std::move(cfg), std::move(name)) {
  body_.configure(cfg_, "Dense");
}

Dense::Dense(int64_t units, std::optional<std::string> activation, std::string name)
    : Dense(Config{.units = units, .activation = std::move(activation)}, std::move(name)) {}

Shape Dense::output_shape(const Shape& in) const {
  if (in.rank() < 2) raise<ShapeError>("{}: input rank must be >= 2 (batch, ..., features), got shape {}", where(), in.str());
  if (in.dim(-1) <= 0)
    raise<ShapeError>("{}: the last input dimension must be known and > 0, got shape {}", where(), in.str());
  return in.with_dim(in.rank() - 1, cfg_.units);
}

void Dense::do_build(const Shape& in, Rng& rng) {
  require_float_dtype();
  const int64_t fan_in = in.dim(-1);
  body_.build(Shape{fan_in, cfg_.units}, Shape{cfg_.units}, cfg_.kernel_initializer, cfg_.bias_initializer, dtype(),
              rng, where());
  kernels::DenseProblem p{1, fan_in, cfg_.units, dtype(), cfg_.use_bias};
  kernel_impl_ = &kernels::choose<kernels::DenseKernel>("dense", kernels::dense_kernels(), p);
}

std::vector<Param*> Dense::params() { return built() ? body_.params() : std::vector<Param*>{}; }

Tensor Dense::forward(const Tensor& x, Mode mode) {
  check_input(x);
  const int64_t k = x.dim(-1), m = x.numel() / k;
  kernels::DenseProblem p{m, k, cfg_.units, dtype(), cfg_.use_bias};
  return body_.forward(*kernel_impl_, p, m == 0, x, output_shape(x.shape()), mode);
}

Tensor Dense::backward(const Tensor& dy) {
  body_.require_forward(where());
  check_grad_output(dy, body_.y.shape());
  const int64_t k = body_.x.dim(-1), m = body_.x.numel() / k;
  kernels::DenseProblem p{m, k, cfg_.units, dtype(), cfg_.use_bias};
  return body_.backward(*kernel_impl_, p, m == 0, dy, need_input_grad());
}

std::string Dense::kernel() const { return kernel_impl_ ? kernel_impl_->name : "none"; }

LayerWork Dense::work(const Shape& in) const {
  return weighted_work(in, double(in.numel()) * double(cfg_.units), double(param_count()));
}

}  // namespace locnet
