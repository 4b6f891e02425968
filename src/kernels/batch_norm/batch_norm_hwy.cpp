// Optimized Batch Normalization: Highway SIMD with runtime dispatch, OpenMP through parallel_for. Formulas as in
// ref.cpp; arithmetic in the storage type (f32 or f64) with double accumulators.
//   channels_first: one channel per task; vectors run across the pixels of each (n, c) plane. A channel's planes
//     are read from memory once: the second statistics pass and the normalize pass find them in cache when a
//     channel fits (N*S*4 bytes = 400 KB for 32x56x56).
//   channels_last: vectors run across the contiguous channels of a pixel; each task owns a range of pixel blocks
//     (about 64 KB each) and keeps per-channel partial statistics, merged afterwards.
// Stability (mean 1e4, std 1e-2 keeps f32 accuracy): statistics are two-pass per plane (channels_first) or per
// block (channels_last) with lane sums in the storage type flushed to double every kChunk elements; the second
// pass sums d = x - mf and d^2 about the f32-rounded first-pass mean mf and corrects with mean(d), so the mean's
// rounding does not leak into the variance; blocks merge with Chan's formula in double. Normalization computes
// (x - mf) * a + b' (x - mf exact by Sterbenz), never x * a + b whose two large terms cancel.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/batch_norm/batch_norm_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <algorithm>
#include <cmath>
#include <vector>

#include "hwy/aligned_allocator.h"
#include "hwy/highway.h"
#include "kernels/batch_norm/problem.hpp"
#include "locnet/core/parallel.hpp"

#ifndef LOCNET_BN_HWY_COMMON
#define LOCNET_BN_HWY_COMMON
namespace locnet::kernels::bn_detail {
constexpr int64_t kChunk = 2048;        // elements per lane-sum flush to double (channels_first)
constexpr int64_t kBlockElems = 16384;  // channels_last: elements per pixel block
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

// y = act((x - mf) a + b) over len contiguous elements.
template <class T>
void Affine(const T* x, T* y, int64_t len, const ChannelConsts& k, bool relu) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d));
  const T mf = T(k.mf), a = T(k.a), b = T(k.b);
  const auto vm = hn::Set(d, mf), va = hn::Set(d, a), vb = hn::Set(d, b), zero = hn::Zero(d);
  int64_t i = 0;
  if (relu) {
    for (; i + L <= len; i += L)
      hn::StoreU(hn::Max(hn::MulAdd(hn::Sub(hn::LoadU(d, x + i), vm), va, vb), zero), d, y + i);
  } else {
    for (; i + L <= len; i += L) hn::StoreU(hn::MulAdd(hn::Sub(hn::LoadU(d, x + i), vm), va, vb), d, y + i);
  }
  for (; i < len; ++i) {
    T z = (x[i] - mf) * a + b;
    y[i] = relu ? (z > 0 ? z : T(0)) : z;
  }
}

// sg += sum g, sgd += sum g (x - mf), g = dy * act'((x - mf) a + b).
template <class T>
void GradSums(const T* x, const T* dy, int64_t len, const ChannelConsts& k, bool relu, double& sg, double& sgd) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d));
  const T mf = T(k.mf), a = T(k.a), b = T(k.b);
  const auto vm = hn::Set(d, mf), va = hn::Set(d, a), vb = hn::Set(d, b), zero = hn::Zero(d);
  for (int64_t c0 = 0; c0 < len; c0 += kChunk) {
    const int64_t end = std::min(len, c0 + kChunk);
    auto a1 = hn::Zero(d), a2 = hn::Zero(d);
    int64_t i = c0;
    for (; i + L <= end; i += L) {
      auto u = hn::Sub(hn::LoadU(d, x + i), vm);
      auto g = hn::LoadU(d, dy + i);
      if (relu) g = hn::IfThenElseZero(hn::Gt(hn::MulAdd(u, va, vb), zero), g);
      a1 = hn::Add(a1, g);
      a2 = hn::MulAdd(g, u, a2);
    }
    double t1 = double(hn::GetLane(hn::SumOfLanes(d, a1))), t2 = double(hn::GetLane(hn::SumOfLanes(d, a2)));
    for (; i < end; ++i) {
      T u = x[i] - mf;
      T g = relu && !(u * a + b > 0) ? T(0) : dy[i];
      t1 += double(g);
      t2 += double(g) * double(u);
    }
    sg += t1;
    sgd += t2;
  }
}

// dx = k g + c1 (x - mf) + c0.
template <class T>
void GradApply(const T* x, const T* dy, T* dx, int64_t len, const ChannelConsts& k, bool relu) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d));
  const T mf = T(k.mf), a = T(k.a), b = T(k.b), kk = T(k.k), c1 = T(k.c1), c0 = T(k.c0);
  const auto vm = hn::Set(d, mf), va = hn::Set(d, a), vb = hn::Set(d, b), vk = hn::Set(d, kk), vc1 = hn::Set(d, c1),
             vc0 = hn::Set(d, c0), zero = hn::Zero(d);
  int64_t i = 0;
  for (; i + L <= len; i += L) {
    auto u = hn::Sub(hn::LoadU(d, x + i), vm);
    auto g = hn::LoadU(d, dy + i);
    if (relu) g = hn::IfThenElseZero(hn::Gt(hn::MulAdd(u, va, vb), zero), g);
    hn::StoreU(hn::MulAdd(vk, g, hn::MulAdd(vc1, u, vc0)), d, dx + i);
  }
  for (; i < len; ++i) {
    T u = x[i] - mf;
    T g = relu && !(u * a + b > 0) ? T(0) : dy[i];
    dx[i] = kk * g + (c1 * u + c0);
  }
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

// ---- channels_first ---------------------------------------------------------------------------------------------
template <class T>
void ForwardTrainingCF(const BatchNormProblem& p, const T* x, const double* gamma, const double* beta, double eps, T* y,
                       double* mean, double* var) {
  const int64_t C = p.c, S = p.s;
  const double m = double(p.count());
  parallel_for(0, C, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t ch = lo; ch < hi; ++ch) {
      const T shift = x[ch * S];
      double s1 = 0, s2 = 0;
      for (int64_t b = 0; b < p.n; ++b) ShiftedSums(x + (b * C + ch) * S, S, shift, s1, s2);
      const T mf = T(double(shift) + s1 / m);
      s1 = s2 = 0;
      for (int64_t b = 0; b < p.n; ++b) ShiftedSums(x + (b * C + ch) * S, S, mf, s1, s2);
      mean[ch] = double(mf) + s1 / m;
      var[ch] = std::max(0.0, s2 / m - (s1 / m) * (s1 / m));
      ChannelConsts k = Consts(mf, mean[ch], 1 / std::sqrt(var[ch] + eps), gamma[ch], beta[ch]);
      for (int64_t b = 0; b < p.n; ++b) Affine(x + (b * C + ch) * S, y + (b * C + ch) * S, S, k, p.relu);
    }
  });
}

template <class T>
void ForwardInferenceCF(const BatchNormProblem& p, const T* x, const double* mean, const double* invstd,
                        const double* gamma, const double* beta, T* y) {
  const int64_t C = p.c, S = p.s;
  parallel_for(0, p.n * C, std::max<int64_t>(1, 4096 / S), [&](int64_t lo, int64_t hi) {
    for (int64_t plane = lo; plane < hi; ++plane) {
      const int64_t ch = plane % C;
      ChannelConsts k = Consts(T(mean[ch]), mean[ch], invstd[ch], gamma[ch], beta[ch]);
      Affine(x + plane * S, y + plane * S, S, k, p.relu);
    }
  });
}

template <class T>
void BackwardCF(const BatchNormProblem& p, const T* x, const T* dy, const double* mean, const double* invstd,
                const double* gamma, const double* beta, bool batch_stats, T* dx, double* dgamma, double* dbeta) {
  const int64_t C = p.c, S = p.s;
  parallel_for(0, C, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t ch = lo; ch < hi; ++ch) {
      ChannelConsts k = Consts(T(mean[ch]), mean[ch], invstd[ch], gamma[ch], beta[ch]);
      double sg = 0, sgd = 0;
      for (int64_t b = 0; b < p.n; ++b) {
        const int64_t o = (b * C + ch) * S;
        GradSums(x + o, dy + o, S, k, p.relu, sg, sgd);
      }
      k = BackwardConsts<T>(p, k, mean[ch], invstd[ch], gamma[ch], batch_stats, sg, sgd, dgamma + ch, dbeta + ch);
      for (int64_t b = 0; b < p.n; ++b) {
        const int64_t o = (b * C + ch) * S;
        GradApply(x + o, dy + o, dx + o, S, k, p.relu);
      }
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
};

// Tasks of contiguous pixel blocks: calls fn(task, first pixel, end pixel) once per task, in parallel.
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

// Chan's merge of (n_b, mean_b, m2_b) into (n_a, mean_a, m2_a).
inline void Merge(double na, double& mean_a, double& m2_a, double nb, double mean_b, double m2_b) {
  const double n = na + nb, delta = mean_b - mean_a;
  mean_a += delta * nb / n;
  m2_a += m2_b + delta * delta * na * nb / n;
}

template <class T>
void ForwardTrainingCL(const BatchNormProblem& p, const T* x, const double* gamma, const double* beta, double eps, T* y,
                       double* mean, double* var) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, P = p.count(), B = block_pixels(C);
  const int64_t Cv = C / L * L;
  const int64_t max_tasks = std::max(1, num_threads());
  std::vector<double> t_n(static_cast<size_t>(max_tasks)), t_mean(static_cast<size_t>(max_tasks * C)),
      t_m2(static_cast<size_t>(max_tasks * C));
  const int64_t tasks = ForTasks(P, B, [&](int64_t t, int64_t p0, int64_t p1) {
    Buf<T> bm = hwy::AllocateAligned<T>(size_t(C + L)), s1 = hwy::AllocateAligned<T>(size_t(C + L)),
           s2 = hwy::AllocateAligned<T>(size_t(C + L));
    double* tm = &t_mean[size_t(t * C)];
    double* tm2 = &t_m2[size_t(t * C)];
    double tn = 0;
    for (int64_t q0 = p0; q0 < p1; q0 += B) {
      const int64_t q1 = std::min(p1, q0 + B);
      const double nb = double(q1 - q0);
      // Pass A: the block's mean, shifted by its first pixel.
      std::copy(x + q0 * C, x + q0 * C + C, bm.get());
      std::fill(s1.get(), s1.get() + C, T(0));
      for (int64_t q = q0 + 1; q < q1; ++q) {
        const T* row = x + q * C;
        int64_t c = 0;
        for (; c < Cv; c += L)
          hn::Store(hn::Add(hn::Load(d, s1.get() + c), hn::Sub(hn::LoadU(d, row + c), hn::Load(d, bm.get() + c))), d,
                    s1.get() + c);
        for (; c < C; ++c) s1[c] += row[c] - bm[c];
      }
      for (int64_t c = 0; c < C; ++c) bm[c] = T(double(bm[c]) + double(s1[c]) / nb);
      // Pass B: sums of d and d^2 about it.
      std::fill(s1.get(), s1.get() + C, T(0));
      std::fill(s2.get(), s2.get() + C, T(0));
      for (int64_t q = q0; q < q1; ++q) {
        const T* row = x + q * C;
        int64_t c = 0;
        for (; c < Cv; c += L) {
          auto u = hn::Sub(hn::LoadU(d, row + c), hn::Load(d, bm.get() + c));
          hn::Store(hn::Add(hn::Load(d, s1.get() + c), u), d, s1.get() + c);
          hn::Store(hn::MulAdd(u, u, hn::Load(d, s2.get() + c)), d, s2.get() + c);
        }
        for (; c < C; ++c) {
          T u = row[c] - bm[c];
          s1[c] += u;
          s2[c] += u * u;
        }
      }
      for (int64_t c = 0; c < C; ++c) {
        const double d1 = double(s1[c]), bmean = double(bm[c]) + d1 / nb;
        const double bm2 = std::max(0.0, double(s2[c]) - d1 * d1 / nb);
        if (tn == 0) {
          tm[c] = bmean;
          tm2[c] = bm2;
        } else {
          Merge(tn, tm[c], tm2[c], nb, bmean, bm2);
        }
      }
      tn += nb;
    }
    t_n[size_t(t)] = tn;
  });
  std::vector<ChannelConsts> ks(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    double n = t_n[0], mu = t_mean[size_t(c)], m2 = t_m2[size_t(c)];
    for (int64_t t = 1; t < tasks; ++t) {
      if (t_n[size_t(t)] == 0) continue;
      Merge(n, mu, m2, t_n[size_t(t)], t_mean[size_t(t * C + c)], t_m2[size_t(t * C + c)]);
      n += t_n[size_t(t)];
    }
    mean[c] = mu;
    var[c] = m2 / double(P);
    ks[size_t(c)] = Consts(T(mu), mu, 1 / std::sqrt(var[c] + eps), gamma[c], beta[c]);
  }
  ConstRows<T> r(ks);
  const bool relu = p.relu;
  parallel_for(0, P, std::max<int64_t>(1, 4096 / C), [&](int64_t lo, int64_t hi) {
    const auto zero = hn::Zero(d);
    for (int64_t q = lo; q < hi; ++q) {
      const T* row = x + q * C;
      T* out = y + q * C;
      int64_t c = 0;
      for (; c < Cv; c += L) {
        auto z = hn::MulAdd(hn::Sub(hn::LoadU(d, row + c), hn::Load(d, r.mf.get() + c)), hn::Load(d, r.a.get() + c),
                            hn::Load(d, r.b.get() + c));
        hn::StoreU(relu ? hn::Max(z, zero) : z, d, out + c);
      }
      for (; c < C; ++c) {
        T z = (row[c] - r.mf[c]) * r.a[c] + r.b[c];
        out[c] = relu ? (z > 0 ? z : T(0)) : z;
      }
    }
  });
}

template <class T>
void ForwardInferenceCL(const BatchNormProblem& p, const T* x, const double* mean, const double* invstd,
                        const double* gamma, const double* beta, T* y) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, Cv = C / L * L;
  std::vector<ChannelConsts> ks(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) ks[size_t(c)] = Consts(T(mean[c]), mean[c], invstd[c], gamma[c], beta[c]);
  ConstRows<T> r(ks);
  const bool relu = p.relu;
  parallel_for(0, p.count(), std::max<int64_t>(1, 4096 / C), [&](int64_t lo, int64_t hi) {
    const auto zero = hn::Zero(d);
    for (int64_t q = lo; q < hi; ++q) {
      const T* row = x + q * C;
      T* out = y + q * C;
      int64_t c = 0;
      for (; c < Cv; c += L) {
        auto z = hn::MulAdd(hn::Sub(hn::LoadU(d, row + c), hn::Load(d, r.mf.get() + c)), hn::Load(d, r.a.get() + c),
                            hn::Load(d, r.b.get() + c));
        hn::StoreU(relu ? hn::Max(z, zero) : z, d, out + c);
      }
      for (; c < C; ++c) {
        T z = (row[c] - r.mf[c]) * r.a[c] + r.b[c];
        out[c] = relu ? (z > 0 ? z : T(0)) : z;
      }
    }
  });
}

template <class T>
void BackwardCL(const BatchNormProblem& p, const T* x, const T* dy, const double* mean, const double* invstd,
                const double* gamma, const double* beta, bool batch_stats, T* dx, double* dgamma, double* dbeta) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, P = p.count(), B = block_pixels(C), Cv = C / L * L;
  std::vector<ChannelConsts> ks(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) ks[size_t(c)] = Consts(T(mean[c]), mean[c], invstd[c], gamma[c], beta[c]);
  const int64_t max_tasks = std::max(1, num_threads());
  std::vector<double> t_sg(static_cast<size_t>(max_tasks * C)), t_sgd(static_cast<size_t>(max_tasks * C));
  const bool relu = p.relu;
  {
    ConstRows<T> r(ks);
    const int64_t tasks = ForTasks(P, B, [&](int64_t t, int64_t p0, int64_t p1) {
      Buf<T> s1 = hwy::AllocateAligned<T>(size_t(C + L)), s2 = hwy::AllocateAligned<T>(size_t(C + L));
      double* sg = &t_sg[size_t(t * C)];
      double* sgd = &t_sgd[size_t(t * C)];
      const auto zero = hn::Zero(d);
      for (int64_t q0 = p0; q0 < p1; q0 += B) {
        const int64_t q1 = std::min(p1, q0 + B);
        std::fill(s1.get(), s1.get() + C, T(0));
        std::fill(s2.get(), s2.get() + C, T(0));
        for (int64_t q = q0; q < q1; ++q) {
          const T* row = x + q * C;
          const T* grow = dy + q * C;
          int64_t c = 0;
          for (; c < Cv; c += L) {
            auto u = hn::Sub(hn::LoadU(d, row + c), hn::Load(d, r.mf.get() + c));
            auto g = hn::LoadU(d, grow + c);
            if (relu)
              g = hn::IfThenElseZero(
                  hn::Gt(hn::MulAdd(u, hn::Load(d, r.a.get() + c), hn::Load(d, r.b.get() + c)), zero), g);
            hn::Store(hn::Add(hn::Load(d, s1.get() + c), g), d, s1.get() + c);
            hn::Store(hn::MulAdd(g, u, hn::Load(d, s2.get() + c)), d, s2.get() + c);
          }
          for (; c < C; ++c) {
            T u = row[c] - r.mf[c];
            T g = relu && !(u * r.a[c] + r.b[c] > 0) ? T(0) : grow[c];
            s1[c] += g;
            s2[c] += g * u;
          }
        }
        for (int64_t c = 0; c < C; ++c) {
          sg[c] += double(s1[c]);
          sgd[c] += double(s2[c]);
        }
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
  parallel_for(0, P, std::max<int64_t>(1, 4096 / C), [&](int64_t lo, int64_t hi) {
    const auto zero = hn::Zero(d);
    for (int64_t q = lo; q < hi; ++q) {
      const T* row = x + q * C;
      const T* grow = dy + q * C;
      T* out = dx + q * C;
      int64_t c = 0;
      for (; c < Cv; c += L) {
        auto u = hn::Sub(hn::LoadU(d, row + c), hn::Load(d, r.mf.get() + c));
        auto g = hn::LoadU(d, grow + c);
        if (relu)
          g = hn::IfThenElseZero(hn::Gt(hn::MulAdd(u, hn::Load(d, r.a.get() + c), hn::Load(d, r.b.get() + c)), zero),
                                 g);
        hn::StoreU(hn::MulAdd(hn::Load(d, r.k.get() + c), g,
                              hn::MulAdd(hn::Load(d, r.c1.get() + c), u, hn::Load(d, r.c0.get() + c))),
                   d, out + c);
      }
      for (; c < C; ++c) {
        T u = row[c] - r.mf[c];
        T g = relu && !(u * r.a[c] + r.b[c] > 0) ? T(0) : grow[c];
        out[c] = r.k[c] * g + (r.c1[c] * u + r.c0[c]);
      }
    }
  });
}

// ---- dispatch on dtype and layout -------------------------------------------------------------------------------
template <class T>
void ForwardTrainingT(const BatchNormProblem& p, const void* x, const double* gamma, const double* beta, double eps,
                      void* y, double* mean, double* var) {
  auto xt = static_cast<const T*>(x);
  auto yt = static_cast<T*>(y);
  p.channels_last ? ForwardTrainingCL(p, xt, gamma, beta, eps, yt, mean, var)
                  : ForwardTrainingCF(p, xt, gamma, beta, eps, yt, mean, var);
}
void ForwardTraining(const BatchNormProblem& p, const void* x, const double* gamma, const double* beta, double eps,
                     void* y, double* mean, double* var) {
  p.dtype == DType::f64 ? ForwardTrainingT<double>(p, x, gamma, beta, eps, y, mean, var)
                        : ForwardTrainingT<float>(p, x, gamma, beta, eps, y, mean, var);
}

template <class T>
void ForwardInferenceT(const BatchNormProblem& p, const void* x, const double* mean, const double* invstd,
                       const double* gamma, const double* beta, void* y) {
  auto xt = static_cast<const T*>(x);
  auto yt = static_cast<T*>(y);
  p.channels_last ? ForwardInferenceCL(p, xt, mean, invstd, gamma, beta, yt)
                  : ForwardInferenceCF(p, xt, mean, invstd, gamma, beta, yt);
}
void ForwardInference(const BatchNormProblem& p, const void* x, const double* mean, const double* invstd,
                      const double* gamma, const double* beta, void* y) {
  p.dtype == DType::f64 ? ForwardInferenceT<double>(p, x, mean, invstd, gamma, beta, y)
                        : ForwardInferenceT<float>(p, x, mean, invstd, gamma, beta, y);
}

template <class T>
void BackwardT(const BatchNormProblem& p, const void* x, const void* dy, const double* mean, const double* invstd,
               const double* gamma, const double* beta, bool batch_stats, void* dx, double* dgamma, double* dbeta) {
  auto xt = static_cast<const T*>(x);
  auto gt = static_cast<const T*>(dy);
  auto dt = static_cast<T*>(dx);
  p.channels_last ? BackwardCL(p, xt, gt, mean, invstd, gamma, beta, batch_stats, dt, dgamma, dbeta)
                  : BackwardCF(p, xt, gt, mean, invstd, gamma, beta, batch_stats, dt, dgamma, dbeta);
}
void Backward(const BatchNormProblem& p, const void* x, const void* dy, const double* mean, const double* invstd,
              const double* gamma, const double* beta, bool batch_stats, void* dx, double* dgamma, double* dbeta) {
  p.dtype == DType::f64 ? BackwardT<double>(p, x, dy, mean, invstd, gamma, beta, batch_stats, dx, dgamma, dbeta)
                        : BackwardT<float>(p, x, dy, mean, invstd, gamma, beta, batch_stats, dx, dgamma, dbeta);
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
