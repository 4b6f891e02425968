// The BatchNorm kernels for channels_first planes under 2 KB, such as 7x7 (dispatch:
// src/kernels/batch_norm/batch_norm_hwy.cpp): runs of a few planes per image would not stream, so each task streams
// over a range of images keeping lane sums for every channel, and the output pass streams again, as channels_last.
// Planes of at least a vector are walked as one stream of whole vectors (WalkPlanes): a vector shared by two planes
// takes each lane's constants from its own plane, so there is no per-plane tail or call (a 7x7 plane is three
// vectors and a shared one; per-plane calls with an overlapping tail made this path 1.6x slower).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/batch_norm/small_planes_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <algorithm>
#include <cstdint>
#include <vector>

#include "hwy/highway.h"
#include "kernels/batch_norm/batch_norm-inl.h"
#include "locnet/core/parallel.hpp"

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {

// Each task streams over a range of images and keeps lane sums for every channel; sums(b0, b1, acc) adds the lane
// sums of images [b0, b1) into acc (channel c's at acc[2cL, 2cL + L) and acc[(2c + 1)L, (2c + 2)L)). The
// per-channel totals (double) go to s1, s2.
template <class T, class F>
void StreamSumsCF(const BatchNormProblem& p, std::vector<double>& s1, std::vector<double>& s2, F&& sums) {
  const int64_t L = int64_t(hn::Lanes(hn::ScalableTag<T>()));
  const int64_t nb = std::max<int64_t>(1, kChunk / std::max(p.s, L));  // images per flush to double
  TaskSums(p.n, 1, p.c, s1, s2, [&](int64_t b0, int64_t b1, double* o1, double* o2) {
    LaneSums<T>(b0, b1, nb, p.c, o1, o2, sums);
  });
}

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
    StoreOrStream<NT>(kRelu ? Relu(d, z) : z, d, py);
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
    StoreOrStream<NT>(hn::MulAdd(vk, GradIn<kRelu>(d, u, hn::LoadU(d, dy + i), va, vb), hn::MulAdd(v1, u, v0)), d,
                      dx + i);
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

template <bool kRelu, class T>
void ForwardTraining(SmallPlanes, const BatchNormProblem& p, const T* x, const double* gamma, const double* beta,
                     double eps, T* y, double* mean, double* var) {
  const int64_t C = p.c, S = p.s;
  const double m = double(p.count());
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d));
  std::vector<T> shift(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) shift[size_t(c)] = PlaneMean(x + c * S, S);
  std::vector<double> s1, s2;
  using V = hn::Vec<decltype(d)>;
  const T* sh = shift.data();
  auto termS = [&](int64_t j, int64_t c, T& t1, T& t2) {  // x - shift and its square, element j of plane c
    t1 = x[j] - sh[c];
    t2 = t1 * t1;
  };
  StreamSumsCF<T>(p, s1, s2, [&](int64_t b0, int64_t b1, T* acc) {
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
  for (int64_t c = 0; c < C; ++c)
    ks[size_t(c)] = StatsConsts<T>(double(shift[size_t(c)]), s1[size_t(c)], s2[size_t(c)], m, eps, gamma[c], beta[c],
                                   mean + c, var + c);
  const PlaneConsts<T> q(ks);
  const bool stream = S >= L && StreamOut(p.n * C * S, C * S, y);
  ForTasksOutput(p.n, 1, stream, [&](auto nt, int64_t b, int64_t) {
    if (S >= L) return AffinePlanes<kRelu, decltype(nt)::value>(p, x, y, b, b + 1, q);
    for (int64_t c = 0; c < C; ++c) Affine<kRelu>(x + (b * C + c) * S, y + (b * C + c) * S, S, ks[size_t(c)]);
  });
}

// Planes shorter than a vector go plane by plane.
template <bool kRelu, class T>
void ForwardInference(SmallPlanes, const BatchNormProblem& p, const T* x, const double* mean, const double* invstd,
                      const double* gamma, const double* beta, T* y) {
  const int64_t C = p.c, S = p.s;
  std::vector<ChannelConsts> ks = ConstsOf<T>(C, mean, invstd, gamma, beta);
  if (S < int64_t(hn::Lanes(hn::ScalableTag<T>()))) {
    return parallel_for(0, p.n * C, std::max<int64_t>(1, 4096 / S), [&](int64_t lo, int64_t hi) {
      for (int64_t pl = lo; pl < hi; ++pl) Affine<kRelu>(x + pl * S, y + pl * S, S, ks[size_t(pl % C)]);
    });
  }
  const PlaneConsts<T> q(ks);
  parallel_for(0, p.n, 1, [&, stream = StreamOut(p.n * C * S, C * S, y)](int64_t lo, int64_t hi) {
    WithStream(stream, [&](auto nt) { AffinePlanes<kRelu, decltype(nt)::value>(p, x, y, lo, hi, q); });
  });
}

template <bool kRelu, class T>
void Backward(SmallPlanes, const BatchNormProblem& p, const T* x, const T* dy, const double* mean,
              const double* invstd, const double* gamma, const double* beta, bool batch_stats, T* dx, double* dgamma,
              double* dbeta) {
  const int64_t C = p.c, S = p.s;
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d));
  std::vector<ChannelConsts> ks = ConstsOf<T>(C, mean, invstd, gamma, beta);
  std::vector<double> s1, s2;
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
  StreamSumsCF<T>(p, s1, s2, [&](int64_t b0, int64_t b1, T* acc) {
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
  for (int64_t c = 0; c < C; ++c)
    ks[size_t(c)] = BackwardConsts<T>(p, ks[size_t(c)], mean[c], invstd[c], gamma[c], batch_stats, s1[size_t(c)],
                                      s2[size_t(c)], dgamma + c, dbeta + c);
  if (S >= L) {
    const PlaneConsts<T> qk(ks);
    const bool stream = StreamOut(p.n * C * S, C * S, dx);
    return ForTasksOutput(p.n, 1, stream, [&](auto nt, int64_t b, int64_t) {
      GradApplyPlanes<kRelu, decltype(nt)::value>(p, x, dy, dx, b, b + 1, qk);
    });
  }
  parallel_for(0, p.n * C, std::max<int64_t>(1, 4096 / S), [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; ++pl) GradApply<kRelu>(x + pl * S, dy + pl * S, dx + pl * S, S, ks[size_t(pl % C)]);
  });
}

template struct Entries<SmallPlanes>;  // for src/kernels/batch_norm/batch_norm_hwy.cpp

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
