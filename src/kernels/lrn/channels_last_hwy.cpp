// The channels_last LRN kernels (dispatch: src/kernels/lrn/lrn_hwy.cpp): vectors run across the contiguous
// channels of one pixel; on AVX-512 (f32 arithmetic, reach <= 16 channels) the squares stay in registers and each
// window term is a two-vector permute; otherwise the window sum adds n shifted loads of the squares from
// zero-margin rows in L1 (n <= kMaxDirect), else a running sum in double per pixel.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/lrn/channels_last_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "hwy/aligned_allocator.h"
#include "hwy/highway.h"
#include "kernels/lrn/lrn-inl.h"
#include "locnet/core/parallel.hpp"

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {

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
    out[c] = TC(kSquares ? std::max(s, 0.0) : s);  // see RunningSumNonNegative (channels_first)
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
void Forward(ChannelsLast, const LrnProblem& p, const T* x, T* y) {
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
void Backward(ChannelsLast, const LrnProblem& p, const T* x, const T* g, T* dx) {
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

template struct Entries<ChannelsLast>;  // for src/kernels/lrn/lrn_hwy.cpp

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
