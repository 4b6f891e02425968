#include "locnet/layers/activations.hpp"

#include <atomic>
#include <cmath>

#include "kernels/activation/problem.hpp"
#include "kernels/registry.hpp"
#include "locnet/params/constraints.hpp"
#include "locnet/params/initializers.hpp"
#include "locnet/params/regularizers.hpp"

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

ActivationOp ActivationConfig::validate() const {
  return {.kind = ActivationFn::by_name(activation, "Activation").kind};
}

// ---- The activation layers ----

namespace {
void require_finite(const char* type, const char* arg, double v) {
  if (!std::isfinite(v)) raise<ConfigError>("{}: {} must be a finite number, got {}", type, arg, v);
}
void require_nonnegative(const char* type, const char* arg, double v) {
  if (!(v >= 0) || !std::isfinite(v)) raise<ConfigError>("{}: {} must be a finite number >= 0, got {}", type, arg, v);
}

// The kernel problem of `op` on n elements; softmax normalizes along `axis` of `shape`.
kernels::ActivationProblem op_problem(const ActivationOp& op, DType dtype, const Shape& shape = {}, int64_t axis = 0) {
  kernels::ActivationProblem p{kernels::ActivationId(op.kind), 1, 1, dtype};
  p.alpha = op.alpha;
  p.negative_slope = op.negative_slope;
  p.max_value = op.max_value;
  p.threshold = op.threshold;
  const bool plain_relu = op.negative_slope == 0 && std::isinf(op.max_value) && op.threshold == 0;
  if (op.kind == ActivationKind::relu && !plain_relu) p.kind = kernels::ActivationId::relu_keras;
  if (shape.rank() == 0) return p;  // for the choice at build
  p.n = shape.numel();
  if (op.kind == ActivationKind::softmax) {
    p.last = shape.dim(axis);
    for (size_t i = size_t(axis) + 1; i < shape.rank(); ++i) p.inner *= shape.dim(i);
  }
  return p;
}
}  // namespace

int64_t ActivationLayer::axis(const Shape& in) const {
  const int64_t rank = int64_t(in.rank()), a = op_.axis < 0 ? op_.axis + rank : op_.axis;
  if (a < 1 || a >= rank)
    raise<ShapeError>("{}: axis {} must name a non-batch axis of the input, got shape {}", where(), op_.axis,
                      in.str());
  return a;
}

Shape ActivationLayer::output_shape(const Shape& in) const {
  if (in.rank() < 1) raise<ShapeError>("{}: input rank must be >= 1, got shape {}", where(), in.str());
  if (op_.kind == ActivationKind::softmax) (void)axis(in);
  return in;
}

void ActivationLayer::do_build(const Shape&, Rng&) {
  require_float_dtype();
  impl_ = &kernels::choose<kernels::ActivationKernel>("activation", kernels::activation_kernels(),
                                                      op_problem(op_, dtype()));
}

std::string ActivationLayer::kernel() const { return impl_ ? impl_->name : "none"; }

Tensor ActivationLayer::forward(const Tensor& x, Mode mode) {
  check_input(x);
  Tensor y = Tensor::empty(x.shape(), x.dtype());  // every element assigned
  const bool softmax = op_.kind == ActivationKind::softmax;
  if (x.numel() > 0)
    impl_->forward(op_problem(op_, dtype(), x.shape(), softmax ? axis(x.shape()) : 0), x.raw(), y.raw());
  if (mode == Mode::Training) {
    x_ = x;
    y_ = y;
  }
  return y;
}

Tensor ActivationLayer::backward(const Tensor& dy) {
  if (!x_.defined()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, y_.shape());
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
  const bool softmax = op_.kind == ActivationKind::softmax;
  if (dy.numel() > 0)
    impl_->backward(op_problem(op_, dtype(), x_.shape(), softmax ? axis(x_.shape()) : 0), x_.raw(), y_.raw(),
                    dy.raw(), dx.raw());
  return dx;
}

ActivationOp SoftmaxConfig::validate() const {
  if (axis == 0) raise<ConfigError>("Softmax: axis must not be 0 (the batch axis), got 0");
  return {.kind = ActivationKind::softmax, .axis = axis};
}

ActivationOp ReLUConfig::validate() const {
  if (max_value) require_nonnegative("ReLU", "max_value", *max_value);
  require_nonnegative("ReLU", "negative_slope", negative_slope);
  require_nonnegative("ReLU", "threshold", threshold);
  return {.kind = ActivationKind::relu,
          .negative_slope = negative_slope,
          .max_value = max_value.value_or(std::numeric_limits<double>::infinity()),
          .threshold = threshold};
}

ActivationOp LeakyReLUConfig::validate() const {
  require_nonnegative("LeakyReLU", "alpha", alpha);
  if (negative_slope) {
    require_nonnegative("LeakyReLU", "negative_slope", *negative_slope);
    if (alpha != LeakyReLUConfig{}.alpha && alpha != *negative_slope)
      raise<ConfigError>("LeakyReLU: alpha and negative_slope name the same slope (Keras 2 and 3); give one, got "
                         "alpha={}, negative_slope={}", alpha, *negative_slope);
  }
  return {.kind = ActivationKind::relu, .negative_slope = negative_slope.value_or(alpha)};
}

ActivationOp ELUConfig::validate() const {
  require_finite("ELU", "alpha", alpha);
  return {.kind = ActivationKind::elu, .alpha = alpha};
}

ActivationOp ThresholdedReLUConfig::validate() const {
  require_nonnegative("ThresholdedReLU", "theta", theta);
  return {.kind = ActivationKind::relu, .threshold = theta};
}

// ---- PReLU ----

void PReLUConfig::validate() const {
  check_initializer(alpha_initializer, "PReLU: alpha_initializer");
  (void)make_regularizer(alpha_regularizer, "PReLU: alpha_regularizer");
  (void)make_constraint(alpha_constraint, "PReLU: alpha_constraint");
  for (int64_t a : shared_axes.value_or(std::vector<int64_t>{}))
    if (a < 1)
      raise<ConfigError>("PReLU: shared_axes must be axes >= 1 (the batch axis is 0), got ({})",
                         fmt::join(*shared_axes, ", "));
}

Shape PReLU::output_shape(const Shape& in) const {
  if (in.rank() < 2) raise<ShapeError>("{}: input rank must be >= 2, got shape {}", where(), in.str());
  for (size_t i = 1; i < in.rank(); ++i)
    if (in.dim(i) == Shape::kUnknown)
      raise<ShapeError>("{}: the non-batch sizes must be known, got shape {}", where(), in.str());
  for (int64_t a : cfg_.shared_axes.value_or(std::vector<int64_t>{}))
    if (a >= int64_t(in.rank()))
      raise<ShapeError>("{}: shared_axes {} is out of range for input shape {}", where(), a, in.str());
  return in;
}

void PReLU::do_build(const Shape& in, Rng& rng) {
  require_float_dtype();
  // alpha: the input's sizes after the batch, 1 on the shared axes; strides over the sample, 0 where shared.
  std::vector<int64_t> dims(in.dims().begin() + 1, in.dims().end());
  for (int64_t a : cfg_.shared_axes.value_or(std::vector<int64_t>{})) dims[size_t(a - 1)] = 1;
  const Shape shape(dims);
  alpha_.value = Tensor(shape, dtype());
  alpha_.grad = Tensor(shape, dtype());
  alpha_.regularizer = make_regularizer(cfg_.alpha_regularizer, where() + " alpha_regularizer");
  alpha_.constraint = make_constraint(cfg_.alpha_constraint, where() + " alpha_constraint");
  initialize(cfg_.alpha_initializer, alpha_.value, rng, where() + " alpha_initializer");
  if (alpha_.constraint) alpha_.constraint->check(shape, where() + " alpha_constraint");
  const Shape sample(std::vector<int64_t>(in.dims().begin() + 1, in.dims().end()));
  alpha_index_.assign(size_t(sample.numel()), 0);
  for (int64_t j = 0; j < sample.numel(); ++j) {
    int64_t rest = j, index = 0, stride = 1;
    for (size_t k = dims.size(); k-- > 0;) {
      index += dims[k] == 1 ? 0 : rest % sample.dim(k) * stride;
      rest /= sample.dim(k);
      stride *= dims[k];
    }
    alpha_index_[size_t(j)] = index;
  }
}

Tensor PReLU::forward(const Tensor& x, Mode mode) {
  check_input(x);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  const kernels::PReluProblem p{x.numel(), int64_t(alpha_index_.size()), alpha_index_.data(), dtype()};
  visit_float(dtype(), [&](auto t) {
    using T = decltype(t);
    kernels::prelu_forward_ref(p, x.data<T>(), alpha_.value.data<T>(), y.data<T>());
  });
  if (mode == Mode::Training) x_ = x;
  return y;
}

Tensor PReLU::backward(const Tensor& dy) {
  if (!x_.defined()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, x_.shape());
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
  const kernels::PReluProblem p{dy.numel(), int64_t(alpha_index_.size()), alpha_index_.data(), dtype()};
  visit_float(dtype(), [&](auto t) {
    using T = decltype(t);
    kernels::prelu_backward_ref(p, x_.data<T>(), alpha_.value.data<T>(), dy.data<T>(), dx.data<T>(),
                                alpha_.grad.data<T>());
  });
  return dx;
}

}  // namespace locnet
