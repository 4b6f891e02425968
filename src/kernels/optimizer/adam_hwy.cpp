// Adam's update for f32 with Highway: sqrt and division vectorize here, which the reference's scalar loop cannot
// without -fno-math-errno. The same operations in the same order as the reference (src/kernels/optimizer/ref.cpp)
// and no fused multiply-add, so the result is the reference's, bit for bit. The tail (n mod lanes elements) goes
// through the same vector step on a zero-padded copy, so there is no second scalar copy of the formula.
// No fused multiply-add anywhere in this file: the compiler would otherwise contract Mul + Add (vector or
// scalar) on targets that have FMA.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/optimizer/adam_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <algorithm>

#include "hwy/highway.h"
#include "kernels/optimizer/problem.hpp"

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void AdamF32(const AdamProblem& p, float* HWY_RESTRICT w, const float* HWY_RESTRICT g, float* HWY_RESTRICT m,
             float* HWY_RESTRICT v) {
  const hn::ScalableTag<float> d;
  const int64_t L = int64_t(hn::Lanes(d));
  const auto decay = hn::Set(d, float(p.decay)), c1 = hn::Set(d, float(p.c1)), c2 = hn::Set(d, float(p.c2)),
             alpha = hn::Set(d, float(p.alpha)), eps = hn::Set(d, float(p.eps));
  // The update of L elements at w, g, m, v (ref.cpp's loop body).
  const auto step = [&](float* wp, const float* gp, float* mp, float* vp) {
    auto wi = hn::LoadU(d, wp);
    if (p.decayed) wi = hn::Sub(wi, hn::Mul(wi, decay));
    const auto gi = hn::LoadU(d, gp), m0 = hn::LoadU(d, mp), v0 = hn::LoadU(d, vp);
    const auto mi = hn::Add(m0, hn::Mul(hn::Sub(gi, m0), c1));
    const auto vi = hn::Add(v0, hn::Mul(hn::Sub(hn::Mul(gi, gi), v0), c2));
    hn::StoreU(mi, d, mp);
    hn::StoreU(vi, d, vp);
    hn::StoreU(hn::Sub(wi, hn::Div(hn::Mul(mi, alpha), hn::Add(hn::Sqrt(vi), eps))), d, wp);
  };
  int64_t i = 0;
  for (; i + L <= p.n; i += L) step(w + i, g + i, m + i, v + i);
  if (i == p.n) return;
  const size_t rest = size_t(p.n - i);
  constexpr size_t kMaxLanes = hn::MaxLanes(hn::ScalableTag<float>());
  HWY_ALIGN float tail[4][kMaxLanes] = {};
  std::copy_n(w + i, rest, tail[0]);
  std::copy_n(g + i, rest, tail[1]);
  std::copy_n(m + i, rest, tail[2]);
  std::copy_n(v + i, rest, tail[3]);
  step(tail[0], tail[1], tail[2], tail[3]);
  std::copy_n(tail[0], rest, w + i);
  std::copy_n(tail[2], rest, m + i);
  std::copy_n(tail[3], rest, v + i);
}

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace locnet::kernels {
namespace {
HWY_EXPORT(AdamF32);

bool applicable(const AdamProblem& p, std::string* why) {
  if (p.dtype == DType::f32) return true;
  *why = "dtype must be f32";
  return false;
}

void update(const AdamProblem& p, void* w, const void* g, void* const* s) {
  HWY_DYNAMIC_DISPATCH(AdamF32)(p, static_cast<float*>(w), static_cast<const float*>(g), static_cast<float*>(s[0]),
                                static_cast<float*>(s[1]));
}
}  // namespace

extern const AdamKernel kAdamHwy{"hwy", applicable, update};

}  // namespace locnet::kernels
#endif
