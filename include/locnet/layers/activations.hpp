// Activation functions by Keras name, and the Activation and Flatten layers.
//   linear    y = x
//   relu      y = x < 0 ? 0 : x             (gradient 0 at x = 0, as TensorFlow; NaN stays NaN, and at a NaN
//                                            input the gradient passes dy through, as PyTorch)
//   leaky_relu y = x > 0 ? x : 0.2 x         (Keras/TensorFlow negative_slope = 0.2)
//   elu       y = x > 0 ? x : exp(x) - 1     (alpha = 1)
//   sigmoid   y = 1 / (1 + exp(-x))
//   tanh      y = tanh(x)
//   softmax   y = exp(x - max) / sum exp(x - max) over the last axis (the Activation layer: rank >= 2, as Keras)
//   softplus  y = log(1 + exp(x)), computed as max(x, 0) + log1p(exp(-|x|))
//   gelu      y = x/2 (1 + erf(x / sqrt 2))  (exact form, Keras approximate=False)
//   selu      y = scale * (x > 0 ? x : alpha (exp(x) - 1)),  alpha = 1.6732632423543772848170429916717,
//             scale = 1.0507009873554804934193349852946 (Keras, Klambauer et al. 2017)
//   swish     y = x sigmoid(x)               (Keras swish, also called silu)
//   hard_sigmoid y = clip(0.2 x + 0.5, 0, 1) (Keras 2 / tf.keras; Keras 3 uses relu6(x + 3) / 6 instead)
//   exponential y = exp(x)
// Every function maps NaN to NaN (TensorFlow and PyTorch do too); at a NaN input, a NaN output gradient gives a
// NaN input gradient.
// An unknown name is a ConfigError listing the known ones.
//
// The activation layers (Keras 2 names and arguments, docs/activations.md); Keras's axis counts the batch axis as 0:
//   Softmax(axis=-1)        softmax along any non-batch axis (negative counts from the end)
//   ReLU(max_value=None, negative_slope=0.0, threshold=0.0)
//                           y = x > threshold ? min(x, max_value) : negative_slope (x - threshold)  (Keras's
//                           backend.relu; its docstring's "threshold <= x" differs only at x = threshold > 0)
//   LeakyReLU(alpha=0.3, negative_slope=None)   y = x > 0 ? x : alpha x;  negative_slope is Keras 3's name for
//                           alpha (both default 0.3 in the layer; Keras 3's leaky_relu function defaults to 0.2)
//   PReLU(alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None)
//                           y = x > 0 ? x : alpha x, alpha of shape input-without-batch with 1 on shared_axes
//   ELU(alpha=1.0)          y = x > 0 ? x : alpha (exp(x) - 1)
//   ThresholdedReLU(theta=1.0)   y = x > theta ? x : 0
// Errors: ConfigError naming the argument (negative max_value, negative_slope, threshold, alpha of LeakyReLU,
// theta; non-finite values; Softmax axis 0; shared_axes < 1); ShapeError for an axis the input lacks.
#pragma once
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "locnet/layers/layer.hpp"
#include "locnet/layers/reshape.hpp"  // Flatten, which used to live here

namespace locnet {
namespace kernels {
struct ActivationKernel;
}  // namespace kernels

// In the order of the kernels' ids (src/kernels/activation/problem.hpp), to which ActivationFn maps by index.
enum class ActivationKind {
  linear, relu, leaky_relu, elu, sigmoid, tanh, softmax, softplus, gelu, selu, swish, hard_sigmoid, exponential
};

struct ActivationFn {
  ActivationKind kind = ActivationKind::linear;
  static ActivationFn by_name(std::string_view name, std::string_view where = "activation");
  std::string_view name() const;
  bool is_linear() const { return kind == ActivationKind::linear; }
  // y = f(z), elementwise except softmax, which runs over rows of length `last` (the last axis).
  void forward(const Tensor& z, Tensor& y) const;
  // dz = dy * f'(z), given z and y = f(z).
  void backward(const Tensor& z, const Tensor& y, const Tensor& dy, Tensor& dz) const;
  // The kernel's name for `dtype` (f32 or f64): the registry's choice, made at the first call of forward,
  // backward or this (layers call it from build()), once per dtype, and kept by copies.
  std::string_view kernel(DType dtype) const;
  mutable const kernels::ActivationKernel* chosen_[2] = {};  // f32, f64; set atomically (inference may be threaded)
};
std::vector<std::string> activation_names();

// An activation kernel with the parameters of Keras's activation layers: relu with negative_slope, max_value and
// threshold, elu with alpha, softmax along `axis`; the others as ActivationFn.
struct ActivationOp {
  ActivationKind kind = ActivationKind::linear;
  double alpha = 1.0;
  double negative_slope = 0.0, max_value = std::numeric_limits<double>::infinity(), threshold = 0.0;
  int64_t axis = -1;
};

// What the parameter-free activation layers share: y = op(x), the kernel chosen at build (the activation op's).
class ActivationLayer : public Layer {
 public:
  ActivationLayer(ActivationOp op, std::string name) : Layer(std::move(name)), op_(op) {}
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::string kernel() const override;

 protected:
  void do_build(const Shape& in, Rng& rng) override;

 private:
  int64_t axis(const Shape& in) const;  // softmax's axis as a non-negative index; ShapeError if the input lacks it
  ActivationOp op_;
  const kernels::ActivationKernel* impl_ = nullptr;
  Tensor x_, y_;
};

struct ActivationConfig {
  static constexpr const char* kType = "Activation";
  static constexpr const char* kDoc = "Applies an activation function elementwise.";
  std::string activation = "linear";
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.activation, Field{"activation", "Name of the activation function.", Field::required});
  }
  ActivationOp validate() const;
};

class Activation : public LayerOf<Activation, ActivationConfig, ActivationLayer> {
 public:
  using LayerOf::LayerOf;
  explicit Activation(std::string activation, std::string name = {})
      : LayerOf(Config{std::move(activation)}, std::move(name)) {}
};

struct SoftmaxConfig {
  static constexpr const char* kType = "Softmax";
  static constexpr const char* kDoc = "Softmax along one axis (Keras).";
  int64_t axis = -1;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.axis, Field{"axis", "Axis normalized over; the batch axis is 0, negative counts from the end."});
  }
  ActivationOp validate() const;
};

struct ReLUConfig {
  static constexpr const char* kType = "ReLU";
  static constexpr const char* kDoc = "Rectified linear unit with Keras's max_value, negative_slope and threshold.";
  std::optional<double> max_value;
  double negative_slope = 0.0;
  double threshold = 0.0;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.max_value, Field{"max_value", "Upper bound of the output (>= 0); None for none."});
    v(s.negative_slope, Field{"negative_slope", "Slope below the threshold (>= 0)."});
    v(s.threshold, Field{"threshold", "Inputs above it pass (>= 0); below it the slope applies."});
  }
  ActivationOp validate() const;
};

struct LeakyReLUConfig {
  static constexpr const char* kType = "LeakyReLU";
  static constexpr const char* kDoc = "Leaky ReLU: x for x > 0, alpha * x otherwise (Keras).";
  double alpha = 0.3;
  std::optional<double> negative_slope;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.alpha, Field{"alpha", "Slope for x <= 0 (>= 0), Keras 2's name."});
    v(s.negative_slope, Field{"negative_slope", "Keras 3's name for alpha; when given, it is the slope."});
  }
  ActivationOp validate() const;
};

struct ELUConfig {
  static constexpr const char* kType = "ELU";
  static constexpr const char* kDoc = "Exponential linear unit: x for x > 0, alpha * (exp(x) - 1) otherwise.";
  double alpha = 1.0;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.alpha, Field{"alpha", "Scale of the negative part."});
  }
  ActivationOp validate() const;
};

struct ThresholdedReLUConfig {
  static constexpr const char* kType = "ThresholdedReLU";
  static constexpr const char* kDoc = "x for x > theta, 0 otherwise (Keras 2).";
  double theta = 1.0;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.theta, Field{"theta", "Threshold (>= 0)."});
  }
  ActivationOp validate() const;
};

class Softmax : public LayerOf<Softmax, SoftmaxConfig, ActivationLayer> {
 public:
  using LayerOf::LayerOf;
};
class ReLU : public LayerOf<ReLU, ReLUConfig, ActivationLayer> {
 public:
  using LayerOf::LayerOf;
};
class LeakyReLU : public LayerOf<LeakyReLU, LeakyReLUConfig, ActivationLayer> {
 public:
  using LayerOf::LayerOf;
};
class ELU : public LayerOf<ELU, ELUConfig, ActivationLayer> {
 public:
  using LayerOf::LayerOf;
};
class ThresholdedReLU : public LayerOf<ThresholdedReLU, ThresholdedReLUConfig, ActivationLayer> {
 public:
  using LayerOf::LayerOf;
};

// PReLU: the parameter alpha has the input's shape without the batch axis, with size 1 on each of shared_axes
// (Keras's axes, 1 = the first after the batch). PyTorch's PReLU(num_parameters=1) is every axis shared; its
// num_parameters=C on (N, C, H, W) is shared_axes=(2, 3), alpha (C, 1, 1) where PyTorch's weight is (C,).
struct PReLUConfig {
  static constexpr const char* kType = "PReLU";
  static constexpr const char* kDoc = "Parametric ReLU: x for x > 0, alpha * x otherwise, alpha learned (Keras).";
  Value alpha_initializer = "zeros";
  Value alpha_regularizer, alpha_constraint;
  std::optional<std::vector<int64_t>> shared_axes;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.alpha_initializer, Field{"alpha_initializer", "Initializer of alpha."});
    v(s.alpha_regularizer, Field{"alpha_regularizer", "None or a regularizer such as L2(0.01), on alpha."});
    v(s.alpha_constraint, Field{"alpha_constraint", "None or a constraint such as NonNeg(), on alpha."});
    v(s.shared_axes, Field{"shared_axes", "None, an axis or a tuple of axes (>= 1) along which alpha is shared."});
  }
  void validate() const;
};

class PReLU : public LayerOf<PReLU, PReLUConfig> {
 public:
  using LayerOf::LayerOf;
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::vector<Param*> params() override { return {&alpha_}; }

 protected:
  void do_build(const Shape& in, Rng& rng) override;

 private:
  Param alpha_{"alpha", {}, {}, true, nullptr, nullptr, {"weight"}};  // "weight": PyTorch's name
  std::vector<int64_t> alpha_index_;  // per element of a sample, its alpha
  Tensor x_;
};

}  // namespace locnet
