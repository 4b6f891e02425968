// Adam's element update with Highway (see adam.hpp): sqrt and division vectorize here, which the scalar loop
// cannot without -fno-math-errno.
// No fused multiply-add anywhere in this file: the compiler would otherwise contract Mul + Add (vector or
// scalar) on targets that have FMA, and the result would no longer be the scalar loop's.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/optimizer/adam_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <cmath>

#include "hwy/highway.h"
#include "kernels/optimizer/adam.hpp"

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void AdamF32(float* HWY_RESTRICT w, const float* HWY_RESTRICT g, float* HWY_RESTRICT m, float* HWY_RESTRICT v,
             int64_t n, bool decayed, float decay, float c1, float c2, float alpha, float eps) {
  const hn::ScalableTag<float> d;
  const int64_t L = int64_t(hn::Lanes(d));
  const auto vdecay = hn::Set(d, decay), vc1 = hn::Set(d, c1), vc2 = hn::Set(d, c2), valpha = hn::Set(d, alpha),
             veps = hn::Set(d, eps);
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    auto wi = hn::LoadU(d, w + i);
    if (decayed) wi = hn::Sub(wi, hn::Mul(wi, vdecay));
    const auto gi = hn::LoadU(d, g + i), m0 = hn::LoadU(d, m + i), v0 = hn::LoadU(d, v + i);
    const auto mi = hn::Add(m0, hn::Mul(hn::Sub(gi, m0), vc1));
    const auto vi = hn::Add(v0, hn::Mul(hn::Sub(hn::Mul(gi, gi), v0), vc2));
    hn::StoreU(mi, d, m + i);
    hn::StoreU(vi, d, v + i);
    hn::StoreU(hn::Sub(wi, hn::Div(hn::Mul(mi, valpha), hn::Add(hn::Sqrt(vi), veps))), d, w + i);
  }
  for (; i < n; ++i) {
    if (decayed) w[i] -= w[i] * decay;
    const float gi = g[i], mi = m[i] + (gi - m[i]) * c1, vi = v[i] + (gi * gi - v[i]) * c2;
    m[i] = mi;
    v[i] = vi;
    w[i] -= mi * alpha / (std::sqrt(vi) + eps);
  }
}

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace locnet::kernels {
HWY_EXPORT(AdamF32);

void adam_update_f32(float* w, const float* g, float* m, float* v, int64_t n, bool decayed, float decay, float c1, float c2,
                     float alpha, float eps) {
  HWY_DYNAMIC_DISPATCH(AdamF32)(w, g, m, v, n, decayed, decay, c1, c2, alpha, eps);
}

void adam_update_f32_ref(float* w, const float* g, float* m, float* v, int64_t n, bool decayed, float decay, float c1, float c2,
                         float alpha, float eps) {
  for (int64_t i = 0; i < n; ++i) {
    if (decayed) w[i] -= w[i] * decay;
    m[i] += (g[i] - m[i]) * c1;
    v[i] += (g[i] * g[i] - v[i]) * c2;
    w[i] -= m[i] * alpha / (std::sqrt(v[i]) + eps);
  }
}
}  // namespace locnet::kernels
#endif
