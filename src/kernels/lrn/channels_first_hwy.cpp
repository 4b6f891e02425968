// The channels_first LRN kernels (dispatch: src/kernels/lrn/lrn_hwy.cpp): vectors run across pixels; the window
// sum over channels is a running sum (add the channel entering, subtract the one leaving: O(1) per element),
// re-anchored every kAnchor channels so rounding drift stays bounded.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/lrn/channels_first_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <algorithm>
#include <cstdint>

#include "hwy/aligned_allocator.h"
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/lrn/lrn-inl.h"
#include "locnet/core/parallel.hpp"

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {

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
// A running sum of squares keeps the rounding residue of the large squares that left it (1e6 + 0.01 is 1e6 in
// f32, so after both leave the sum is -0.01, not 0): N = k + alpha S takes it as 0, as the exact sum would be;
// a negative N would give NaN with no Inf or NaN in the input. The stored running sum keeps the residue, and NaN
// stays NaN, for the callers' non-finite checks: x86's max returns its second operand when either is NaN, so
// max(0, s) keeps it, in one instruction instead of a compare and a blend (5-10% of the channels_first forward).
template <class D>
HWY_INLINE hn::Vec<D> RunningSumNonNegative(D d, hn::Vec<D> s) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3  // x86 vector instructions; not the emulated EMU128 or SCALAR
  return hn::Max(hn::Zero(d), s);
#else
  return hn::IfThenZeroElse(hn::Lt(s, hn::Zero(d)), s);
#endif
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

// The vector at p (kWhole) or only its first `count` lanes, nothing past them read.
template <bool kWhole, class D, class T>
HWY_INLINE hn::Vec<D> LoadPart(D d, size_t count, const T* p) {
  if constexpr (kWhole) return LoadT(d, p);
  else return LoadFirstT(d, count, p);
}
// step<true>(i, 0) for each whole vector of pixels [i0, P), then step<false>(i, P - i) for the last few.
template <class D, class Step>
HWY_INLINE void ForVectors(D d, int64_t i0, int64_t P, Step&& step) {
  const int64_t L = int64_t(hn::Lanes(d));
  int64_t i = i0;
  for (; i + L <= P; i += L) step.template operator()<true>(i, 0);
  if (i < P) step.template operator()<false>(i, size_t(P - i));
}

// One channel row of the channels_first forward: updates the running sum (sum[i] becomes the window sum of
// channel c at pixel i) and writes y. Returns false if some N was not finite; the row is then redone exactly.
// NT: y is streamed, so whole vectors start at the first aligned pixel; the pixels before it, and the last ones,
// go through one masked vector each.
// kNativeBf16: T = bf16 on a machine with AVX512_BF16 (StoreBf16Native); false is returned for a subnormal output.
template <int K, bool NT, bool kNativeBf16, class D, class T>
HWY_INLINE bool ForwardRowCF(D d, int64_t P, const T* in, const T* out, const T* xr, const T* ahead,
                             hn::TFromD<D>* sum, T* yr, hn::Vec<D> va, hn::Vec<D> vk, hn::Vec<D> vnb) {
  auto nonfinite = hn::Zero(d);  // stays 0 unless some N is Inf or NaN (N * 0 is NaN then)
  uint16_t subnormal = 0;        // kNativeBf16: lanes with a subnormal output, which the conversion flushes
  // The L pixels at i (kWhole) or only the first `count` of them: masked, nothing past them is read or written.
  auto step = [&]<bool kWhole>(int64_t i, size_t count) {
    const auto load = [&](const auto* r) { return LoadPart<kWhole>(d, count, r + i); };
    auto s = load(sum);
    if (in) {
      auto v = load(in);
      s = hn::MulAdd(v, v, s);
    }
    if (out) {
      auto u = load(out);
      s = hn::NegMulAdd(u, u, s);
    }
    auto n = hn::MulAdd(RunningSumNonNegative(d, s), va, vk);
    nonfinite = hn::MulAdd(n, hn::Zero(d), nonfinite);
    const auto y = hn::Mul(load(xr), NegPowFinite<K, T>(d, n, vnb));
    if constexpr (!kWhole) {
      StoreFirstT(s, d, count, sum + i);
      StoreFirstT(y, d, count, yr + i);  // bf16: exact rounding
    } else {
      if (ahead) hwy::Prefetch(ahead + i);
      hn::StoreU(s, d, sum + i);
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
      if constexpr (kNativeBf16) return StoreBf16Native(y, yr + i, subnormal);
#endif
      StoreT<NT, true>(y, d, yr + i);
    }
  };
  const int64_t head = NT ? std::min(P, StreamHead(d, yr)) : 0;
  if (head > 0) step.template operator()<false>(0, size_t(head));
  ForVectors(d, head, P, step);
  return subnormal == 0 && hn::AllFalse(d, hn::IsNaN(nonfinite));
}

// G channel rows c..c+G-1 of the channels_first forward at once, for the window [c-kH, c+kH], with every row of
// c-kH-1..c+G-1+kH in the tensor. Each vector of x is loaded once for all its roles (entering, leaving, scaled)
// and the running sum stays in a register across the G rows; G rows entering the window at a time are G DRAM
// streams in flight (16x96x55x55: 25% faster than one row at a time). anchored: sum holds row c's exact window
// sum already. `prefetch`: the first of the (up to G, consecutive) rows that enter with the next group. Returns
// false as ForwardRowCF does (then all G rows are redone exactly).
// kCheckY (f32 arithmetic, FastPowFlagsBadN): y is checked instead of N, so the running sum needs no clamp at 0
// (a residue below zero gives a NaN y; f32 3-4% faster). An N = +Inf that bf16's beta = 1/2 maps to the exact y
// leaves the running sum as Inf - Inf = NaN in a later row. kNativeBf16 goes 2L pixels a step, narrowing
// both vectors of a row in one vcvtne2ps2bf16, and its vfpclassps that finds subnormal y finds NaN y too: 20-22%
// faster (16x96x55x55 0.362 -> 0.289 ms, 16x256x27x27 0.230 -> 0.180, 2 threads; the loop is bound by issue slots).
template <int K, bool kNativeBf16, int G, int kH, class D, class T>
HWY_INLINE bool ForwardGroupCF(D d, int64_t P, const T* xc, int64_t S, bool anchored, const T* prefetch,
                               int64_t prefetch_rows, hn::TFromD<D>* sum, T* yc, hn::Vec<D> va, hn::Vec<D> vk,
                               hn::Vec<D> vnb) {
  constexpr int R = G + 2 * kH + 1;  // x rows c-kH-1 .. c+G-1+kH
  constexpr bool kCheckY = FastPowFlagsBadN(K) && std::is_same_v<hn::TFromD<D>, float>;
  const T* x0 = xc - (kH + 1) * S;
  auto nonfinite = hn::Zero(d);
  uint16_t flagged = 0;  // kNativeBf16: lanes of y that are subnormal (or, kCheckY, NaN)
  // The running sum s of row g from row g - 1's (s += in^2 - out^2, one dependent add per row: a chain of two
  // FMAs per row, 8 rows, 64 cycles of latency per vector, made the group 20% slower than single rows on cached
  // data, 10% from memory); its N, checked here unless kCheckY.
  const auto next_n = [&](const hn::Vec<D>* v, int g, hn::Vec<D>& s) {
    const auto& in = v[g + 2 * kH + 1];
    if (g > 0 || !anchored) s = hn::Add(s, hn::MulSub(in, in, hn::Mul(v[g], v[g])));
    if constexpr (kCheckY) return hn::MulAdd(s, va, vk);
    auto n = hn::MulAdd(RunningSumNonNegative(d, s), va, vk);
    nonfinite = hn::MulAdd(n, hn::Zero(d), nonfinite);
    return n;
  };
  auto step = [&]<bool kWhole>(int64_t i, size_t count) {
    const auto load = [&](const auto* r) { return LoadPart<kWhole>(d, count, r + i); };
    if constexpr (kWhole)
      for (int g = 0; g < G; ++g)
        if (g < prefetch_rows) hwy::Prefetch(prefetch + g * S + i);
    hn::Vec<D> v[R];
    for (int r = 0; r < R; ++r) v[r] = load(x0 + r * S);
    auto s = load(sum);
    for (int g = 0; g < G; ++g) {
      const auto y = hn::Mul(v[g + kH + 1], NegPowFinite<K, T>(d, next_n(v, g, s), vnb));
      T* yr = yc + g * S + i;
      if constexpr (kCheckY && !(kNativeBf16 && kWhole))  // lanes past count: y = 0
        nonfinite = hn::MulAdd(y, hn::Zero(d), nonfinite);
      if constexpr (!kWhole) {
        StoreFirstT(y, d, count, yr);
        continue;
      }
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
      if constexpr (kNativeBf16) {
        StoreBf16Native<kCheckY ? kSubnormalOrNaN : kSubnormal>(y, yr, flagged);
        continue;
      }
#endif
      StoreT<false, true>(y, d, yr);
    }
    if constexpr (kWhole) hn::StoreU(s, d, sum + i);
    else StoreFirstT(s, d, count, sum + i);
  };
  int64_t i0 = 0;
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  if constexpr (kNativeBf16) {
    const int64_t L = int64_t(hn::Lanes(d));
    for (; i0 + 2 * L <= P; i0 += 2 * L) {
      for (int g = 0; g < G; ++g)  // one 64-byte line a row
        if (g < prefetch_rows) hwy::Prefetch(prefetch + g * S + i0);
      hn::Vec<D> a[R], b[R];  // in registers only if every loop over them is unrolled
      HWY_UNROLL(16)
      for (int r = 0; r < R; ++r) a[r] = LoadT(d, x0 + r * S + i0), b[r] = LoadT(d, x0 + r * S + i0 + L);
      auto sa = hn::LoadU(d, sum + i0), sb = hn::LoadU(d, sum + i0 + L);
      HWY_UNROLL(16)
      for (int g = 0; g < G; ++g) {
        const auto ya = hn::Mul(a[g + kH + 1], NegPowFinite<K, T>(d, next_n(a, g, sa), vnb));
        const auto yb = hn::Mul(b[g + kH + 1], NegPowFinite<K, T>(d, next_n(b, g, sb), vnb));
        _mm512_storeu_si512(yc + g * S + i0,
                            NarrowBf16NativePair<kCheckY ? kSubnormalOrNaN : kSubnormal>(ya, yb, flagged));
      }
      hn::StoreU(sa, d, sum + i0);
      hn::StoreU(sb, d, sum + i0 + L);
    }
  }
#endif
  ForVectors(d, i0, P, step);
  return flagged == 0 && hn::AllFalse(d, hn::IsNaN(nonfinite));
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

// kH > 0: the window is [c-kH, c+kH] and interior rows go G at a time (ForwardGroupCF, which never streams y).
template <int K, bool NT, class T, bool kNativeBf16, int kH>
void ForwardCFW(const LrnProblem& p, const T* x, T* y) {
  using TC = ComputeT<T>;
  constexpr int G = 8;  // 16x96x55x55 f32: 4 rows at a time were 18% slower, 6 rows 4%, 11 rows 10%
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
      int64_t since = kAnchor;  // rows since sum was last anchored (computed from scratch)
      for (int64_t c = 0; c < C;) {
        if (kH > 0 && c - kH - 1 >= 0 && c + G - 1 + kH < C) {
          const bool anchor = since + G > kAnchor;
          if (anchor) AnchorSums(d, P, xb, S, c, B, A, C, sum.get()), since = 0;
          if (!ForwardGroupCF<K, kNativeBf16, G, kH>(d, P, xb + c * S, S, anchor, xb + (c + G + kH) * S,
                                                     C - (c + G + kH), sum.get(), yb + c * S, va, vk, vnb))
            for (int64_t r = c; r < c + G; ++r)
              ExactRowCF<K>(d, P, xb, S, r, B, A, C, sum.get(), yb + r * S, va, vk, vnb);
          c += G;
          since += G;
          continue;
        }
        const bool anchor = since >= kAnchor;
        if (anchor) AnchorSums(d, P, xb, S, c, B, A, C, sum.get()), since = 0;
        const T* in = c + A < C && !anchor ? xb + (c + A) * S : nullptr;
        const T* out = c - B - 1 >= 0 && !anchor ? xb + (c - B - 1) * S : nullptr;
        // Each channel row is a separate DRAM stream; prefetch the rows that enter the window soon.
        const T* ahead = c + A + kPrefetchRows < C ? xb + (c + A + kPrefetchRows) * S : nullptr;
        if (!ForwardRowCF<K, NT, kNativeBf16>(d, P, in, out, xb + c * S, ahead, sum.get(), yb + c * S, va, vk, vnb))
          ExactRowCF<K>(d, P, xb, S, c, B, A, C, sum.get(), yb + c * S, va, vk, vnb);
        ++c;
        ++since;
      }
    }
    if (NT) hwy::FlushStream();
  });
}

template <int K, bool NT, class T, bool kNativeBf16 = false>
void ForwardCF(const LrnProblem& p, const T* x, T* y) {
  if (p.behind == p.ahead && p.behind == 1) return ForwardCFW<K, NT, T, kNativeBf16, 1>(p, x, y);
  if (p.behind == p.ahead && p.behind == 2) return ForwardCFW<K, NT, T, kNativeBf16, 2>(p, x, y);
  ForwardCFW<K, NT, T, kNativeBf16, 0>(p, x, y);
}

// Streaming stores pay in the channels_first forward only: measured, they cost time in channels_last (whose forward
// is bound by arithmetic more than by memory) and in backward; and for 4- and 8-byte storage only (bf16 outputs,
// 32 bytes a store, ran 1.7-2x slower streamed on both benchmark shapes).
template <int K, class T>
void Forward(ChannelsFirst, const LrnProblem& p, const T* x, T* y) {
  const bool nt = sizeof(T) >= 4 && stream_output(p.n * p.c * p.spatial() * int64_t(sizeof(T)));
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  if constexpr (std::is_same_v<T, hwy::bfloat16_t>)
    if (use_avx512_bf16()) return ForwardCF<K, false, T, true>(p, x, y);
#endif
  nt ? ForwardCF<K, true>(p, x, y) : ForwardCF<K, false>(p, x, y);
}


// One step c of the pipelined channels_first backward over a pixel block. Phase A: the running sum of squares
// becomes S(c), then g N^-beta(c) and t(c) = g x N^(-beta-1) go to rings of B + 1 and n rows. Phase B: the running
// sum of t becomes the sum over [c - n + 1, c], the transposed window of channel i = c - B, whose dx is emitted.
template <class T, class TC>
struct BwdStepCF {
  const T *xin, *xout;     // squares entering / leaving the running sum (null: none, or anchored)
  const T *xc, *gc;        // channel c (null: c >= C, no phase A)
  TC *sum, *gnc, *tc;      // running sum of squares; ring slots of c (tc holds t(c - n) until overwritten)
  bool tsub;               // subtract t(c - n)
  TC* tsum;                // running sum of t (windows wider than kMaxDirect)
  int nt;                  // else (nt >= 0): the t sum adds t(c) and these ring rows directly, so a large x
  const TC* trows[kMaxDirect];  // does not amplify the rounding residue of a running sum
  const T* xi;             // channel i (null: i < 0, no phase B)
  const TC* gni;           // g N^-beta of channel i
  T* di;
};

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
    auto n = hn::MulAdd(RunningSumNonNegative(d, sq), hn::Set(d, a), hn::Set(d, kk));
    nfA = hn::MulAdd(n, hn::Zero(d), nfA);
    hn::Vec<D> rn;
    auto gn = hn::Mul(LoadT(d, s.gc + q), NegPowRecipFinite<K, T>(d, n, hn::Set(d, nb), rn));
    hn::Store(gn, d, s.gnc + q);
    t = hn::Mul(hn::Mul(gn, LoadT(d, s.xc + q)), rn);
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
    StoreT(hn::NegMulAdd(hn::Mul(hn::Set(d, coef), LoadT(d, s.xi + q)), ts, hn::Load(d, s.gni + q)), d, s.di + q);
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
      auto gn = hn::Mul(LoadT(d, s.gc + q), NegPow<K>(d, nn, hn::Set(d, nb)));
      hn::Store(gn, d, s.gnc + q);
      hn::Store(hn::Div(hn::Mul(gn, LoadT(d, s.xc + q)), nn), d, s.tc + q);
    }
    if (!s.di) continue;
    auto ts = hn::Zero(d);
    for (int64_t j = std::max<int64_t>(0, c - n + 1); j <= std::min(c, C - 1); ++j)
      ts = hn::Add(ts, hn::Load(d, tring + j % n * W + q));
    hn::Store(ts, d, s.tsum + q);
    StoreT(hn::NegMulAdd(hn::Mul(hn::Set(d, coef), LoadT(d, s.xi + q)), ts, hn::Load(d, s.gni + q)), d, s.di + q);
  }
}

// channels_first backward for a window fixed at compile time: one vector of pixels at a time walked down all
// channels, with the window's x, x^2, g N^-beta and t in registers. Per vector one load of x and of g and one
// store of dx; the block pipeline below also reads and writes ~12 scratch rows. Bound by the multiply ports and
// the latency of each channel's chain; as three stages a step apart (dx, then g N^-beta and t, then N) one thread
// on cache-resident data went from 4.3 to 3.85 ns a channel (16x96x55x55, 2 threads: 1.34-1.56 -> 1.20-1.32 ms
// in a slow-memory hour); unrolling it so the rings rotate instead of moving gained nothing. Exact: IEEE N^-beta
// and division, the sum of squares from scratch at every channel (the redo of a column that met Inf or NaN).
// Returns false if some N or t sum was not finite (Exact == false only). `next`: elements from this column to the
// next one the caller walks (0: none), whose first channels are prefetched while this column's last ones run, so
// that walk does not start on cache misses.
template <int K, int kB, int kA, bool Exact, class D, class T>
HWY_INLINE bool BwdColumnCF(D d, const T* HWY_RESTRICT xb, const T* HWY_RESTRICT gb, T* HWY_RESTRICT db, int64_t S,
                            int64_t C, hn::Vec<D> va, hn::Vec<D> vk, hn::Vec<D> vnb, hn::Vec<D> vcoef,
                            int64_t next = 0) {
  constexpr int n = kB + kA + 1;
  // Channels ahead to prefetch, running on into the next column (2 threads, 16x96x55x55 / 16x256x27x27: 16 ahead
  // stopping at the column's end 1.14-1.22 / 0.57-0.61 ms; running on 1.03-1.17 / 0.56-0.61; 32 ahead, running on,
  // 0.92-1.01 / 0.56-0.59; 48 0.97-0.99 / 0.56. With the vCPUs at 2.5 GHz instead of 3.5 the arithmetic dominates
  // and running on gains ~3%).
  constexpr int64_t kAhead = 32;
  using V = hn::Vec<D>;
  const int64_t L = int64_t(hn::Lanes(d));
  // Step c, in three stages a step apart (as BackwardRowPermute): dx of channel c - kB - 2 from earlier steps'
  // values, then g N^-beta and t of channel c - 1 from the N of the step before, then N of channel c.
  // At the start of step c: X[j] = x(c - kB - 2 + j), Q[j] its square, GN[j] = g N^-beta (c - kB - 2 + j),
  // TT[j] = t(c - n - 1 + j), nn = N(c - 1); zero outside the channels. Before step 0, X holds x(j - kB - 2).
  V X[n + 1], Q[n + 1], GN[kB + 1], TT[n];
  for (auto& v : X) v = hn::Zero(d);
  for (auto& v : Q) v = hn::Zero(d);
  for (auto& v : GN) v = hn::Zero(d);
  for (auto& v : TT) v = hn::Zero(d);
  for (int m = 0; m < kA && m < C; ++m) {
    X[kB + 2 + m] = LoadT(d, xb + m * S);
    Q[kB + 2 + m] = hn::Mul(X[kB + 2 + m], X[kB + 2 + m]);
  }
  // The sum of every dx: Inf or NaN if some N or t sum was not finite, as these reach dx through g N^-beta or
  // the t sum (no operation on the way drops a NaN); one add, where checking N and the t sums took two FMAs on
  // the multiply ports. A finite sum that overflows only costs an exact redo.
  V sum = hn::Zero(d), dxsum = hn::Zero(d), nn = hn::Zero(d);
  for (int64_t c = 0; c < C + kB + 2; ++c) {
    // The second line of this vector (the first was the previous column's last) kAhead channels ahead or, past
    // the last channel, in the next column's first channels. dx's lines are prefetched for writing.
    if (c + kA + kAhead < C) hwy::Prefetch(xb + (c + kA + kAhead) * S + L - 1);
    else if (next && c + kA + kAhead < 2 * C) hwy::Prefetch(xb + next + (c + kA + kAhead - C) * S + L - 1);
    if (c + kAhead < C) hwy::Prefetch(gb + (c + kAhead) * S + L - 1);
    else if (next && c + kAhead < 2 * C) hwy::Prefetch(gb + next + (c + kAhead - C) * S + L - 1);
    if (c - kB + kAhead < C) __builtin_prefetch(db + (c - kB + kAhead) * S + L - 1, 1, 3);
    else if (next && c - kB + kAhead < 2 * C) __builtin_prefetch(db + next + (c - kB + kAhead - C) * S + L - 1, 1, 3);
    if (c >= kB + 2) {  // dx of channel c - kB - 2, whose transposed window is [c - n - 1, c - 2]
      V ts = TT[0];
      for (int j = 1; j < n; ++j) ts = hn::Add(ts, TT[j]);
      const V dxv = hn::NegMulAdd(hn::Mul(vcoef, X[0]), ts, GN[0]);
      if constexpr (!Exact) dxsum = hn::Add(dxsum, dxv);
      StoreT(dxv, d, db + (c - kB - 2) * S);
    }
    V gn = hn::Zero(d), t = hn::Zero(d);
    if (c >= 1 && c <= C) {  // channel c - 1, whose x is X[kB + 1]
      const V gc = LoadT(d, gb + (c - 1) * S);
      if constexpr (Exact) {
        gn = hn::Mul(gc, NegPow<K>(d, nn, vnb));
        t = hn::Div(hn::Mul(gn, X[kB + 1]), nn);
      } else {
        V rn;
        gn = hn::Mul(gc, NegPowRecipFinite<K, T>(d, nn, vnb, rn));
        t = hn::Mul(hn::Mul(gn, X[kB + 1]), rn);
      }
    }
    for (int j = 0; j < kB; ++j) GN[j] = GN[j + 1];
    for (int j = 0; j + 1 < n; ++j) TT[j] = TT[j + 1];
    GN[kB] = gn, TT[n - 1] = t;
    for (int j = 0; j < n; ++j) X[j] = X[j + 1], Q[j] = Q[j + 1];
    X[n] = c + kA < C ? LoadT(d, xb + (c + kA) * S) : hn::Zero(d);
    Q[n] = hn::Mul(X[n], X[n]);
    if (Exact || c % kAnchor == 0) {
      sum = Q[1];
      for (int j = 2; j <= n; ++j) sum = hn::Add(sum, Q[j]);
    } else {  // squares leave and enter by adds, off the multiply ports
      sum = hn::Add(hn::Sub(sum, Q[0]), Q[n]);
    }
    if (c < C) nn = hn::MulAdd(Exact ? sum : RunningSumNonNegative(d, sum), va, vk);
  }
  return hn::AllTrue(d, hn::IsFinite(dxsum));
}

// The column walk over blocks of pixels (at least a vector each); a block's last column overlaps its neighbour
// instead of running a partial vector (the same dx computed twice, by the same thread). Measured: staging dx in a
// block buffer to stream it out, and prefetching whole block rows, were both slower.
template <int K, int kB, int kA, class T>
void BackwardColumnsCF(const LrnProblem& p, const T* x, const T* g, T* dx) {
  using TC = ComputeT<T>;
  const hn::ScalableTag<TC> d;
  constexpr int64_t kWidth = 256;  // pixels per block
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, S = p.spatial(), blocks = std::max<int64_t>(1, S / kWidth);
  const TC a = TC(p.alpha / p.divisor), kk = TC(p.k), nb = TC(-p.beta), coef = TC(2 * p.alpha * p.beta / p.divisor);
  parallel_for(0, p.n * blocks, 1, [&, a, kk, nb, coef](int64_t lo, int64_t hi) {
    const auto va = hn::Set(d, a), vk = hn::Set(d, kk), vnb = hn::Set(d, nb), vcoef = hn::Set(d, coef);
    const auto first = [&](int64_t job) { return job / blocks * C * S + S * (job % blocks) / blocks; };
    for (int64_t job = lo; job < hi; ++job) {
      const int64_t b = job / blocks, s0 = S * (job % blocks) / blocks, s1 = S * (job % blocks + 1) / blocks;
      for (int64_t q = s0; q < s1; q += L) {
        const int64_t at = b * C * S + std::min(q, s1 - L);
        // The next column this thread walks: this block's, or the next job's first.
        const int64_t nat = q + L < s1 ? b * C * S + std::min(q + L, s1 - L) : job + 1 < hi ? first(job + 1) : at;
        if (!BwdColumnCF<K, kB, kA, false>(d, x + at, g + at, dx + at, S, C, va, vk, vnb, vcoef, nat - at))
          BwdColumnCF<K, kB, kA, true>(d, x + at, g + at, dx + at, S, C, va, vk, vnb, vcoef);
      }
    }
  });
}

template <int K, class T>
void Backward(ChannelsFirst, const LrnProblem& p, const T* x, const T* g, T* dx) {
  using TC = ComputeT<T>;
  const hn::ScalableTag<TC> d;
  const hn::CappedTag<TC, 1> d1;  // the pixels after the last full vector
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, S = p.spatial(), B = p.behind, A = p.ahead, n = A + B + 1;
  // The windows of size 3 and 5 most conventions use walk columns in registers (16x96x55x55, 2 threads: 1.04-1.12
  // ms where the block pipeline took 1.39-1.64; 16x256x27x27 and cache-resident shapes 15-30% faster).
  const bool columns = S >= L;
  if (columns && B == 2 && A == 2) return BackwardColumnsCF<K, 2, 2>(p, x, g, dx);
  if (columns && B == 1 && A == 1) return BackwardColumnsCF<K, 1, 1>(p, x, g, dx);
  const TC a0 = TC(p.alpha / p.divisor), kk0 = TC(p.k), nb0 = TC(-p.beta), coef0 = TC(2 * p.alpha * p.beta / p.divisor);
  const int64_t W = kBlockBwd, blocks = (S + W - 1) / W;
  parallel_for(0, p.n * blocks, 1, [&](int64_t lo, int64_t hi) {
    // Local copies: captured by reference, they would be reloaded after every store to a float buffer.
    const TC a = a0, kk = kk0, nb = nb0, coef = coef0;
    auto sum = hwy::AllocateAligned<TC>(size_t(W)), tsum = hwy::AllocateAligned<TC>(size_t(W));
    auto tring = hwy::AllocateAligned<TC>(size_t(n * W)), gnring = hwy::AllocateAligned<TC>(size_t((B + 1) * W));
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
        st.gnc = gnring.get() + c % (B + 1) * W;
        st.tc = tring.get() + c % n * W;
        st.tsub = !anchor && c - n >= 0;
        st.tsum = tsum.get();
        st.xi = i >= 0 ? xb + i * S : nullptr;
        st.gni = gnring.get() + (i + B + 1) % (B + 1) * W;
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
        // Rows entering the window are separate DRAM streams: prefetch a few rows ahead (dx's too).
        const T* xahead = c + A + kPrefetchRows < C ? xb + (c + A + kPrefetchRows) * S : nullptr;
        const T* gahead = c + kPrefetchRows < C ? gb + (c + kPrefetchRows) * S : nullptr;
        T* dahead = i + kPrefetchRows >= 0 && i + kPrefetchRows < C ? db + (i + kPrefetchRows) * S : nullptr;
        auto nfA = hn::Zero(d), nfB = hn::Zero(d);
        int64_t q = 0;
        for (; q + L <= P; q += L) {
          if (xahead) hwy::Prefetch(xahead + q);
          if (gahead) hwy::Prefetch(gahead + q);
          if (dahead) __builtin_prefetch(dahead + q, 1, 3);  // for writing: dx's lines are read for ownership
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


template struct Entries<ChannelsFirst>;  // for src/kernels/lrn/lrn_hwy.cpp

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
