#pragma once
#include <cstdint>

#include "locnet/layers/activations.hpp"

namespace locnet::kernels {

// n elements in rows of length `last` (softmax normalises each row; the others are elementwise).
struct ActivationProblem {
  ActivationKind kind;
  int64_t n;
  int64_t last;
};

template <class T>
void activation_forward_ref(const ActivationProblem& p, const T* z, T* y);
template <class T>
void activation_backward_ref(const ActivationProblem& p, const T* z, const T* y, const T* dy, T* dz);

}  // namespace locnet::kernels
