#include "locnet/layers/activations.hpp"

#include <array>

#include "kernels/activation/problem.hpp"

namespace locnet {
namespace {
constexpr std::array<std::pair<std::string_view, ActivationKind>, 13> kNames{{
    {"linear", ActivationKind::linear},
    {"relu", ActivationKind::relu},
    {"leaky_relu", ActivationKind::leaky_relu},
    {"elu", ActivationKind::elu},
    {"sigmoid", ActivationKind::sigmoid},
    {"tanh", ActivationKind::tanh},
    {"softmax", ActivationKind::softmax},
    {"softplus", ActivationKind::softplus},
    {"gelu", ActivationKind::gelu},
    {"selu", ActivationKind::selu},
    {"swish", ActivationKind::swish},
    {"hard_sigmoid", ActivationKind::hard_sigmoid},
    {"exponential", ActivationKind::exponential},
}};

template <class F>
void dispatch_float(DType t, std::string_view what, F&& f) {
  if (t == DType::f32)
    f(float{});
  else if (t == DType::f64)
    f(double{});
  else
    raise<NotSupported>("{}: dtype must be f32 or f64, got {}", what, dtype_name(t));
}
}  // namespace

ActivationFn ActivationFn::by_name(std::string_view name, std::string_view where) {
  for (auto [n, k] : kNames)
    if (n == name) return ActivationFn{k};
  raise<ConfigError>("{}: activation must be one of {}, got '{}'", where, fmt::join(activation_names(), ", "), name);
}

std::string_view ActivationFn::name() const {
  for (auto [n, k] : kNames)
    if (k == kind) return n;
  return "?";
}

std::vector<std::string> activation_names() {
  std::vector<std::string> out;
  for (auto [n, k] : kNames) out.emplace_back(n);
  return out;
}

void ActivationFn::forward(const Tensor& z, Tensor& y) const {
  kernels::ActivationProblem p{kind, z.numel(), z.rank() ? z.dim(-1) : 1};
  if (p.last == 0) return;
  dispatch_float(z.dtype(), "activation", [&](auto t) {
    using T = decltype(t);
    kernels::activation_forward_ref<T>(p, z.data<T>(), y.data<T>());
  });
}

void ActivationFn::backward(const Tensor& z, const Tensor& y, const Tensor& dy, Tensor& dz) const {
  kernels::ActivationProblem p{kind, z.numel(), z.rank() ? z.dim(-1) : 1};
  if (p.last == 0) return;
  dispatch_float(z.dtype(), "activation", [&](auto t) {
    using T = decltype(t);
    kernels::activation_backward_ref<T>(p, z.data<T>(), y.data<T>(), dy.data<T>(), dz.data<T>());
  });
}

void ActivationConfig::validate() const { (void)ActivationFn::by_name(activation, "Activation"); }

Activation::Activation(Config cfg, std::string name) : Layer(std::move(name)), cfg_(std::move(cfg)) {
  cfg_.validate();
  fn_ = ActivationFn::by_name(cfg_.activation, "Activation");
}
Activation::Activation(std::string activation, std::string name)
    : Activation(Config{std::move(activation)}, std::move(name)) {}

Shape Activation::output_shape(const Shape& in) const {
  if (in.rank() < 1) raise<ShapeError>("{}: input rank must be >= 1, got shape {}", where(), in.str());
  return in;
}

Tensor Activation::forward(const Tensor& x, Mode mode) {
  check_input(x);
  Tensor y = Tensor::empty(x.shape(), x.dtype());  // every element assigned
  fn_.forward(x, y);
  if (mode == Mode::Training) {
    z_ = x;
    y_ = y;
  }
  return y;
}

Tensor Activation::backward(const Tensor& dy) {
  if (!z_.defined()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, y_.shape());
  Tensor dz = Tensor::empty(dy.shape(), dy.dtype());
  fn_.backward(z_, y_, dy, dz);
  return dz;
}

Flatten::Flatten(Config, std::string name) : Layer(std::move(name)) {}

Shape Flatten::output_shape(const Shape& in) const {
  if (in.rank() < 2) raise<ShapeError>("{}: input rank must be >= 2, got shape {}", where(), in.str());
  int64_t rest = 1;
  for (size_t i = 1; i < in.rank(); ++i) {
    if (in[i] < 0) raise<ShapeError>("{}: non-batch dimensions must be known, got shape {}", where(), in.str());
    rest = Shape({rest, in[i]}).numel();
  }
  return Shape({in[0], rest});
}

Tensor Flatten::forward(const Tensor& x, Mode mode) {
  check_input(x);
  if (mode == Mode::Training) last_in_ = x.shape();
  return x.flatten(1).clone();
}

Tensor Flatten::backward(const Tensor& dy) {
  if (!last_in_.rank()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, output_shape(last_in_));
  return dy.reshape(last_in_).clone();
}

}  // namespace locnet
