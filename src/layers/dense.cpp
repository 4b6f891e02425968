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

Dense::Dense(Config cfg, std::string name) : Layer(std::move(name)), cfg_(std::move(cfg)) {
  cfg_.validate();
  act_ = ActivationFn::by_name(cfg_.activation.value_or("linear"), "Dense");
  kernel_.regularizer = make_regularizer(cfg_.kernel_regularizer, "Dense: kernel_regularizer");
  bias_.regularizer = make_regularizer(cfg_.bias_regularizer, "Dense: bias_regularizer");
  activity_.reg = make_regularizer(cfg_.activity_regularizer, "Dense: activity_regularizer");
  kernel_.constraint = make_constraint(cfg_.kernel_constraint, "Dense: kernel_constraint");
  bias_.constraint = make_constraint(cfg_.bias_constraint, "Dense: bias_constraint");
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
  int64_t fan_in = in.dim(-1);
  kernel_.value = Tensor(Shape{fan_in, cfg_.units}, dtype());
  kernel_.grad = Tensor(Shape{fan_in, cfg_.units}, dtype());
  initialize(cfg_.kernel_initializer, kernel_.value, rng, where() + " kernel_initializer");
  if (kernel_.constraint) kernel_.constraint->check(kernel_.value.shape(), where() + " kernel_constraint");
  if (cfg_.use_bias) {
    bias_.value = Tensor(Shape{cfg_.units}, dtype());
    bias_.grad = Tensor(Shape{cfg_.units}, dtype());
    initialize(cfg_.bias_initializer, bias_.value, rng, where() + " bias_initializer");
    if (bias_.constraint) bias_.constraint->check(bias_.value.shape(), where() + " bias_constraint");
  }
  kernels::DenseProblem p{1, fan_in, cfg_.units, dtype(), cfg_.use_bias};
  kernel_impl_ = &kernels::choose<kernels::DenseKernel>("dense", kernels::dense_kernels(), p);
}

std::vector<Param*> Dense::params() {
  if (!built()) return {};
  if (cfg_.use_bias) return {&kernel_, &bias_};
  return {&kernel_};
}

Tensor Dense::forward(const Tensor& x, Mode mode) {
  check_input(x);
  int64_t k = x.dim(-1), m = x.numel() / k;
  Tensor z(output_shape(x.shape()), dtype());
  kernels::DenseProblem p{m, k, cfg_.units, dtype(), cfg_.use_bias};
  if (m > 0) kernel_impl_->forward(p, x.raw(), kernel_.value.raw(), cfg_.use_bias ? bias_.value.raw() : nullptr, z.raw());
  Tensor y = z;
  if (!act_.is_linear()) {
    y = Tensor(z.shape(), dtype());
    act_.forward(z, y);
  }
  if (mode == Mode::Training) {
    activity_.record(y, true);
    x_cache_ = x;
    z_cache_ = z;
    y_cache_ = y;
  }
  return y;
}

Tensor Dense::backward(const Tensor& dy) {
  if (!x_cache_.defined()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, y_cache_.shape());
  Tensor dyr = activity_.add_grad(y_cache_, dy);  // the activity penalty's gradient joins dy here
  Tensor dz = dyr;
  if (!act_.is_linear()) {
    dz = Tensor(dy.shape(), dtype());
    act_.backward(z_cache_, y_cache_, dyr, dz);
  }
  int64_t k = x_cache_.dim(-1), m = x_cache_.numel() / k;
  Tensor dx(x_cache_.shape(), dtype());
  kernels::DenseProblem p{m, k, cfg_.units, dtype(), cfg_.use_bias};
  if (m > 0)
    kernel_impl_->backward(p, dz.raw(), x_cache_.raw(), kernel_.value.raw(), dx.raw(), kernel_.grad.raw(),
                           cfg_.use_bias ? bias_.grad.raw() : nullptr);
  return dx;
}

std::string Dense::kernel() const { return kernel_impl_ ? kernel_impl_->name : "none"; }

LayerWork Dense::work(const Shape& in) const {
  return weighted_work(in, double(in.numel()) * double(cfg_.units), double(param_count()));
}

}  // namespace locnet
