// The BatchNorm kernels for channels_last (dispatch: src/kernels/batch_norm/batch_norm_hwy.cpp): vectors run
// across the contiguous channels of a pixel; each task owns a range of pixel blocks (about 64 KB each) and keeps
// per-channel partial sums, merged afterwards. The output pass walks each task's range last block first, so it
// starts on what the sums pass left in L2 and L3.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/batch_norm/channels_last_hwy.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
// foreach_target must come first
#include <algorithm>
#include <cstdint>
#include <vector>

#include "hwy/aligned_allocator.h"
#include "hwy/highway.h"
#include "kernels/batch_norm/batch_norm-inl.h"
#include "locnet/core/parallel.hpp"

HWY_BEFORE_NAMESPACE();
namespace locnet::kernels::HWY_NAMESPACE {

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

// Pixel rows [q0, q1) in groups: rows.template operator()<R>(q) for rows [q, q + R), R = kGroup, then R = 1 for
// the rest. The channels_last passes over many channels load per-channel constants (and the sums keep per-channel
// sums in arrays): a group loads them once for its R rows.
constexpr int kRowGroup = 4;
template <int kGroup, class F>
HWY_INLINE void ForRowGroups(int64_t q0, int64_t q1, F&& rows) {
  int64_t q = q0;
  for (; q + kGroup <= q1; q += kGroup) rows.template operator()<kGroup>(q);
  for (; q < q1; ++q) rows.template operator()<1>(q);
}

// y = act((x - mf) a + b) for pixels [q0, q1).
template <bool kRelu, bool NT = false, class T>
void NormalizeRows(const T* x, T* y, int64_t q0, int64_t q1, int64_t C, const typename ConstRows<T>::View r) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d)), Cv = C / L * L;
  ForRowGroups<kRowGroup>(q0, q1, [&]<int R>(int64_t q) {
    const T* row = x + q * C;
    T* out = y + q * C;
    int64_t c = 0;
    for (; c < Cv; c += L) {
      const auto vm = hn::Load(d, r.mf + c), va = hn::Load(d, r.a + c), vb = hn::Load(d, r.b + c);
      for (int j = 0; j < R; ++j) {
        auto z = hn::MulAdd(hn::Sub(hn::LoadU(d, row + j * C + c), vm), va, vb);
        StoreOrStream<NT>(kRelu ? Relu(d, z) : z, d, out + j * C + c);
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
void ForwardTraining(ChannelsLast, const BatchNormProblem& p, const T* x, const double* gamma, const double* beta,
                     double eps, T* y, double* mean, double* var) {
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
  std::vector<double> sum1, sum2;
  TaskSums(P, B, C, sum1, sum2, [&](int64_t p0, int64_t p1, double* d1, double* d2) {
    Buf<T> s1 = ZeroSums<T>(C), s2 = ZeroSums<T>(C);
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
      ForRowGroups<kRowGroup>(q0, q1, [&]<int R>(int64_t q) {
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
  for (int64_t c = 0; c < C; ++c)
    ks[size_t(c)] = StatsConsts<T>(double(shift[c]), sum1[size_t(c)], sum2[size_t(c)], double(P), eps, gamma[c],
                                   beta[c], mean + c, var + c);
  ConstRows<T> r(ks);
  ForTasksOutput(P, B, StreamOut(P * C, C, y), [&, v = r.view()](auto nt, int64_t q0, int64_t q1) {
    NormalizeRows<kRelu, decltype(nt)::value>(x, y, q0, q1, C, v);
  });
}

template <bool kRelu, class T>
void ForwardInference(ChannelsLast, const BatchNormProblem& p, const T* x, const double* mean, const double* invstd,
                      const double* gamma, const double* beta, T* y) {
  const int64_t C = p.c;
  std::vector<ChannelConsts> ks = ConstsOf<T>(C, mean, invstd, gamma, beta);
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
  ForRowGroups<kRowGroup>(q0, q1, [&]<int R>(int64_t q) {
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
  ForRowGroups<kRowGroup>(q0, q1, [&]<int R>(int64_t q) {
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
        StoreOrStream<NT>(hn::MulAdd(vk, g, hn::MulAdd(v1, u, v0)), d, out + j * C + c);
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
void Backward(ChannelsLast, const BatchNormProblem& p, const T* x, const T* dy, const double* mean,
              const double* invstd, const double* gamma, const double* beta, bool batch_stats, T* dx, double* dgamma,
              double* dbeta) {
  const hn::ScalableTag<T> d;
  const int64_t L = int64_t(hn::Lanes(d)), C = p.c, P = p.count(), B = block_pixels(C), Cv = C / L * L;
  std::vector<ChannelConsts> ks = ConstsOf<T>(C, mean, invstd, gamma, beta);
  {
    ConstRows<T> r(ks);
    const auto sums = C == Cv && C <= 4 * L
                          ? (C == L       ? GradRowSumsReg<kRelu, 1, T>
                             : C == 2 * L ? GradRowSumsReg<kRelu, 2, T>
                             : C == 3 * L ? GradRowSumsReg<kRelu, 3, T>
                                          : GradRowSumsReg<kRelu, 4, T>)
                          : GradRowSums<kRelu, T>;
    const int64_t flush = std::max(B, kFlushPixels);
    std::vector<double> sum_g, sum_gd;
    TaskSums(P, B, C, sum_g, sum_gd, [&, v = r.view()](int64_t p0, int64_t p1, double* sg, double* sgd) {
      Buf<T> s1 = ZeroSums<T>(C), s2 = ZeroSums<T>(C);
      for (int64_t q0 = p0; q0 < p1; q0 += flush) {
        sums(x, dy, q0, std::min(p1, q0 + flush), C, v, s1.get(), s2.get());
        FlushSums(s1.get(), sg, C);
        FlushSums(s2.get(), sgd, C);
      }
    });
    for (int64_t c = 0; c < C; ++c)
      ks[size_t(c)] = BackwardConsts<T>(p, ks[size_t(c)], mean[c], invstd[c], gamma[c], batch_stats,
                                        sum_g[size_t(c)], sum_gd[size_t(c)], dgamma + c, dbeta + c);
  }
  ConstRows<T> r(ks);
  ForTasksOutput(P, B, StreamOut(P * C, C, dx), [&, v = r.view()](auto nt, int64_t q0, int64_t q1) {
    GradApplyRows<kRelu, decltype(nt)::value>(x, dy, dx, q0, q1, C, v);
  });
}

template struct Entries<ChannelsLast>;  // for src/kernels/batch_norm/batch_norm_hwy.cpp

}  // namespace locnet::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
