// Shared pieces of the Highway LRN kernels (src/kernels/lrn/lrn_hwy.cpp and the files of each layout): storage
// <-> compute conversions (f32/f64/bf16/f16 storage, f32 arithmetic for the 16-bit types), the forms of N^-beta,
// and the entries each layout's file instantiates. Included once per target, after hwy/foreach_target.h, as
// Highway's own -inl.h files are.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "kernels/lrn/problem.hpp"
#include "kernels/stream-inl.h"

#ifndef LOCNET_KERNELS_LRN_LRN_INL_H_ONCE
#define LOCNET_KERNELS_LRN_LRN_INL_H_ONCE
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

#if defined(LOCNET_KERNELS_LRN_LRN_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LOCNET_KERNELS_LRN_LRN_INL_H_
#undef LOCNET_KERNELS_LRN_LRN_INL_H_
#else
#define LOCNET_KERNELS_LRN_LRN_INL_H_
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
// kNoNaN matters for bf16 only (see there).
template <bool NT = false, bool kNoNaN = false, class D>
HWY_INLINE void StoreT(hn::Vec<D> v, D d, hn::TFromD<D>* p) {
  StoreOrStream<NT>(v, d, p);
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
  StoreOrStream<NT>(RoundBf16<kNoNaN, D>(v), d16, reinterpret_cast<uint16_t*>(p));
}
template <bool NT = false, bool kNoNaN = false, class D>
HWY_INLINE void StoreT(hn::Vec<D> v, D d, hwy::float16_t* p) {
  (void)d;
  const hn::Rebind<uint16_t, D> d16;
  const hn::Rebind<hwy::float16_t, D> dh;
  StoreOrStream<NT>(hn::BitCast(d16, hn::DemoteTo(dh, v)), d16, reinterpret_cast<uint16_t*>(p));
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

// The layouts, each implemented in its own file by Forward<K>(Layout, p, x, y) and Backward<K>(Layout, p, x, g, dx)
// with K = pow_kind(beta) and T the storage type.
struct ChannelsFirst {};  // src/kernels/lrn/channels_first_hwy.cpp
struct ChannelsLast {};   // src/kernels/lrn/channels_last_hwy.cpp

// Highway's lane type for element type T: its own types for the 16-bit storage dtypes (same bits as bf16 / f16).
template <class T>
using Lane = std::conditional_t<std::is_same_v<T, bf16>, hwy::bfloat16_t,
                                std::conditional_t<std::is_same_v<T, f16>, hwy::float16_t, T>>;

// f.template operator()<K, T>() with K = pow_kind(p.beta) and T the lane type of p.dtype.
template <class F>
HWY_INLINE void VisitLrn(const LrnProblem& p, F&& f) {
  visit_dtype(p.dtype, [&](auto t) {
    using T = Lane<decltype(t)>;
    switch (pow_kind(p.beta)) {
      case kPow0: return f.template operator()<kPow0, T>();
      case kPowHalf: return f.template operator()<kPowHalf, T>();
      case kPow34: return f.template operator()<kPow34, T>();
      case kPow1: return f.template operator()<kPow1, T>();
      default: return f.template operator()<kPowGeneral, T>();
    }
  });
}

// A layout's kernels for every dtype and beta, untyped for the dispatch (src/kernels/lrn/lrn_hwy.cpp). Instantiated
// (`template struct Entries<Layout>;`) at the end of the layout's file only, where its Forward and Backward are
// found by argument-dependent lookup: the `extern template` declarations below keep other files from trying.
template <class Layout>
struct Entries {
  static void forward(const LrnProblem& p, const void* x, void* y);
  static void backward(const LrnProblem& p, const void* x, const void* g, void* dx);
};
template <class Layout>
void Entries<Layout>::forward(const LrnProblem& p, const void* x, void* y) {
  VisitLrn(p, [&]<int K, class T>() { Forward<K>(Layout(), p, static_cast<const T*>(x), static_cast<T*>(y)); });
}
template <class Layout>
void Entries<Layout>::backward(const LrnProblem& p, const void* x, const void* g, void* dx) {
  VisitLrn(p, [&]<int K, class T>() {
    Backward<K>(Layout(), p, static_cast<const T*>(x), static_cast<const T*>(g), static_cast<T*>(dx));
  });
}

extern template struct Entries<ChannelsFirst>;
extern template struct Entries<ChannelsLast>;

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // LOCNET_KERNELS_LRN_LRN_INL_H_
