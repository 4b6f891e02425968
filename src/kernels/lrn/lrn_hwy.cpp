// Optimized across-channel LRN: Highway SIMD with runtime dispatch (one binary, best instruction set of the
// machine), OpenMP over pixel blocks. Formulas as in ref.cpp; storage f32/f64/bf16/f16, arithmetic in f32
// (f64 for f64). Forward needs no workspace; backward recomputes N from x in one pass over memory.
//   channels_first: vectors run across pixels; the window sum over channels is a running sum (add the channel
//     entering, subtract the one leaving: O(1) per element), re-anchored every kAnchor channels so rounding
//     drift stays bounded.
//   channels_last: vectors run across the contiguous channels of one pixel; the window sum adds n shifted
//     loads of the squares from an L1 buffer (n <= kMaxDirect), else a running sum in double per pixel.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/lrn/lrn_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <cmath>
#include <vector>

#include "hwy/aligned_allocator.h"
#include "hwy/cache_control.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "kernels/lrn/problem.hpp"
#include "locnet/core/parallel.hpp"

#ifndef LOCNET_LRN_HWY_COMMON
#define LOCNET_LRN_HWY_COMMON
namespace locnet::kernels::lrn_detail {
constexpr int64_t kAnchor = 32;      // channels between exact recomputations of the running sum
constexpr int64_t kMaxDirect = 32;   // channels_last: largest window summed by shifted loads
constexpr int64_t kPrefetchRows = 3; // channels_first: rows ahead of the entering one to prefetch
constexpr int64_t kBlockFwd = 1024;  // channels_first forward: pixels per block
constexpr int64_t kBlockBwd = 512;   // channels_first backward: pixels per block (scratch is ~2n rows)
enum PowKind { kPow0, kPowHalf, kPow34, kPow1, kPowGeneral };
inline PowKind pow_kind(double beta) {
  return beta == 0 ? kPow0 : beta == 0.5 ? kPowHalf : beta == 0.75 ? kPow34 : beta == 1 ? kPow1 : kPowGeneral;
}
}  // namespace locnet::kernels::lrn_detail
#endif

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using namespace lrn_detail;

// ---- storage <-> compute conversions -------------------------------------------------------------------------
template <class D>
HWY_INLINE hn::Vec<D> LoadT(D d, const hn::TFromD<D>* p) {
  return hn::LoadU(d, p);
}
template <class D>
HWY_INLINE hn::Vec<D> LoadT(D d, const hwy::bfloat16_t* p) {
  return hn::PromoteTo(d, hn::LoadU(hn::Rebind<hwy::bfloat16_t, D>(), p));
}
template <class D>
HWY_INLINE hn::Vec<D> LoadT(D d, const hwy::float16_t* p) {
  return hn::PromoteTo(d, hn::LoadU(hn::Rebind<hwy::float16_t, D>(), p));
}
template <class D>
HWY_INLINE void StoreT(hn::Vec<D> v, D d, hn::TFromD<D>* p) {
  hn::StoreU(v, d, p);
}
template <class D>
HWY_INLINE void StoreT(hn::Vec<D> v, D, hwy::bfloat16_t* p) {
  // Round to nearest even (as the reference does); NaN stays a quiet NaN.
  const hn::RebindToUnsigned<D> du;
  auto bits = hn::BitCast(du, v);
  auto rounded = hn::Add(bits, hn::Add(hn::Set(du, 0x7fffu), hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1u))));
  rounded = hn::IfThenElse(hn::RebindMask(du, hn::IsNaN(v)), hn::Or(bits, hn::Set(du, 0x400000u)), rounded);
  const hn::Rebind<uint16_t, D> d16;
  const hn::RebindToSigned<D> di;  // upper halves fit in int32; DemoteTo i32 -> u16 is what Highway offers
  hn::StoreU(hn::DemoteTo(d16, hn::BitCast(di, hn::ShiftRight<16>(rounded))), d16, reinterpret_cast<uint16_t*>(p));
}
template <class D>
HWY_INLINE void StoreT(hn::Vec<D> v, D d, hwy::float16_t* p) {
  (void)d;
  hn::StoreU(hn::DemoteTo(hn::Rebind<hwy::float16_t, D>(), v), hn::Rebind<hwy::float16_t, D>(), p);
}

template <class TC>
HWY_INLINE TC LoadS(const TC* p) {
  return *p;
}
HWY_INLINE float LoadS(const hwy::bfloat16_t* p) { return to_float(*reinterpret_cast<const bf16*>(p)); }
HWY_INLINE float LoadS(const hwy::float16_t* p) { return to_float(*reinterpret_cast<const f16*>(p)); }
template <class TC>
HWY_INLINE void StoreS(TC v, TC* p) {
  *p = v;
}
HWY_INLINE void StoreS(float v, hwy::bfloat16_t* p) { *reinterpret_cast<bf16*>(p) = to_bf16(v); }
HWY_INLINE void StoreS(float v, hwy::float16_t* p) { *reinterpret_cast<f16*>(p) = to_f16(v); }

// 1/sqrt(x) for f32 from the hardware estimate plus one Newton step (relative error ~1e-7, a few times cheaper
// than sqrt + div); exact sqrt + div for f64. The f32 form gives NaN for x = +Inf: NegPow maps that to 0.
template <class D, class V>
HWY_INLINE V Rsqrt(D d, V x) {
  if constexpr (sizeof(hn::TFromD<D>) == 4) {
    V y = hn::ApproximateReciprocalSqrt(x);
    V half_x = hn::Mul(hn::Set(d, 0.5f), x);
    return hn::Mul(y, hn::NegMulAdd(hn::Mul(half_x, y), y, hn::Set(d, 1.5f)));
  } else {
    return hn::Div(hn::Set(d, 1), hn::Sqrt(x));
  }
}

// N^-beta, specialised for the betas frameworks use.
template <int K, class D, class V>
HWY_INLINE V NegPow(D d, V n, V negbeta) {
  if constexpr (K == kPow0) {
    (void)n;
    (void)negbeta;
    return hn::Set(d, 1);
  } else if constexpr (K == kPowHalf) {
    return hn::IfThenZeroElse(hn::IsInf(n), Rsqrt(d, n));
  } else if constexpr (K == kPow34) {
    V r = Rsqrt(d, n);  // N^-1/2, and N^-3/4 = r^2 * r^-1/2
    return hn::IfThenZeroElse(hn::IsInf(n), hn::Mul(hn::Mul(r, r), Rsqrt(d, r)));
  } else if constexpr (K == kPow1) {
    return hn::Div(hn::Set(d, 1), n);
  } else {
    V r = hn::Exp(d, hn::Mul(negbeta, hn::Log(d, n)));
    return hn::IfThenElse(hn::IsNaN(n), n, hn::IfThenElse(hn::IsInf(n), hn::Zero(d), r));
  }
}
// N^-beta for finite N > 0 only (no Inf/NaN handling: callers check N and redo the few vectors that are not
// finite with NegPow). N^-3/4 in f32: estimates of N^-1/2 and (N^-1/2)^-1/2 give y0 = N^-3/4 (1 + e), then one
// Newton step on y^4 N^3 = 1 leaves 2.5 e^2 (< 1e-7 with AVX-512's 14-bit estimates).
template <int K, class D, class V>
HWY_INLINE V NegPowFinite(D d, V n, V negbeta) {
  if constexpr (K == kPowHalf) {
    return Rsqrt(d, n);
  } else if constexpr (K == kPow34 && sizeof(hn::TFromD<D>) == 4) {
    V e1 = hn::ApproximateReciprocalSqrt(n);
    V y0 = hn::Mul(hn::Mul(e1, e1), hn::ApproximateReciprocalSqrt(e1));
    V t = hn::Mul(y0, n);
    V h = hn::Mul(hn::Mul(t, t), hn::Mul(t, y0));
    return hn::Mul(y0, hn::NegMulAdd(hn::Set(d, 0.25f), h, hn::Set(d, 1.25f)));
  } else {
    return NegPow<K>(d, n, negbeta);
  }
}

template <int K, class TC>
HWY_INLINE TC NegPowS(TC n, TC negbeta) {
  if constexpr (K == kPow0) return TC(1);
  else if constexpr (K == kPowHalf) return TC(1) / std::sqrt(n);
  else if constexpr (K == kPow34) return TC(1) / std::sqrt(n * std::sqrt(n));
  else if constexpr (K == kPow1) return TC(1) / n;
  else return std::pow(n, negbeta);
}

template <class T>
using ComputeT = std::conditional_t<std::is_same_v<T, double>, double, float>;

// ---- channels_first --------------------------------------------------------------------------------------------
// A running sum that met Inf or NaN cannot subtract it again (Inf - Inf = NaN): such vectors are recomputed
// exactly, so non-finite values reach only the outputs whose window holds them, as IEEE arithmetic would.
template <class D, class T>
HWY_NOINLINE hn::Vec<D> ExactSquares(D d, const T* xb, int64_t S, int64_t c, int64_t B, int64_t A, int64_t C,
                                     int64_t i) {
  auto s = hn::Zero(d);
  for (int64_t j = std::max<int64_t>(0, c - B); j <= std::min(C - 1, c + A); ++j) {
    auto v = LoadT(d, xb + j * S + i);
    s = hn::MulAdd(v, v, s);
  }
  return s;
}
template <class TC, class T>
TC ExactSquaresS(const T* xb, int64_t S, int64_t c, int64_t B, int64_t A, int64_t C, int64_t i) {
  TC s = 0;
  for (int64_t j = std::max<int64_t>(0, c - B); j <= std::min(C - 1, c + A); ++j)
    s += TC(LoadS(xb + j * S + i)) * TC(LoadS(xb + j * S + i));
  return s;
}
// sum[:P] = the window sum of squares of channel c from scratch (bounds the running sum's drift).
template <class D, class T>
HWY_INLINE void AnchorSums(D d, int64_t P, const T* xb, int64_t S, int64_t c, int64_t B, int64_t A, int64_t C,
                           hn::TFromD<D>* sum) {
  const int64_t L = int64_t(hn::Lanes(d));
  std::fill(sum, sum + P, hn::TFromD<D>(0));
  for (int64_t j = std::max<int64_t>(0, c - B); j <= std::min(C - 1, c + A); ++j) {
    const T* r = xb + j * S;
    int64_t i = 0;
    for (; i + L <= P; i += L) {
      auto v = LoadT(d, r + i);
      hn::Store(hn::MulAdd(v, v, hn::Load(d, sum + i)), d, sum + i);
    }
    for (; i < P; ++i) sum[i] += LoadS(r + i) * LoadS(r + i);
  }
}

// One channel row of the channels_first forward: updates the running sum (sum[i] becomes the window sum of
// channel c at pixel i) and writes y. Returns false if some N was not finite; the row is then redone exactly.
template <int K, class D, class T>
HWY_INLINE bool ForwardRowCF(D d, int64_t P, const T* in, const T* out, const T* xr, const T* ahead,
                             hn::TFromD<D>* sum, T* yr, hn::Vec<D> va, hn::Vec<D> vk, hn::Vec<D> vnb) {
  using TC = hn::TFromD<D>;
  const int64_t L = int64_t(hn::Lanes(d));
  auto nonfinite = hn::Zero(d);  // stays 0 unless some N is Inf or NaN (N * 0 is NaN then)
  int64_t i = 0;
  for (; i + L <= P; i += L) {
    if (ahead) hwy::Prefetch(ahead + i);
    auto s = hn::Load(d, sum + i);
    if (in) {
      auto v = LoadT(d, in + i);
      s = hn::MulAdd(v, v, s);
    }
    if (out) {
      auto u = LoadT(d, out + i);
      s = hn::NegMulAdd(u, u, s);
    }
    hn::Store(s, d, sum + i);
    auto n = hn::MulAdd(s, va, vk);
    nonfinite = hn::MulAdd(n, hn::Zero(d), nonfinite);
    StoreT(hn::Mul(LoadT(d, xr + i), NegPowFinite<K>(d, n, vnb)), d, yr + i);
  }
  bool finite = hn::AllFalse(d, hn::IsNaN(nonfinite));
  const TC a = hn::GetLane(va), kk = hn::GetLane(vk), nb = hn::GetLane(vnb);
  for (; i < P; ++i) {
    TC s = sum[i];
    if (in) s += LoadS(in + i) * LoadS(in + i);
    if (out) s -= LoadS(out + i) * LoadS(out + i);
    sum[i] = s;
    finite = finite && std::isfinite(s * a + kk);
    StoreS(TC(LoadS(xr + i) * NegPowS<K>(s * a + kk, nb)), yr + i);
  }
  return finite;
}

// The exact recomputation of a row whose running sum met Inf or NaN: sums from scratch, IEEE semantics.
template <int K, class D, class T>
HWY_NOINLINE void ExactRowCF(D d, int64_t P, const T* xb, int64_t S, int64_t c, int64_t B, int64_t A, int64_t C,
                             hn::TFromD<D>* sum, T* yr, hn::Vec<D> va, hn::Vec<D> vk, hn::Vec<D> vnb) {
  using TC = hn::TFromD<D>;
  const int64_t L = int64_t(hn::Lanes(d));
  const TC a = hn::GetLane(va), kk = hn::GetLane(vk), nb = hn::GetLane(vnb);
  int64_t i = 0;
  for (; i + L <= P; i += L) {
    auto s = ExactSquares(d, xb, S, c, B, A, C, i);
    hn::Store(s, d, sum + i);
    StoreT(hn::Mul(LoadT(d, xb + c * S + i), NegPow<K>(d, hn::MulAdd(s, va, vk), vnb)), d, yr + i);
  }
  for (; i < P; ++i) {
    sum[i] = ExactSquaresS<TC>(xb, S, c, B, A, C, i);
    StoreS(TC(LoadS(xb + c * S + i) * NegPowS<K>(sum[i] * a + kk, nb)), yr + i);
  }
}

template <int K, class T>
void ForwardCF(const LrnProblem& p, const T* x, T* y) {
  using TC = ComputeT<T>;
  const hn::ScalableTag<TC> d;
  const int64_t C = p.c, S = p.spatial(), B = p.behind, A = p.ahead;
  const auto va = hn::Set(d, TC(p.alpha / p.divisor)), vk = hn::Set(d, TC(p.k)), vnb = hn::Set(d, TC(-p.beta));
  const int64_t blocks = (S + kBlockFwd - 1) / kBlockFwd;
  parallel_for(0, p.n * blocks, 1, [&](int64_t lo, int64_t hi) {
    auto sum = hwy::AllocateAligned<TC>(size_t(kBlockFwd));
    for (int64_t job = lo; job < hi; ++job) {
      const int64_t b = job / blocks, s0 = (job % blocks) * kBlockFwd, P = std::min(kBlockFwd, S - s0);
      const T* xb = x + b * C * S + s0;
      T* yb = y + b * C * S + s0;
      for (int64_t c = 0; c < C; ++c) {
        const bool anchor = c % kAnchor == 0;
        const T* in = c + A < C && !anchor ? xb + (c + A) * S : nullptr;
        const T* out = c - B - 1 >= 0 && !anchor ? xb + (c - B - 1) * S : nullptr;
        if (anchor) AnchorSums(d, P, xb, S, c, B, A, C, sum.get());
        // Each channel row is a separate DRAM stream; prefetch the rows that enter the window soon.
        const T* ahead = c + A + kPrefetchRows < C ? xb + (c + A + kPrefetchRows) * S : nullptr;
        if (!ForwardRowCF<K>(d, P, in, out, xb + c * S, ahead, sum.get(), yb + c * S, va, vk, vnb))
          ExactRowCF<K>(d, P, xb, S, c, B, A, C, sum.get(), yb + c * S, va, vk, vnb);
      }
    }
  });
}

// One step c of the pipelined channels_first backward over a pixel block. Phase A: the running sum of squares
// becomes S(c), then N^-beta(c) and t(c) = g x N^(-beta-1) go to rings of B + 1 and n rows. Phase B: the running
// sum of t becomes the sum over [c - n + 1, c], the transposed window of channel i = c - B, whose dx is emitted.
template <class T, class TC>
struct BwdStepCF {
  const T *xin, *xout;     // squares entering / leaving the running sum (null: none, or anchored)
  const T *xc, *gc;        // channel c (null: c >= C, no phase A)
  TC *sum, *npc, *tc;      // running sum of squares; ring slots of c (tc holds t(c - n) until overwritten)
  bool tsub;               // subtract t(c - n)
  TC* tsum;                // running sum of t (windows wider than kMaxDirect)
  int nt;                  // else (nt >= 0): the t sum adds t(c) and these ring rows directly, so a large x
  const TC* trows[kMaxDirect];  // does not amplify the rounding residue of a running sum
  const T *xi, *gi;        // channel i (null: i < 0, no phase B)
  const TC* npi;
  T* di;
};

// 1/x: f32 from the hardware estimate plus one Newton step (no division), exact for f64.
template <class D, class V>
HWY_INLINE V Recip(D d, V x) {
  if constexpr (sizeof(hn::TFromD<D>) == 4) {
    V r = hn::ApproximateReciprocal(x);
    return hn::Mul(r, hn::NegMulAdd(x, r, hn::Set(d, 2.0f)));
  } else {
    return hn::Div(hn::Set(d, 1), x);
  }
}

// Pixels [q, q + Lanes(d)) of one step. nfA / nfB stay 0 unless some N or t sum is not finite.
template <int K, class D, class T>
HWY_INLINE void BwdVecCF(D d, const BwdStepCF<T, hn::TFromD<D>>& s, int64_t q, hn::TFromD<D> a, hn::TFromD<D> kk,
                         hn::TFromD<D> nb, hn::TFromD<D> coef, hn::Vec<D>& nfA, hn::Vec<D>& nfB) {
  auto t = hn::Zero(d);
  if (s.xc) {
    auto sq = hn::Load(d, s.sum + q);
    if (s.xin) {
      auto v = LoadT(d, s.xin + q);
      sq = hn::MulAdd(v, v, sq);
    }
    if (s.xout) {
      auto u = LoadT(d, s.xout + q);
      sq = hn::NegMulAdd(u, u, sq);
    }
    hn::Store(sq, d, s.sum + q);
    auto n = hn::MulAdd(sq, hn::Set(d, a), hn::Set(d, kk));
    nfA = hn::MulAdd(n, hn::Zero(d), nfA);
    auto np = NegPowFinite<K>(d, n, hn::Set(d, nb));
    hn::Store(np, d, s.npc + q);
    t = hn::Mul(hn::Mul(hn::Mul(LoadT(d, s.gc + q), LoadT(d, s.xc + q)), np), Recip(d, n));
  }
  hn::Vec<D> ts = t;
  if (s.nt >= 0) {
    for (int j = 0; j < s.nt; ++j) ts = hn::Add(ts, hn::Load(d, s.trows[j] + q));
  } else {
    ts = hn::Add(hn::Load(d, s.tsum + q), t);
    if (s.tsub) ts = hn::Sub(ts, hn::Load(d, s.tc + q));
    hn::Store(ts, d, s.tsum + q);
  }
  if (s.xc) hn::Store(t, d, s.tc + q);
  if (s.di) {
    nfB = hn::MulAdd(ts, hn::Zero(d), nfB);
    auto gx = hn::Mul(LoadT(d, s.gi + q), hn::Load(d, s.npi + q));
    StoreT(hn::NegMulAdd(hn::Mul(hn::Set(d, coef), LoadT(d, s.xi + q)), ts, gx), d, s.di + q);
  }
}

// The exact redo of a step that met Inf or NaN: phase A (if redoA) from scratch with IEEE semantics, then
// phase B with the t sum over the ring rows of [c - n + 1, c].
template <int K, class D, class T>
HWY_NOINLINE void BwdExactCF(D d, int64_t q0, int64_t q1, bool redoA, const BwdStepCF<T, hn::TFromD<D>>& s,
                             const T* xb, int64_t S, int64_t c, int64_t B, int64_t A, int64_t C,
                             const hn::TFromD<D>* tring, int64_t W, hn::TFromD<D> a, hn::TFromD<D> kk,
                             hn::TFromD<D> nb, hn::TFromD<D> coef) {
  const int64_t L = int64_t(hn::Lanes(d)), n = A + B + 1;
  for (int64_t q = q0; q + L <= q1; q += L) {
    if (redoA) {
      auto sq = ExactSquares(d, xb, S, c, B, A, C, q);
      hn::Store(sq, d, s.sum + q);
      auto nn = hn::MulAdd(sq, hn::Set(d, a), hn::Set(d, kk));
      auto np = NegPow<K>(d, nn, hn::Set(d, nb));
      hn::Store(np, d, s.npc + q);
      hn::Store(hn::Div(hn::Mul(hn::Mul(LoadT(d, s.gc + q), LoadT(d, s.xc + q)), np), nn), d, s.tc + q);
    }
    if (!s.di) continue;
    auto ts = hn::Zero(d);
    for (int64_t j = std::max<int64_t>(0, c - n + 1); j <= std::min(c, C - 1); ++j)
      ts = hn::Add(ts, hn::Load(d, tring + j % n * W + q));
    hn::Store(ts, d, s.tsum + q);
    auto gx = hn::Mul(LoadT(d, s.gi + q), hn::Load(d, s.npi + q));
    StoreT(hn::NegMulAdd(hn::Mul(hn::Set(d, coef), LoadT(d, s.xi + q)), ts, gx), d, s.di + q);
  }
}

template <int K, class T>
void BackwardCF(const LrnProblem& p, const T* x, const T* g, T* dx) {
  using TC = ComputeT<T>;
  const hn::ScalableTag<TC> d;
  const hn::CappedTag<TC, 1> d1;  // the pixels after the last full vector
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, S = p.spatial(), B = p.behind, A = p.ahead, n = A + B + 1;
  const TC a = TC(p.alpha / p.divisor), kk = TC(p.k), nb = TC(-p.beta), coef = TC(2 * p.alpha * p.beta / p.divisor);
  const int64_t W = kBlockBwd, blocks = (S + W - 1) / W;
  parallel_for(0, p.n * blocks, 1, [&](int64_t lo, int64_t hi) {
    auto sum = hwy::AllocateAligned<TC>(size_t(W)), tsum = hwy::AllocateAligned<TC>(size_t(W));
    auto tring = hwy::AllocateAligned<TC>(size_t(n * W)), npring = hwy::AllocateAligned<TC>(size_t((B + 1) * W));
    for (int64_t job = lo; job < hi; ++job) {
      const int64_t b = job / blocks, s0 = (job % blocks) * W, P = std::min(W, S - s0);
      const T* xb = x + b * C * S + s0;
      const T* gb = g + b * C * S + s0;
      T* db = dx + b * C * S + s0;
      for (int64_t c = 0; c < C + B; ++c) {
        const int64_t i = c - B;
        const bool inA = c < C, anchor = c % kAnchor == 0;  // anchor: both running sums from scratch
        if (inA && anchor) AnchorSums(d, P, xb, S, c, B, A, C, sum.get());
        BwdStepCF<T, TC> st;
        st.xin = inA && !anchor && c + A < C ? xb + (c + A) * S : nullptr;
        st.xout = inA && !anchor && c - B - 1 >= 0 ? xb + (c - B - 1) * S : nullptr;
        st.xc = inA ? xb + c * S : nullptr;
        st.gc = inA ? gb + c * S : nullptr;
        st.sum = sum.get();
        st.npc = npring.get() + c % (B + 1) * W;
        st.tc = tring.get() + c % n * W;
        st.tsub = !anchor && c - n >= 0;
        st.tsum = tsum.get();
        st.xi = i >= 0 ? xb + i * S : nullptr;
        st.gi = i >= 0 ? gb + i * S : nullptr;
        st.npi = npring.get() + (i + B + 1) % (B + 1) * W;
        st.di = i >= 0 ? db + i * S : nullptr;
        st.nt = n <= kMaxDirect ? 0 : -1;
        for (int64_t j = std::max<int64_t>(0, c - n + 1); st.nt >= 0 && j <= std::min(c - 1, C - 1); ++j)
          st.trows[st.nt++] = tring.get() + j % n * W;
        if (anchor && st.nt < 0) {  // tsum = t summed over [c - n + 1, c - 1]; phase A adds t(c)
          std::fill(tsum.get(), tsum.get() + W, TC(0));
          for (int64_t j = std::max<int64_t>(0, c - n + 1); j <= std::min(c - 1, C - 1); ++j)
            for (int64_t q = 0; q < W; q += L)
              hn::Store(hn::Add(hn::Load(d, tsum.get() + q), hn::Load(d, tring.get() + j % n * W + q)), d,
                        tsum.get() + q);
        }
        // Rows entering the window are separate DRAM streams: prefetch a few rows ahead.
        const T* xahead = c + A + kPrefetchRows < C ? xb + (c + A + kPrefetchRows) * S : nullptr;
        const T* gahead = c + kPrefetchRows < C ? gb + (c + kPrefetchRows) * S : nullptr;
        auto nfA = hn::Zero(d), nfB = hn::Zero(d);
        int64_t q = 0;
        for (; q + L <= P; q += L) {
          if (xahead) hwy::Prefetch(xahead + q);
          if (gahead) hwy::Prefetch(gahead + q);
          BwdVecCF<K>(d, st, q, a, kk, nb, coef, nfA, nfB);
        }
        auto nfA1 = hn::Zero(d1), nfB1 = hn::Zero(d1);
        for (int64_t r = q; r < P; ++r) BwdVecCF<K>(d1, st, r, a, kk, nb, coef, nfA1, nfB1);
        const bool badA = !hn::AllFalse(d, hn::IsNaN(nfA)) || !hn::AllFalse(d1, hn::IsNaN(nfA1));
        const bool badB = !hn::AllFalse(d, hn::IsNaN(nfB)) || !hn::AllFalse(d1, hn::IsNaN(nfB1));
        if (HWY_UNLIKELY(badA || badB)) {
          BwdExactCF<K>(d, 0, q, badA, st, xb, S, c, B, A, C, tring.get(), W, a, kk, nb, coef);
          BwdExactCF<K>(d1, q, P, badA, st, xb, S, c, B, A, C, tring.get(), W, a, kk, nb, coef);
        }
      }
    }
  });
}

// ---- channels_last ---------------------------------------------------------------------------------------------
// Sum of n consecutive vectors starting at p, with four independent accumulators so that the adds of one
// output vector do not form one long dependency chain.
template <class D>
HWY_INLINE hn::Vec<D> WindowSum(D d, const hn::TFromD<D>* p, int64_t n) {
  const int64_t L = int64_t(hn::Lanes(d));
  (void)L;
  auto a0 = hn::LoadU(d, p), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  int64_t j = 1;
  for (; j + 3 <= n; j += 3) {
    a1 = hn::Add(a1, hn::LoadU(d, p + j));
    a2 = hn::Add(a2, hn::LoadU(d, p + j + 1));
    a3 = hn::Add(a3, hn::LoadU(d, p + j + 2));
  }
  for (; j < n; ++j) a0 = hn::Add(a0, hn::LoadU(d, p + j));
  return hn::Add(hn::Add(a0, a1), hn::Add(a2, a3));
}

// Sum of the squares of n consecutive values starting at p (inside the pixel).
template <class D, class T>
HWY_INLINE hn::Vec<D> WindowSquares(D d, const T* p, int64_t n) {
  auto v0 = LoadT(d, p);
  auto a0 = hn::Mul(v0, v0), a1 = hn::Zero(d);
  int64_t j = 1;
  for (; j + 2 <= n; j += 2) {
    auto u = LoadT(d, p + j), w = LoadT(d, p + j + 1);
    a0 = hn::MulAdd(u, u, a0);
    a1 = hn::MulAdd(w, w, a1);
  }
  if (j < n) {
    auto u = LoadT(d, p + j);
    a0 = hn::MulAdd(u, u, a0);
  }
  return hn::Add(a0, a1);
}

// Running window sums over [c - before, c + after] of `src` (C values) in double, for windows too wide for
// WindowSum: O(1) per element, re-anchored exactly every kAnchor channels and after non-finite values.
template <class TC>
void RunningSums(const TC* src, TC* out, int64_t C, int64_t before, int64_t after) {
  double s = 0;
  for (int64_t c = 0; c < C; ++c) {
    if (c > 0 && c + after < C) s += double(src[c + after]);
    if (c > 0 && c - before - 1 >= 0) s -= double(src[c - before - 1]);
    if (c % kAnchor == 0 || !std::isfinite(s)) {
      s = 0;
      for (int64_t j = std::max<int64_t>(0, c - before); j <= std::min(C - 1, c + after); ++j) s += double(src[j]);
    }
    out[c] = TC(s);
  }
}

// Per-thread buffers for one pixel: `pad` holds a channel row between zero margins so window loads never
// leave it; `aux` holds N^-beta (backward) or the wide-window sums.
template <class TC>
struct PixelScratch {
  int64_t margin, C;
  hwy::AlignedFreeUniquePtr<TC[]> pad, pad2, aux;
  PixelScratch(int64_t C, int64_t margin, int64_t L)
      : margin(margin),
        C(C),
        pad(hwy::AllocateAligned<TC>(size_t(C + 2 * margin + L))),
        pad2(hwy::AllocateAligned<TC>(size_t(C + 2 * margin + L))),
        aux(hwy::AllocateAligned<TC>(size_t(C + L))) {
    std::fill(pad.get(), pad.get() + C + 2 * margin + L, TC(0));
    std::fill(pad2.get(), pad2.get() + C + 2 * margin + L, TC(0));
  }
  TC* row() { return pad.get() + margin; }
  TC* row2() { return pad2.get() + margin; }
};

template <int K, class T>
void ForwardCL(const LrnProblem& p, const T* x, T* y) {
  using TC = ComputeT<T>;
  const hn::ScalableTag<TC> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, B = p.behind, A = p.ahead, n = A + B + 1;
  const bool direct = n <= kMaxDirect;
  const TC a = TC(p.alpha / p.divisor), kk = TC(p.k), nb = TC(-p.beta);
  const auto va = hn::Set(d, a), vk = hn::Set(d, kk), vnb = hn::Set(d, nb);
  parallel_for(0, p.n * p.spatial(), std::max<int64_t>(1, 4096 / C), [&](int64_t lo, int64_t hi) {
    PixelScratch<TC> buf(C, direct ? std::max(A, B) + 1 : 1, L);
    TC* sq = buf.row();
    for (int64_t px = lo; px < hi; ++px) {
      const T* xr = x + px * C;
      T* yr = y + px * C;
      int64_t c = 0;
      for (; c + L <= C; c += L) {
        auto v = LoadT(d, xr + c);
        hn::StoreU(hn::Mul(v, v), d, sq + c);
      }
      for (; c < C; ++c) sq[c] = LoadS(xr + c) * LoadS(xr + c);
      if (!direct) RunningSums(sq, buf.aux.get(), C, B, A);
      // Window sums of vectors whose window lies inside the pixel come straight from x; the others read the
      // zero-padded squares, last, so that their stores have left the store buffer (a load spanning two
      // recent stores cannot be forwarded and stalls).
      auto window = [&](int64_t c0) {
        if (!direct) return hn::LoadU(d, buf.aux.get() + c0);
        if (c0 >= B && c0 + L + A <= C) return WindowSquares(d, xr + c0 - B, n);
        return WindowSum(d, sq + c0 - B, n);
      };
      auto nonfinite = hn::Zero(d);  // stays 0 unless some N is Inf or NaN
      auto out = [&](int64_t c0) {
        auto nn = hn::MulAdd(window(c0), va, vk);
        nonfinite = hn::MulAdd(nn, hn::Zero(d), nonfinite);
        StoreT(hn::Mul(LoadT(d, xr + c0), NegPowFinite<K>(d, nn, vnb)), d, yr + c0);
      };
      const int64_t vecs = C / L * L, first = std::min(vecs, (B + L - 1) / L * L);
      const int64_t last = C - A - L >= 0 ? std::max(first, std::min(vecs, (C - A - L) / L * L + L)) : first;
      for (c = first; c < last; c += L) out(c);
      for (c = 0; c < first; c += L) out(c);
      for (c = last; c < vecs; c += L) out(c);
      if (HWY_UNLIKELY(!hn::AllFalse(d, hn::IsNaN(nonfinite))))
        for (c = 0; c < vecs; c += L)
          StoreT(hn::Mul(LoadT(d, xr + c), NegPow<K>(d, hn::MulAdd(window(c), va, vk), vnb)), d, yr + c);
      c = vecs;
      for (; c < C; ++c) {
        TC s = 0;
        if (direct)
          for (int64_t j = -B; j <= A; ++j) s += sq[c + j];
        else
          s = buf.aux[size_t(c)];
        StoreS(TC(LoadS(xr + c) * NegPowS<K>(s * a + kk, nb)), yr + c);
      }
    }
  });
}

// channels_last backward for windows of up to kMaxDirect channels, software-pipelined over pixels: phase 1 of
// pixel px (N^-beta and t = g x N^(-beta-1) into a zero-padded row) runs before phase 2 of pixel px - 1 (the t
// window sums and dx), so the shifted loads of t never wait for stores still in the store buffer.
template <int K, class T>
void BackwardCLDirect(const LrnProblem& p, const T* x, const T* g, T* dx) {
  using TC = ComputeT<T>;
  const hn::ScalableTag<TC> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, B = p.behind, A = p.ahead, n = A + B + 1;
  const TC a = TC(p.alpha / p.divisor), kk = TC(p.k), nb = TC(-p.beta), coef = TC(2 * p.alpha * p.beta / p.divisor);
  const auto va = hn::Set(d, a), vk = hn::Set(d, kk), vnb = hn::Set(d, nb), vcoef = hn::Set(d, coef);
  const int64_t vecs = C / L * L, first = std::min(vecs, (B + L - 1) / L * L);
  const int64_t last = C - A - L >= 0 ? std::max(first, std::min(vecs, (C - A - L) / L * L + L)) : first;
  parallel_for(0, p.n * p.spatial(), std::max<int64_t>(1, 4096 / C), [&](int64_t lo, int64_t hi) {
    const int64_t margin = std::max(A, B) + 1;
    PixelScratch<TC> sqbuf(C, margin, L), tbuf0(C, margin, L), tbuf1(C, margin, L);
    TC* sq = sqbuf.row();
    TC* tb[2] = {tbuf0.row(), tbuf1.row()};
    TC* npb[2] = {tbuf0.aux.get(), tbuf1.aux.get()};  // N^-beta
    // Phase 1; Exact: IEEE N^-beta and division, for pixels whose N met Inf or NaN. Returns false then.
    auto phase1 = [&](auto exact, int64_t px, TC* t, TC* np) {
      const T* xr = x + px * C;
      const T* gr = g + px * C;
      int64_t c = 0;
      for (; c + L <= C; c += L) {
        auto v = LoadT(d, xr + c);
        hn::StoreU(hn::Mul(v, v), d, sq + c);
      }
      for (; c < C; ++c) sq[c] = LoadS(xr + c) * LoadS(xr + c);
      auto nonfinite = hn::Zero(d);
      auto one = [&](int64_t c0) {
        // Interior windows straight from x, edge windows from the padded squares (last: see ForwardCL).
        auto s = c0 >= B && c0 + L + A <= C ? WindowSquares(d, xr + c0 - B, n) : WindowSum(d, sq + c0 - B, n);
        auto nn = hn::MulAdd(s, va, vk);
        auto gxv = hn::Mul(LoadT(d, gr + c0), LoadT(d, xr + c0));
        if constexpr (decltype(exact)::value) {
          auto npv = NegPow<K>(d, nn, vnb);
          hn::Store(npv, d, np + c0);
          hn::StoreU(hn::Div(hn::Mul(gxv, npv), nn), d, t + c0);
        } else {
          nonfinite = hn::MulAdd(nn, hn::Zero(d), nonfinite);
          auto npv = NegPowFinite<K>(d, nn, vnb);
          hn::Store(npv, d, np + c0);
          hn::StoreU(hn::Mul(hn::Mul(gxv, npv), Recip(d, nn)), d, t + c0);
        }
      };
      for (c = first; c < last; c += L) one(c);
      for (c = 0; c < first; c += L) one(c);
      for (c = last; c < vecs; c += L) one(c);
      for (c = vecs; c < C; ++c) {
        TC s = 0;
        for (int64_t j = -B; j <= A; ++j) s += sq[c + j];
        TC nn = s * a + kk, npv = NegPowS<K>(nn, nb);
        np[c] = npv;
        t[c] = LoadS(gr + c) * LoadS(xr + c) * npv / nn;
      }
      return hn::AllFalse(d, hn::IsNaN(nonfinite));
    };
    // Phase 2: dx = g N^-beta - coef x (sum of t over [c - A, c + B]).
    auto phase2 = [&](int64_t px, const TC* t, const TC* np) {
      const T* xr = x + px * C;
      const T* gr = g + px * C;
      T* dr = dx + px * C;
      int64_t c = 0;
      for (; c + L <= C; c += L) {
        auto gx = hn::Mul(LoadT(d, gr + c), hn::Load(d, np + c));
        StoreT(hn::NegMulAdd(hn::Mul(vcoef, LoadT(d, xr + c)), WindowSum(d, t + c - A, n), gx), d, dr + c);
      }
      for (; c < C; ++c) {
        TC s = 0;
        for (int64_t j = -A; j <= B; ++j) s += t[c + j];
        StoreS(TC(LoadS(gr + c) * np[c] - coef * LoadS(xr + c) * s), dr + c);
      }
    };
    for (int64_t px = lo; px <= hi; ++px) {
      if (px < hi && !phase1(std::false_type(), px, tb[px & 1], npb[px & 1]))
        phase1(std::true_type(), px, tb[px & 1], npb[px & 1]);
      if (px > lo) phase2(px - 1, tb[(px - 1) & 1], npb[(px - 1) & 1]);
    }
  });
}

template <int K, class T>
void BackwardCL(const LrnProblem& p, const T* x, const T* g, T* dx) {
  using TC = ComputeT<T>;
  const hn::ScalableTag<TC> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, B = p.behind, A = p.ahead, n = A + B + 1;
  const bool direct = n <= kMaxDirect;
  if (direct) return BackwardCLDirect<K>(p, x, g, dx);
  const TC a = TC(p.alpha / p.divisor), kk = TC(p.k), nb = TC(-p.beta), coef = TC(2 * p.alpha * p.beta / p.divisor);
  const auto va = hn::Set(d, a), vk = hn::Set(d, kk), vnb = hn::Set(d, nb), vcoef = hn::Set(d, coef);
  parallel_for(0, p.n * p.spatial(), std::max<int64_t>(1, 4096 / C), [&](int64_t lo, int64_t hi) {
    PixelScratch<TC> buf(C, direct ? std::max(A, B) + 1 : 1, L);
    auto npow = hwy::AllocateAligned<TC>(size_t(C + L));
    TC* sq = buf.row();
    TC* t = buf.row2();  // g x N^(-beta-1), summed over the transposed window [i - A, i + B]
    for (int64_t px = lo; px < hi; ++px) {
      const T* xr = x + px * C;
      const T* gr = g + px * C;
      T* dr = dx + px * C;
      int64_t c = 0;
      for (; c + L <= C; c += L) {
        auto v = LoadT(d, xr + c);
        hn::StoreU(hn::Mul(v, v), d, sq + c);
      }
      for (; c < C; ++c) sq[c] = LoadS(xr + c) * LoadS(xr + c);
      if (!direct) RunningSums(sq, buf.aux.get(), C, B, A);
      c = 0;
      for (; c + L <= C; c += L) {
        auto s = direct ? WindowSum(d, sq + c - B, n) : hn::LoadU(d, buf.aux.get() + c);
        auto nn = hn::MulAdd(s, va, vk);
        auto np = NegPow<K>(d, nn, vnb);
        hn::Store(np, d, npow.get() + c);
        hn::StoreU(hn::Div(hn::Mul(hn::Mul(LoadT(d, gr + c), LoadT(d, xr + c)), np), nn), d, t + c);
      }
      for (; c < C; ++c) {
        TC s = 0;
        if (direct)
          for (int64_t j = -B; j <= A; ++j) s += sq[c + j];
        else
          s = buf.aux[size_t(c)];
        TC nn = s * a + kk, np = NegPowS<K>(nn, nb);
        npow[size_t(c)] = np;
        t[c] = LoadS(gr + c) * LoadS(xr + c) * np / nn;
      }
      if (!direct) RunningSums(t, buf.aux.get(), C, A, B);
      c = 0;
      for (; c + L <= C; c += L) {
        auto s = direct ? WindowSum(d, t + c - A, n) : hn::LoadU(d, buf.aux.get() + c);
        auto gx = hn::Mul(LoadT(d, gr + c), hn::Load(d, npow.get() + c));
        StoreT(hn::NegMulAdd(hn::Mul(vcoef, LoadT(d, xr + c)), s, gx), d, dr + c);
      }
      for (; c < C; ++c) {
        TC s = 0;
        if (direct)
          for (int64_t j = -A; j <= B; ++j) s += t[c + j];
        else
          s = buf.aux[size_t(c)];
        StoreS(TC(LoadS(gr + c) * npow[size_t(c)] - coef * LoadS(xr + c) * s), dr + c);
      }
    }
  });
}

// ---- dispatch on dtype, layout and beta --------------------------------------------------------------------------
template <class T>
void ForwardT(const LrnProblem& p, const void* x, void* y) {
  auto run = [&](auto k) {
    constexpr int K = decltype(k)::value;
    p.channels_last ? ForwardCL<K>(p, static_cast<const T*>(x), static_cast<T*>(y))
                    : ForwardCF<K>(p, static_cast<const T*>(x), static_cast<T*>(y));
  };
  switch (pow_kind(p.beta)) {
    case kPow0: return run(std::integral_constant<int, kPow0>());
    case kPowHalf: return run(std::integral_constant<int, kPowHalf>());
    case kPow34: return run(std::integral_constant<int, kPow34>());
    case kPow1: return run(std::integral_constant<int, kPow1>());
    default: return run(std::integral_constant<int, kPowGeneral>());
  }
}

template <class T>
void BackwardT(const LrnProblem& p, const void* x, const void* g, void* dx) {
  auto run = [&](auto k) {
    constexpr int K = decltype(k)::value;
    auto xt = static_cast<const T*>(x);
    auto gt = static_cast<const T*>(g);
    auto dt = static_cast<T*>(dx);
    p.channels_last ? BackwardCL<K>(p, xt, gt, dt) : BackwardCF<K>(p, xt, gt, dt);
  };
  switch (pow_kind(p.beta)) {
    case kPow0: return run(std::integral_constant<int, kPow0>());
    case kPowHalf: return run(std::integral_constant<int, kPowHalf>());
    case kPow34: return run(std::integral_constant<int, kPow34>());
    case kPow1: return run(std::integral_constant<int, kPow1>());
    default: return run(std::integral_constant<int, kPowGeneral>());
  }
}

void Forward(const LrnProblem& p, const void* x, void* y) {
  switch (p.dtype) {
    case DType::f32: return ForwardT<float>(p, x, y);
    case DType::f64: return ForwardT<double>(p, x, y);
    case DType::bf16: return ForwardT<hwy::bfloat16_t>(p, x, y);
    case DType::f16: return ForwardT<hwy::float16_t>(p, x, y);
  }
}

void Backward(const LrnProblem& p, const void* x, const void* g, void* dx) {
  switch (p.dtype) {
    case DType::f32: return BackwardT<float>(p, x, g, dx);
    case DType::f64: return BackwardT<double>(p, x, g, dx);
    case DType::bf16: return BackwardT<hwy::bfloat16_t>(p, x, g, dx);
    case DType::f16: return BackwardT<hwy::float16_t>(p, x, g, dx);
  }
}

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace locnet::kernels {
HWY_EXPORT(Forward);
HWY_EXPORT(Backward);

namespace {
bool applicable(const LrnProblem& p, std::string* why) {
  if (p.within) {
    *why = "within-channel mode";
    return false;
  }
  return true;
}
void forward(const LrnProblem& p, const void* x, void* y) { HWY_DYNAMIC_DISPATCH(Forward)(p, x, y); }
void backward(const LrnProblem& p, const void* x, const void* dy, void* dx) {
  HWY_DYNAMIC_DISPATCH(Backward)(p, x, dy, dx);
}
}  // namespace

extern const LrnKernel kLrnHwy{"hwy", applicable, forward, backward};
}  // namespace locnet::kernels
#endif
