// Optimized Batch Normalization: Highway SIMD with runtime dispatch, OpenMP through parallel_for. Formulas as in
// src/kernels/batch_norm/ref.cpp; arithmetic in the storage type (f32 or f64) with double accumulators.
// This file holds the dispatch; the kernels are in src/kernels/batch_norm/channels_first_hwy.cpp (planes of 2 KB or
// more), src/kernels/batch_norm/small_planes_hwy.cpp (channels_first, smaller planes) and
// src/kernels/batch_norm/channels_last_hwy.cpp, their shared helpers in src/kernels/batch_norm/batch_norm-inl.h, and
// the design and its measurements in src/kernels/batch_norm/README.md.
// Stability (mean 1e4, std 1e-2 keeps f32 accuracy): the statistics are one pass of sums of d = x - shift and d^2,
// shift = the mean of the first plane (channels_first) or of the first 128 pixels (channels_last), so d is small
// and the variance s2/m - (s1/m)^2 cancels little; sums in the storage type are flushed to double every kChunk
// elements per lane set (channels_first) or 128 pixels (channels_last; the backward's gradient sums every
// max(block, 128) pixels). Normalization computes (x - mf) * a + b' with mf the f32-rounded mean (x - mf exact by
// Sterbenz), never x * a + b whose two large terms cancel.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/batch_norm/batch_norm_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include "hwy/highway.h"
#include "kernels/batch_norm/batch_norm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {
// f(Entries<Layout>()) for the layout of p.
template <class F>
void ForLayout(const BatchNormProblem& p, F&& f) {
  if (Last(p)) return f(Entries<ChannelsLast>());
  if (small_planes(p)) return f(Entries<SmallPlanes>());
  f(Entries<ChannelsFirst>());
}

void BatchNormForwardTraining(const BatchNormProblem& p, const void* x, const double* gamma, const double* beta,
                              double eps, void* y, double* mean, double* var) {
  ForLayout(p, [&](auto e) { e.forward_training(p, x, gamma, beta, eps, y, mean, var); });
}
void BatchNormForwardInference(const BatchNormProblem& p, const void* x, const double* mean, const double* invstd,
                               const double* gamma, const double* beta, void* y) {
  ForLayout(p, [&](auto e) { e.forward_inference(p, x, mean, invstd, gamma, beta, y); });
}
void BatchNormBackward(const BatchNormProblem& p, const void* x, const void* dy, const double* mean,
                       const double* invstd, const double* gamma, const double* beta, bool batch_stats, void* dx,
                       double* dgamma, double* dbeta) {
  ForLayout(p, [&](auto e) { e.backward(p, x, dy, mean, invstd, gamma, beta, batch_stats, dx, dgamma, dbeta); });
}

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace locnet::kernels {
HWY_EXPORT(BatchNormForwardTraining);
HWY_EXPORT(BatchNormForwardInference);
HWY_EXPORT(BatchNormBackward);

namespace {
void forward_training(const BatchNormProblem& p, const void* x, const double* gamma, const double* beta, double eps,
                      void* y, double* mean, double* var) {
  HWY_DYNAMIC_DISPATCH(BatchNormForwardTraining)(p, x, gamma, beta, eps, y, mean, var);
}
void forward_inference(const BatchNormProblem& p, const void* x, const double* mean, const double* invstd,
                       const double* gamma, const double* beta, void* y) {
  HWY_DYNAMIC_DISPATCH(BatchNormForwardInference)(p, x, mean, invstd, gamma, beta, y);
}
void backward(const BatchNormProblem& p, const void* x, const void* dy, const double* mean, const double* invstd,
              const double* gamma, const double* beta, bool batch_stats, void* dx, double* dgamma, double* dbeta) {
  HWY_DYNAMIC_DISPATCH(BatchNormBackward)(p, x, dy, mean, invstd, gamma, beta, batch_stats, dx, dgamma, dbeta);
}
}  // namespace

extern const BatchNormKernel kBatchNormHwy{"hwy", f32_or_f64, forward_training, forward_inference, backward};
}  // namespace locnet::kernels
#endif
