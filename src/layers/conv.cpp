#include "locnet/layers/conv.hpp"

#include "kernels/conv2d/problem.hpp"
#include "kernels/registry.hpp"
#include "layers/spatial.hpp"
#include "locnet/params/constraints.hpp"
#include "locnet/params/initializers.hpp"

namespace locnet {

void Conv2DConfig::validate() const {
  if (filters <= 0) raise<ConfigError>("Conv2D: filters must be a positive integer, got {}", filters);
  int64_t pair[2];
  spatial::size_pair("Conv2D", "kernel_size", kernel_size, pair);
  spatial::size_pair("Conv2D", "strides", strides, pair);
  spatial::size_pair("Conv2D", "dilation_rate", dilation_rate, pair);
  spatial::check_padding("Conv2D", padding);
  (void)spatial::channels_last("Conv2D", data_format);
  if (groups != 1) raise<NotSupported>("Conv2D: groups must be 1 (grouped convolution), got {}", groups);
  if (activation) (void)ActivationFn::by_name(*activation, "Conv2D");
  check_initializer(kernel_initializer, "Conv2D: kernel_initializer");
  check_initializer(bias_initializer, "Conv2D: bias_initializer");
  (void)make_regularizer(kernel_regularizer, "Conv2D: kernel_regularizer");
  (void)make_regularizer(bias_regularizer, "Conv2D: bias_regularizer");
  (void)make_regularizer(activity_regularizer, "Conv2D: activity_regularizer");
  (void)make_constraint(kernel_constraint, "Conv2D: kernel_constraint");
  (void)make_constraint(bias_constraint, "Conv2D: bias_constraint");
}

Conv2D::Conv2D(Config cfg, std::string name) : Layer(std::move(name)), cfg_(std::move(cfg)) {
  cfg_.validate();
  spatial::size_pair("Conv2D", "kernel_size", cfg_.kernel_size, kernel_);
  spatial::size_pair("Conv2D", "strides", cfg_.strides, strides_);
  spatial::size_pair("Conv2D", "dilation_rate", cfg_.dilation_rate, dilation_);
  // config() prints kernel_size=(3, 3) as Keras's get_config does, never the (3,) a lone 3 was stored as.
  cfg_.kernel_size = {kernel_[0], kernel_[1]};
  cfg_.strides = {strides_[0], strides_[1]};
  cfg_.dilation_rate = {dilation_[0], dilation_[1]};
  channels_last_ = spatial::channels_last("Conv2D", cfg_.data_format);
  act_ = ActivationFn::by_name(cfg_.activation.value_or("linear"), "Conv2D");
  activity_.reg = make_regularizer(cfg_.activity_regularizer, "Conv2D: activity_regularizer");
}

kernels::Conv2dProblem Conv2D::problem(const Shape& in) const {
  if (in.rank() != 4)
    raise<ShapeError>("{}: input rank must be 4 {}, got shape {}", where(),
                      channels_last_ ? "(batch, rows, cols, channels)" : "(batch, channels, rows, cols)", in.str());
  for (size_t i = 1; i < 4; ++i)
    if (in[i] <= 0) raise<ShapeError>("{}: non-batch dimensions must be known and > 0, got shape {}", where(), in.str());
  kernels::Conv2dProblem p;
  p.n = std::max<int64_t>(in[0], 1);
  p.h = channels_last_ ? in[1] : in[2];
  p.w = channels_last_ ? in[2] : in[3];
  p.c = channels_last_ ? in[3] : in[1];
  p.f = cfg_.filters;
  p.kh = kernel_[0], p.kw = kernel_[1], p.sh = strides_[0], p.sw = strides_[1], p.dh = dilation_[0], p.dw = dilation_[1];
  int64_t size[2] = {p.h, p.w}, before[2], out[2];
  for (int a = 0; a < 2; ++a)
    if (!spatial::window_axis(cfg_.padding, size[a], kernel_[a], strides_[a], dilation_[a], before[a], out[a]))
      raise<ShapeError>("{}: the kernel extent along {} ((kernel - 1) * dilation + 1 = {}) must be <= the input "
                        "length ({}) with padding \"valid\", got input shape {}",
                        where(), a == 0 ? "rows" : "cols", (kernel_[a] - 1) * dilation_[a] + 1, size[a], in.str());
  p.pt = before[0], p.pl = before[1], p.oh = out[0], p.ow = out[1];
  p.channels_last = channels_last_;
  p.has_bias = cfg_.use_bias;
  p.dtype = dtype();
  return p;
}

Shape Conv2D::output_shape(const Shape& in) const {
  kernels::Conv2dProblem p = problem(in);
  return channels_last_ ? Shape{in[0], p.oh, p.ow, p.f} : Shape{in[0], p.f, p.oh, p.ow};
}

void Conv2D::do_build(const Shape& in, Rng& rng) {
  require_float_dtype();
  kernels::Conv2dProblem p = problem(in);
  (void)Shape{p.kh, p.kw, p.c, p.f}.numel();  // ShapeError if the products below would overflow int64
  Shape ks{p.kh, p.kw, p.c, p.f};
  kernel_param_.value = Tensor(ks, dtype());
  kernel_param_.grad = Tensor(ks, dtype());
  initialize(cfg_.kernel_initializer, kernel_param_.value, rng, where() + " kernel_initializer");
  kernel_param_.regularizer = make_regularizer(cfg_.kernel_regularizer, "Conv2D: kernel_regularizer");
  kernel_param_.constraint = make_constraint(cfg_.kernel_constraint, "Conv2D: kernel_constraint");
  if (kernel_param_.constraint) kernel_param_.constraint->check(ks, where() + " kernel_constraint");
  if (cfg_.use_bias) {
    bias_.value = Tensor(Shape{p.f}, dtype());
    bias_.grad = Tensor(Shape{p.f}, dtype());
    initialize(cfg_.bias_initializer, bias_.value, rng, where() + " bias_initializer");
    bias_.regularizer = make_regularizer(cfg_.bias_regularizer, "Conv2D: bias_regularizer");
    bias_.constraint = make_constraint(cfg_.bias_constraint, "Conv2D: bias_constraint");
    if (bias_.constraint) bias_.constraint->check(bias_.value.shape(), where() + " bias_constraint");
  } else {
    bias_ = Param{"bias", {}, {}};
  }
  impl_ = &kernels::choose<kernels::Conv2dKernel>("conv2d", kernels::conv2d_kernels(), p);
}

std::vector<Param*> Conv2D::params() {
  if (!built()) return {};
  if (cfg_.use_bias) return {&kernel_param_, &bias_};
  return {&kernel_param_};
}

Tensor Conv2D::forward(const Tensor& x, Mode mode) {
  int64_t n = check_input(x);
  kernels::Conv2dProblem p = problem(x.shape());
  Tensor z = Tensor::empty(output_shape(x.shape()), dtype());
  if (n > 0) impl_->forward(p, x.raw(), kernel_param_.value.raw(), cfg_.use_bias ? bias_.value.raw() : nullptr, z.raw());
  Tensor y = z;
  if (!act_.is_linear()) {
    y = Tensor::empty(z.shape(), dtype());
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

Tensor Conv2D::backward(const Tensor& dy_in) {
  if (!x_cache_.defined()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy_in, y_cache_.shape());
  Tensor dy = activity_.add_grad(y_cache_, dy_in);
  Tensor dz = dy;
  if (!act_.is_linear()) {
    dz = Tensor::empty(dy.shape(), dtype());
    act_.backward(z_cache_, y_cache_, dy, dz);
  }
  Tensor dx = Tensor::empty(x_cache_.shape(), dtype());
  if (x_cache_.dim(0) > 0)
    impl_->backward(problem(x_cache_.shape()), dz.raw(), x_cache_.raw(), kernel_param_.value.raw(), dx.raw(),
                    kernel_param_.grad.raw(), cfg_.use_bias ? bias_.grad.raw() : nullptr);
  return dx;
}

std::string Conv2D::kernel() const { return impl_ ? impl_->name : "none"; }

LayerWork Conv2D::work(const Shape& in) const {
  const double taps_per_output = double(kernel_param_.value.numel()) / double(cfg_.filters);
  return weighted_work(in, double(output_shape(in).numel()) * taps_per_output, double(param_count()));
}

}  // namespace locnet
