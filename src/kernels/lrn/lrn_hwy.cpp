// Optimized across-channel LRN: Highway SIMD with runtime dispatch (one binary, best instruction set of the
// machine), OpenMP over pixel blocks. Formulas as in src/kernels/lrn/ref.cpp; storage f32/f64/bf16/f16, arithmetic
// in f32 (f64 for f64). Forward needs no workspace; backward recomputes N from x in one pass over memory.
// This file holds the dispatch; the kernels are in src/kernels/lrn/channels_first_hwy.cpp and
// src/kernels/lrn/channels_last_hwy.cpp, their shared helpers in src/kernels/lrn/lrn-inl.h, and the design and
// its measurements in src/kernels/lrn/README.md.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/lrn/lrn_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <string>

#include "hwy/highway.h"
#include "kernels/lrn/lrn-inl.h"

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {
void LrnForward(const LrnProblem& p, const void* x, void* y) {
  p.channels_last ? Entries<ChannelsLast>::forward(p, x, y) : Entries<ChannelsFirst>::forward(p, x, y);
}
void LrnBackward(const LrnProblem& p, const void* x, const void* g, void* dx) {
  p.channels_last ? Entries<ChannelsLast>::backward(p, x, g, dx) : Entries<ChannelsFirst>::backward(p, x, g, dx);
}
}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace locnet::kernels {
HWY_EXPORT(LrnForward);
HWY_EXPORT(LrnBackward);

namespace {
bool applicable(const LrnProblem& p, std::string* why) {
  if (p.within) *why = "within-channel mode";
  return !p.within;
}
void forward(const LrnProblem& p, const void* x, void* y) { HWY_DYNAMIC_DISPATCH(LrnForward)(p, x, y); }
void backward(const LrnProblem& p, const void* x, const void* dy, void* dx) {
  HWY_DYNAMIC_DISPATCH(LrnBackward)(p, x, dy, dx);
}
}  // namespace

extern const LrnKernel kLrnHwy{"hwy", applicable, forward, backward};
}  // namespace locnet::kernels
#endif
