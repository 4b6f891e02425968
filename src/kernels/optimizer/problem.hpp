// One optimizer step over n parameters w (in place) from their gradient g and the optimizer's slots, element
// type `dtype` (f32 or f64). The per-step scalars arrive in double, already combined from the learning rate and
// the hyperparameters, and each kernel rounds them to the element type once. Formulas above each reference in
// src/kernels/optimizer/ref.cpp (Keras's forms: include/locnet/train/optimizers.hpp).
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "locnet/core/dtype.hpp"

namespace locnet::kernels {

struct SgdProblem {
  DType dtype;
  int64_t n;
  double lr, momentum;
  bool nesterov;  // slots: momentum (only when momentum > 0)
};

struct AdamProblem {
  DType dtype;
  int64_t n;
  bool decayed;                      // AdamW with weight_decay > 0
  double decay, c1, c2, alpha, eps;  // lr weight_decay, 1 - beta_1, 1 - beta_2, bias-corrected lr, epsilon
};                                   // slots: momentum, velocity

struct RmspropProblem {
  DType dtype;
  int64_t n;
  double lr, rho, momentum, eps;  // slots: velocity, momentum (only when momentum > 0)
};

struct AdagradProblem {
  DType dtype;
  int64_t n;
  double lr, eps;  // slots: accumulator
};

template <class Problem>
struct OptimizerKernel {
  const char* name;
  bool (*applicable)(const Problem&, std::string* why);
  void (*update)(const Problem&, void* w, const void* g, void* const* slots);
};
using SgdKernel = OptimizerKernel<SgdProblem>;
using AdamKernel = OptimizerKernel<AdamProblem>;
using RmspropKernel = OptimizerKernel<RmspropProblem>;
using AdagradKernel = OptimizerKernel<AdagradProblem>;

// Most specialised first, "ref" last.
std::span<const SgdKernel> sgd_kernels();          // "ref"
std::span<const AdamKernel> adam_kernels();        // "hwy" (f32), "ref"
std::span<const RmspropKernel> rmsprop_kernels();  // "ref"
std::span<const AdagradKernel> adagrad_kernels();  // "ref"

}  // namespace locnet::kernels
