#include "locnet/layers/conv.hpp"

#include "kernels/conv2d/problem.hpp"
#include "kernels/registry.hpp"
#include "layers/spatial.hpp"
#include "locnet/params/initializers.hpp"

namespace locnet {
namespace {

// "valid", "same", "causal" (1D) or explicit zeros (spatial::explicit_padding) -> spec.padding and spec.pad.
void parse_padding(const char* type, int rank, const Value& padding, ConvSpec& s) {
  const char* strings = rank == 1 ? "\"valid\", \"same\" or \"causal\"" : "\"valid\" or \"same\"";
  if (padding.kind() == Value::Kind::Str) {
    const std::string& p = padding.as_str();
    if (p == "valid" || p == "same" || (rank == 1 && p == "causal")) {
      s.padding = p == "valid" ? WindowPadding::valid : p == "same" ? WindowPadding::same : WindowPadding::causal;
      return;
    }
    raise<ConfigError>("{}: padding must be {}, got \"{}\"", type, strings, p);
  }
  s.padding = WindowPadding::explicit_;
  if (!spatial::explicit_padding(padding, rank, s.pad))
    raise<ConfigError>("{}: padding must be {}, an int or {}, got {}", type, strings,
                       rank == 1 ? "(left, right)" : "(rows, cols) or ((top, bottom), (left, right))", padding.repr());
  for (auto& side : s.pad)
    if (side[0] < 0 || side[1] < 0)
      raise<ConfigError>("{}: explicit padding must be >= 0 on every side, got {}", type, padding.repr());
}

// The options every convolution config shares; `kernel` names the kernel's options (kernel_ or depthwise_).
template <class Config>
ConvSpec common_spec(const Config& c, int rank, const char* kernel, const Value& kernel_init, const Value& kernel_reg,
                     const Value& kernel_constraint) {
  const char* type = Config::kType;
  auto where = [&](std::string_view option) { return fmt::format("{}: {}", type, option); };
  ConvSpec s;
  s.rank = rank;
  spatial::axis_sizes(type, "kernel_size", rank, c.kernel_size, s.kernel);
  spatial::axis_sizes(type, "strides", rank, c.strides, s.strides);
  spatial::axis_sizes(type, "dilation_rate", rank, c.dilation_rate, s.dilation);
  parse_padding(type, rank, c.padding, s);
  s.channels_last = spatial::channels_last(type, c.data_format);
  s.activation = c.activation.value_or("linear");
  (void)ActivationFn::by_name(s.activation, type);
  s.use_bias = c.use_bias;
  check_initializer(kernel_init, where(fmt::format("{}_initializer", kernel)));
  check_initializer(c.bias_initializer, where("bias_initializer"));
  s.kernel_initializer = kernel_init;
  s.bias_initializer = c.bias_initializer;
  s.kernel_regularizer = make_regularizer(kernel_reg, where(fmt::format("{}_regularizer", kernel)));
  s.bias_regularizer = make_regularizer(c.bias_regularizer, where("bias_regularizer"));
  s.activity_regularizer = make_regularizer(c.activity_regularizer, where("activity_regularizer"));
  s.kernel_constraint = make_constraint(kernel_constraint, where(fmt::format("{}_constraint", kernel)));
  s.bias_constraint = make_constraint(c.bias_constraint, where("bias_constraint"));
  return s;
}

}  // namespace

template <int R>
ConvSpec ConvConfig<R>::validate() const {
  if (filters <= 0) raise<ConfigError>("{}: filters must be a positive integer, got {}", kType, filters);
  if (groups <= 0) raise<ConfigError>("{}: groups must be a positive integer, got {}", kType, groups);
  if (filters % groups != 0)
    raise<ConfigError>("{}: filters ({}) must be divisible by groups ({})", kType, filters, groups);
  ConvSpec s = common_spec(*this, R, "kernel", kernel_initializer, kernel_regularizer, kernel_constraint);
  s.filters = filters;
  s.groups = groups;
  return s;
}
template struct ConvConfig<1>;
template struct ConvConfig<2>;

ConvSpec DepthwiseConv2DConfig::validate() const {
  if (depth_multiplier <= 0)
    raise<ConfigError>("{}: depth_multiplier must be a positive integer, got {}", kType, depth_multiplier);
  ConvSpec s = common_spec(*this, 2, "depthwise", depthwise_initializer, depthwise_regularizer, depthwise_constraint);
  s.depth_multiplier = depth_multiplier;
  return s;
}

DepthwiseConv2D::DepthwiseConv2D(Config cfg, std::string name) : LayerOf(std::move(cfg), std::move(name)) {
  canonical(cfg_.kernel_size, cfg_.strides, cfg_.dilation_rate, cfg_.padding);
}

ConvBase::ConvBase(ConvSpec spec, std::string name)
    : Layer(std::move(name)),
      spec_(std::move(spec)),
      body_{.use_bias = spec_.use_bias,
            .act = ActivationFn::by_name(spec_.activation, "activation"),
            .activity = {spec_.activity_regularizer}} {
  if (spec_.depth_multiplier > 0) body_.kernel.name = "depthwise_kernel";  // Keras's weight name
  body_.kernel.regularizer = spec_.kernel_regularizer;
  body_.kernel.constraint = spec_.kernel_constraint;
  body_.bias.regularizer = spec_.bias_regularizer;
  body_.bias.constraint = spec_.bias_constraint;
}

void ConvBase::canonical(std::vector<int64_t>& kernel_size, std::vector<int64_t>& strides,
                         std::vector<int64_t>& dilation_rate, Value& padding) const {
  const int r = spec_.rank;
  auto per_axis = [&](const int64_t (&v)[2]) { return std::vector<int64_t>(v + 2 - r, v + 2); };
  kernel_size = per_axis(spec_.kernel);
  strides = per_axis(spec_.strides);
  dilation_rate = per_axis(spec_.dilation);
  if (spec_.padding != WindowPadding::explicit_) return;
  auto pair = [](const int64_t (&side)[2]) { return Value::tuple({Value(side[0]), Value(side[1])}); };
  padding = r == 1 ? pair(spec_.pad[1]) : Value::tuple({pair(spec_.pad[0]), pair(spec_.pad[1])});
}

kernels::Conv2dProblem ConvBase::problem(const Shape& in) const {
  const int r = spec_.rank;
  const bool last = spec_.channels_last;
  if (in.rank() != size_t(r + 2)) {
    const char* layout = r == 1 ? (last ? "(batch, steps, channels)" : "(batch, channels, steps)")
                                : (last ? "(batch, rows, cols, channels)" : "(batch, channels, rows, cols)");
    raise<ShapeError>("{}: input rank must be {} {}, got shape {}", where(), r + 2, layout, in.str());
  }
  for (size_t i = 1; i < in.rank(); ++i)
    if (in[i] <= 0)
      raise<ShapeError>("{}: non-batch dimensions must be known and > 0, got shape {}", where(), in.str());
  kernels::Conv2dProblem p;
  p.n = std::max<int64_t>(in[0], 1);
  const size_t first = last ? 1 : 2;  // the first spatial axis
  p.h = r == 1 ? 1 : in[first];
  p.w = in[first + size_t(r) - 1];
  p.c = last ? in[size_t(r) + 1] : in[1];
  const bool depthwise = spec_.depth_multiplier > 0;
  p.groups = depthwise ? p.c : spec_.groups;
  if (p.c % p.groups != 0)
    raise<ShapeError>("{}: input channels ({}) must be divisible by groups ({}), got shape {}", where(), p.c, p.groups,
                      in.str());
  p.f = depthwise ? p.c * spec_.depth_multiplier : spec_.filters;
  p.kh = spec_.kernel[0], p.kw = spec_.kernel[1], p.sh = spec_.strides[0], p.sw = spec_.strides[1];
  p.dilation_h = spec_.dilation[0], p.dilation_w = spec_.dilation[1];
  if (int a = p.fit(spec_.padding, spec_.pad); a >= 0) {
    const bool given = spec_.padding == WindowPadding::explicit_;
    const int64_t n = a == 0 ? p.h : p.w, padded = given ? n + spec_.pad[a][0] + spec_.pad[a][1] : n;
    raise<ShapeError>("{}: the kernel extent along {} ((kernel - 1) * dilation + 1 = {}) must be <= the {}input "
                      "length ({}){}, got input shape {}",
                      where(), r == 1 ? "steps" : a == 0 ? "rows" : "cols", p.extent(a), given ? "padded " : "",
                      padded, given ? "" : " with padding \"valid\"", in.str());
  }
  p.channels_last = last;
  p.has_bias = spec_.use_bias;
  p.dtype = dtype();
  return p;
}

Shape ConvBase::output_shape(const Shape& in) const {
  kernels::Conv2dProblem p = problem(in);
  if (spec_.rank == 1) return spec_.channels_last ? Shape{in[0], p.ow, p.f} : Shape{in[0], p.f, p.ow};
  return spec_.channels_last ? Shape{in[0], p.oh, p.ow, p.f} : Shape{in[0], p.f, p.oh, p.ow};
}

void ConvBase::do_build(const Shape& in, Rng& rng) {
  require_float_dtype();
  kernels::Conv2dProblem p = problem(in);
  const int64_t cg = p.group_channels();
  const Shape kernel_shape = spec_.depth_multiplier > 0 ? Shape{p.kh, p.kw, p.c, spec_.depth_multiplier}
                             : spec_.rank == 1          ? Shape{p.kw, cg, p.f}
                                                        : Shape{p.kh, p.kw, cg, p.f};
  (void)kernel_shape.numel();  // ShapeError if the products below would overflow int64
  body_.build(kernel_shape, Shape{p.f}, spec_.kernel_initializer, spec_.bias_initializer, dtype(), rng, where());
  impl_ = &kernels::choose<kernels::Conv2dKernel>("conv2d", kernels::conv2d_kernels(), p);
}

std::vector<Param*> ConvBase::params() { return built() ? body_.params() : std::vector<Param*>{}; }

Tensor ConvBase::forward(const Tensor& x, Mode mode) {
  const int64_t n = check_input(x);
  return body_.forward(*impl_, problem(x.shape()), n == 0, x, output_shape(x.shape()), mode);
}

Tensor ConvBase::backward(const Tensor& dy) {
  body_.require_forward(where());
  check_grad_output(dy, body_.y.shape());
  return body_.backward(*impl_, problem(body_.x.shape()), body_.x.dim(0) == 0, dy, need_input_grad());
}

std::string ConvBase::kernel() const { return impl_ ? impl_->name : "none"; }

LayerWork ConvBase::work(const Shape& in) const {
  kernels::Conv2dProblem p = problem(in);
  const double taps_per_output = double(p.kh * p.kw * p.group_channels());
  return weighted_work(in, double(output_shape(in).numel()) * taps_per_output, double(param_count()));
}

}  // namespace locnet
