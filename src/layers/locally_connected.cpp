#include "locnet/layers/locally_connected.hpp"

#include <algorithm>
#include <cctype>

#include "kernels/locally_connected/problem.hpp"
#include "kernels/registry.hpp"
#include "locnet/layers/locally_connected_keras.hpp"
#include "locnet/params/initializers.hpp"
#include "layers/spatial.hpp"

namespace locnet {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

kernels::LcProblem problem(const LocallyConnectedGeometry& g, int64_t n, DType dt, bool bias) {
  kernels::LcProblem p;
  static_cast<Window2D&>(p) = g;
  p.n = n, p.c = g.c, p.f = g.f;
  p.channels_last = g.channels_last;
  p.has_bias = bias;
  p.dtype = dt;
  return p;
}

}  // namespace

template <int R>
LocallyConnectedSpec LocallyConnectedConfig<R>::validate() const {
  const char* type = kType;
  LocallyConnectedSpec s;
  s.rank = R;
  if (filters <= 0) raise<ConfigError>("{}: filters must be a positive integer, got {}", type, filters);
  s.filters = filters;
  auto sizes = [&](const char* name, const std::vector<int64_t>& v, int64_t (&out)[2]) {
    spatial::axis_sizes(type, name, R, v, out, detail::to_value(v).repr());
  };
  sizes("kernel_size", kernel_size, s.kernel);
  sizes("strides", strides, s.strides);
  sizes("dilation_rate", dilation_rate, s.dilation);

  if (padding.kind() == Value::Kind::Str) {
    s.padding = lower(padding.as_str());
    if (s.padding == "causal" && R == 2)
      raise<ConfigError>("{}: padding must be \"valid\", \"same\" or explicit (\"causal\" is for 1D), got \"causal\"",
                         type);
    if (s.padding != "valid" && s.padding != "same" && s.padding != "causal")
      raise<ConfigError>("{}: padding must be \"valid\", \"same\"{} or explicit zeros, got {}", type,
                         R == 1 ? ", \"causal\"" : "", padding.repr());
  } else {
    s.padding = "explicit";
    if (!spatial::explicit_padding(padding, R, s.pad))
      raise<ConfigError>("{}: padding must be \"valid\", \"same\"{}, an int or {}, got {}", type,
                         R == 1 ? ", \"causal\"" : "",
                         R == 1 ? "(left, right)" : "(rows, cols) or ((top, bottom), (left, right))", padding.repr());
    for (auto& side : s.pad)
      if (side[0] < 0 || side[1] < 0)
        raise<ConfigError>("{}: explicit padding must be >= 0 on every side, got {}", type, padding.repr());
  }

  std::string fmt_name = lower(data_format.value_or("channels_last"));
  if (fmt_name != "channels_last" && fmt_name != "channels_first")
    raise<ConfigError>("{}: data_format must be None, \"channels_last\" or \"channels_first\", got \"{}\"", type,
                       *data_format);
  s.channels_last = fmt_name == "channels_last";
  s.activation = activation.value_or("linear");
  (void)ActivationFn::by_name(s.activation, type);
  s.use_bias = use_bias;
  if (implementation < 1 || implementation > 3)
    raise<ConfigError>("{}: implementation must be 1, 2 or 3, got {}", type, implementation);
  s.implementation = int(implementation);
  check_initializer(kernel_initializer, fmt::format("{}: kernel_initializer", type));
  check_initializer(bias_initializer, fmt::format("{}: bias_initializer", type));
  s.kernel_initializer = kernel_initializer;
  s.bias_initializer = bias_initializer;
  auto arg = [&](const char* name) { return fmt::format("{}: {}", type, name); };
  s.kernel_regularizer = make_regularizer(kernel_regularizer, arg("kernel_regularizer"));
  s.bias_regularizer = make_regularizer(bias_regularizer, arg("bias_regularizer"));
  s.activity_regularizer = make_regularizer(activity_regularizer, arg("activity_regularizer"));
  s.kernel_constraint = make_constraint(kernel_constraint, arg("kernel_constraint"));
  s.bias_constraint = make_constraint(bias_constraint, arg("bias_constraint"));
  return s;
}

template struct LocallyConnectedConfig<1>;
template struct LocallyConnectedConfig<2>;

LocallyConnectedBase::LocallyConnectedBase(LocallyConnectedSpec spec, std::string name)
    : Layer(std::move(name)),
      spec_(std::move(spec)),
      body_{.use_bias = spec_.use_bias,
            .act = ActivationFn::by_name(spec_.activation, "activation"),
            .activity = {spec_.activity_regularizer}} {
  body_.kernel.regularizer = spec_.kernel_regularizer;
  body_.kernel.constraint = spec_.kernel_constraint;
  body_.bias.regularizer = spec_.bias_regularizer;
  body_.bias.constraint = spec_.bias_constraint;
}

LocallyConnectedGeometry LocallyConnectedBase::geometry(const Shape& in) const {
  const int R = spec_.rank;
  const bool last = spec_.channels_last;
  if (in.rank() != size_t(R + 2))
    raise<ShapeError>("{}: input rank must be {} {}, got shape {}", where(), R + 2,
                      R == 1 ? (last ? "(batch, steps, channels)" : "(batch, channels, steps)")
                             : (last ? "(batch, rows, cols, channels)" : "(batch, channels, rows, cols)"),
                      in.str());
  for (size_t i = 1; i < in.rank(); ++i)
    if (in[i] <= 0)
      raise<ShapeError>("{}: non-batch dimensions must be known and > 0, got shape {}", where(), in.str());
  LocallyConnectedGeometry g;
  g.rank = R;
  g.channels_last = last;
  g.c = last ? in[size_t(R + 1)] : in[1];
  g.f = spec_.filters;
  int64_t size[2] = {1, 1};
  for (int i = 0; i < R; ++i) size[2 - R + i] = in[size_t((last ? 1 : 2) + i)];
  g.h = size[0], g.w = size[1];
  g.kh = spec_.kernel[0], g.kw = spec_.kernel[1];
  g.sh = spec_.strides[0], g.sw = spec_.strides[1];
  g.dilation_h = spec_.dilation[0], g.dilation_w = spec_.dilation[1];
  const std::string& mode = spec_.padding;
  const WindowPadding padding = mode == "same"     ? WindowPadding::centered
                                : mode == "causal"   ? WindowPadding::causal
                                : mode == "explicit" ? WindowPadding::explicit_
                                                     : WindowPadding::valid;
  if (int a = g.fit(padding, spec_.pad); a >= 0) {
    const char* axis = R == 1 ? "steps" : (a == 0 ? "rows" : "cols");
    const int64_t padded = mode == "explicit" ? size[a] + spec_.pad[a][0] + spec_.pad[a][1] : size[a];
    raise<ShapeError>("{}: the kernel extent along {} ((kernel - 1) * dilation + 1 = {}) must be <= the {}input "
                      "length ({}), got input shape {}",
                      where(), axis, g.extent(a), mode == "explicit" ? "padded " : "", padded, in.str());
  }
  return g;
}

const LocallyConnectedGeometry& LocallyConnectedBase::geometry() const {
  if (!built()) raise<ConfigError>("{}: geometry needs a built layer, got an unbuilt layer", where());
  return geo_;
}

Shape LocallyConnectedBase::output_shape(const Shape& in) const {
  LocallyConnectedGeometry g = geometry(in);
  std::vector<int64_t> d{in[0]};
  if (!g.channels_last) d.push_back(g.f);
  if (g.rank == 2) d.push_back(g.oh);
  d.push_back(g.ow);
  if (g.channels_last) d.push_back(g.f);
  return Shape(std::move(d));
}

void LocallyConnectedBase::do_build(const Shape& in, Rng& rng) {
  require_float_dtype();
  geo_ = geometry(in);
  (void)Shape{geo_.oh, geo_.ow, geo_.kh, geo_.kw, geo_.c, geo_.f}.numel();  // ShapeError if P * K * F overflows
  const int64_t P = geo_.positions(), K = geo_.patch(), F = geo_.f;
  // Keras initializes the kernel of its implementation, with that shape's fans (and layout, for Orthogonal).
  auto init_keras_layout = [&](Tensor& kernel, Rng& r) {
    Tensor k(keras_kernel_shape(geo_, spec_.implementation), dtype());
    initialize(spec_.kernel_initializer, k, r, where() + " kernel_initializer");
    Tensor k1 = spec_.implementation == 2 ? keras_impl2_to_impl1(geo_, k) : keras_impl3_to_impl1(geo_, k);
    kernel = k1.to(dtype());
  };
  body_.build(Shape{P, K, F}, geo_.rank == 1 ? Shape{geo_.ow, F} : Shape{geo_.oh, geo_.ow, F},
              spec_.kernel_initializer, spec_.bias_initializer, dtype(), rng, where(),
              spec_.implementation == 1 ? nullptr : std::function<void(Tensor&, Rng&)>(init_keras_layout));
  impl_ = &kernels::choose<kernels::LcKernel>("locally_connected", kernels::lc_kernels(),
                                              problem(geo_, 1, dtype(), spec_.use_bias));
}

std::vector<Param*> LocallyConnectedBase::params() { return built() ? body_.params() : std::vector<Param*>{}; }

Tensor LocallyConnectedBase::forward(const Tensor& x, Mode mode) {
  const int64_t n = check_input(x);
  return body_.forward(*impl_, problem(geo_, n, dtype(), spec_.use_bias), n == 0, x, output_shape(x.shape()), mode);
}

Tensor LocallyConnectedBase::backward(const Tensor& dy) {
  body_.require_forward(where());
  check_grad_output(dy, body_.y.shape());
  const int64_t n = body_.x.dim(0);
  return body_.backward(*impl_, problem(geo_, n, dtype(), spec_.use_bias), n == 0, dy, need_input_grad());
}

std::string LocallyConnectedBase::kernel() const { return impl_ ? impl_->name : "none"; }

LayerWork LocallyConnectedBase::work(const Shape& in) const {
  return weighted_work(in, double(in[0]) * double(body_.kernel.value.numel()), double(param_count()));
}

}  // namespace locnet
