// Optimized Batch Normalization: Highway SIMD with runtime dispatch, OpenMP through parallel_for. Formulas as in
// ref.cpp; arithmetic in the storage type (f32 or f64) with double accumulators.
//   channels_first, planes of 2 KB or more: each task takes groups of G adjacent channels (G = 1 at these sizes,
//     bounded so that the group's n*G*S elements per input, <= 512 KB, stay in L2 from the sums pass to the output
//     pass: x is read from memory once; a channel of 32x56x56 is 400 KB); vectors run across each (n, c) plane.
//   channels_first, smaller planes (7x7): runs of a few planes per image would not stream, so each task streams over
//     a range of images keeping lane sums for every channel, and the output pass streams again, as channels_last.
//     Planes of at least a vector are walked as one stream of whole vectors (WalkPlanes): a vector shared by two
//     planes takes each lane's constants from its own plane, so there is no per-plane tail or call (a 7x7 plane is
//     three vectors and a shared one; per-plane calls with an overlapping tail made this path 1.6x slower).
//   Larger planes' tails are the plane's last whole vector, with the lanes already seen masked off (no partial loads).
//   channels_last: vectors run across the contiguous channels of a pixel; each task owns a range of pixel blocks
//     (about 64 KB each) and keeps per-channel partial sums, merged afterwards. The output pass walks each task's
//     range last block first, so it starts on what the sums pass left in L2 and L3.
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
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "hwy/aligned_allocator.h"
#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/batch_norm/problem.hpp"
#include "kernels/stream.hpp"
#include "locnet/core/parallel.hpp"

#ifndef LOCNET_BN_HWY_COMMON
#define LOCNET_BN_HWY_COMMON
namespace locnet::kernels::bn_detail {
constexpr int64_t kChunk = 2048;        // elements per lane-sum flush to double (channels_first)
constexpr int64_t kBlockElems = 16384;  // channels_last: elements per pixel block
// channels_last: pixels between flushes of the sums to double (64 measured 5-10% slower at N=256 C=512 7x7 and
// N=32 C=64 56x56: a flush costs about a microsecond for 512 channels).
constexpr int64_t kFlushPixels = 128;
inline int64_t block_pixels(int64_t c) { return std::max<int64_t>(8, kBlockElems / c); }
// Per-channel constants of y = act((x - mf) a + b) and dx = k g + c1 (x - mf) + c0, in double.
struct ChannelConsts {
  double mf, a, b, k = 0, c1 = 0, c0 = 0;
};
}  // namespace locnet::kernels::bn_detail
#endif

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using namespace bn_detail;

template <class T>
using Buf = hwy::AlignedFreeUniquePtr<T[]>;

template <class T>
ChannelConsts Consts(T mf_t, double mean, double invstd, double gamma, double beta) {
  ChannelConsts k;
  k.mf = double(mf_t);
  k.a = gamma * invstd;
  k.b = beta - (mean - k.mf) * k.a;
  return k;
}

// s1 += sum (x - shift), s2 += sum (x - shift)^2 over len contiguous elements.
template <class T>
void ShiftedSums(const T* x, int64_t len, T shift, double& s1, double& s2) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d));
  const auto vs = hn::Set(d, shift);
  for (int64_t c0 = 0; c0 < len; c0 += kChunk) {
    const int64_t end = std::min(len, c0 + kChunk);
    auto a1 = hn::Zero(d), a2 = hn::Zero(d), b1 = hn::Zero(d), b2 = hn::Zero(d);
    int64_t i = c0;
    for (; i + 2 * L <= end; i += 2 * L) {
      auto u = hn::Sub(hn::LoadU(d, x + i), vs), v = hn::Sub(hn::LoadU(d, x + i + L), vs);
      a1 = hn::Add(a1, u);
      a2 = hn::MulAdd(u, u, a2);
      b1 = hn::Add(b1, v);
      b2 = hn::MulAdd(v, v, b2);
    }
    for (; i + L <= end; i += L) {
      auto u = hn::Sub(hn::LoadU(d, x + i), vs);
      a1 = hn::Add(a1, u);
      a2 = hn::MulAdd(u, u, a2);
    }
    double t1 = double(hn::GetLane(hn::SumOfLanes(d, hn::Add(a1, b1))));
    double t2 = double(hn::GetLane(hn::SumOfLanes(d, hn::Add(a2, b2))));
    for (; i < end; ++i) {
      T u = x[i] - shift;
      t1 += double(u);
      t2 += double(u) * double(u);
    }
    s1 += t1;
    s2 += t2;
  }
}

// Lane sums a1 += x - shift, a2 += (x - shift)^2 over L <= len elements, not reduced. The tail is the last whole
// vector with the lanes already counted masked off (no partial loads, which SSE4 would emulate with whole ones).
template <class D, class V>
HWY_INLINE void PlaneSums(D d, const hn::TFromD<D>* x, int64_t len, V vs, V& a1, V& a2) {
  const int64_t L = int64_t(hn::Lanes(d));
  V b1 = hn::Zero(d), b2 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * L <= len; i += 2 * L) {
    const V u = hn::Sub(hn::LoadU(d, x + i), vs), v = hn::Sub(hn::LoadU(d, x + i + L), vs);
    a1 = hn::Add(a1, u);
    a2 = hn::MulAdd(u, u, a2);
    b1 = hn::Add(b1, v);
    b2 = hn::MulAdd(v, v, b2);
  }
  if (i + L <= len) {
    const V u = hn::Sub(hn::LoadU(d, x + i), vs);
    a1 = hn::Add(a1, u);
    a2 = hn::MulAdd(u, u, a2);
    i += L;
  }
  if (i < len) {
    const V u = hn::IfThenZeroElse(hn::FirstN(d, size_t(L - (len - i))), hn::Sub(hn::LoadU(d, x + len - L), vs));
    b1 = hn::Add(b1, u);
    b2 = hn::MulAdd(u, u, b2);
  }
  a1 = hn::Add(a1, b1);
  a2 = hn::Add(a2, b2);
}

// max(z, 0) that keeps NaN, as the reference: x86's max returns its second operand when either is NaN, so
// max(0, z) keeps a NaN z in one instruction (max(z, 0) gave 0); other targets' Max (and the emulated ones on
// x86) differ, so they compare and select. -0 stays -0 on both paths, as in the reference's std::max(z, 0.0).
template <class D, class V>
HWY_INLINE V Relu(D d, V z) {
#if HWY_ARCH_X86 && HWY_TARGET != HWY_EMU128 && HWY_TARGET != HWY_SCALAR
  return hn::Max(hn::Zero(d), z);
#else
  return hn::IfThenZeroElse(hn::Lt(z, hn::Zero(d)), z);
#endif
}
// g = dy * act'((x - mf) a + b) with u = x - mf; at a NaN z, g = dy (NaN passes, as PyTorch's relu backward).
template <bool kRelu, class D, class V>
HWY_INLINE V GradIn(D d, V u, V g, V va, V vb) {
  if (!kRelu) return g;
  return hn::IfThenZeroElse(hn::Le(hn::MulAdd(u, va, vb), hn::Zero(d)), g);
}
// The same for one element, and one element of y = act((x - mf) a + b).
template <bool kRelu, class T>
HWY_INLINE T GradInS(T u, T g, T a, T b) {
  return kRelu && u * a + b <= 0 ? T(0) : g;
}
template <bool kRelu, class T>
HWY_INLINE T AffineS(T x, T mf, T a, T b) {
  T z = (x - mf) * a + b;
  return kRelu ? (z < 0 ? T(0) : z) : z;
}

// Lane sums a1 += g, a2 += g (x - mf) over L <= len elements, not reduced (tail as in PlaneSums).
template <bool kRelu, class D, class V>
HWY_INLINE void PlaneGradSums(D d, const hn::TFromD<D>* x, const hn::TFromD<D>* dy, int64_t len, V vm, V va, V vb,
                              V& a1, V& a2) {
  const int64_t L = int64_t(hn::Lanes(d));
  int64_t i = 0;
  for (; i + L <= len; i += L) {
    const V u = hn::Sub(hn::LoadU(d, x + i), vm);
    const V g = GradIn<kRelu>(d, u, hn::LoadU(d, dy + i), va, vb);
    a1 = hn::Add(a1, g);
    a2 = hn::MulAdd(g, u, a2);
  }
  if (i < len) {
    const auto seen = hn::FirstN(d, size_t(L - (len - i)));
    const V u = hn::IfThenZeroElse(seen, hn::Sub(hn::LoadU(d, x + len - L), vm));
    const V g = hn::IfThenZeroElse(seen, GradIn<kRelu>(d, u, hn::LoadU(d, dy + len - L), va, vb));
    a1 = hn::Add(a1, g);
    a2 = hn::MulAdd(g, u, a2);
  }
}

// Output stores: streaming (NT, aligned) or ordinary.
template <bool NT, class D>
HWY_INLINE void Put(D d, hn::Vec<D> v, hn::TFromD<D>* p) {
  if constexpr (NT)
    hn::Stream(v, d, p);
  else
    hn::StoreU(v, d, p);
}
// Streaming stores for an output of `elems` elements (kernels/stream.hpp): when it is large and every vector store
// is aligned, which holds when y is aligned and runs of `run` elements are whole vectors (the kernels store whole
// vectors from the start of each run). Skipping the read for ownership saves a third of the traffic of y = f(x).
template <class T>
bool StreamOut(int64_t elems, int64_t run, const T* y) {
  const size_t L = hn::Lanes(hn::ScalableTag<T>());
  return stream_output(elems * int64_t(sizeof(T))) && run % int64_t(L) == 0 &&
         reinterpret_cast<uintptr_t>(y) % (L * sizeof(T)) == 0;
}
// f(std::bool_constant<stream>), then the fence that orders the streaming stores.
template <class F>
void WithStream(bool stream, F&& f) {
  if (!stream) return f(std::false_type());
  f(std::true_type());
  hwy::FlushStream();
}
// The output pass after a statistics pass visits blocks [0, n) of a task: ordinary stores go last block first, as
// the statistics pass just read the blocks in order and the last ones are still in this core's L2 and the shared
// L3; streaming stores go in order (measured, N=256 C=512 7x7 and N=32 C=64 56x56, both layouts: mostly 5-20%
// faster than last first with streaming stores, though noisy).
template <class F>
void OutputOrder(int64_t n, bool stream, F&& block) {
  for (int64_t k = 0; k < n; ++k) block(stream ? k : n - 1 - k);
}

// y = act((x - mf) a + b) over len contiguous elements (NT: len is whole vectors and y aligned).
template <bool kRelu, bool NT = false, class T>
void Affine(const T* x, T* y, int64_t len, const ChannelConsts& k) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d));
  const T mf = T(k.mf), a = T(k.a), b = T(k.b);
  if (len < L) {
    for (int64_t i = 0; i < len; ++i) y[i] = AffineS<kRelu>(x[i], mf, a, b);
    return;
  }
  const auto vm = hn::Set(d, mf), va = hn::Set(d, a), vb = hn::Set(d, b);
  auto f = [&](hn::Vec<decltype(d)> v) {
    auto z = hn::MulAdd(hn::Sub(v, vm), va, vb);
    return kRelu ? Relu(d, z) : z;
  };
  const auto tail = f(hn::LoadU(d, x + len - L));  // the last whole vector, read before any store (y may be x)
  int64_t i = 0;
  for (; i + L <= len; i += L) Put<NT>(d, f(hn::LoadU(d, x + i)), y + i);
  if (i < len) hn::StoreU(tail, d, y + len - L);
}

// dx = k g + c1 (x - mf) + c0 (NT as in Affine).
template <bool kRelu, bool NT = false, class T>
void GradApply(const T* x, const T* dy, T* dx, int64_t len, const ChannelConsts& k) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d));
  const T mf = T(k.mf), a = T(k.a), b = T(k.b), kk = T(k.k), c1 = T(k.c1), c0 = T(k.c0);
  if (len < L) {
    for (int64_t i = 0; i < len; ++i) {
      T u = x[i] - mf;
      T g = GradInS<kRelu>(u, dy[i], a, b);
      dx[i] = kk * g + (c1 * u + c0);
    }
    return;
  }
  const auto vm = hn::Set(d, mf), va = hn::Set(d, a), vb = hn::Set(d, b), vk = hn::Set(d, kk), vc1 = hn::Set(d, c1),
             vc0 = hn::Set(d, c0);
  auto f = [&](const T* px, const T* pg) {
    auto u = hn::Sub(hn::LoadU(d, px), vm);
    return hn::MulAdd(vk, GradIn<kRelu>(d, u, hn::LoadU(d, pg), va, vb), hn::MulAdd(vc1, u, vc0));
  };
  const auto tail = f(x + len - L, dy + len - L);  // read before any store (dx may be x or dy)
  int64_t i = 0;
  for (; i + L <= len; i += L) Put<NT>(d, f(x + i, dy + i), dx + i);
  if (i < len) hn::StoreU(tail, d, dx + len - L);
}

// Statistics and forward constants from sums s1, s2 of x - shift and its square over m elements.
template <class T>
ChannelConsts StatsConsts(double shift, double s1, double s2, double m, double eps, double gamma, double beta,
                          double* mean, double* var) {
  s1 /= m;
  *mean = shift + s1;
  *var = std::max(0.0, s2 / m - s1 * s1);
  return Consts(T(*mean), *mean, 1 / std::sqrt(*var + eps), gamma, beta);
}

// Backward constants from the gradient sums (both layouts).
template <class T>
ChannelConsts BackwardConsts(const BatchNormProblem& p, ChannelConsts k, double mean, double invstd, double gamma,
                             bool batch_stats, double sg, double sgd, double* dgamma, double* dbeta) {
  const double m = double(p.count());
  *dbeta = sg;
  *dgamma = invstd * (sgd - (mean - k.mf) * sg);  // sum g (x - mean) from sums about mf
  k.k = gamma * invstd;
  if (batch_stats) {
    k.c1 = -k.k * invstd * *dgamma / m;
    k.c0 = -k.k * sg / m - k.c1 * (mean - k.mf);
  }
  return k;
}

// Tasks of contiguous pixel blocks: calls fn(task, first pixel, end pixel) once per task, in parallel. The same
// arguments give every task the same range and thread (static schedule) in every call.
template <class F>
int64_t ForTasks(int64_t pixels, int64_t block, F&& fn) {
  const int64_t blocks = (pixels + block - 1) / block;
  const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(num_threads(), blocks));
  parallel_for(0, tasks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t)
      fn(t, std::min(pixels, blocks * t / tasks * block), std::min(pixels, blocks * (t + 1) / tasks * block));
  });
  return tasks;
}

// Small planes (under 2 KB): each task streams over a range of images and keeps lane sums for every channel, as
// runs of a few planes per image would not stream; sums(b0, b1, acc) adds the lane sums of images [b0, b1) into
// acc (channel c's at acc[2cL, 2cL + L) and acc[(2c + 1)L, (2c + 2)L)). Per-task sums (double) go to out1, out2;
// returns the number of tasks.
template <class T, class F>
int64_t StreamSumsCF(const BatchNormProblem& p, std::vector<double>& out1, std::vector<double>& out2, F&& sums) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c;
  const int64_t nb = std::max<int64_t>(1, kChunk / std::max(p.s, L));  // images per flush to double
  out1.assign(static_cast<size_t>(std::max(1, num_threads()) * C), 0.0);
  out2.assign(out1.size(), 0.0);
  return ForTasks(p.n, 1, [&](int64_t t, int64_t b0, int64_t b1) {
    Buf<T> acc = hwy::AllocateAligned<T>(size_t(2 * C * L));
    double* o1 = &out1[size_t(t * C)];
    double* o2 = &out2[size_t(t * C)];
    for (int64_t bb = b0; bb < b1; bb += nb) {
      std::fill(acc.get(), acc.get() + 2 * C * L, T(0));
      sums(bb, std::min(b1, bb + nb), acc.get());
      for (int64_t c = 0; c < C; ++c) {
        o1[c] += double(hn::GetLane(hn::SumOfLanes(d, hn::Load(d, acc.get() + 2 * c * L))));
        o2[c] += double(hn::GetLane(hn::SumOfLanes(d, hn::Load(d, acc.get() + (2 * c + 1) * L))));
      }
    }
  });
}

inline bool SmallPlanes(const BatchNormProblem& p, size_t esize) { return p.s * int64_t(esize) < 2048; }

// Small planes of S >= L elements walked as one stream of whole vectors, from the start of plane 0 at element e0 to
// the plane end e1: plane(c, i0, i1) for the whole vectors [i0, i1) inside plane c (maybe none), then close(i, c, m,
// cn): the plane's last m < L elements at i, which the vector at i shares with the first lanes of plane cn =
// (c + 1) % C, or end the stream (cn = -1). Each element is visited once, in order (so y may be x).
template <class D, class Plane, class Close>
HWY_INLINE void WalkPlanes(D, int64_t C, int64_t S, int64_t e0, int64_t e1, Plane&& plane, Close&& close) {
  const int64_t L = int64_t(hn::Lanes(D()));
  int64_t i = e0, c = 0;
  for (int64_t pe = e0 + S;; pe += S) {
    const int64_t full = i + (pe - i) / L * L, cn = c + 1 == C ? 0 : c + 1;
    plane(c, i, full);
    i = full;
    if (pe == e1) return close(i, c, pe - i, int64_t(-1));
    close(i, c, pe - i, cn);
    if (i < pe) i += L;
    c = cn;
  }
}

// Lane sums over the small planes (S >= L) of images [b0, b1): channel c's acc rows (as in StreamSumsCF) gain
// terms(i, k, t1, t2) of each vector at i, where k = consts(c), or for a vector shared by planes c and cn,
// blend(first, consts(c), consts(cn)) with `first` its lanes in c; termsS(j, c, t1, t2) gives one element's.
template <class D, class Consts, class Blend, class Terms, class TermsS>
HWY_INLINE void WalkSums(D d, const BatchNormProblem& p, int64_t b0, int64_t b1, hn::TFromD<D>* acc, Consts&& consts,
                         Blend&& blend, Terms&& terms, TermsS&& termsS) {
  using V = hn::Vec<D>;
  using T = hn::TFromD<D>;
  const int64_t L = int64_t(hn::Lanes(d));
  V a1 = hn::Zero(d), a2 = hn::Zero(d), n1 = hn::Zero(d), n2 = hn::Zero(d);  // n: the next plane's first lanes
  WalkPlanes(
      d, p.c, p.s, b0 * p.c * p.s, b1 * p.c * p.s,
      [&](int64_t c, int64_t i0, int64_t i1) {
        const auto k = consts(c);
        a1 = n1, a2 = n2;
        for (int64_t i = i0; i < i1; i += L) {
          V t1, t2;
          terms(i, k, t1, t2);
          a1 = hn::Add(a1, t1);
          a2 = hn::Add(a2, t2);
        }
      },
      [&](int64_t i, int64_t c, int64_t m, int64_t cn) {
        T* ac = acc + 2 * c * L;
        n1 = n2 = hn::Zero(d);
        if (m > 0 && cn >= 0) {
          const auto first = hn::FirstN(d, size_t(m));
          V t1, t2;
          terms(i, blend(first, consts(c), consts(cn)), t1, t2);
          a1 = hn::Add(a1, hn::IfThenElseZero(first, t1));
          a2 = hn::Add(a2, hn::IfThenElseZero(first, t2));
          n1 = hn::IfThenZeroElse(first, t1);
          n2 = hn::IfThenZeroElse(first, t2);
        }
        hn::Store(hn::Add(hn::Load(d, ac), a1), d, ac);
        hn::Store(hn::Add(hn::Load(d, ac + L), a2), d, ac + L);
        for (int64_t j = 0; cn < 0 && j < m; ++j) {
          T t1, t2;
          termsS(i + j, c, t1, t2);
          ac[j] += t1;
          ac[L + j] += t2;
        }
      });
}

// The same lane sums for planes shorter than a vector (S < L): element i of a plane goes to lane i.
template <class T, class TermS>
void ShortPlaneSums(const BatchNormProblem& p, int64_t b0, int64_t b1, int64_t L, T* acc, TermS&& termS) {
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t c = 0; c < p.c; ++c)
      for (int64_t i = 0; i < p.s; ++i) {
        T t1, t2;
        termS((b * p.c + c) * p.s + i, c, t1, t2);
        acc[2 * c * L + i] += t1;
        acc[(2 * c + 1) * L + i] += t2;
      }
}

// Per-channel constants of ChannelConsts in the storage type, for the plane walks.
template <class T>
struct PlaneConsts {
  std::vector<T> mf, a, b, k, c1, c0;
  explicit PlaneConsts(const std::vector<ChannelConsts>& ks) {
    for (const ChannelConsts& q : ks) {
      mf.push_back(T(q.mf)), a.push_back(T(q.a)), b.push_back(T(q.b));
      k.push_back(T(q.k)), c1.push_back(T(q.c1)), c0.push_back(T(q.c0));
    }
  }
};
// The constant vector of a plane, or for an edge vector its first m lanes from plane c and the rest from cn.
template <class D>
HWY_INLINE hn::Vec<D> EdgeSet(D d, const hn::TFromD<D>* v, int64_t c, int64_t cn, hn::Mask<D> first) {
  return hn::IfThenElse(first, hn::Set(d, v[c]), hn::Set(d, v[cn]));
}

// y = act((x - mf) a + b) over the small planes of images [b0, b1) (NT: y + b0 C S aligned).
template <bool kRelu, bool NT = false, class T>
void AffinePlanes(const BatchNormProblem& p, const T* x, T* y, int64_t b0, int64_t b1, const PlaneConsts<T>& q) {
  const hn::ScalableTag<T> d;
  using V = hn::Vec<decltype(d)>;
  const T *mf = q.mf.data(), *a = q.a.data(), *b = q.b.data();
  auto f = [&](const T* px, T* py, V vm, V va, V vb) {
    V z = hn::MulAdd(hn::Sub(hn::LoadU(d, px), vm), va, vb);
    Put<NT>(d, kRelu ? Relu(d, z) : z, py);
  };
  WalkPlanes(
      d, p.c, p.s, b0 * p.c * p.s, b1 * p.c * p.s,
      [&](int64_t c, int64_t i0, int64_t i1) {
        const V vm = hn::Set(d, mf[c]), va = hn::Set(d, a[c]), vb = hn::Set(d, b[c]);
        for (int64_t i = i0; i < i1; i += int64_t(hn::Lanes(d))) f(x + i, y + i, vm, va, vb);
      },
      [&](int64_t i, int64_t c, int64_t m, int64_t cn) {
        if (m == 0) return;
        if (cn >= 0) {
          const auto first = hn::FirstN(d, size_t(m));
          return f(x + i, y + i, EdgeSet(d, mf, c, cn, first), EdgeSet(d, a, c, cn, first),
                   EdgeSet(d, b, c, cn, first));
        }
        for (int64_t j = i; j < i + m; ++j) y[j] = AffineS<kRelu>(x[j], mf[c], a[c], b[c]);
      });
}

// dx = k g + c1 (x - mf) + c0 over the small planes of images [b0, b1) (NT as in AffinePlanes).
template <bool kRelu, bool NT = false, class T>
void GradApplyPlanes(const BatchNormProblem& p, const T* x, const T* dy, T* dx, int64_t b0, int64_t b1,
                     const PlaneConsts<T>& q) {
  const hn::ScalableTag<T> d;
  using V = hn::Vec<decltype(d)>;
  const T *mf = q.mf.data(), *a = q.a.data(), *b = q.b.data(), *k = q.k.data(), *c1 = q.c1.data(), *c0 = q.c0.data();
  auto f = [&](int64_t i, V vm, V va, V vb, V vk, V v1, V v0) {
    const V u = hn::Sub(hn::LoadU(d, x + i), vm);
    Put<NT>(d, hn::MulAdd(vk, GradIn<kRelu>(d, u, hn::LoadU(d, dy + i), va, vb), hn::MulAdd(v1, u, v0)), dx + i);
  };
  WalkPlanes(
      d, p.c, p.s, b0 * p.c * p.s, b1 * p.c * p.s,
      [&](int64_t c, int64_t i0, int64_t i1) {
        const V vm = hn::Set(d, mf[c]), va = hn::Set(d, a[c]), vb = hn::Set(d, b[c]), vk = hn::Set(d, k[c]),
                v1 = hn::Set(d, c1[c]), v0 = hn::Set(d, c0[c]);
        for (int64_t i = i0; i < i1; i += int64_t(hn::Lanes(d))) f(i, vm, va, vb, vk, v1, v0);
      },
      [&](int64_t i, int64_t c, int64_t m, int64_t cn) {
        if (m == 0) return;
        if (cn >= 0) {
          const auto first = hn::FirstN(d, size_t(m));
          return f(i, EdgeSet(d, mf, c, cn, first), EdgeSet(d, a, c, cn, first), EdgeSet(d, b, c, cn, first),
                   EdgeSet(d, k, c, cn, first), EdgeSet(d, c1, c, cn, first), EdgeSet(d, c0, c, cn, first));
        }
        for (int64_t j = i; j < i + m; ++j) {
          T u = x[j] - mf[c];
          T g = GradInS<kRelu>(u, dy[j], a[c], b[c]);
          dx[j] = k[c] * g + (c1[c] * u + c0[c]);
        }
      });
}

// ---- channels_first ---------------------------------------------------------------------------------------------
// Channels per task (planes of 2 KB or more): G adjacent planes are one contiguous run per image, and the group's
// `arrays` inputs (n * G * S elements each) should stay in L2 from the sums pass to the output pass.
inline int64_t GroupChannels(const BatchNormProblem& p, int64_t arrays, int64_t esize) {
  int64_t g = std::max<int64_t>(1, 2048 / (p.s * esize));
  g = std::min(g, std::max<int64_t>(1, (512 << 10) / (p.n * p.s * esize * arrays)));
  return std::min(g, std::max<int64_t>(1, p.c / (4 * int64_t(num_threads()))));
}

// A group's runs lie C*S elements apart, one per image: the hardware prefetchers lose the stream at each jump, so
// fetch the run `ahead` images on (about 8 KB ahead) while summing this one; longer runs stream well on their own.
template <class T>
void PrefetchRun(const BatchNormProblem& p, const T* x, int64_t b, int64_t c0, int64_t G) {
  const int64_t bytes = G * p.s * int64_t(sizeof(T)), ahead = std::max<int64_t>(1, 8192 / bytes);
  if (bytes >= 8192 || b + ahead >= p.n) return;
  const T* run = x + ((b + ahead) * p.c + c0) * p.s;
  for (int64_t i = 0; i < G * p.s; i += 64 / int64_t(sizeof(T))) hwy::Prefetch(run + i);
}

// s1[g], s2[g] += sums of x - shift[g] and its square over channel c0 + g, g < G.
template <class T>
void GroupSums(const BatchNormProblem& p, const T* x, int64_t c0, int64_t G, const T* shift, double* s1, double* s2) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, S = p.s;
  if (S < L || S >= kChunk) {  // planes too small for a vector, or long enough to reduce each
    for (int64_t b = 0; b < p.n; ++b) {
      PrefetchRun(p, x, b, c0, G);
      for (int64_t g = 0; g < G; ++g) ShiftedSums(x + (b * C + c0 + g) * S, S, shift[g], s1[g], s2[g]);
    }
    return;
  }
  // Lane sums per channel across images, flushed to double every kChunk elements per channel.
  Buf<T> acc = hwy::AllocateAligned<T>(size_t(2 * G * L));
  const int64_t nb = std::max<int64_t>(1, kChunk / S);
  for (int64_t b0 = 0; b0 < p.n; b0 += nb) {
    std::fill(acc.get(), acc.get() + 2 * G * L, T(0));
    for (int64_t b = b0; b < std::min(p.n, b0 + nb); ++b) {
      PrefetchRun(p, x, b, c0, G);
      for (int64_t g = 0; g < G; ++g) {
        T* ag = acc.get() + 2 * g * L;
        auto a1 = hn::Load(d, ag), a2 = hn::Load(d, ag + L);
        PlaneSums(d, x + (b * C + c0 + g) * S, S, hn::Set(d, shift[g]), a1, a2);
        hn::Store(a1, d, ag);
        hn::Store(a2, d, ag + L);
      }
    }
    for (int64_t g = 0; g < G; ++g) {
      s1[g] += double(hn::GetLane(hn::SumOfLanes(d, hn::Load(d, acc.get() + 2 * g * L))));
      s2[g] += double(hn::GetLane(hn::SumOfLanes(d, hn::Load(d, acc.get() + (2 * g + 1) * L))));
    }
  }
}

template <bool kRelu, class T>
void GroupGradSums(const BatchNormProblem& p, const T* x, const T* dy, int64_t c0, int64_t G, const ChannelConsts* ks,
                   double* sg, double* sgd) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, S = p.s;
  Buf<T> acc = hwy::AllocateAligned<T>(size_t(2 * G * L));
  const int64_t nb = std::max<int64_t>(1, kChunk / S);  // flush to double every kChunk elements per channel
  for (int64_t b0 = 0; b0 < p.n; b0 += nb) {
    std::fill(acc.get(), acc.get() + 2 * G * L, T(0));
    for (int64_t b = b0; b < std::min(p.n, b0 + nb); ++b) {
      PrefetchRun(p, x, b, c0, G);
      PrefetchRun(p, dy, b, c0, G);
      for (int64_t g = 0; g < G; ++g) {
        const int64_t o = (b * C + c0 + g) * S;
        const ChannelConsts& k = ks[g];
        T* ag = acc.get() + 2 * g * L;
        auto a1 = hn::Load(d, ag), a2 = hn::Load(d, ag + L);
        if (S < L) {  // scalar
          for (int64_t i = 0; i < S; ++i) {
            T u = x[o + i] - T(k.mf);
            T gi = GradInS<kRelu>(u, dy[o + i], T(k.a), T(k.b));
            ag[i % L] += gi;
            ag[L + i % L] += gi * u;
          }
          continue;
        }
        for (int64_t s0 = 0; s0 < S; s0 += kChunk) {  // long planes: flush within the plane
          PlaneGradSums<kRelu>(d, x + o + s0, dy + o + s0, std::min(kChunk, S - s0), hn::Set(d, T(k.mf)),
                               hn::Set(d, T(k.a)), hn::Set(d, T(k.b)), a1, a2);
          if (S > kChunk) {
            sg[g] += double(hn::GetLane(hn::SumOfLanes(d, a1)));
            sgd[g] += double(hn::GetLane(hn::SumOfLanes(d, a2)));
            a1 = a2 = hn::Zero(d);
          }
        }
        hn::Store(a1, d, ag);
        hn::Store(a2, d, ag + L);
      }
    }
    for (int64_t g = 0; g < G; ++g) {
      sg[g] += double(hn::GetLane(hn::SumOfLanes(d, hn::Load(d, acc.get() + 2 * g * L))));
      sgd[g] += double(hn::GetLane(hn::SumOfLanes(d, hn::Load(d, acc.get() + (2 * g + 1) * L))));
    }
  }
}

template <bool kRelu, class T>
void ForwardTrainingCF(const BatchNormProblem& p, const T* x, const double* gamma, const double* beta, double eps, T* y,
                       double* mean, double* var) {
  const int64_t C = p.c, S = p.s, G = GroupChannels(p, 1, int64_t(sizeof(T)));
  const double m = double(p.count());
  if (SmallPlanes(p, sizeof(T))) {
    const hn::ScalableTag<T> d;
    const int64_t L = int64_t(hn::Lanes(d));
    std::vector<T> shift(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) {  // the mean of the first plane, so that the sums cancel little
      double t1 = 0, t2 = 0;
      ShiftedSums(x + c * S, S, x[c * S], t1, t2);
      shift[size_t(c)] = T(double(x[c * S]) + t1 / double(S));
    }
    std::vector<double> t1, t2;
    using V = hn::Vec<decltype(d)>;
    const T* sh = shift.data();
    auto termS = [&](int64_t j, int64_t c, T& t1, T& t2) {  // x - shift and its square, element j of plane c
      t1 = x[j] - sh[c];
      t2 = t1 * t1;
    };
    const int64_t tasks = StreamSumsCF<T>(p, t1, t2, [&](int64_t b0, int64_t b1, T* acc) {
      if (S >= L) {
        return WalkSums(
            d, p, b0, b1, acc, [&](int64_t c) { return hn::Set(d, sh[c]); },
            [](auto first, V k0, V k1) { return hn::IfThenElse(first, k0, k1); },
            [&](int64_t i, V k, V& t1, V& t2) {
              t1 = hn::Sub(hn::LoadU(d, x + i), k);
              t2 = hn::Mul(t1, t1);
            },
            termS);
      }
      ShortPlaneSums(p, b0, b1, L, acc, termS);
    });
    std::vector<ChannelConsts> ks(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) {
      double s1 = 0, s2 = 0;
      for (int64_t t = 0; t < tasks; ++t) {
        s1 += t1[size_t(t * C + c)];
        s2 += t2[size_t(t * C + c)];
      }
      ks[size_t(c)] = StatsConsts<T>(double(shift[size_t(c)]), s1, s2, m, eps, gamma[c], beta[c], mean + c, var + c);
    }
    const PlaneConsts<T> q(ks);
    const bool stream = S >= L && StreamOut(p.n * C * S, C * S, y);
    ForTasks(p.n, 1, [&](int64_t, int64_t b0, int64_t b1) {
      WithStream(stream, [&](auto nt) {
        OutputOrder(b1 - b0, stream, [&](int64_t k) {
          const int64_t b = b0 + k;
          if (S >= L) return AffinePlanes<kRelu, decltype(nt)::value>(p, x, y, b, b + 1, q);
          for (int64_t c = 0; c < C; ++c) Affine<kRelu>(x + (b * C + c) * S, y + (b * C + c) * S, S, ks[size_t(c)]);
        });
      });
    });
    return;
  }
  const bool stream = StreamOut(p.n * C * S, S, y);
  parallel_for(0, (C + G - 1) / G, 1, [&](int64_t lo, int64_t hi) {
    std::vector<double> s1(static_cast<size_t>(G)), s2(static_cast<size_t>(G));
    std::vector<T> shift(static_cast<size_t>(G));
    std::vector<ChannelConsts> ks(static_cast<size_t>(G));
    for (int64_t grp = lo; grp < hi; ++grp) {
      const int64_t c0 = grp * G, gn = std::min(G, C - c0);
      for (int64_t g = 0; g < gn; ++g) {  // shift: the mean of the first plane, so that the sums cancel little
        const T* plane = x + (c0 + g) * S;
        double t1 = 0, t2 = 0;
        ShiftedSums(plane, S, plane[0], t1, t2);
        shift[size_t(g)] = T(double(plane[0]) + t1 / double(S));
        s1[size_t(g)] = s2[size_t(g)] = 0;
      }
      GroupSums(p, x, c0, gn, shift.data(), s1.data(), s2.data());
      for (int64_t g = 0; g < gn; ++g) {
        const int64_t ch = c0 + g;
        ks[size_t(g)] = StatsConsts<T>(double(shift[size_t(g)]), s1[size_t(g)], s2[size_t(g)], m, eps, gamma[ch],
                                       beta[ch], mean + ch, var + ch);
      }
      WithStream(stream, [&](auto nt) {
        for (int64_t b = p.n - 1; b >= 0; --b)  // last image first: the most recently read, surest to be in L2
          for (int64_t g = 0; g < gn; ++g) {
            const int64_t o = (b * C + c0 + g) * S;
            Affine<kRelu, decltype(nt)::value>(x + o, y + o, S, ks[size_t(g)]);
          }
      });
    }
  });
}

template <bool kRelu, class T>
void ForwardInferenceCF(const BatchNormProblem& p, const T* x, const double* mean, const double* invstd,
                        const double* gamma, const double* beta, T* y) {
  const int64_t C = p.c, S = p.s;
  std::vector<ChannelConsts> ks(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) ks[size_t(c)] = Consts(T(mean[c]), mean[c], invstd[c], gamma[c], beta[c]);
  if (SmallPlanes(p, sizeof(T)) && S >= int64_t(hn::Lanes(hn::ScalableTag<T>()))) {
    const PlaneConsts<T> q(ks);
    parallel_for(0, p.n, 1, [&, stream = StreamOut(p.n * C * S, C * S, y)](int64_t lo, int64_t hi) {
      WithStream(stream, [&](auto nt) { AffinePlanes<kRelu, decltype(nt)::value>(p, x, y, lo, hi, q); });
    });
    return;
  }
  const bool stream = StreamOut(p.n * C * S, S, y);
  parallel_for(0, p.n * C, std::max<int64_t>(1, 4096 / S), [&](int64_t lo, int64_t hi) {
    WithStream(stream, [&](auto nt) {
      for (int64_t plane = lo; plane < hi; ++plane)
        Affine<kRelu, decltype(nt)::value>(x + plane * S, y + plane * S, S, ks[size_t(plane % C)]);
    });
  });
}

template <bool kRelu, class T>
void BackwardCF(const BatchNormProblem& p, const T* x, const T* dy, const double* mean, const double* invstd,
                const double* gamma, const double* beta, bool batch_stats, T* dx, double* dgamma, double* dbeta) {
  const int64_t C = p.c, S = p.s, G = GroupChannels(p, 2, int64_t(sizeof(T)));
  if (SmallPlanes(p, sizeof(T))) {
    const hn::ScalableTag<T> d;
    const int64_t L = int64_t(hn::Lanes(d));
    std::vector<ChannelConsts> ks(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) ks[size_t(c)] = Consts(T(mean[c]), mean[c], invstd[c], gamma[c], beta[c]);
    std::vector<double> t1, t2;
    using V = hn::Vec<decltype(d)>;
    struct K3 {
      V m, a, b;
    };
    const PlaneConsts<T> q(ks);
    auto termS = [&](int64_t j, int64_t c, T& t1, T& t2) {  // g and g (x - mf) of element j of plane c
      const T u = x[j] - q.mf[c];
      t1 = GradInS<kRelu>(u, dy[j], q.a[c], q.b[c]);
      t2 = t1 * u;
    };
    const int64_t tasks = StreamSumsCF<T>(p, t1, t2, [&](int64_t b0, int64_t b1, T* acc) {
      if (S >= L) {
        return WalkSums(
            d, p, b0, b1, acc,
            [&](int64_t c) { return K3{hn::Set(d, q.mf[c]), hn::Set(d, q.a[c]), hn::Set(d, q.b[c])}; },
            [](auto first, const K3& k0, const K3& k1) {
              return K3{hn::IfThenElse(first, k0.m, k1.m), hn::IfThenElse(first, k0.a, k1.a),
                        hn::IfThenElse(first, k0.b, k1.b)};
            },
            [&](int64_t i, const K3& k, V& t1, V& t2) {
              const V u = hn::Sub(hn::LoadU(d, x + i), k.m);
              t1 = GradIn<kRelu>(d, u, hn::LoadU(d, dy + i), k.a, k.b);
              t2 = hn::Mul(t1, u);
            },
            termS);
      }
      ShortPlaneSums(p, b0, b1, L, acc, termS);
    });
    for (int64_t c = 0; c < C; ++c) {
      double sg = 0, sgd = 0;
      for (int64_t t = 0; t < tasks; ++t) {
        sg += t1[size_t(t * C + c)];
        sgd += t2[size_t(t * C + c)];
      }
      ks[size_t(c)] = BackwardConsts<T>(p, ks[size_t(c)], mean[c], invstd[c], gamma[c], batch_stats, sg, sgd,
                                        dgamma + c, dbeta + c);
    }
    if (S >= L) {
      const PlaneConsts<T> qk(ks);
      const bool stream = StreamOut(p.n * C * S, C * S, dx);
      ForTasks(p.n, 1, [&](int64_t, int64_t b0, int64_t b1) {
        WithStream(stream, [&](auto nt) {
          OutputOrder(b1 - b0, stream, [&](int64_t k) {
            GradApplyPlanes<kRelu, decltype(nt)::value>(p, x, dy, dx, b0 + k, b0 + k + 1, qk);
          });
        });
      });
      return;
    }
    parallel_for(0, p.n * C, std::max<int64_t>(1, 4096 / S), [&](int64_t lo, int64_t hi) {
      for (int64_t pl = lo; pl < hi; ++pl) GradApply<kRelu>(x + pl * S, dy + pl * S, dx + pl * S, S, ks[size_t(pl % C)]);
    });
    return;
  }
  const bool stream = StreamOut(p.n * C * S, S, dx);
  parallel_for(0, (C + G - 1) / G, 1, [&](int64_t lo, int64_t hi) {
    std::vector<double> sg(static_cast<size_t>(G)), sgd(static_cast<size_t>(G));
    std::vector<ChannelConsts> ks(static_cast<size_t>(G));
    for (int64_t grp = lo; grp < hi; ++grp) {
      const int64_t c0 = grp * G, gn = std::min(G, C - c0);
      for (int64_t g = 0; g < gn; ++g) {
        const int64_t ch = c0 + g;
        ks[size_t(g)] = Consts(T(mean[ch]), mean[ch], invstd[ch], gamma[ch], beta[ch]);
        sg[size_t(g)] = sgd[size_t(g)] = 0;
      }
      GroupGradSums<kRelu>(p, x, dy, c0, gn, ks.data(), sg.data(), sgd.data());
      for (int64_t g = 0; g < gn; ++g) {
        const int64_t ch = c0 + g;
        ks[size_t(g)] = BackwardConsts<T>(p, ks[size_t(g)], mean[ch], invstd[ch], gamma[ch], batch_stats,
                                          sg[size_t(g)], sgd[size_t(g)], dgamma + ch, dbeta + ch);
      }
      WithStream(stream, [&](auto nt) {
        for (int64_t b = p.n - 1; b >= 0; --b)  // last image first: the most recently read, surest to be in L2
          for (int64_t g = 0; g < gn; ++g) {
            const int64_t o = (b * C + c0 + g) * S;
            GradApply<kRelu, decltype(nt)::value>(x + o, dy + o, dx + o, S, ks[size_t(g)]);
          }
      });
    }
  });
}

// ---- channels_last ----------------------------------------------------------------------------------------------
// Per-channel constants as aligned vectors of the storage type (padded to whole vectors).
template <class T>
struct ConstRows {
  Buf<T> mf, a, b, k, c1, c0;
  explicit ConstRows(const std::vector<ChannelConsts>& ks) {
    const size_t n = ks.size() + hn::Lanes(hn::ScalableTag<T>());
    for (Buf<T>* r : {&mf, &a, &b, &k, &c1, &c0}) {
      *r = hwy::AllocateAligned<T>(n);
      std::fill(r->get(), r->get() + n, T(0));
    }
    for (size_t c = 0; c < ks.size(); ++c) {
      mf[c] = T(ks[c].mf);
      a[c] = T(ks[c].a);
      b[c] = T(ks[c].b);
      k[c] = T(ks[c].k);
      c1[c] = T(ks[c].c1);
      c0[c] = T(ks[c].c0);
    }
  }
  // Plain pointers, for the row loops to take by value: read through the owners, they were reloaded after every
  // store to the output (the compiler cannot prove the store does not alias them).
  struct View {
    const T *mf, *a, *b, *k, *c1, *c0;
  };
  View view() const { return {mf.get(), a.get(), b.get(), k.get(), c1.get(), c0.get()}; }
};

// Output pass over each task's pixel blocks, in OutputOrder: rows(nt, q0, q1) with nt = std::bool_constant<stream>.
template <class F>
void ForTasksOutput(int64_t pixels, int64_t block, bool stream, F&& rows) {
  ForTasks(pixels, block, [&](int64_t, int64_t p0, int64_t p1) {
    WithStream(stream, [&](auto nt) {
      OutputOrder((p1 - p0 + block - 1) / block, stream,
                  [&](int64_t k) { rows(nt, p0 + k * block, std::min(p1, p0 + (k + 1) * block)); });
    });
  });
}

// Pixel rows [q0, q1) in groups: rows(q, std::integral_constant<int, R>) for rows [q, q + R), R = kGroup, then
// R = 1 for the rest. The channels_last passes over many channels load per-channel constants (and the sums keep
// per-channel sums in arrays): a group loads them once for its R rows.
constexpr int kRowGroup = 4;
template <int kGroup, class F>
HWY_INLINE void ForRowGroups(int64_t q0, int64_t q1, F&& rows) {
  int64_t q = q0;
  for (; q + kGroup <= q1; q += kGroup) rows(q, std::integral_constant<int, kGroup>());
  for (; q < q1; ++q) rows(q, std::integral_constant<int, 1>());
}

// y = act((x - mf) a + b) for pixels [q0, q1).
template <bool kRelu, bool NT = false, class T>
void NormalizeRows(const T* x, T* y, int64_t q0, int64_t q1, int64_t C, const typename ConstRows<T>::View r) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d)), Cv = C / L * L;
  ForRowGroups<kRowGroup>(q0, q1, [&](int64_t q, auto rows) {
    constexpr int R = decltype(rows)::value;
    const T* row = x + q * C;
    T* out = y + q * C;
    int64_t c = 0;
    for (; c < Cv; c += L) {
      const auto vm = hn::Load(d, r.mf + c), va = hn::Load(d, r.a + c), vb = hn::Load(d, r.b + c);
      for (int j = 0; j < R; ++j) {
        auto z = hn::MulAdd(hn::Sub(hn::LoadU(d, row + j * C + c), vm), va, vb);
        Put<NT>(d, kRelu ? Relu(d, z) : z, out + j * C + c);
      }
    }
    for (; c < C; ++c)
      for (int j = 0; j < R; ++j) out[j * C + c] = AffineS<kRelu>(row[j * C + c], r.mf[c], r.a[c], r.b[c]);
  });
}

// Per-channel sums in the storage type: zeroed (padded to whole vectors) ...
template <class T>
Buf<T> ZeroSums(int64_t C) {
  const size_t n = size_t(C) + hn::Lanes(hn::ScalableTag<T>());
  Buf<T> s = hwy::AllocateAligned<T>(n);
  std::fill(s.get(), s.get() + n, T(0));
  return s;
}
// ... and flushed: acc[c] += s[c] in double, s[c] = 0.
template <class T>
void FlushSums(T* HWY_RESTRICT s, double* HWY_RESTRICT acc, int64_t C) {
  int64_t c = 0;
#if HWY_TARGET != HWY_SCALAR
  if constexpr (std::is_same_v<T, float>) {
    const hn::ScalableTag<float> df;
    const hn::Half<decltype(df)> dh;
    const hn::Rebind<double, decltype(dh)> dd;
    const int64_t L = int64_t(hn::Lanes(df)), H = L / 2;
    for (; c + L <= C; c += L) {
      const auto v = hn::Load(df, s + c);
      hn::StoreU(hn::Add(hn::LoadU(dd, acc + c), hn::PromoteTo(dd, hn::LowerHalf(dh, v))), dd, acc + c);
      hn::StoreU(hn::Add(hn::LoadU(dd, acc + c + H), hn::PromoteTo(dd, hn::UpperHalf(dh, v))), dd, acc + c + H);
      hn::Store(hn::Zero(df), df, s + c);
    }
  }
#endif
  for (; c < C; ++c) {
    acc[c] += double(s[c]);
    s[c] = T(0);
  }
}

// s1, s2 = sums of x - shift and its square over pixels [q0, q1) of NV whole vectors of channels, in registers:
// with few channels the array sums' store-to-load chains would bound the loop.
template <int NV, class T>
void RowSumsReg(const T* x, int64_t q0, int64_t q1, const T* shift, T* s1, T* s2) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d));
  hn::Vec<decltype(d)> vs[NV], a1[NV], a2[NV];
  for (int v = 0; v < NV; ++v) {
    vs[v] = hn::Load(d, shift + v * L);
    a1[v] = a2[v] = hn::Zero(d);
  }
  for (int64_t q = q0; q < q1; ++q)
    for (int v = 0; v < NV; ++v) {
      const auto u = hn::Sub(hn::LoadU(d, x + (q * NV + v) * L), vs[v]);
      a1[v] = hn::Add(a1[v], u);
      a2[v] = hn::MulAdd(u, u, a2[v]);
    }
  for (int v = 0; v < NV; ++v) {
    hn::Store(a1[v], d, s1 + v * L);
    hn::Store(a2[v], d, s2 + v * L);
  }
}

template <bool kRelu, class T>
void ForwardTrainingCL(const BatchNormProblem& p, const T* x, const double* gamma, const double* beta, double eps, T* y,
                       double* mean, double* var) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, P = p.count(), B = block_pixels(C), Cv = C / L * L;
  // One pass of sums about a shift, the mean of the first pixels (so that the sums cancel little); sums in the
  // storage type are flushed to double every kFlushPixels pixels.
  Buf<T> shift = hwy::AllocateAligned<T>(size_t(C + L));
  std::fill(shift.get(), shift.get() + C + L, T(0));
  {
    const int64_t q1 = std::min(P, kFlushPixels);
    std::vector<double> acc(size_t(C), 0.0);
    for (int64_t q = 0; q < q1; ++q)
      for (int64_t c = 0; c < C; ++c) acc[size_t(c)] += double(x[q * C + c]);
    for (int64_t c = 0; c < C; ++c) shift[c] = T(acc[size_t(c)] / double(q1));
  }
  const int64_t max_tasks = std::max(1, num_threads());
  std::vector<double> t_s1(static_cast<size_t>(max_tasks * C)), t_s2(static_cast<size_t>(max_tasks * C));
  const int64_t tasks = ForTasks(P, B, [&](int64_t t, int64_t p0, int64_t p1) {
    Buf<T> s1 = ZeroSums<T>(C), s2 = ZeroSums<T>(C);
    double* d1 = &t_s1[size_t(t * C)];
    double* d2 = &t_s2[size_t(t * C)];
    for (int64_t q0 = p0; q0 < p1; q0 += kFlushPixels) {
      const int64_t q1 = std::min(p1, q0 + kFlushPixels);
      if (C == Cv && C <= 4 * L) {
        const auto rows = C == L ? RowSumsReg<1, T> : C == 2 * L ? RowSumsReg<2, T>
                                                    : C == 3 * L ? RowSumsReg<3, T> : RowSumsReg<4, T>;
        rows(x, q0, q1, shift.get(), s1.get(), s2.get());
        FlushSums(s1.get(), d1, C);
        FlushSums(s2.get(), d2, C);
        continue;
      }
      ForRowGroups<kRowGroup>(q0, q1, [&](int64_t q, auto rows) {
        constexpr int R = decltype(rows)::value;
        const T* row = x + q * C;
        int64_t c = 0;
        for (; c < Cv; c += L) {
          const auto vs = hn::Load(d, shift.get() + c);
          auto a1 = hn::Load(d, s1.get() + c), a2 = hn::Load(d, s2.get() + c);
          for (int j = 0; j < R; ++j) {
            const auto u = hn::Sub(hn::LoadU(d, row + j * C + c), vs);
            a1 = hn::Add(a1, u);
            a2 = hn::MulAdd(u, u, a2);
          }
          hn::Store(a1, d, s1.get() + c);
          hn::Store(a2, d, s2.get() + c);
        }
        for (; c < C; ++c)
          for (int j = 0; j < R; ++j) {
            T u = row[j * C + c] - shift[c];
            s1[c] += u;
            s2[c] += u * u;
          }
      });
      FlushSums(s1.get(), d1, C);
      FlushSums(s2.get(), d2, C);
    }
  });
  std::vector<ChannelConsts> ks(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    double s1 = 0, s2 = 0;
    for (int64_t t = 0; t < tasks; ++t) {
      s1 += t_s1[size_t(t * C + c)];
      s2 += t_s2[size_t(t * C + c)];
    }
    ks[size_t(c)] = StatsConsts<T>(double(shift[c]), s1, s2, double(P), eps, gamma[c], beta[c], mean + c, var + c);
  }
  ConstRows<T> r(ks);
  ForTasksOutput(P, B, StreamOut(P * C, C, y), [&, v = r.view()](auto nt, int64_t q0, int64_t q1) {
    NormalizeRows<kRelu, decltype(nt)::value>(x, y, q0, q1, C, v);
  });
}

template <bool kRelu, class T>
void ForwardInferenceCL(const BatchNormProblem& p, const T* x, const double* mean, const double* invstd,
                        const double* gamma, const double* beta, T* y) {
  const int64_t C = p.c;
  std::vector<ChannelConsts> ks(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) ks[size_t(c)] = Consts(T(mean[c]), mean[c], invstd[c], gamma[c], beta[c]);
  ConstRows<T> r(ks);
  parallel_for(0, p.count(), std::max<int64_t>(1, 4096 / C),
               [&, v = r.view(), stream = StreamOut(p.count() * C, C, y)](int64_t lo, int64_t hi) {
                 WithStream(stream, [&](auto nt) { NormalizeRows<kRelu, decltype(nt)::value>(x, y, lo, hi, C, v); });
               });
}

// sg += sum g, sgd += sum g (x - mf) over pixels [q0, q1) (g as in GradIn), in the storage type.
template <bool kRelu, class T>
void GradRowSums(const T* x, const T* dy, int64_t q0, int64_t q1, int64_t C, const typename ConstRows<T>::View r,
                 T* HWY_RESTRICT s1, T* HWY_RESTRICT s2) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d)), Cv = C / L * L;
  ForRowGroups<kRowGroup>(q0, q1, [&](int64_t q, auto rows) {
    constexpr int R = decltype(rows)::value;
    const T* row = x + q * C;
    const T* grow = dy + q * C;
    int64_t c = 0;
    for (; c < Cv; c += L) {
      const auto vm = hn::Load(d, r.mf + c), va = hn::Load(d, r.a + c), vb = hn::Load(d, r.b + c);
      auto a1 = hn::Load(d, s1 + c), a2 = hn::Load(d, s2 + c);
      for (int j = 0; j < R; ++j) {
        const auto u = hn::Sub(hn::LoadU(d, row + j * C + c), vm);
        const auto g = GradIn<kRelu>(d, u, hn::LoadU(d, grow + j * C + c), va, vb);
        a1 = hn::Add(a1, g);
        a2 = hn::MulAdd(g, u, a2);
      }
      hn::Store(a1, d, s1 + c);
      hn::Store(a2, d, s2 + c);
    }
    for (; c < C; ++c)
      for (int j = 0; j < R; ++j) {
        T u = row[j * C + c] - r.mf[c];
        T g = GradInS<kRelu>(u, grow[j * C + c], r.a[c], r.b[c]);
        s1[c] += g;
        s2[c] += g * u;
      }
  });
}
// The same for NV whole vectors of channels, sums in registers (as RowSumsReg).
template <bool kRelu, int NV, class T>
void GradRowSumsReg(const T* x, const T* dy, int64_t q0, int64_t q1, int64_t, const typename ConstRows<T>::View r,
                    T* HWY_RESTRICT s1, T* HWY_RESTRICT s2) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d));
  hn::Vec<decltype(d)> vm[NV], va[NV], vb[NV], a1[NV], a2[NV];
  for (int v = 0; v < NV; ++v) {
    vm[v] = hn::Load(d, r.mf + v * L);
    va[v] = hn::Load(d, r.a + v * L);
    vb[v] = hn::Load(d, r.b + v * L);
    a1[v] = a2[v] = hn::Zero(d);
  }
  for (int64_t q = q0; q < q1; ++q)
    for (int v = 0; v < NV; ++v) {
      const auto u = hn::Sub(hn::LoadU(d, x + (q * NV + v) * L), vm[v]);
      const auto g = GradIn<kRelu>(d, u, hn::LoadU(d, dy + (q * NV + v) * L), va[v], vb[v]);
      a1[v] = hn::Add(a1[v], g);
      a2[v] = hn::MulAdd(g, u, a2[v]);
    }
  for (int v = 0; v < NV; ++v) {
    hn::Store(a1[v], d, s1 + v * L);
    hn::Store(a2[v], d, s2 + v * L);
  }
}

// dx = k g + c1 (x - mf) + c0 over pixels [q0, q1).
template <bool kRelu, bool NT = false, class T>
void GradApplyRows(const T* x, const T* dy, T* dx, int64_t q0, int64_t q1, int64_t C,
                   const typename ConstRows<T>::View r) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d)), Cv = C / L * L;
  ForRowGroups<kRowGroup>(q0, q1, [&](int64_t q, auto rows) {
    constexpr int R = decltype(rows)::value;
    const T* row = x + q * C;
    const T* grow = dy + q * C;
    T* out = dx + q * C;
    int64_t c = 0;
    for (; c < Cv; c += L) {
      const auto vm = hn::Load(d, r.mf + c), va = hn::Load(d, r.a + c), vb = hn::Load(d, r.b + c);
      const auto vk = hn::Load(d, r.k + c), v1 = hn::Load(d, r.c1 + c), v0 = hn::Load(d, r.c0 + c);
      for (int j = 0; j < R; ++j) {
        auto u = hn::Sub(hn::LoadU(d, row + j * C + c), vm);
        auto g = GradIn<kRelu>(d, u, hn::LoadU(d, grow + j * C + c), va, vb);
        Put<NT>(d, hn::MulAdd(vk, g, hn::MulAdd(v1, u, v0)), out + j * C + c);
      }
    }
    for (; c < C; ++c)
      for (int j = 0; j < R; ++j) {
        T u = row[j * C + c] - r.mf[c];
        T g = GradInS<kRelu>(u, grow[j * C + c], r.a[c], r.b[c]);
        out[j * C + c] = r.k[c] * g + (r.c1[c] * u + r.c0[c]);
      }
  });
}

template <bool kRelu, class T>
void BackwardCL(const BatchNormProblem& p, const T* x, const T* dy, const double* mean, const double* invstd,
                const double* gamma, const double* beta, bool batch_stats, T* dx, double* dgamma, double* dbeta) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, P = p.count(), B = block_pixels(C), Cv = C / L * L;
  std::vector<ChannelConsts> ks(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) ks[size_t(c)] = Consts(T(mean[c]), mean[c], invstd[c], gamma[c], beta[c]);
  const int64_t max_tasks = std::max(1, num_threads());
  std::vector<double> t_sg(static_cast<size_t>(max_tasks * C)), t_sgd(static_cast<size_t>(max_tasks * C));
  {
    ConstRows<T> r(ks);
    const auto sums = C == Cv && C <= 4 * L
                          ? (C == L       ? GradRowSumsReg<kRelu, 1, T>
                             : C == 2 * L ? GradRowSumsReg<kRelu, 2, T>
                             : C == 3 * L ? GradRowSumsReg<kRelu, 3, T>
                                          : GradRowSumsReg<kRelu, 4, T>)
                          : GradRowSums<kRelu, T>;
    const int64_t flush = std::max(B, kFlushPixels);
    const int64_t tasks = ForTasks(P, B, [&, v = r.view()](int64_t t, int64_t p0, int64_t p1) {
      Buf<T> s1 = ZeroSums<T>(C), s2 = ZeroSums<T>(C);
      double* sg = &t_sg[size_t(t * C)];
      double* sgd = &t_sgd[size_t(t * C)];
      for (int64_t q0 = p0; q0 < p1; q0 += flush) {
        sums(x, dy, q0, std::min(p1, q0 + flush), C, v, s1.get(), s2.get());
        FlushSums(s1.get(), sg, C);
        FlushSums(s2.get(), sgd, C);
      }
    });
    for (int64_t c = 0; c < C; ++c) {
      double sg = 0, sgd = 0;
      for (int64_t t = 0; t < tasks; ++t) {
        sg += t_sg[size_t(t * C + c)];
        sgd += t_sgd[size_t(t * C + c)];
      }
      ks[size_t(c)] = BackwardConsts<T>(p, ks[size_t(c)], mean[c], invstd[c], gamma[c], batch_stats, sg, sgd,
                                        dgamma + c, dbeta + c);
    }
  }
  ConstRows<T> r(ks);
  ForTasksOutput(P, B, StreamOut(P * C, C, dx), [&, v = r.view()](auto nt, int64_t q0, int64_t q1) {
    GradApplyRows<kRelu, decltype(nt)::value>(x, dy, dx, q0, q1, C, v);
  });
}

// ---- dispatch on dtype, layout and activation -----------------------------------------------------------------
// (n, C, 1) channels_first is (n, 1, C) channels_last.
inline bool Last(const BatchNormProblem& p) { return p.channels_last || p.s == 1; }

template <class T, bool kRelu>
void ForwardTrainingT(const BatchNormProblem& p, const void* x, const double* gamma, const double* beta, double eps,
                      void* y, double* mean, double* var) {
  auto xt = static_cast<const T*>(x);
  auto yt = static_cast<T*>(y);
  Last(p) ? ForwardTrainingCL<kRelu>(p, xt, gamma, beta, eps, yt, mean, var)
          : ForwardTrainingCF<kRelu>(p, xt, gamma, beta, eps, yt, mean, var);
}
void ForwardTraining(const BatchNormProblem& p, const void* x, const double* gamma, const double* beta, double eps,
                     void* y, double* mean, double* var) {
  visit_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    (p.relu ? ForwardTrainingT<T, true> : ForwardTrainingT<T, false>)(p, x, gamma, beta, eps, y, mean, var);
  });
}

template <class T, bool kRelu>
void ForwardInferenceT(const BatchNormProblem& p, const void* x, const double* mean, const double* invstd,
                       const double* gamma, const double* beta, void* y) {
  auto xt = static_cast<const T*>(x);
  auto yt = static_cast<T*>(y);
  Last(p) ? ForwardInferenceCL<kRelu>(p, xt, mean, invstd, gamma, beta, yt)
          : ForwardInferenceCF<kRelu>(p, xt, mean, invstd, gamma, beta, yt);
}
void ForwardInference(const BatchNormProblem& p, const void* x, const double* mean, const double* invstd,
                      const double* gamma, const double* beta, void* y) {
  visit_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    (p.relu ? ForwardInferenceT<T, true> : ForwardInferenceT<T, false>)(p, x, mean, invstd, gamma, beta, y);
  });
}

template <class T, bool kRelu>
void BackwardT(const BatchNormProblem& p, const void* x, const void* dy, const double* mean, const double* invstd,
               const double* gamma, const double* beta, bool batch_stats, void* dx, double* dgamma, double* dbeta) {
  auto xt = static_cast<const T*>(x);
  auto gt = static_cast<const T*>(dy);
  auto dt = static_cast<T*>(dx);
  Last(p) ? BackwardCL<kRelu>(p, xt, gt, mean, invstd, gamma, beta, batch_stats, dt, dgamma, dbeta)
          : BackwardCF<kRelu>(p, xt, gt, mean, invstd, gamma, beta, batch_stats, dt, dgamma, dbeta);
}
void Backward(const BatchNormProblem& p, const void* x, const void* dy, const double* mean, const double* invstd,
              const double* gamma, const double* beta, bool batch_stats, void* dx, double* dgamma, double* dbeta) {
  visit_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    (p.relu ? BackwardT<T, true> : BackwardT<T, false>)(p, x, dy, mean, invstd, gamma, beta, batch_stats, dx, dgamma, dbeta);
  });
}

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace locnet::kernels {
HWY_EXPORT(ForwardTraining);
HWY_EXPORT(ForwardInference);
HWY_EXPORT(Backward);

namespace {
bool applicable(const BatchNormProblem& p, std::string* why) {
  if (p.dtype != DType::f32 && p.dtype != DType::f64) {
    *why = "dtype is not f32 or f64";
    return false;
  }
  return true;
}
void forward_training(const BatchNormProblem& p, const void* x, const double* gamma, const double* beta, double eps,
                      void* y, double* mean, double* var) {
  HWY_DYNAMIC_DISPATCH(ForwardTraining)(p, x, gamma, beta, eps, y, mean, var);
}
void forward_inference(const BatchNormProblem& p, const void* x, const double* mean, const double* invstd,
                       const double* gamma, const double* beta, void* y) {
  HWY_DYNAMIC_DISPATCH(ForwardInference)(p, x, mean, invstd, gamma, beta, y);
}
void backward(const BatchNormProblem& p, const void* x, const void* dy, const double* mean, const double* invstd,
              const double* gamma, const double* beta, bool batch_stats, void* dx, double* dgamma, double* dbeta) {
  HWY_DYNAMIC_DISPATCH(Backward)(p, x, dy, mean, invstd, gamma, beta, batch_stats, dx, dgamma, dbeta);
}
}  // namespace

extern const BatchNormKernel kBatchNormHwy{"hwy", applicable, forward_training, forward_inference, backward};
}  // namespace locnet::kernels
#endif
