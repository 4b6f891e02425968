// Shared pieces of the Highway BatchNorm kernels (src/kernels/batch_norm/batch_norm_hwy.cpp and the files of each
// layout): per-channel constants, the elementwise forms, parallel tasks, the lane sums of channels_first planes, and
// the entries each layout's file instantiates. Included once per target, after hwy/foreach_target.h, as Highway's
// own -inl.h files are.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "hwy/aligned_allocator.h"
#include "hwy/highway.h"
#include "kernels/batch_norm/problem.hpp"
#include "kernels/stream-inl.h"
#include "locnet/core/parallel.hpp"

#ifndef LOCNET_KERNELS_BATCH_NORM_BATCH_NORM_INL_H_ONCE
#define LOCNET_KERNELS_BATCH_NORM_BATCH_NORM_INL_H_ONCE
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
// (n, C, 1) channels_first is (n, 1, C) channels_last.
inline bool Last(const BatchNormProblem& p) { return p.channels_last || p.s == 1; }
// channels_first planes under 2 KB (src/kernels/batch_norm/small_planes_hwy.cpp).
inline bool small_planes(const BatchNormProblem& p) { return p.s * int64_t(dtype_size(p.dtype)) < 2048; }
}  // namespace locnet::kernels::bn_detail
#endif

#if defined(LOCNET_KERNELS_BATCH_NORM_BATCH_NORM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LOCNET_KERNELS_BATCH_NORM_BATCH_NORM_INL_H_
#undef LOCNET_KERNELS_BATCH_NORM_BATCH_NORM_INL_H_
#else
#define LOCNET_KERNELS_BATCH_NORM_BATCH_NORM_INL_H_
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

// The forward constants of C channels from given statistics.
template <class T>
std::vector<ChannelConsts> ConstsOf(int64_t C, const double* mean, const double* invstd, const double* gamma,
                                    const double* beta) {
  std::vector<ChannelConsts> ks(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) ks[size_t(c)] = Consts(T(mean[c]), mean[c], invstd[c], gamma[c], beta[c]);
  return ks;
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

// The shift of a channel's sums: the mean of its first plane (S elements at x), so that the sums cancel little.
template <class T>
T PlaneMean(const T* x, int64_t S) {
  double t1 = 0, t2 = 0;
  ShiftedSums(x, S, x[0], t1, t2);
  return T(double(x[0]) + t1 / double(S));
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
  for (; i + L <= len; i += L) StoreOrStream<NT>(f(hn::LoadU(d, x + i)), d, y + i);
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
  for (; i + L <= len; i += L) StoreOrStream<NT>(f(x + i, dy + i), d, dx + i);
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

// Per-channel sums (double) of C channels, one set per task of ForTasks(units, block): sums(u0, u1, s1, s2) adds
// those of units [u0, u1) into s1, s2 (the task's C values each, zeroed). s1, s2 get the totals, added in task order.
template <class F>
void TaskSums(int64_t units, int64_t block, int64_t C, std::vector<double>& s1, std::vector<double>& s2, F&& sums) {
  const int64_t max_tasks = std::max(1, num_threads());
  std::vector<double> t1(static_cast<size_t>(max_tasks * C)), t2(static_cast<size_t>(max_tasks * C));
  const int64_t tasks = ForTasks(units, block, [&](int64_t t, int64_t u0, int64_t u1) {
    sums(u0, u1, &t1[size_t(t * C)], &t2[size_t(t * C)]);
  });
  s1.assign(static_cast<size_t>(C), 0.0);
  s2.assign(static_cast<size_t>(C), 0.0);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < tasks; ++t) {
      s1[size_t(c)] += t1[size_t(t * C + c)];
      s2[size_t(c)] += t2[size_t(t * C + c)];
    }
}

// Lane sums of G channels over images [b0, b1), flushed to double into s1[g], s2[g] every nb images: images(bb, be,
// acc) adds the lane sums of images [bb, be) into acc, channel g's at acc[2gL, 2gL + L) and acc[(2g + 1)L,
// (2g + 2)L).
template <class T, class F>
void LaneSums(int64_t b0, int64_t b1, int64_t nb, int64_t G, double* s1, double* s2, F&& images) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d));
  Buf<T> acc = hwy::AllocateAligned<T>(size_t(2 * G * L));
  for (int64_t bb = b0; bb < b1; bb += nb) {
    std::fill(acc.get(), acc.get() + 2 * G * L, T(0));
    images(bb, std::min(b1, bb + nb), acc.get());
    for (int64_t g = 0; g < G; ++g) {
      s1[g] += double(hn::GetLane(hn::SumOfLanes(d, hn::Load(d, acc.get() + 2 * g * L))));
      s2[g] += double(hn::GetLane(hn::SumOfLanes(d, hn::Load(d, acc.get() + (2 * g + 1) * L))));
    }
  }
}

// The layouts, each implemented in its own file by ForwardTraining<kRelu>(Layout, p, x, ...), ForwardInference and
// Backward, with T the storage type.
struct ChannelsFirst {};  // planes of 2 KB or more: src/kernels/batch_norm/channels_first_hwy.cpp
struct SmallPlanes {};    // channels_first, smaller planes: src/kernels/batch_norm/small_planes_hwy.cpp
struct ChannelsLast {};   // src/kernels/batch_norm/channels_last_hwy.cpp

// f.template operator()<T, kRelu>() with T the storage type of p.dtype (f32 or f64) and kRelu = p.relu.
template <class F>
HWY_INLINE void VisitBatchNorm(const BatchNormProblem& p, F&& f) {
  visit_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    p.relu ? f.template operator()<T, true>() : f.template operator()<T, false>();
  });
}

// A layout's kernels for both dtypes and activations, untyped for the dispatch
// (src/kernels/batch_norm/batch_norm_hwy.cpp). Instantiated (`template struct Entries<Layout>;`) at the end of the
// layout's file only, where its functions are found by argument-dependent lookup: the `extern template`
// declarations below keep other files from trying.
template <class Layout>
struct Entries {
  static void forward_training(const BatchNormProblem& p, const void* x, const double* gamma, const double* beta,
                               double eps, void* y, double* mean, double* var);
  static void forward_inference(const BatchNormProblem& p, const void* x, const double* mean, const double* invstd,
                                const double* gamma, const double* beta, void* y);
  static void backward(const BatchNormProblem& p, const void* x, const void* dy, const double* mean,
                       const double* invstd, const double* gamma, const double* beta, bool batch_stats, void* dx,
                       double* dgamma, double* dbeta);
};
template <class Layout>
void Entries<Layout>::forward_training(const BatchNormProblem& p, const void* x, const double* gamma,
                                       const double* beta, double eps, void* y, double* mean, double* var) {
  VisitBatchNorm(p, [&]<class T, bool kRelu>() {
    ForwardTraining<kRelu>(Layout(), p, static_cast<const T*>(x), gamma, beta, eps, static_cast<T*>(y), mean, var);
  });
}
template <class Layout>
void Entries<Layout>::forward_inference(const BatchNormProblem& p, const void* x, const double* mean,
                                        const double* invstd, const double* gamma, const double* beta, void* y) {
  VisitBatchNorm(p, [&]<class T, bool kRelu>() {
    ForwardInference<kRelu>(Layout(), p, static_cast<const T*>(x), mean, invstd, gamma, beta, static_cast<T*>(y));
  });
}
template <class Layout>
void Entries<Layout>::backward(const BatchNormProblem& p, const void* x, const void* dy, const double* mean,
                               const double* invstd, const double* gamma, const double* beta, bool batch_stats,
                               void* dx, double* dgamma, double* dbeta) {
  VisitBatchNorm(p, [&]<class T, bool kRelu>() {
    Backward<kRelu>(Layout(), p, static_cast<const T*>(x), static_cast<const T*>(dy), mean, invstd, gamma, beta,
                    batch_stats, static_cast<T*>(dx), dgamma, dbeta);
  });
}

extern template struct Entries<ChannelsFirst>;
extern template struct Entries<SmallPlanes>;
extern template struct Entries<ChannelsLast>;

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // LOCNET_KERNELS_BATCH_NORM_BATCH_NORM_INL_H_
