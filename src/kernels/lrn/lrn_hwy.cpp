// Optimized across-channel LRN: Highway SIMD with runtime dispatch (one binary, best instruction set of the
// machine), OpenMP over pixel blocks. Formulas as in ref.cpp; storage f32/f64/bf16/f16, arithmetic in f32
// (f64 for f64). Forward needs no workspace; backward recomputes N from x in one pass over memory.
//   channels_first: vectors run across pixels; the window sum over channels is a running sum (add the channel
//     entering, subtract the one leaving: O(1) per element), re-anchored every kAnchor channels so rounding
//     drift stays bounded.
//   channels_last: vectors run across the contiguous channels of one pixel; on AVX-512 (f32 arithmetic, reach
//     <= 16 channels) the squares stay in registers and each window term is a two-vector permute; otherwise the
//     window sum adds n shifted loads of the squares from zero-margin rows in L1 (n <= kMaxDirect), else a
//     running sum in double per pixel.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/lrn/lrn_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include "hwy/aligned_allocator.h"
#include "hwy/cache_control.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "kernels/lrn/problem.hpp"
#include "kernels/stream.hpp"
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
// The fast f32 forms of N^-beta (NegPowFinite) make y NaN for every N that is negative, 0, NaN or +Inf (bf16's
// estimates too, except beta = 1/2 and N = +Inf: x * 0, the exact y), so checking y for NaN can replace checking N.
constexpr bool FastPowFlagsBadN(int K) { return K == kPowHalf || K == kPow34; }
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
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// 16 bf16 to f32: one word permute puts each in the upper half of its lane.
HWY_INLINE __m512 WidenBf16(__m256i h) {
  alignas(64) static constexpr uint16_t kIdx[32] = {16, 0, 16, 1, 16, 2,  16, 3,  16, 4,  16, 5,  16, 6,  16, 7,
                                                    16, 8, 16, 9, 16, 10, 16, 11, 16, 12, 16, 13, 16, 14, 16, 15};
  return _mm512_castsi512_ps(_mm512_permutexvar_epi16(_mm512_load_si512(kIdx), _mm512_zextsi256_si512(h)));
}
#endif
template <class D>
HWY_INLINE hn::Vec<D> LoadT(D d, const hwy::bfloat16_t* p) {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  if constexpr (hn::MaxLanes(D()) == 16)
    return hn::Vec<D>{WidenBf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)))};
#endif
  return hn::PromoteTo(d, hn::LoadU(hn::Rebind<hwy::bfloat16_t, D>(), p));
}
template <class D>
HWY_INLINE hn::Vec<D> LoadT(D d, const hwy::float16_t* p) {
  return hn::PromoteTo(d, hn::LoadU(hn::Rebind<hwy::float16_t, D>(), p));
}
// A store of a full vector, streaming (NT: non-temporal, `p` aligned to the vector's size) or ordinary. Partial
// vectors (four bf16 lanes under SSE4) always store normally: x86's narrowest streaming store writes 16 bytes.
template <bool NT, class DS>
HWY_INLINE void StoreV(hn::Vec<DS> v, DS ds, hn::TFromD<DS>* p) {
  if constexpr (NT && hn::MaxLanes(DS()) * sizeof(hn::TFromD<DS>) >= 16) {
    hn::Stream(v, ds, p);
  } else {
    hn::StoreU(v, ds, p);
  }
}
// kNoNaN matters for bf16 only (see there).
template <bool NT = false, bool kNoNaN = false, class D>
HWY_INLINE void StoreT(hn::Vec<D> v, D d, hn::TFromD<D>* p) {
  StoreV<NT>(v, d, p);
}
// The upper 16 bits of each 32-bit lane.
template <class D16, class VU>
HWY_INLINE hn::Vec<D16> UpperHalves(D16 d16, VU bits) {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  if constexpr (hn::MaxLanes(D16()) == 16) {  // one word permute, not Highway's shift + pack + permute
    alignas(64) static constexpr uint16_t kUpper[32] = {1,  3,  5,  7,  9,  11, 13, 15, 17, 19, 21,
                                                        23, 25, 27, 29, 31, 1,  3,  5,  7,  9,  11,
                                                        13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
    return hn::Vec<D16>{_mm512_castsi512_si256(_mm512_permutexvar_epi16(_mm512_load_si512(kUpper), bits.raw))};
  }
#endif
  const hn::Rebind<int32_t, D16> di;  // upper halves fit in int32; DemoteTo i32 -> u16 is what Highway offers
  return hn::DemoteTo(d16, hn::BitCast(di, hn::ShiftRight<16>(bits)));
}
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// AVX512_BF16's vcvtneps2bf16 rounds f32 to bf16 to nearest even, as StoreT does, in one instruction, but takes
// subnormal inputs as zero: callers check for those (vfpclassps) and redo the row. Inline assembly: the target
// pragma of this code does not include the extension, which only some AVX-512 machines have.
// kClass: the vfpclassps classes collected in `flagged`: subnormal (0x20), or also NaN (0xA1).
constexpr int kSubnormal = 0x20, kSubnormalOrNaN = 0xA1;
template <int kClass = kSubnormal>
HWY_INLINE void StoreBf16Native(hn::Vec<hn::ScalableTag<float>> v, hwy::bfloat16_t* p, __mmask16& flagged) {
  flagged |= _mm512_fpclass_ps_mask(v.raw, kClass);
  __m256i h;
  asm("vcvtneps2bf16 %1, %0" : "=v"(h) : "v"(v.raw));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), h);
}
// Two vectors as 32 bf16, words 0-15 from a and 16-31 from b, in one vcvtne2ps2bf16.
template <int kClass>
HWY_INLINE __m512i NarrowBf16NativePair(hn::Vec<hn::ScalableTag<float>> a, hn::Vec<hn::ScalableTag<float>> b,
                                        __mmask16& flagged) {
  flagged |= _mm512_fpclass_ps_mask(a.raw, kClass) | _mm512_fpclass_ps_mask(b.raw, kClass);
  __m512i h;
  asm("vcvtne2ps2bf16 %2, %1, %0" : "=v"(h) : "v"(b.raw), "v"(a.raw));
  return h;
}
#endif
// kNoNaN (bf16): skip the fix-up that keeps a NaN a NaN, needed only for input NaNs whose payload the rounding
// carries into the exponent. The forward's fast paths store so: x is in its own window, so a NaN x makes N NaN
// and the row is redone, and a NaN they compute themselves is the default quiet NaN, which the rounding keeps.
// v rounded to bf16 bits: to nearest even (as the reference does); NaN stays a quiet NaN.
template <bool kNoNaN = false, class D>
HWY_INLINE hn::Vec<hn::Rebind<uint16_t, D>> RoundBf16(hn::Vec<D> v) {
  const hn::RebindToUnsigned<D> du;
  auto bits = hn::BitCast(du, v);
  auto rounded = hn::Add(bits, hn::Add(hn::Set(du, 0x7fffu), hn::And(hn::ShiftRight<16>(bits), hn::Set(du, 1u))));
  if constexpr (!kNoNaN)
    rounded = hn::IfThenElse(hn::RebindMask(du, hn::IsNaN(v)), hn::Or(bits, hn::Set(du, 0x400000u)), rounded);
  return UpperHalves(hn::Rebind<uint16_t, D>(), rounded);
}
template <bool NT = false, bool kNoNaN = false, class D>
HWY_INLINE void StoreT(hn::Vec<D> v, D, hwy::bfloat16_t* p) {
  const hn::Rebind<uint16_t, D> d16;
  StoreV<NT>(RoundBf16<kNoNaN, D>(v), d16, reinterpret_cast<uint16_t*>(p));
}
template <bool NT = false, bool kNoNaN = false, class D>
HWY_INLINE void StoreT(hn::Vec<D> v, D d, hwy::float16_t* p) {
  (void)d;
  const hn::Rebind<uint16_t, D> d16;
  const hn::Rebind<hwy::float16_t, D> dh;
  StoreV<NT>(hn::BitCast(d16, hn::DemoteTo(dh, v)), d16, reinterpret_cast<uint16_t*>(p));
}
// Elements before the first address where a vector of Lanes(d) values of T can be streamed.
template <class D, class T>
HWY_INLINE int64_t StreamHead(D d, const T* p) {
  const uintptr_t bytes = hn::Lanes(d) * sizeof(T);
  return int64_t((bytes - reinterpret_cast<uintptr_t>(p) % bytes) % bytes / sizeof(T));
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

// The first `count` lanes of v into p (count < Lanes(d)), nothing past them.
template <class D>
HWY_INLINE void StoreFirstT(hn::Vec<D> v, D d, size_t count, hn::TFromD<D>* p) {
  hn::BlendedStore(v, hn::FirstN(d, count), d, p);
}
template <class D, class T>
  requires(!std::is_same_v<T, hn::TFromD<D>>)
HWY_INLINE void StoreFirstT(hn::Vec<D> v, D d, size_t count, T* p) {  // bf16 / f16
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  if constexpr (hn::MaxLanes(D()) == 16) {  // masked word store (AVX512BW); f16 rounds as DemoteTo in StoreT
    const __mmask16 m = __mmask16((1u << count) - 1);
    if constexpr (std::is_same_v<T, hwy::bfloat16_t>)
      return _mm256_mask_storeu_epi16(p, m, RoundBf16<false, D>(v).raw);
    else return _mm256_mask_storeu_epi16(p, m, _mm512_cvtps_ph(v.raw, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
#endif
  HWY_ALIGN hn::TFromD<D> lanes[hn::MaxLanes(D())];  // other targets: through a lane buffer
  hn::Store(v, d, lanes);
  for (size_t i = 0; i < count; ++i) StoreS(lanes[i], p + i);
}
template <class D>
HWY_INLINE hn::Vec<D> LoadFirstT(D d, size_t count, const hn::TFromD<D>* p) {
#if HWY_TARGET <= HWY_AVX2
  return hn::MaskedLoad(hn::FirstN(d, count), d, p);
#else  // SSE4's MaskedLoad loads the whole vector, aligned
  HWY_ALIGN hn::TFromD<D> lanes[hn::MaxLanes(D())] = {};
  std::copy(p, p + count, lanes);
  return hn::Load(d, lanes);
#endif
}
template <class D, class T>
  requires(!std::is_same_v<T, hn::TFromD<D>>)
HWY_INLINE hn::Vec<D> LoadFirstT(D d, size_t count, const T* p) {
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  if constexpr (hn::MaxLanes(D()) == 16) {  // masked word load: faults on none
    const __m256i h = _mm256_maskz_loadu_epi16(__mmask16((1u << count) - 1), p);
    if constexpr (std::is_same_v<T, hwy::bfloat16_t>) return hn::Vec<D>{WidenBf16(h)};
    else return hn::Vec<D>{_mm512_cvtph_ps(h)};
  }
#endif
  HWY_ALIGN hn::TFromD<D> lanes[hn::MaxLanes(D())] = {};
  for (size_t i = 0; i < count; ++i) lanes[i] = LoadS(p + i);
  return hn::Load(d, lanes);
}

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
// For bf16 storage TS (8 significant bits) the estimates without Newton steps: |e| <= 2.5 x the estimate's error
// (2^-14 on AVX-512, 1.5 x 2^-12 on SSE/AVX2), 1/13 or 1/2 of bf16's half unit in the last place (2^-9).
template <int K, class TS, class D, class V>
HWY_INLINE V NegPowFinite(D d, V n, V negbeta) {
  constexpr bool kCoarse = std::is_same_v<TS, hwy::bfloat16_t>;
  if constexpr (K == kPowHalf) {
    if constexpr (kCoarse) return hn::ApproximateReciprocalSqrt(n);
    return Rsqrt(d, n);
  } else if constexpr (K == kPow34 && sizeof(hn::TFromD<D>) == 4) {
    V e1 = hn::ApproximateReciprocalSqrt(n);
    V y0 = hn::Mul(hn::Mul(e1, e1), hn::ApproximateReciprocalSqrt(e1));
    if constexpr (kCoarse) return y0;
    V t = hn::Mul(y0, n);
    V h = hn::Mul(hn::Mul(t, t), hn::Mul(t, y0));
    return hn::Mul(y0, hn::NegMulAdd(hn::Set(d, 0.25f), h, hn::Set(d, 1.25f)));
  } else {
    return NegPow<K>(d, n, negbeta);
  }
}

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

// N^-beta and `recip` = 1/N, for finite N > 0 as NegPowFinite. beta = 3/4 in f32: z = N^-1/4 estimated as
// N^-1/2 (N^-1/2)^-1/2, one Newton step on z^4 N = 1 (error ~2.5 e^2), then N^-3/4 = z z^2 and 1/N = (z^2)^2:
// 11 operations where NegPowFinite and Recip take 13.
template <int K, class TS, class D, class V>
HWY_INLINE V NegPowRecipFinite(D d, V n, V negbeta, V& recip) {
  if constexpr (K == kPow34 && sizeof(hn::TFromD<D>) == 4 && !std::is_same_v<TS, hwy::bfloat16_t>) {
    V e1 = hn::ApproximateReciprocalSqrt(n);
    V z0 = hn::Mul(e1, hn::ApproximateReciprocalSqrt(e1));
    V z02 = hn::Mul(z0, z0);
    V z = hn::Mul(z0, hn::NegMulAdd(hn::Set(d, 0.25f), hn::Mul(hn::Mul(z02, z02), n), hn::Set(d, 1.25f)));
    V z2 = hn::Mul(z, z);
    recip = hn::Mul(z2, z2);
    return hn::Mul(z, z2);
  } else {
    recip = Recip(d, n);
    return NegPowFinite<K, TS>(d, n, negbeta);
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
void BackwardCF(const LrnProblem& p, const T* x, const T* g, T* dx) {
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

// ---- channels_last ---------------------------------------------------------------------------------------------
// Both directions run over blocks of pixels in stages: first the squares of the whole block go to rows with
// zero margins, so every window (at the first and last channels too) is plain shifted loads; later stages read
// those rows long after they were stored, so no load waits on the store buffer (a load spanning two recent
// stores cannot be forwarded and stalls).

// Sum of n >= 1 consecutive vectors starting at p, in two independent chains.
template <class D>
HWY_INLINE hn::Vec<D> WindowSum(D d, const hn::TFromD<D>* p, int64_t n) {
  auto s0 = hn::LoadU(d, p);
  if (n == 1) return s0;
  auto s1 = hn::LoadU(d, p + 1);
  int64_t j = 2;
  for (; j + 2 <= n; j += 2) {
    s0 = hn::Add(s0, hn::LoadU(d, p + j));
    s1 = hn::Add(s1, hn::LoadU(d, p + j + 1));
  }
  if (j < n) s0 = hn::Add(s0, hn::LoadU(d, p + j));
  return hn::Add(s0, s1);
}
template <class TC>
HWY_INLINE TC WindowSumS(const TC* p, int64_t n) {
  TC s = 0;
  for (int64_t j = 0; j < n; ++j) s += p[j];
  return s;
}

// Running window sums over [c - before, c + after] of `src` (C values) in double, for windows too wide for
// WindowSum: O(1) per element, re-anchored exactly every kAnchor channels and after non-finite values.
// kSquares: src holds squares, so the sums are taken as at least 0.
template <bool kSquares, class TC>
void RunningSums(const TC* src, TC* out, int64_t C, int64_t before, int64_t after) {
  double s = 0;
  for (int64_t c = 0; c < C; ++c) {
    if (c > 0 && c + after < C) s += double(src[c + after]);
    if (c > 0 && c - before - 1 >= 0) s -= double(src[c - before - 1]);
    if (c % kAnchor == 0 || !std::isfinite(s)) {
      s = 0;
      for (int64_t j = std::max<int64_t>(0, c - before); j <= std::min(C - 1, c + after); ++j) s += double(src[j]);
    }
    out[c] = TC(kSquares ? std::max(s, 0.0) : s);  // see RunningSumNonNegative
  }
}

// Per-thread rows of one block: `rows` pixel rows of C values, each between zero margins of `margin` values
// (shared by neighbouring rows), so shifted loads up to `margin` values either side, and whole vectors from any
// c < C, stay inside the buffer and read zeros outside the row.
template <class TC>
struct PaddedRows {
  int64_t margin, stride;
  hwy::AlignedFreeUniquePtr<TC[]> buf;
  PaddedRows(int64_t rows, int64_t C, int64_t margin, int64_t L)
      : margin(margin), stride(C + margin), buf(hwy::AllocateAligned<TC>(size_t(rows * stride + margin + L))) {
    std::fill(buf.get(), buf.get() + rows * stride + margin + L, TC(0));
  }
  TC* row(int64_t r) { return buf.get() + margin + r * stride; }
};

// The squares of pixel rows [p0, p0 + rows) of x into sq.
template <class D, class T>
HWY_INLINE void SquareRows(D d, const T* x, int64_t C, int64_t p0, int64_t rows, PaddedRows<hn::TFromD<D>>& sq) {
  const int64_t L = int64_t(hn::Lanes(d));
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + (p0 + r) * C;
    hn::TFromD<D>* out = sq.row(r);
    int64_t c = 0;
    for (; c + L <= C; c += L) {
      auto v = LoadT(d, xr + c);
      hn::StoreU(hn::Mul(v, v), d, out + c);
    }
    for (; c < C; ++c) out[c] = LoadS(xr + c) * LoadS(xr + c);
  }
}

constexpr int64_t kBlockValuesCL = 2048;  // channels_last: values per block and buffer (8 KiB of f32)

// One pixel of the channels_last forward; the window sum of channel c is win[c] + ... + win[c + wn - 1]. The row
// functions take every constant by value: captured by reference in the parallel lambda they would be reloaded
// after each store to the output, which the compiler cannot prove does not alias them.
template <int K, class D, class T>
HWY_INLINE void ForwardRowCL(D d, int64_t C, const T* HWY_RESTRICT xr, const hn::TFromD<D>* HWY_RESTRICT win,
                             int64_t wn, T* HWY_RESTRICT yr, hn::Vec<D> va, hn::Vec<D> vk, hn::Vec<D> vnb) {
  using TC = hn::TFromD<D>;
  const int64_t L = int64_t(hn::Lanes(d)), vecs = C / L * L;
  auto nonfinite = hn::Zero(d);  // stays 0 unless some N is Inf or NaN
  for (int64_t c = 0; c < vecs; c += L) {
    auto nn = hn::MulAdd(WindowSum(d, win + c, wn), va, vk);
    nonfinite = hn::MulAdd(nn, hn::Zero(d), nonfinite);
    StoreT<false, true>(hn::Mul(LoadT(d, xr + c), NegPowFinite<K, T>(d, nn, vnb)), d, yr + c);
  }
  if (HWY_UNLIKELY(!hn::AllFalse(d, hn::IsNaN(nonfinite))))
    for (int64_t c = 0; c < vecs; c += L)
      StoreT(hn::Mul(LoadT(d, xr + c), NegPow<K>(d, hn::MulAdd(WindowSum(d, win + c, wn), va, vk), vnb)), d, yr + c);
  const TC a = hn::GetLane(va), kk = hn::GetLane(vk), nb = hn::GetLane(vnb);
  for (int64_t c = vecs; c < C; ++c)
    StoreS(TC(LoadS(xr + c) * NegPowS<K>(WindowSumS(win + c, wn) * a + kk, nb)), yr + c);
}

#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
// AVX-512, f32 compute, windows reaching at most 16 channels either side: the pixel's squares stay in registers
// and every shifted window term is one two-vector shift (valignd for windows fixed at compile time, vpermt2ps
// otherwise; Highway 1.0 has no two-vector slide) of a vector and its neighbour. No buffers, one load per input
// vector, and no loads that straddle cache lines (the buffered path's shifted loads are bound by those).
constexpr int64_t kMaxPermuteReach = 16;
using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Shift tables: lane i of table j + 16 picks element i + j of the row from (previous, current) for j < 0 and
// from (current, next) for j > 0.
struct ShiftTables {
  __m512i idx[2 * kMaxPermuteReach + 1];
  ShiftTables() {
    const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (int j = -16; j <= 16; ++j) idx[j + 16] = _mm512_add_epi32(lanes, _mm512_set1_epi32(j < 0 ? 16 + j : j));
  }
};
// The row shifted by J lanes (J < 0: element c - |J| from prev and cur; J > 0: c + J from cur and next) with
// valignd, whose shift is an immediate: no index vector, and it issued where vpermt2ps did but ran the
// channels_last forward 7-10% faster (f32, 2 threads).
template <int J>
HWY_INLINE VF AlignShift(VF prev, VF cur, VF next) {
  const __m512i p = _mm512_castps_si512(prev.raw), c = _mm512_castps_si512(cur.raw), n = _mm512_castps_si512(next.raw);
  if constexpr (J < 0) return VF{_mm512_castsi512_ps(_mm512_alignr_epi32(c, p, 16 + J))};
  else return VF{_mm512_castsi512_ps(_mm512_alignr_epi32(n, c, J))};
}
// cur plus the shifts J..., in two chains of alternate terms. The second chain starts at its first term: a chain
// started at zero costs an add per vector (x + 0 is not folded in floating point).
template <int... J>
HWY_INLINE VF AlignSum(VF prev, VF cur, VF next, std::integer_sequence<int, J...>) {
  static constexpr int kJ[] = {J..., 0};
  constexpr size_t n = sizeof...(J);
  const auto shift = [&]<size_t I>() { return AlignShift<kJ[I]>(prev, cur, next); };
  if constexpr (n == 0) {
    return cur;
  } else if constexpr (n == 1) {
    return hn::Add(cur, shift.template operator()<0>());
  } else {
    VF s0 = hn::Add(cur, shift.template operator()<0>()), s1 = shift.template operator()<1>();
    [&]<size_t... P>(std::index_sequence<P...>) {
      ((void)((P % 2 ? s1 : s0) = hn::Add(P % 2 ? s1 : s0, shift.template operator()<P + 2>())), ...);
    }(std::make_index_sequence<n - 2>());
    return hn::Add(s0, s1);
  }
}
// The shifts -kB..-1, 1..kA.
template <int kB, int kA, int... I>
HWY_INLINE VF AlignSumBA(VF prev, VF cur, VF next, std::integer_sequence<int, I...>) {
  return AlignSum(prev, cur, next, std::integer_sequence<int, (I < kB ? I - kB : I - kB + 1)...>());
}

// Sum over j in [-before, after] of the row shifted by j, at the current vector.
// kB, kA >= 0: the window's reach fixed at compile time (valignd, unrolled).
template <int kB = -1, int kA = -1>
HWY_INLINE VF ShiftedSum(const ShiftTables& st, VF prev, VF cur, VF next, int64_t before, int64_t after) {
  if constexpr (kB >= 0 && kA >= 0) {
    return AlignSumBA<kB, kA>(prev, cur, next, std::make_integer_sequence<int, kB + kA>());
  }
  VF s0 = cur, s1 = hn::Zero(DF());
  for (int64_t j = 1; j <= before; ++j) {
    VF v{_mm512_permutex2var_ps(prev.raw, st.idx[16 - j], cur.raw)};
    (j & 1 ? s1 : s0) = hn::Add(j & 1 ? s1 : s0, v);
  }
  for (int64_t j = 1; j <= after; ++j) {
    VF v{_mm512_permutex2var_ps(cur.raw, st.idx[16 + j], next.raw)};
    (j & 1 ? s1 : s0) = hn::Add(j & 1 ? s1 : s0, v);
  }
  return hn::Add(s0, s1);
}
// Vector k of a pixel row of C values: whole, or its first C - 16k values with zeros after them.
template <class T>
HWY_INLINE VF LoadRowVec(const T* row, int64_t C, int64_t k) {
  const DF d;
  return 16 * (k + 1) <= C ? LoadT(d, row + 16 * k) : LoadFirstT(d, size_t(C - 16 * k), row + 16 * k);
}
template <bool kNoNaN, class T>
HWY_INLINE void StoreRowVec(VF v, T* row, int64_t C, int64_t k) {
  const DF d;
  if (16 * (k + 1) <= C) StoreT<false, kNoNaN>(v, d, row + 16 * k);
  else StoreFirstT(v, d, size_t(C - 16 * k), row + 16 * k);
}

// One pixel; Exact: IEEE N^-beta (the redo of a pixel whose N met Inf or NaN). Returns false if some N was not
// finite (Exact == false only) or, kNativeBf16 (T = bf16 on machines with AVX512_BF16), some output subnormal.
template <int K, bool Exact, class T, int kB = -1, int kA = -1, bool kNativeBf16 = false>
HWY_INLINE bool ForwardRowPermute(const ShiftTables& st, int64_t C, int64_t B, int64_t A, const T* HWY_RESTRICT xr,
                                  T* HWY_RESTRICT yr, VF va, VF vk, VF vnb) {
  const DF d;
  const int64_t nv = (C + 15) / 16;
  VF xcur = LoadRowVec(xr, C, 0), sprev = hn::Zero(d), scur = hn::Mul(xcur, xcur);
  auto nonfinite = hn::Zero(d);
  __mmask16 subnormal = 0;
  int64_t k = 0;
  if constexpr (!Exact) {  // whole vectors without branches: while the next is whole, then the last if whole
    // N of the vector whose window the squares sprev, scur and those of xnext complete; shifts them on.
    auto window_n = [&](VF xnext) {
      VF snext = hn::Mul(xnext, xnext);
      VF nn = hn::MulAdd(ShiftedSum<kB, kA>(st, sprev, scur, snext, B, A), va, vk);
      nonfinite = hn::MulAdd(nn, hn::Zero(d), nonfinite);
      sprev = scur;
      scur = snext;
      return nn;
    };
    auto put = [&](VF x, VF nn) {  // y of vector k
      const VF y = hn::Mul(x, NegPowFinite<K, T>(d, nn, vnb));
      if constexpr (kNativeBf16) StoreBf16Native(y, yr + 16 * k, subnormal);
      else StoreT<false, true>(y, d, yr + 16 * k);
      ++k;
    };
    if (32 <= C) {  // two stages a step apart, as BackwardRowPermute: N of vector k + 1, then y of vector k
      const VF x1 = LoadT(d, xr + 16);
      VF nn = window_n(x1), x = xcur;
      xcur = x1;
      while (16 * (k + 3) <= C) {
        const VF xnext = LoadT(d, xr + 16 * (k + 2)), nnext = window_n(xnext);
        put(x, nn);
        nn = nnext, x = xcur, xcur = xnext;
      }
      put(x, nn);
    }
    if (C % 16 == 0) put(xcur, window_n(hn::Zero(d)));
  }
  for (; k < nv; ++k) {
    VF xnext = k + 1 < nv ? LoadRowVec(xr, C, k + 1) : hn::Zero(d), snext = hn::Mul(xnext, xnext);
    VF nn = hn::MulAdd(ShiftedSum<kB, kA>(st, sprev, scur, snext, B, A), va, vk);
    VF np;
    if constexpr (Exact) {
      np = NegPow<K>(d, nn, vnb);
    } else {
      nonfinite = hn::MulAdd(nn, hn::Zero(d), nonfinite);
      np = NegPowFinite<K, T>(d, nn, vnb);
    }
    StoreRowVec<!Exact>(hn::Mul(xcur, np), yr, C, k);
    sprev = scur;
    scur = snext;
    xcur = xnext;
  }
  return hn::AllFalse(d, hn::IsNaN(nonfinite)) && subnormal == 0;
}

// bf16, window [c - 2, c + 2], C a multiple of 32: one 64-byte load holds 32 channels, and lane i's two halves
// are channels 2i (low) and 2i + 1 (high), so a shift and a mask widen them to f32 (e, o) without a shuffle. The
// window sums then need shifts by one lane only: with q = x^2 and p(i) = qe(i) + qo(i),
//   S(2i) = p(i - 1) + p(i) + qe(i + 1),   S(2i + 1) = qo(i - 1) + p(i) + p(i + 1),
// four valignd per 32 channels where the 16-channel path takes eight (and two permutes to widen, two conversions
// to narrow). y rounds to nearest even in integer arithmetic (exact for subnormals too) and the halves merge back with
// one ternary-logic op. R consecutive pixels (rows of C) go in lockstep: their independent chains keep the pipeline
// fuller (R = 2: 5% faster at C = 96, 2% at C = 256; f32's permute path gained 3% at C = 96 and lost 2% at 256).
// kNative (AVX512_BF16): one vcvtne2ps2bf16 narrows both halves and one vpermw interleaves them; it takes subnormal
// values as zero, so false is also returned for a subnormal y (then the rows are redone). With FastPowFlagsBadN
// the same vfpclassps finds NaN y in place of the check of N.
// Returns false if some N was not finite.
template <int K, int R, bool kNative = false>
HWY_INLINE bool ForwardRowsBf16Pairs(int64_t C, const hwy::bfloat16_t* HWY_RESTRICT xr,
                                     hwy::bfloat16_t* HWY_RESTRICT yr, VF va, VF vk, VF vnb) {
  const DF d;
  const __m512i high = _mm512_set1_epi32(int(0xFFFF0000u)), one = _mm512_set1_epi32(1),
                bias = _mm512_set1_epi32(0x7FFF);
  const auto round = [&](VF v) {  // bf16 bits in the high half of each lane (the low half is garbage)
    const __m512i u = _mm512_castps_si512(v.raw);
    return _mm512_add_epi32(_mm512_add_epi32(u, bias), _mm512_and_si512(_mm512_srli_epi32(u, 16), one));
  };
  const int64_t nv = C / 32;
  // vpermw indices: word 2i from word i (ye), word 2i + 1 from word 16 + i (yo).
  const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                              6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  constexpr bool kCheckY = kNative && FastPowFlagsBadN(K);
  constexpr int kClass = kCheckY ? kSubnormalOrNaN : kSubnormal;
  __mmask16 flagged = 0;
  VF pprev[R], qoprev[R], e[R], o[R], qe[R], qo[R], p[R];
  auto widen = [&](int r, int64_t k, VF& en, VF& on, VF& qen, VF& qon, VF& pn) {
    if (k < nv) {
      const __m512i w = _mm512_loadu_si512(xr + r * C + 32 * k);
      en = VF{_mm512_castsi512_ps(_mm512_slli_epi32(w, 16))};
      on = VF{_mm512_castsi512_ps(_mm512_and_si512(w, high))};
    } else {
      en = on = hn::Zero(d);
    }
    qen = hn::Mul(en, en);
    qon = hn::Mul(on, on);
    pn = hn::Add(qen, qon);
  };
  for (int r = 0; r < R; ++r) {
    pprev[r] = qoprev[r] = hn::Zero(d);
    widen(r, 0, e[r], o[r], qe[r], qo[r], p[r]);
  }
  auto nonfinite = hn::Zero(d);
  for (int64_t k = 0; k < nv; ++k) {
    for (int r = 0; r < R; ++r) {
      VF en, on, qen, qon, pn;
      widen(r, k + 1, en, on, qen, qon, pn);
      const VF se = hn::Add(hn::Add(AlignShift<-1>(pprev[r], p[r], p[r]), p[r]), AlignShift<1>(qe[r], qe[r], qen));
      const VF so = hn::Add(hn::Add(AlignShift<-1>(qoprev[r], qo[r], qo[r]), p[r]), AlignShift<1>(p[r], p[r], pn));
      const VF ne = hn::MulAdd(se, va, vk), no = hn::MulAdd(so, va, vk);
      if constexpr (!kCheckY)
        nonfinite = hn::MulAdd(hn::Add(ne, no), hn::Zero(d), nonfinite);  // N >= 0: Inf + finite stays Inf
      const VF ye = hn::Mul(e[r], NegPowFinite<K, hwy::bfloat16_t>(d, ne, vnb));
      const VF yo = hn::Mul(o[r], NegPowFinite<K, hwy::bfloat16_t>(d, no, vnb));
      if constexpr (kNative) {
        const __m512i w = NarrowBf16NativePair<kClass>(ye, yo, flagged);  // words 0-15: ye, 16-31: yo
        _mm512_storeu_si512(yr + r * C + 32 * k, _mm512_permutexvar_epi16(interleave, w));
      } else {
        const __m512i re = round(ye), ro = round(yo);
        // high ? ro : re >> 16
        _mm512_storeu_si512(yr + r * C + 32 * k,
                            _mm512_ternarylogic_epi32(ro, _mm512_srli_epi32(re, 16), high, 0xE4));
      }
      pprev[r] = p[r], qoprev[r] = qo[r];
      e[r] = en, o[r] = on, qe[r] = qen, qo[r] = qon, p[r] = pn;
    }
  }
  return hn::AllFalse(d, hn::IsNaN(nonfinite)) && flagged == 0;
}

// One pixel's dx (Exact: as ForwardRowPermute). kB, kA >= 0: the window's reach fixed at compile time (valignd;
// the size-5 window: 16x96x55x55 1.03-1.16 -> 0.95-0.98 ms, 16x256x27x27 0.65-0.67 -> 0.60-0.64, 2 threads).
// Two pixels in lockstep gained 5% more at 96 channels but lost 10% at 256. The loop was bound by latency, not by
// its ports: one thread on cache-resident data took ~30 cycles per vector for ~37 vector operations, each vector's
// chain (squares, window, N^-beta, t, window, dx) ~90 cycles long. As three stages a step apart it runs 13-16%
// faster: 16x96x55x55 1.05 -> 0.88 ms, 16x256x27x27 0.62 -> 0.54 (2 threads).
template <int K, bool Exact, class T, int kB = -1, int kA = -1>
HWY_INLINE bool BackwardRowPermute(const ShiftTables& st, int64_t C, int64_t B, int64_t A, const T* HWY_RESTRICT xr,
                                   const T* HWY_RESTRICT gr, T* HWY_RESTRICT dr, VF va, VF vk, VF vnb, VF vcoef) {
  const DF d;
  const int64_t nv = (C + 15) / 16;
  // Step k: N of vector k (A), then g N^-beta and t = g x N^(-beta-1) of vector k - 1 from the N of the step
  // before (B), then dx of vector k - 3 (C), whose transposed window [c - A, c + B] needs t of vectors k - 4 ..
  // k - 2, all from earlier steps. Each stage starts on values ready a step ago, so the long chain of N^-beta for one
  // vector overlaps the other stages instead of holding them back.
  VF xk = LoadRowVec(xr, C, 0), s0 = hn::Zero(d), s1 = hn::Mul(xk, xk);  // x of vector k; squares of k - 1, k
  VF nnb = hn::Zero(d), xb = hn::Zero(d);  // N and x of vector k - 1
  // At the start of step k: x and g N^-beta of vectors k - 2, k - 3; t of vectors k - 2, k - 3, k - 4.
  VF x1 = hn::Zero(d), x2 = hn::Zero(d), gn1 = hn::Zero(d), gn2 = hn::Zero(d);
  VF t1 = hn::Zero(d), t2 = hn::Zero(d), t3 = hn::Zero(d);
  auto nonfinite = hn::Zero(d);
  for (int64_t k = 0; k <= nv + 2; ++k) {
    if (k >= 3) {  // C
      VF ts = ShiftedSum<kA, kB>(st, t3, t2, t1, A, B);
      StoreRowVec<false>(hn::NegMulAdd(hn::Mul(vcoef, x2), ts, gn2), dr, C, k - 3);
    }
    VF tb = hn::Zero(d), gnb = hn::Zero(d);
    if (k >= 1 && k <= nv) {  // B
      if constexpr (Exact) {
        gnb = hn::Mul(LoadRowVec(gr, C, k - 1), NegPow<K>(d, nnb, vnb));
        tb = hn::Div(hn::Mul(gnb, xb), nnb);
      } else {
        nonfinite = hn::MulAdd(nnb, hn::Zero(d), nonfinite);
        gnb = hn::Mul(LoadRowVec(gr, C, k - 1), NegPowFinite<K, T>(d, nnb, vnb));
        tb = hn::Mul(hn::Mul(gnb, xb), Recip(d, nnb));
      }
    }
    t3 = t2, t2 = t1, t1 = tb;
    gn2 = gn1, gn1 = gnb;
    x2 = x1, x1 = xb;
    if (k < nv) {  // A
      const VF xn = k + 1 < nv ? LoadRowVec(xr, C, k + 1) : hn::Zero(d), sn = hn::Mul(xn, xn);
      nnb = hn::MulAdd(ShiftedSum<kB, kA>(st, s0, s1, sn, B, A), va, vk);
      xb = xk;
      xk = xn, s0 = s1, s1 = sn;
    }
  }
  return hn::AllFalse(d, hn::IsNaN(nonfinite));
}
#endif

template <int K, class T>
void ForwardCL(const LrnProblem& p, const T* x, T* y) {
  using TC = ComputeT<T>;
  const hn::ScalableTag<TC> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, B = p.behind, A = p.ahead, n = A + B + 1;
  const bool direct = n <= kMaxDirect;
  const auto va = hn::Set(d, TC(p.alpha / p.divisor)), vk = hn::Set(d, TC(p.k)), vnb = hn::Set(d, TC(-p.beta));
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL  // the permute path above
  if constexpr (std::is_same_v<TC, float>) {
    if (std::max(A, B) <= kMaxPermuteReach) {
      static const ShiftTables st;
      auto rows = [&](auto native) {
        constexpr bool kNative = decltype(native)::value;
        parallel_for(0, p.n * p.spatial(), std::max<int64_t>(1, 4096 / C), [&](int64_t lo, int64_t hi) {
          for (int64_t px = lo; px < hi; ++px) {
            const T* xr = x + px * C;
            T* yr = y + px * C;
            // The size-5 window most conventions default to, unrolled.
            bool ok = B == 2 && A == 2
                          ? ForwardRowPermute<K, false, T, 2, 2, kNative>(st, C, B, A, xr, yr, va, vk, vnb)
                          : ForwardRowPermute<K, false, T, -1, -1, kNative>(st, C, B, A, xr, yr, va, vk, vnb);
            if (!ok) ForwardRowPermute<K, true>(st, C, B, A, xr, yr, va, vk, vnb);
          }
        });
      };
      if constexpr (std::is_same_v<T, hwy::bfloat16_t>) {
        if (B == 2 && A == 2 && C % 32 == 0) {
          return parallel_for(0, p.n * p.spatial(), std::max<int64_t>(1, 4096 / C), [&](int64_t lo, int64_t hi) {
            auto redo = [&](int64_t px, int64_t end) {  // exactly, IEEE semantics
              for (; px < end; ++px) ForwardRowPermute<K, true>(st, C, B, A, x + px * C, y + px * C, va, vk, vnb);
            };
            auto pairs = [&](auto native) {
              constexpr bool kNative = decltype(native)::value;
              int64_t px = lo;
              for (; px + 2 <= hi; px += 2)
                if (!ForwardRowsBf16Pairs<K, 2, kNative>(C, x + px * C, y + px * C, va, vk, vnb)) redo(px, px + 2);
              if (px < hi && !ForwardRowsBf16Pairs<K, 1, kNative>(C, x + px * C, y + px * C, va, vk, vnb)) redo(px, hi);
            };
            use_avx512_bf16() ? pairs(std::true_type()) : pairs(std::false_type());
          });
        }
        if (use_avx512_bf16()) return rows(std::true_type());
      }
      return rows(std::false_type());
    }
  }
#endif
  const int64_t block = std::max<int64_t>(1, kBlockValuesCL / C);
  parallel_for(0, p.n * p.spatial(), block, [&](int64_t lo, int64_t hi) {
    PaddedRows<TC> sq(block, C, direct ? std::max(A, B) : 0, L);
    auto wide = hwy::AllocateAligned<TC>(size_t(C + L));  // window sums of windows wider than kMaxDirect
    for (int64_t p0 = lo; p0 < hi; p0 += block) {
      const int64_t rows = std::min(block, hi - p0);
      SquareRows(d, x, C, p0, rows, sq);
      for (int64_t r = 0; r < rows; ++r) {
        if (!direct) RunningSums<true>(sq.row(r), wide.get(), C, B, A);
        ForwardRowCL<K>(d, C, x + (p0 + r) * C, direct ? sq.row(r) - B : wide.get(), direct ? n : 1,
                            y + (p0 + r) * C, va, vk, vnb);
      }
    }
  });
}

// channels_last backward, phase 1 for one pixel: N^-beta and t = g x N^(-beta-1) (IEEE N^-beta and division for
// pixels whose N met Inf or NaN). Constants by value, as in ForwardRowCL.
template <int K, class D, class T>
HWY_INLINE void BackwardRowTCL(D d, int64_t C, const T* HWY_RESTRICT xr, const T* HWY_RESTRICT gr,
                               const hn::TFromD<D>* HWY_RESTRICT win, int64_t wn, hn::TFromD<D>* HWY_RESTRICT npr,
                               hn::TFromD<D>* HWY_RESTRICT tr, hn::Vec<D> va, hn::Vec<D> vk, hn::Vec<D> vnb) {
  using TC = hn::TFromD<D>;
  const int64_t L = int64_t(hn::Lanes(d)), vecs = C / L * L;
  auto nonfinite = hn::Zero(d);
  for (int64_t c = 0; c < vecs; c += L) {
    auto nn = hn::MulAdd(WindowSum(d, win + c, wn), va, vk);
    nonfinite = hn::MulAdd(nn, hn::Zero(d), nonfinite);
    auto npv = NegPowFinite<K, T>(d, nn, vnb);
    hn::StoreU(npv, d, npr + c);
    hn::StoreU(hn::Mul(hn::Mul(hn::Mul(LoadT(d, gr + c), LoadT(d, xr + c)), npv), Recip(d, nn)), d, tr + c);
  }
  if (HWY_UNLIKELY(!hn::AllFalse(d, hn::IsNaN(nonfinite))))
    for (int64_t c = 0; c < vecs; c += L) {
      auto nn = hn::MulAdd(WindowSum(d, win + c, wn), va, vk);
      auto npv = NegPow<K>(d, nn, vnb);
      hn::StoreU(npv, d, npr + c);
      hn::StoreU(hn::Div(hn::Mul(hn::Mul(LoadT(d, gr + c), LoadT(d, xr + c)), npv), nn), d, tr + c);
    }
  const TC a = hn::GetLane(va), kk = hn::GetLane(vk), nb = hn::GetLane(vnb);
  for (int64_t c = vecs; c < C; ++c) {
    TC nn = WindowSumS(win + c, wn) * a + kk, npv = NegPowS<K>(nn, nb);
    npr[c] = npv;
    tr[c] = LoadS(gr + c) * LoadS(xr + c) * npv / nn;
  }
}

// Phase 2 for one pixel: dx = g N^-beta - coef x (sum of t over the transposed window [c - A, c + B]), the t
// window sum of channel c being win[c] + ... + win[c + wn - 1].
template <class D, class T>
HWY_INLINE void BackwardRowDxCL(D d, int64_t C, const T* HWY_RESTRICT xr, const T* HWY_RESTRICT gr,
                                const hn::TFromD<D>* HWY_RESTRICT npr, const hn::TFromD<D>* HWY_RESTRICT win,
                                int64_t wn, T* HWY_RESTRICT dr, hn::Vec<D> vcoef) {
  using TC = hn::TFromD<D>;
  const int64_t L = int64_t(hn::Lanes(d)), vecs = C / L * L;
  for (int64_t c = 0; c < vecs; c += L) {
    auto gx = hn::Mul(LoadT(d, gr + c), hn::LoadU(d, npr + c));
    StoreT(hn::NegMulAdd(hn::Mul(vcoef, LoadT(d, xr + c)), WindowSum(d, win + c, wn), gx), d, dr + c);
  }
  const TC coef = hn::GetLane(vcoef);
  for (int64_t c = vecs; c < C; ++c)
    StoreS(TC(LoadS(gr + c) * npr[c] - coef * LoadS(xr + c) * WindowSumS(win + c, wn)), dr + c);
}

// channels_last backward, per block: the squares; then phase 1 for every pixel (t into rows with zero margins);
// then phase 2.
template <int K, class T>
void BackwardCL(const LrnProblem& p, const T* x, const T* g, T* dx) {
  using TC = ComputeT<T>;
  const hn::ScalableTag<TC> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, B = p.behind, A = p.ahead, n = A + B + 1;
  const bool direct = n <= kMaxDirect;
  const auto va = hn::Set(d, TC(p.alpha / p.divisor)), vk = hn::Set(d, TC(p.k)), vnb = hn::Set(d, TC(-p.beta));
  const auto vcoef = hn::Set(d, TC(2 * p.alpha * p.beta / p.divisor));
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL  // the permute path above
  if constexpr (std::is_same_v<TC, float>) {
    if (std::max(A, B) <= kMaxPermuteReach) {
      static const ShiftTables st;
      return parallel_for(0, p.n * p.spatial(), std::max<int64_t>(1, 4096 / C), [&](int64_t lo, int64_t hi) {
        for (int64_t px = lo; px < hi; ++px) {
          const T *xr = x + px * C, *gr = g + px * C;
          T* dr = dx + px * C;
          const bool ok = B == 2 && A == 2
                              ? BackwardRowPermute<K, false, T, 2, 2>(st, C, B, A, xr, gr, dr, va, vk, vnb, vcoef)
                              : BackwardRowPermute<K, false>(st, C, B, A, xr, gr, dr, va, vk, vnb, vcoef);
          if (!ok) BackwardRowPermute<K, true>(st, C, B, A, xr, gr, dr, va, vk, vnb, vcoef);
        }
      });
    }
  }
#endif
  const int64_t block = std::max<int64_t>(1, kBlockValuesCL / 2 / C);
  parallel_for(0, p.n * p.spatial(), block, [&](int64_t lo, int64_t hi) {
    const int64_t margin = direct ? std::max(A, B) : 0;
    PaddedRows<TC> sq(block, C, margin, L), t(block, C, margin, L), np(block, C, 0, L);
    auto wide = hwy::AllocateAligned<TC>(size_t(C + L));
    for (int64_t p0 = lo; p0 < hi; p0 += block) {
      const int64_t rows = std::min(block, hi - p0);
      SquareRows(d, x, C, p0, rows, sq);
      for (int64_t r = 0; r < rows; ++r) {
        if (!direct) RunningSums<true>(sq.row(r), wide.get(), C, B, A);
        BackwardRowTCL<K>(d, C, x + (p0 + r) * C, g + (p0 + r) * C, direct ? sq.row(r) - B : wide.get(),
                          direct ? n : 1, np.row(r), t.row(r), va, vk, vnb);
      }
      for (int64_t r = 0; r < rows; ++r) {
        if (!direct) RunningSums<false>(t.row(r), wide.get(), C, A, B);
        BackwardRowDxCL(d, C, x + (p0 + r) * C, g + (p0 + r) * C, np.row(r),
                            direct ? t.row(r) - A : wide.get(), direct ? n : 1, dx + (p0 + r) * C, vcoef);
      }
    }
  });
}

// ---- dispatch on dtype, layout and beta --------------------------------------------------------------------------
template <class T>
void ForwardT(const LrnProblem& p, const void* x, void* y) {
  // Streaming stores pay in the channels_first forward only: measured, they cost time in channels_last (whose
  // forward is bound by arithmetic more than by memory) and in backward; and for 4- and 8-byte storage only (bf16
  // outputs, 32 bytes a store, ran 1.7-2x slower streamed on both benchmark shapes).
  const bool nt = sizeof(T) >= 4 && stream_output(p.n * p.c * p.spatial() * int64_t(sizeof(T)));
  auto run = [&](auto k) {
    constexpr int K = decltype(k)::value;
    auto xt = static_cast<const T*>(x);
    auto yt = static_cast<T*>(y);
    if (p.channels_last) return ForwardCL<K>(p, xt, yt);
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
    if constexpr (std::is_same_v<T, hwy::bfloat16_t>)
      if (use_avx512_bf16()) return ForwardCF<K, false, T, true>(p, xt, yt);
#endif
    nt ? ForwardCF<K, true>(p, xt, yt) : ForwardCF<K, false>(p, xt, yt);
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

// Highway's lane type for element type T: its own types for the 16-bit storage dtypes (same bits as bf16 / f16).
template <class T>
using Lane = std::conditional_t<std::is_same_v<T, bf16>, hwy::bfloat16_t,
                                std::conditional_t<std::is_same_v<T, f16>, hwy::float16_t, T>>;

void Forward(const LrnProblem& p, const void* x, void* y) {
  visit_dtype(p.dtype, [&](auto t) { ForwardT<Lane<decltype(t)>>(p, x, y); });
}

void Backward(const LrnProblem& p, const void* x, const void* g, void* dx) {
  visit_dtype(p.dtype, [&](auto t) { BackwardT<Lane<decltype(t)>>(p, x, g, dx); });
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
