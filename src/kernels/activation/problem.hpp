#pragma once
#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>

#include "locnet/core/dtype.hpp"

namespace locnet::kernels {

// The activation functions, by Keras name; ActivationId(i) is kActivationNames[i]. The layers' public
// ActivationKind (include/locnet/layers/activations.hpp) lists them in the same order and maps by index.
inline constexpr std::array<std::string_view, 13> kActivationNames = {
    "linear", "relu",  "leaky_relu", "elu",  "sigmoid", "tanh",        "softmax",
    "softplus", "gelu", "selu",      "swish", "hard_sigmoid", "exponential"};
// relu_keras has no name of its own: it is Keras's relu with parameters (the ReLU, LeakyReLU and ThresholdedReLU
// layers), y = z > threshold ? min(z, max_value) : negative_slope (z - threshold).
enum class ActivationId : uint8_t {
  linear, relu, leaky_relu, elu, sigmoid, tanh, softmax, softplus, gelu, selu, swish, hard_sigmoid, exponential,
  relu_keras
};

// n elements in rows of length `last` (softmax normalises each row; the others are elementwise), element type
// `dtype` (f32 or f64). A row's elements lie `inner` apart (softmax along an axis that is not the last: inner is
// the product of the sizes after it). The parameters default to the named activations' constants.
struct ActivationProblem {
  ActivationId kind;
  int64_t n;
  int64_t last;
  DType dtype = DType::f32;
  int64_t inner = 1;
  double alpha = 1.0;  // elu: y = alpha (exp(z) - 1) for z <= 0
  double negative_slope = 0.0, max_value = std::numeric_limits<double>::infinity(), threshold = 0.0;  // relu_keras
};

struct ActivationKernel {
  const char* name;
  bool (*applicable)(const ActivationProblem&, std::string* why);
  void (*forward)(const ActivationProblem&, const void* z, void* y);                    // y = f(z)
  void (*backward)(const ActivationProblem&, const void* z, const void* y, const void* dy, void* dz);  // dz = dy f'(z)
};

std::span<const ActivationKernel> activation_kernels();  // "relu" (relu only), "ref"

// PReLU (Keras): y = z > 0 ? z : alpha[a] z, where a = alpha_index[i % sample] names the alpha of element i of a
// sample (alpha is shared along Keras's shared_axes). n elements, f32 or f64.
struct PReluProblem {
  int64_t n;
  int64_t sample;
  const int64_t* alpha_index;
  DType dtype = DType::f32;
};
template <class T>
void prelu_forward_ref(const PReluProblem& p, const T* z, const T* alpha, T* y);
// dz = z > 0 ? dy : alpha dy;  dalpha[a] += sum of dy min(z, 0) over the elements that share alpha[a].
template <class T>
void prelu_backward_ref(const PReluProblem& p, const T* z, const T* alpha, const T* dy, T* dz, T* dalpha);

// The reference (src/kernels/activation/ref.cpp), templated so that tests can run it in double.
template <class T>
void activation_forward_ref(const ActivationProblem& p, const T* z, T* y);
template <class T>
void activation_backward_ref(const ActivationProblem& p, const T* z, const T* y, const T* dy, T* dz);

}  // namespace locnet::kernels
