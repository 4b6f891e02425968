#pragma once
#include <array>
#include <cstdint>
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
enum class ActivationId : uint8_t {
  linear, relu, leaky_relu, elu, sigmoid, tanh, softmax, softplus, gelu, selu, swish, hard_sigmoid, exponential
};

// n elements in rows of length `last` (softmax normalises each row; the others are elementwise), element type
// `dtype` (f32 or f64).
struct ActivationProblem {
  ActivationId kind;
  int64_t n;
  int64_t last;
  DType dtype = DType::f32;
};

struct ActivationKernel {
  const char* name;
  bool (*applicable)(const ActivationProblem&, std::string* why);
  void (*forward)(const ActivationProblem&, const void* z, void* y);                    // y = f(z)
  void (*backward)(const ActivationProblem&, const void* z, const void* y, const void* dy, void* dz);  // dz = dy f'(z)
};

std::span<const ActivationKernel> activation_kernels();  // "relu" (relu only), "ref"

// The reference (src/kernels/activation/ref.cpp), templated so that tests can run it in double.
template <class T>
void activation_forward_ref(const ActivationProblem& p, const T* z, T* y);
template <class T>
void activation_backward_ref(const ActivationProblem& p, const T* z, const T* y, const T* dy, T* dz);

}  // namespace locnet::kernels
