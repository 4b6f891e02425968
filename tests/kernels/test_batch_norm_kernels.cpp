// Every Batch Normalization kernel against the reference: channel counts around SIMD widths (1, 3, 17, 65),
// batch 1 and 2, pixel counts that span several channels_last blocks and channels_first chunks, both layouts,
// f32 and f64, ReLU on and off, data with a per-channel mean of 1e4 and std 1e-2, and guard elements around
// every output to catch out-of-bounds writes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "gradcheck.hpp"
#include "kernels/batch_norm/problem.hpp"
#include "kernels/guarded.hpp"
#include "kernels/harness.hpp"
#include "kernels/stream.hpp"
#include "kernels/targets.hpp"

using namespace locnet;
using namespace locnet::kernels;

namespace {

using Sweep = locnet::testing::KernelSweep<BatchNormKernel>;
using Guarded = GuardedBuffer<32>;

BatchNormProblem problem_of(bool last, int64_t n, int64_t c, int64_t s, bool relu, DType dt) {
  BatchNormProblem p;
  p.channels_last = last;
  p.n = n;
  p.c = c;
  p.s = s;
  p.relu = relu;
  p.dtype = dt;
  return p;
}

// |a - b| <= tol * (|b| + max|b|): relative to the tensor's scale (dx sums terms that cancel).
void expect_near_scaled(const Tensor& a, const Tensor& b, double tol, const char* what) {
  double scale = 0;
  for (int64_t i = 0; i < b.numel(); ++i) scale = std::max(scale, std::abs(b.item(i)));
  EXPECT_LE(max_scaled_error(a, b, tol, tol * scale + 1e-300), 1.0) << what;
}
// |a - b| <= tol * (|b| + scale[i]) elementwise.
void expect_near(const std::vector<double>& a, const std::vector<double>& b, double tol, const char* what,
                 const std::vector<double>& scale) {
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_NEAR(a[i], b[i], tol * (std::abs(b[i]) + scale[i]) + 1e-300) << what << "[" << i << "]";
}

// x with per-channel offsets mean_c = offset * (1 + c) and scale std.
Tensor channel_data(const BatchNormProblem& p, uint64_t seed, double offset, double std) {
  Tensor x = locnet::testing::random_tensor(Shape{p.n * p.c * p.s}, DType::f64, seed, std);
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t ch = p.channels_last ? i % p.c : (i / p.s) % p.c;
    x.set(i, x.item(i) + offset * double(1 + ch));
  }
  return x.to(p.dtype);
}

void compare(Sweep& sweep, const BatchNormProblem& p, uint64_t seed, double offset, double std) {
  const int64_t count = p.n * p.c * p.s, C = p.c;
  Tensor x = channel_data(p, seed, offset, std);
  Tensor dy = locnet::testing::random_tensor(Shape{count}, DType::f64, seed + 1).to(p.dtype);
  const size_t Cs = size_t(C);
  std::vector<double> gamma(Cs), beta(Cs);
  for (int64_t c = 0; c < C; ++c) {
    gamma[size_t(c)] = 0.5 + 0.1 * double(c % 7);
    beta[size_t(c)] = 0.3 - 0.05 * double(c % 5);
  }
  const double eps = 1e-5;
  const bool f32 = p.dtype == DType::f32;
  // f64: the mean (up to offset * C) is held to about 1e-16 of itself, which is offset * C / std in units of y.
  const double tol_y = f32 ? 1e-5 : std::max(1e-11, 1e-15 * offset * double(C) / std);
  sweep.compare(p, [&](const BatchNormKernel& k, const BatchNormKernel& ref) {
    // Training forward: statistics and y.
    Guarded y1(count, p.dtype), y2(count, p.dtype);
    std::vector<double> m1(Cs), v1(Cs), m2(Cs), v2(Cs), zero(Cs), sd(Cs);
    k.forward_training(p, x.raw(), gamma.data(), beta.data(), eps, y1.data(), m1.data(), v1.data());
    ref.forward_training(p, x.raw(), gamma.data(), beta.data(), eps, y2.data(), m2.data(), v2.data());
    for (size_t c = 0; c < Cs; ++c) sd[c] = std::sqrt(v2[c]);
    expect_near(m1, m2, f32 ? 3e-7 : 1e-14, "mean", sd);   // relative to the spread, not to a mean near 0
    expect_near(v1, v2, f32 ? 2e-5 : 1e-10, "var", zero);  // f64: mean 1.7e5 carries 3e-11 absolute
    expect_near_scaled(y1.inner(), y2.inner(), tol_y, "y (training)");
    std::vector<double> invstd(Cs);
    for (int64_t c = 0; c < C; ++c) invstd[size_t(c)] = 1 / std::sqrt(v2[size_t(c)] + eps);
    // Inference forward with the reference's statistics.
    Guarded y3(count, p.dtype), y4(count, p.dtype);
    k.forward_inference(p, x.raw(), m2.data(), invstd.data(), gamma.data(), beta.data(), y3.data());
    ref.forward_inference(p, x.raw(), m2.data(), invstd.data(), gamma.data(), beta.data(), y4.data());
    expect_near_scaled(y3.inner(), y4.inner(), tol_y, "y (inference)");
    // Backward, with statistics from x (training) and given (inference).
    for (bool batch : {true, false}) {
      SCOPED_TRACE(batch ? "batch statistics" : "given statistics");
      Guarded d1(count, p.dtype), d2(count, p.dtype);
      std::vector<double> g1(Cs), b1(Cs), g2(Cs), b2(Cs);
      k.backward(p, x.raw(), dy.raw(), m2.data(), invstd.data(), gamma.data(), beta.data(), batch, d1.data(), g1.data(),
                 b1.data());
      ref.backward(p, x.raw(), dy.raw(), m2.data(), invstd.data(), gamma.data(), beta.data(), batch, d2.data(),
                   g2.data(), b2.data());
      // dx sums terms of size gamma invstd |dy| that may cancel: compare against that size.
      double k_max = 0, dy_max = 0;
      for (size_t c = 0; c < Cs; ++c) k_max = std::max(k_max, gamma[c] * invstd[c]);
      for (int64_t i = 0; i < count; ++i) dy_max = std::max(dy_max, std::abs(dy.item(i)));
      const double term = k_max * dy_max;
      Tensor d1i = d1.inner(), d2i = d2.inner();
      for (int64_t i = 0; i < count; ++i)
        ASSERT_NEAR(d1i.item(i), d2i.item(i), (f32 ? 3e-6 : 1e-12) * term) << "dx " << i;
      for (int64_t c = 0; c < C; ++c) {
        // Sums of m terms: compare against the size of the terms, not of the (possibly cancelling) result.
        double scale_b = std::sqrt(double(p.count())) + std::abs(b2[size_t(c)]);
        EXPECT_NEAR(b1[size_t(c)], b2[size_t(c)], (f32 ? 1e-5 : 1e-12) * scale_b) << "dbeta[" << c << "]";
        EXPECT_NEAR(g1[size_t(c)], g2[size_t(c)], (f32 ? 1e-5 : 1e-12) * scale_b) << "dgamma[" << c << "]";
      }
      EXPECT_TRUE(d1.guards_intact()) << "write outside dx";
    }
    EXPECT_TRUE(y1.guards_intact() && y3.guards_intact()) << "write outside y";
  });
}

}  // namespace

TEST(BatchNormKernels, MatchReferenceOverEdges) {
  const int64_t spatial[] = {1, 7, 300, 2049};
  Sweep sweep(batch_norm_kernels(), {"hwy"});
  int combo = 0;
  for (bool last : {true, false})
    for (DType dt : {DType::f32, DType::f64})
      for (int64_t c : {1, 3, 17, 65})
        for (int64_t n : {1, 2})
          for (bool relu : {false, true}) {
            BatchNormProblem p;
            p.n = n;
            p.c = c;
            p.s = spatial[combo % 4];
            if (p.s == 2049 && c > 3) p.s = 300;  // keep the suite fast
            if (p.count() == 1) p.s = 2;          // one value per channel gives var 0: tested on its own
            p.channels_last = last;
            p.relu = relu;
            p.dtype = dt;
            SCOPED_TRACE(fmt::format("last={} {} C={} n={} S={} relu={}", last, dtype_name(dt), c, n, p.s, relu));
            compare(sweep, p, uint64_t(combo), 0.0, 1.0);
            ++combo;
          }
}

// Every compiled instruction set (SSE4 and AVX2 builds of the kernels run on machines without AVX-512): both
// layouts, both dtypes, ReLU on and off, channel counts and planes that leave tails, 7x7 planes (channels_first
// walks them as one stream) and planes of over 2 KB.
TEST(BatchNormKernels, EveryInstructionSetMatchesTheReference) {
  locnet::testing::for_each_target([] {
    Sweep sweep(batch_norm_kernels(), {"hwy"});
    int combo = 0;
    for (bool last : {true, false})
      for (DType dt : {DType::f32, DType::f64})
        for (int64_t s : {49, 600})
          for (bool relu : {false, true}) {
            BatchNormProblem p;
            p.n = 3;
            p.c = combo % 2 ? 17 : 20;
            p.s = s;
            p.channels_last = last;
            p.relu = relu;
            p.dtype = dt;
            SCOPED_TRACE(fmt::format("last={} {} C={} S={} relu={}", last, dtype_name(dt), p.c, s, relu));
            compare(sweep, p, uint64_t(combo), 2.0, 0.5);
            ++combo;
          }
  });
}

TEST(BatchNormKernels, StreamedOutputs) {
  // Large outputs are written with streaming stores when every vector store is aligned: channels_last with whole
  // vectors of channels, channels_first with whole-vector planes (S = 528) or, for small planes walked as one
  // stream, whole-vector images (C S = 16 * 49, 20 * 20, 16 * 37). Forced here for every size, with counts that
  // are multiples of every SIMD width; channels_first C S = 20 * 49 and 17 * 37 do not stream (unaligned images).
  StreamMinBytesScope stream_everything(0);
  struct Case {
    bool last;
    int64_t c, s;
  };
  const Case cases[] = {{true, 16, 37}, {true, 32, 37}, {true, 64, 37}, {true, 80, 37}, {false, 16, 528},
                        {false, 3, 528}, {false, 16, 49}, {false, 20, 20}, {false, 20, 49}, {false, 16, 37},
                        {false, 17, 37}};
  Sweep sweep(batch_norm_kernels(), {"hwy"});
  for (DType dt : {DType::f32, DType::f64})
    for (const Case& k : cases)
      for (bool relu : {false, true}) {
        const BatchNormProblem p = problem_of(k.last, 3, k.c, k.s, relu, dt);
        SCOPED_TRACE(fmt::format("{} last={} C={} S={} relu={}", dtype_name(dt), k.last, k.c, k.s, relu));
        compare(sweep, p, uint64_t(k.c + k.s), 0.5, 2.0);
      }
}

TEST(BatchNormKernels, SmallPlanes) {
  // channels_first planes streamed per image: (n, C, 1) taken as channels_last, one vector exactly, one vector plus
  // a tail, 7x7; batch 1 and 3 (tasks of one image, or an uneven split).
  Sweep sweep(batch_norm_kernels(), {"hwy"});
  for (DType dt : {DType::f32, DType::f64})
    for (int64_t s : {1, 16, 17, 49})
      for (int64_t c : {9, 20})
        for (int64_t n : {1, 3})
          for (bool relu : {false, true}) {
            BatchNormProblem p;
            p.n = n;
            p.c = c;
            p.s = s == 1 && n == 1 ? 2 : s;
            p.channels_last = false;
            p.relu = relu;
            p.dtype = dt;
            SCOPED_TRACE(fmt::format("{} C={} n={} S={} relu={}", dtype_name(dt), c, n, p.s, relu));
            compare(sweep, p, uint64_t(s + c + n), 1.5, 0.7);
          }
}

TEST(BatchNormKernels, LargeMeanSmallSpread) {
  // Per-channel means 1e4 * (1 + c), std 1e-2: E[x^2] - E[x]^2 would lose every digit in f32. Planes of 700
  // (channels_first: per channel group) and 7x7 (channels_first: one stream of all planes).
  Sweep sweep(batch_norm_kernels(), {"hwy"});
  for (bool last : {true, false})
    for (DType dt : {DType::f32, DType::f64})
      for (int64_t c : {3, 17})
        for (int64_t s : {700, 49}) {
          BatchNormProblem p;
          p.n = s == 49 ? 9 : 2;
          p.c = c;
          p.s = s;
          p.channels_last = last;
          p.dtype = dt;
          SCOPED_TRACE(fmt::format("last={} {} C={} S={}", last, dtype_name(dt), c, s));
          compare(sweep, p, 7, 1e4, 1e-2);
        }
}

TEST(BatchNormKernels, OneValuePerChannelAndConstantChannels) {
  // m = 1 and constant channels: variance exactly 0, y = beta (no NaN).
  Sweep sweep(batch_norm_kernels(), {"hwy"});
  for (bool last : {true, false})
    for (int64_t s : {1, 9}) {
      BatchNormProblem p;
      p.n = 1;
      p.c = 5;
      p.s = s;
      p.channels_last = last;
      Tensor x(Shape{p.c * p.s}, DType::f32);
      for (int64_t i = 0; i < x.numel(); ++i) x.set(i, last ? 100.0 + double(i % 5) : 100.0 + double(i / s));
      std::vector<double> gamma(5, 2.0), beta(5, 0.25), mean(5), var(5);
      Tensor y(Shape{p.c * p.s}, DType::f32);
      sweep.each(p, [&](const BatchNormKernel& k) {
        k.forward_training(p, x.raw(), gamma.data(), beta.data(), 1e-5, y.raw(), mean.data(), var.data());
        for (int64_t c = 0; c < 5; ++c) {
          EXPECT_EQ(var[size_t(c)], 0.0);
          EXPECT_EQ(mean[size_t(c)], 100.0 + double(c));
        }
        for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.item(i), 0.25);
      });
    }
}

TEST(BatchNormKernels, AxisViewsOnEveryInstructionSet) {
  // A channel axis anywhere (Keras's axis=) is the (outer, C, inner) view: channels_first with n = outer and
  // S = inner, or channels_last when inner = 1 (src/layers/batch_norm.cpp). Its edges: outer 1, inner 1, C 1, odd
  // sizes, inner below and above a vector and the 2 KB plane threshold.
  struct View {
    int64_t outer, c, inner;
  };
  const View views[] = {{1, 5, 7}, {6, 4, 5}, {6, 1, 5}, {9, 3, 1}, {35, 7, 3}, {3, 33, 17}, {1, 1, 49}, {4, 5, 600}};
  locnet::testing::for_each_target([&] {
    Sweep sweep(batch_norm_kernels(), {"hwy"});
    for (DType dt : {DType::f32, DType::f64})
      for (const View& v : views)
        for (bool relu : {false, true}) {
          const BatchNormProblem p = problem_of(v.inner == 1, v.outer, v.c, v.inner, relu, dt);
          SCOPED_TRACE(fmt::format("{} outer={} C={} inner={} relu={}", dtype_name(dt), v.outer, v.c, v.inner, relu));
          compare(sweep, p, uint64_t(v.outer + v.c + v.inner), 1.0, 0.8);
        }
  });
}
