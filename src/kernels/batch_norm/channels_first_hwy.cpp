// The BatchNorm kernels for channels_first planes of 2 KB or more (dispatch:
// src/kernels/batch_norm/batch_norm_hwy.cpp): each task takes groups of G adjacent channels (G = 1 at these sizes,
// bounded so that the group's n*G*S elements per input, <= 512 KB, stay in L2 from the sums pass to the output
// pass: x is read from memory once; a channel of 32x56x56 is 400 KB); vectors run across each (n, c) plane. A
// plane's tail is its last whole vector, with the lanes already seen masked off (no partial loads).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/batch_norm/channels_first_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <algorithm>
#include <cstdint>
#include <vector>

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "kernels/batch_norm/batch_norm-inl.h"
#include "locnet/core/parallel.hpp"

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {

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
  LaneSums<T>(0, p.n, std::max<int64_t>(1, kChunk / S), G, s1, s2, [&](int64_t b0, int64_t b1, T* acc) {
    for (int64_t b = b0; b < b1; ++b) {
      PrefetchRun(p, x, b, c0, G);
      for (int64_t g = 0; g < G; ++g) {
        T* ag = acc + 2 * g * L;
        auto a1 = hn::Load(d, ag), a2 = hn::Load(d, ag + L);
        PlaneSums(d, x + (b * C + c0 + g) * S, S, hn::Set(d, shift[g]), a1, a2);
        hn::Store(a1, d, ag);
        hn::Store(a2, d, ag + L);
      }
    }
  });
}

// sg[g], sgd[g] += sums of g and g (x - mf) over channel c0 + g, g < G (g as in GradIn).
template <bool kRelu, class T>
void GroupGradSums(const BatchNormProblem& p, const T* x, const T* dy, int64_t c0, int64_t G, const ChannelConsts* ks,
                   double* sg, double* sgd) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, S = p.s;
  // Flushed to double every kChunk elements per channel.
  LaneSums<T>(0, p.n, std::max<int64_t>(1, kChunk / S), G, sg, sgd, [&](int64_t b0, int64_t b1, T* acc) {
    for (int64_t b = b0; b < b1; ++b) {
      PrefetchRun(p, x, b, c0, G);
      PrefetchRun(p, dy, b, c0, G);
      for (int64_t g = 0; g < G; ++g) {
        const int64_t o = (b * C + c0 + g) * S;
        const ChannelConsts& k = ks[g];
        T* ag = acc + 2 * g * L;
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
  });
}

template <bool kRelu, class T>
void ForwardTraining(ChannelsFirst, const BatchNormProblem& p, const T* x, const double* gamma, const double* beta,
                     double eps, T* y, double* mean, double* var) {
  const int64_t C = p.c, S = p.s, G = GroupChannels(p, 1, int64_t(sizeof(T)));
  const double m = double(p.count());
  const bool stream = StreamOut(p.n * C * S, S, y);
  parallel_for(0, (C + G - 1) / G, 1, [&](int64_t lo, int64_t hi) {
    std::vector<double> s1(static_cast<size_t>(G)), s2(static_cast<size_t>(G));
    std::vector<T> shift(static_cast<size_t>(G));
    std::vector<ChannelConsts> ks(static_cast<size_t>(G));
    for (int64_t grp = lo; grp < hi; ++grp) {
      const int64_t c0 = grp * G, gn = std::min(G, C - c0);
      for (int64_t g = 0; g < gn; ++g) {
        shift[size_t(g)] = PlaneMean(x + (c0 + g) * S, S);
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
void ForwardInference(ChannelsFirst, const BatchNormProblem& p, const T* x, const double* mean, const double* invstd,
                      const double* gamma, const double* beta, T* y) {
  const int64_t C = p.c, S = p.s;
  std::vector<ChannelConsts> ks = ConstsOf<T>(C, mean, invstd, gamma, beta);
  const bool stream = StreamOut(p.n * C * S, S, y);
  parallel_for(0, p.n * C, std::max<int64_t>(1, 4096 / S), [&](int64_t lo, int64_t hi) {
    WithStream(stream, [&](auto nt) {
      for (int64_t plane = lo; plane < hi; ++plane)
        Affine<kRelu, decltype(nt)::value>(x + plane * S, y + plane * S, S, ks[size_t(plane % C)]);
    });
  });
}

template <bool kRelu, class T>
void Backward(ChannelsFirst, const BatchNormProblem& p, const T* x, const T* dy, const double* mean,
              const double* invstd, const double* gamma, const double* beta, bool batch_stats, T* dx, double* dgamma,
              double* dbeta) {
  const int64_t C = p.c, S = p.s, G = GroupChannels(p, 2, int64_t(sizeof(T)));
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

template struct Entries<ChannelsFirst>;  // for src/kernels/batch_norm/batch_norm_hwy.cpp

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
