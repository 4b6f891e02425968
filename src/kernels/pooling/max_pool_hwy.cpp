// Max pooling forward for f32 channels_last when every window lies inside the input (no padding taps): Highway
// SIMD across channels, one vector of channels per step. The same rule as the reference in src/kernels/pooling/ref.cpp: the
// first tap in (dy, dx) order starts the window; a later tap replaces it when it is greater, or when it is NaN
// and the kept value is not (NaN propagates, the first NaN wins). The argmax index (within the sample) is kept
// as int32 in the vector loop and widened on the store. Channels past the last whole vector take the scalar
// path of the same rule.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/pooling/max_pool_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <algorithm>
#include <cmath>
#include <limits>

#include "hwy/highway.h"
#include "kernels/pooling/problem.hpp"
#include "locnet/core/parallel.hpp"

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void MaxPoolF32(const PoolProblem& p, const float* x, float* y, int64_t* argmax) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  constexpr int64_t L = int64_t(hn::MaxLanes(hn::ScalableTag<float>()));
  const int64_t C = p.c, in = p.h * p.w * C, out = p.oh * p.ow * C, cv = C / L * L;
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, out));
  parallel_for(0, p.n, grain, [&](int64_t lo, int64_t hi) {
    HWY_ALIGN int32_t idx[L];
    for (int64_t s = lo; s < hi; ++s) {
      const float* xs = x + s * in;
      for (int64_t oy = 0; oy < p.oh; ++oy)
        for (int64_t ox = 0; ox < p.ow; ++ox) {
          const int64_t o = s * out + (oy * p.ow + ox) * C, first = ((oy * p.sh) * p.w + ox * p.sw) * C;
          for (int64_t c = 0; c < cv; c += L) {
            auto best = hn::LoadU(df, xs + first + c);
            auto arg = hn::Add(hn::Iota(di, 0), hn::Set(di, int32_t(first + c)));
            for (int64_t dy = 0; dy < p.kh; ++dy)
              for (int64_t dx = dy == 0 ? 1 : 0; dx < p.kw; ++dx) {
                const int64_t i = first + (dy * p.w + dx) * C + c;
                const auto v = hn::LoadU(df, xs + i);
                const auto take = hn::Or(hn::Gt(v, best), hn::AndNot(hn::IsNaN(best), hn::IsNaN(v)));
                best = hn::IfThenElse(take, v, best);
                arg = hn::IfThenElse(hn::RebindMask(di, take), hn::Add(hn::Iota(di, 0), hn::Set(di, int32_t(i))), arg);
              }
            hn::StoreU(best, df, y + o + c);
            hn::Store(arg, di, idx);
            for (int64_t l = 0; l < L; ++l) argmax[o + c + l] = idx[l];
          }
          for (int64_t c = cv; c < C; ++c) {
            float best = -std::numeric_limits<float>::infinity();
            int64_t arg = -1;
            for (int64_t dy = 0; dy < p.kh; ++dy)
              for (int64_t dx = 0; dx < p.kw; ++dx) {
                const int64_t i = first + (dy * p.w + dx) * C + c;
                const float v = xs[i];
                if (v > best || arg < 0 || (std::isnan(v) && !std::isnan(best))) best = v, arg = i;
              }
            y[o + c] = best;
            argmax[o + c] = arg;
          }
        }
    }
  });
}

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace locnet::kernels {
namespace {
HWY_EXPORT(MaxPoolF32);

bool applicable(const PoolProblem& p, std::string* why) {
  if (p.dtype != DType::f32) return *why = "dtype must be f32", false;
  if (!p.channels_last) return *why = "data_format must be channels_last", false;
  if (p.pad_top != 0 || p.pad_left != 0 || p.kh < 1 || p.kw < 1 || (p.oh - 1) * p.sh + p.kh > p.h ||
      (p.ow - 1) * p.sw + p.kw > p.w)
    return *why = "a window reaches outside the input (padding)", false;
  if (p.h * p.w * p.c >= (int64_t(1) << 31) - 64) return *why = "a sample exceeds the int32 argmax", false;
  return true;
}

void forward(const PoolProblem& p, const void* x, void* y, int64_t* argmax) {
  HWY_DYNAMIC_DISPATCH(MaxPoolF32)(p, static_cast<const float*>(x), static_cast<float*>(y), argmax);
}
}  // namespace

extern const MaxPoolKernel kMaxPoolHwy{"max_pool_hwy", applicable, forward, max_pool_backward};
}  // namespace locnet::kernels
#endif
