#include "locnet/layers/activations.hpp"

#include <atomic>

#include "kernels/activation/problem.hpp"
#include "kernels/registry.hpp"

namespace locnet {
namespace {
constexpr auto& kNames = kernels::kActivationNames;
static_assert(kNames.size() == size_t(ActivationKind::exponential) + 1, "one name per ActivationKind");

// The kernel for z's dtype: chosen once per ActivationFn and dtype.
const kernels::ActivationKernel& kernel_for(const ActivationFn& fn, const kernels::ActivationProblem& p) {
  if (p.dtype != DType::f32 && p.dtype != DType::f64)
    raise<NotSupported>("{}: dtype must be f32 or f64, got {}", "activation", dtype_name(p.dtype));
  std::atomic_ref<const kernels::ActivationKernel*> slot(fn.chosen_[p.dtype == DType::f64]);
  const kernels::ActivationKernel* k = slot.load(std::memory_order_acquire);
  if (!k) {
    k = &kernels::choose<kernels::ActivationKernel>("activation", kernels::activation_kernels(), p);
    slot.store(k, std::memory_order_release);
  }
  return *k;
}

kernels::ActivationProblem problem(const ActivationFn& fn, const Tensor& z) {
  return {kernels::ActivationId(fn.kind), z.numel(), z.rank() ? z.dim(-1) : 1, z.dtype()};
}
}  // namespace

ActivationFn ActivationFn::by_name(std::string_view name, std::string_view where) {
  for (size_t i = 0; i < kNames.size(); ++i)
    if (kNames[i] == name) return ActivationFn{ActivationKind(i)};
  raise<ConfigError>("{}: activation must be one of {}, got '{}'", where, fmt::join(activation_names(), ", "), name);
}

std::string_view ActivationFn::name() const { return size_t(kind) < kNames.size() ? kNames[size_t(kind)] : "?"; }

std::vector<std::string> activation_names() { return {kNames.begin(), kNames.end()}; }

void ActivationFn::forward(const Tensor& z, Tensor& y) const {
  const kernels::ActivationProblem p = problem(*this, z);
  if (p.last == 0) return;
  kernel_for(*this, p).forward(p, z.raw(), y.raw());
}

void ActivationFn::backward(const Tensor& z, const Tensor& y, const Tensor& dy, Tensor& dz) const {
  const kernels::ActivationProblem p = problem(*this, z);
  if (p.last == 0) return;
  kernel_for(*this, p).backward(p, z.raw(), y.raw(), dy.raw(), dz.raw());
}

std::string_view ActivationFn::kernel(DType dtype) const {
  return kernel_for(*this, kernels::ActivationProblem{kernels::ActivationId(kind), 1, 1, dtype}).name;
}

void ActivationConfig::validate() const { (void)ActivationFn::by_name(activation, "Activation"); }

Activation::Activation(Config cfg, std::string name) : LayerOf(std::move(cfg), std::move(name)) {
  fn_ = ActivationFn::by_name(cfg_.activation, "Activation");
}
Activation::Activation(std::string activation, std::string name)
    : Activation(Config{std::move(activation)}, std::move(name)) {}

void Activation::do_build(const Shape&, Rng&) {
  require_float_dtype();
  (void)fn_.kernel(dtype());  // the choice, made here
}

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

}  // namespace locnet
