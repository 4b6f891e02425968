// Activation functions by Keras name, and the Activation and Flatten layers.
//   linear    y = x
//   relu      y = x < 0 ? 0 : x             (gradient 0 at x = 0, as TensorFlow; NaN stays NaN, and at a NaN
//                                            input the gradient passes dy through, as PyTorch)
//   leaky_relu y = x > 0 ? x : 0.2 x         (Keras/TensorFlow negative_slope = 0.2)
//   elu       y = x > 0 ? x : exp(x) - 1     (alpha = 1)
//   sigmoid   y = 1 / (1 + exp(-x))
//   tanh      y = tanh(x)
//   softmax   y = exp(x - max) / sum exp(x - max) over the last axis
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
#pragma once
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

struct ActivationConfig {
  static constexpr const char* kType = "Activation";
  static constexpr const char* kDoc = "Applies an activation function elementwise.";
  std::string activation = "linear";
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.activation, Field{"activation", "Name of the activation function.", Field::required});
  }
  void validate() const;
};

class Activation : public LayerOf<Activation, ActivationConfig> {
 public:
  explicit Activation(Config cfg, std::string name = {});
  explicit Activation(std::string activation, std::string name = {});
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::string kernel() const override { return built() ? std::string(fn_.kernel(dtype())) : "none"; }

 protected:
  void do_build(const Shape&, Rng&) override;

 private:
  ActivationFn fn_;
  Tensor z_, y_;
};

}  // namespace locnet
