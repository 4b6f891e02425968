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

Conv2D::Conv2D(Config cfg, std::string name) : LayerOf(std::move(cfg), std::move(name)) {
  spatial::size_pair("Conv2D", "kernel_size", cfg_.kernel_size, kernel_);
  spatial::size_pair("Conv2D", "strides", cfg_.strides, strides_);
  spatial::size_pair("Conv2D", "dilation_rate", cfg_.dilation_rate, dilation_);
  // config() prints kernel_size=(3, 3) as Keras's get_config does, never the (3,) a lone 3 was stored as.
  cfg_.kernel_size = {kernel_[0], kernel_[1]};
  cfg_.strides = {strides_[0], strides_[1]};
  cfg_.dilation_rate = {dilation_[0], dilation_[1]};
  channels_last_ = spatial::channels_last("Conv2D", cfg_.data_format);
  body_.configure(cfg_, "Conv2D");
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
  p.kh = kernel_[0], p.kw = kernel_[1], p.sh = strides_[0], p.sw = strides_[1];
  p.dilation_h = dilation_[0], p.dilation_w = dilation_[1];
  if (int a = p.fit(cfg_.padding == "same" ? WindowPadding::same : WindowPadding::valid); a >= 0)
    raise<ShapeError>("{}: the kernel extent along {} ((kernel - 1) * dilation + 1 = {}) must be <= the input "
                      "length ({}) with padding \"valid\", got input shape {}",
                      where(), a == 0 ? "rows" : "cols", p.extent(a), a == 0 ? p.h : p.w, in.str());
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
  body_.build(Shape{p.kh, p.kw, p.c, p.f}, Shape{p.f}, cfg_.kernel_initializer, cfg_.bias_initializer, dtype(), rng,
              where());
  impl_ = &kernels::choose<kernels::Conv2dKernel>("conv2d", kernels::conv2d_kernels(), p);
}

std::vector<Param*> Conv2D::params() { return built() ? body_.params() : std::vector<Param*>{}; }

Tensor Conv2D::forward(const Tensor& x, Mode mode) {
  const int64_t n = check_input(x);
  return body_.forward(*impl_, problem(x.shape()), n == 0, x, output_shape(x.shape()), mode);
}

Tensor Conv2D::backward(const Tensor& dy) {
  body_.require_forward(where());
  check_grad_output(dy, body_.y.shape());
  return body_.backward(*impl_, problem(body_.x.shape()), body_.x.dim(0) == 0, dy);
}

std::string Conv2D::kernel() const { return impl_ ? impl_->name : "none"; }

LayerWork Conv2D::work(const Shape& in) const {
  const double taps_per_output = double(body_.kernel.value.numel()) / double(cfg_.filters);
  return weighted_work(in, double(output_shape(in).numel()) * taps_per_output, double(param_count()));
}

}  // namespace locnet
