// Every LRN kernel against the reference, over the shapes that hit every edge: channel counts around SIMD widths,
// windows from 1 to wider than C (even and uneven), 0 to 3 spatial axes, both layouts, every dtype, batch 1, and
// guard elements around the outputs to catch out-of-bounds writes.
#include <gtest/gtest.h>

#include "gradcheck.hpp"
#include "kernels/guarded.hpp"
#include "kernels/harness.hpp"
#include "kernels/lrn/problem.hpp"
#include "kernels/stream.hpp"
#include "kernels/targets.hpp"

using namespace locnet;
using namespace locnet::kernels;

namespace {

using Sweep = locnet::testing::KernelSweep<LrnKernel>;
using Guarded = GuardedBuffer<32>;

double tolerance(DType dt) {
  switch (dt) {
    case DType::f64: return 1e-11;
    case DType::f32: return 3e-5;
    case DType::f16: return 2e-3;
    case DType::bf16: return 1.6e-2;
  }
  return 0;
}

void compare(Sweep& sweep, const LrnProblem& p, uint64_t seed, double scale = 1.0) {
  int64_t count = p.n * p.c * p.spatial();
  Tensor x = locnet::testing::random_tensor(Shape{count}, DType::f64, seed, scale).to(p.dtype);
  Tensor g = locnet::testing::random_tensor(Shape{count}, DType::f64, seed + 1).to(p.dtype);
  sweep.compare(p, [&](const LrnKernel& k, const LrnKernel& ref) {
    Guarded y1(count, p.dtype), y2(count, p.dtype), y3(count, p.dtype), d1(count, p.dtype), d2(count, p.dtype);
    k.forward(p, x.raw(), y1.data());
    ref.forward(p, x.raw(), y2.data());
    double tol = tolerance(p.dtype);
    EXPECT_LE(max_scaled_error(y1.inner(), y2.inner(), tol, tol), 1.0);
    {  // again as for outputs beyond the cache: streaming stores (the row heads before aligned addresses differ)
      StreamMinBytesScope stream_everything(0);
      k.forward(p, x.raw(), y3.data());
    }
    EXPECT_LE(max_scaled_error(y3.inner(), y2.inner(), tol, tol), 1.0) << "streaming stores";
    EXPECT_TRUE(y3.guards_intact()) << "write outside the output (streaming stores)";
    k.backward(p, x.raw(), g.raw(), d1.data());
    ref.backward(p, x.raw(), g.raw(), d2.data());
    EXPECT_LE(max_scaled_error(d1.inner(), d2.inner(), tol, 4 * tol), 1.0);
    EXPECT_TRUE(y1.guards_intact() && d1.guards_intact()) << "write outside the output";
  });
}

// The size-5 window with AlexNet's alpha and k (alpha divided by 5); spatial dimensions are the caller's.
LrnProblem size5(int64_t c, bool last, DType dt) {
  LrnProblem p;
  p.c = c;
  p.channels_last = last;
  p.behind = p.ahead = 2;
  p.divisor = 5;
  p.alpha = 1e-4;
  p.beta = 0.75;
  p.k = 2;
  p.dtype = dt;
  return p;
}

}  // namespace

TEST(LrnKernels, MatchReferenceOverEdges) {
  const std::vector<std::pair<int64_t, int64_t>> windows = {{0, 0}, {1, 0}, {1, 1}, {2, 1}, {1, 2},
                                                            {2, 2}, {3, 3}, {5, 5}, {20, 19}, {40, 40}};
  // {3, 7}: more pixels than a vector, not a multiple of one (the channels_first backward's column walk).
  const std::vector<std::vector<int64_t>> spatial = {{}, {5}, {3, 4}, {2, 2, 3}, {3, 7}};
  const double betas[] = {0.75, 0.5, 1.0, 0.0, 0.6, 1.7};
  Sweep sweep(lrn_kernels(), {"hwy"});
  int combo = 0;
  for (bool last : {true, false})
    for (DType dt : {DType::f32, DType::f64, DType::bf16, DType::f16})
      for (int64_t c : {1, 3, 15, 17, 32, 63, 65, 96, 257})  // 32, 96: bf16 channels_last takes 32 at a time
        for (auto [b, a] : windows) {
          LrnProblem p;
          p.n = 1 + combo % 2;
          p.c = c;
          const auto& sp = spatial[size_t(combo % 5)];
          p.nsp = int(sp.size());
          for (size_t i = 0; i < sp.size(); ++i) p.sp[3 - sp.size() + i] = sp[i];
          p.channels_last = last;
          p.behind = b;
          p.ahead = a;
          p.divisor = double(a + b + 1);
          p.alpha = 0.7;
          p.beta = betas[combo % 6];
          p.k = 1.3;
          p.dtype = dt;
          SCOPED_TRACE(fmt::format("last={} {} C={} B={} A={} spatial={} n={} beta={}", last, dtype_name(dt), c, b, a,
                                   p.spatial(), p.n, p.beta));
          compare(sweep, p, uint64_t(combo));
          ++combo;
        }
}

// Every compiled instruction set (SSE4 and AVX2 builds of the kernels run on machines without AVX-512): both
// layouts, every dtype, windows of size 5 (the channels_first forward's row groups, the channels_last valignd
// path), 3 and an uneven one, channels and pixels that leave tails, and several channels_first pixel blocks.
TEST(LrnKernels, EveryInstructionSetMatchesTheReference) {
  locnet::testing::for_each_target([] {
    Sweep sweep(lrn_kernels(), {"hwy"});
    int combo = 0;
    for (bool last : {true, false})
      for (DType dt : {DType::f32, DType::f64, DType::bf16, DType::f16})
        for (auto [b, a] : {std::pair<int64_t, int64_t>{2, 2}, {1, 1}, {2, 1}})
          for (int64_t c : {17, 64}) {
            LrnProblem p = size5(c, last, dt);
            p.behind = b;
            p.ahead = a;
            p.divisor = double(a + b + 1);
            p.alpha = 0.7;  // the window moves N by far more than the tolerance
            p.k = 1.3;
            p.n = 2;
            p.nsp = 1;
            p.sp[2] = combo % 2 ? 37 : 1100;
            p.beta = combo % 3 ? 0.75 : 0.6;
            SCOPED_TRACE(fmt::format("last={} {} C={} B={} A={} S={}", last, dtype_name(dt), c, b, a, p.sp[2]));
            compare(sweep, p, uint64_t(combo));
            ++combo;
          }
  });
}

TEST(LrnKernels, LargeBlocksTailsAndLargeValues) {
  // More pixels than one channels-first block, a tail that is not a SIMD multiple, and values near 1e3 whose
  // squares dominate the running sums.
  Sweep sweep(lrn_kernels(), {"hwy"});
  for (bool last : {true, false})
    for (double scale : {1.0, 1e3}) {
      LrnProblem p = size5(37, last, DType::f32);
      p.n = 2;
      p.nsp = 2;
      p.sp[1] = 23;
      p.sp[2] = 29;
      SCOPED_TRACE(fmt::format("last={} scale={}", last, scale));
      compare(sweep, p, 99, scale);
    }
}

// Inf, NaN and huge values, in vector bodies and tails, across anchors of the running sums: every kernel
// gives the reference's non-finite pattern and values (N = Inf gives N^-beta = 0, as IEEE pow does).
TEST(LrnKernels, NonFiniteInputsMatchTheReference) {
  Sweep sweep(lrn_kernels(), {"hwy"});
  struct Case {
    DType dt;
    int64_t c, ahead;
  };
  // {f32, 40, 2}: channels_first takes 8 rows at a time (size-5 window). bf16 with the size-5 window and 64
  // channels: the channels_last path that takes 32 channels at a time.
  const Case cases[] = {{DType::f32, 5, 1}, {DType::f32, 40, 1}, {DType::f32, 40, 2}, {DType::bf16, 64, 2}};
  for (bool last : {true, false})
    for (double beta : {0.5, 0.75, 1.0, 0.6})
      for (const Case& cs : cases) {
        const int64_t c = cs.c;
        LrnProblem p;
        p.c = c;
        p.nsp = 1;
        p.sp[2] = 37;
        p.channels_last = last;
        p.behind = 2;
        p.ahead = cs.ahead;
        p.alpha = 1e-2;
        p.beta = beta;
        p.dtype = cs.dt;
        const int64_t count = c * 37;
        Tensor x = locnet::testing::random_tensor(Shape{count}, DType::f32, 11);
        x.set(3, INFINITY);
        x.set(count / 2, -INFINITY);
        x.set(count / 3, NAN);
        x.set(c * 5 + 1, INFINITY);  // pixel 5: the second of a pair where bf16 channels_last takes two at once
        x.set(count - 20, 1e18);  // its square is near the top of f32
        x = x.to(cs.dt);
        const double tol = cs.dt == DType::f32 ? 1e-5 : 1.6e-2;
        sweep.compare(p, [&](const LrnKernel& k, const LrnKernel& ref) {
          SCOPED_TRACE(fmt::format("{} last={} beta={} c={} {}", k.name, last, beta, c, dtype_name(cs.dt)));
          Tensor y(Shape{count}, cs.dt), yr(Shape{count}, cs.dt);
          k.forward(p, x.raw(), y.raw());
          ref.forward(p, x.raw(), yr.raw());
          for (int64_t i = 0; i < count; ++i) {
            double a = y.item(i), b = yr.item(i);
            if (std::isnan(b)) {
              EXPECT_TRUE(std::isnan(a)) << "at " << i;
            } else {
              EXPECT_NEAR(a, b, tol * (1 + std::fabs(b))) << "at " << i;
            }
          }
        });
      }
}

// The backward's running sums (channels_first) and fast powers meet Inf and NaN in x and dy, in vector bodies,
// tails, across anchors and in several pixel blocks: the reference's non-finite pattern and values.
TEST(LrnKernels, BackwardNonFiniteInputsMatchTheReference) {
  Sweep sweep(lrn_kernels(), {"hwy"});
  // channels_first: {2, 1} runs the block pipeline, {2, 2} and {1, 1} the column walk.
  const std::pair<int64_t, int64_t> windows[] = {{2, 1}, {2, 2}, {1, 1}};
  for (bool last : {true, false})
    for (double beta : {0.75, 0.6})
      for (int64_t c : {5, 40})
        for (auto [behind, ahead] : windows) {
          LrnProblem p;
          p.n = 2;
          p.c = c;
          p.nsp = 1;
          p.sp[2] = 600;
          p.channels_last = last;
          p.behind = behind;
          p.ahead = ahead;
          p.alpha = 1e-2;
          p.beta = beta;
          p.dtype = DType::f32;
          const int64_t count = 2 * c * 600;
          Tensor x = locnet::testing::random_tensor(Shape{count}, DType::f32, 11);
          Tensor g = locnet::testing::random_tensor(Shape{count}, DType::f32, 12);
          x.set(3, INFINITY);
          x.set(count / 2 + 7, -INFINITY);
          x.set(count / 3, NAN);
          x.set(count - 20, 1e18);
          g.set(count / 5, NAN);
          g.set(count / 4 + 600, INFINITY);
          sweep.compare(p, [&](const LrnKernel& k, const LrnKernel& ref) {
            SCOPED_TRACE(fmt::format("{} last={} beta={} c={} B={} A={}", k.name, last, beta, c, p.behind, p.ahead));
            Tensor dx(Shape{count}, DType::f32), dxr(Shape{count}, DType::f32);
            k.backward(p, x.raw(), g.raw(), dx.raw());
            ref.backward(p, x.raw(), g.raw(), dxr.raw());
            int bad = 0;
            for (int64_t i = 0; i < count && bad < 5; ++i) {
              double a = dx.item(i), b = dxr.item(i);
              bool ok = std::isnan(b) ? std::isnan(a) : a == b || std::fabs(a - b) <= 1e-4 * (1 + std::fabs(b));
              if (!ok) ++bad;
              EXPECT_TRUE(ok) << "at " << i << ": " << a << " vs " << b;
            }
          });
        }
}

// bf16 outputs in the subnormal range round as the reference rounds them, not to zero. Machines with AVX512_BF16
// convert with one instruction, which flushes subnormal inputs (those rows are redone); the others round in integer
// arithmetic. Both run here (with_and_without_avx512_bf16). 64 channels: the channels_last path that takes
// 32 channels at a time.
TEST(LrnKernels, Bf16SubnormalOutputsRound) {
  locnet::testing::with_and_without_avx512_bf16([&](bool native) {
    Sweep sweep(lrn_kernels(), {"hwy"});
    for (bool last : {true, false})
      for (int64_t c : {48, 64}) {
        LrnProblem p = size5(c, last, DType::bf16);
        p.nsp = 1;
        p.sp[2] = 37;  // channels_first: two vectors of pixels and a tail
        const int64_t count = p.c * 37;
        Tensor x = locnet::testing::random_tensor(Shape{count}, DType::f32, 21);
        // outputs ~1e-38 / 2^0.75
        for (int64_t i = 0; i < count; ++i) x.set(i, x.item(i) * (i % 3 == 0 ? 1e-38 : 1.0));
        x = x.to(DType::bf16);
        sweep.compare(p, [&](const LrnKernel& k, const LrnKernel& ref) {
          SCOPED_TRACE(fmt::format("{} native={} last={} c={}", k.name, native, last, c));
          Tensor y(Shape{count}, DType::bf16), yr(Shape{count}, DType::bf16);
          k.forward(p, x.raw(), y.raw());
          ref.forward(p, x.raw(), yr.raw());
          int subnormal = 0;
          for (int64_t i = 0; i < count; ++i) {
            const double a = y.item(i), b = yr.item(i);
            subnormal += b != 0 && std::fabs(b) < 1.1754943508222875e-38;
            EXPECT_LE(std::fabs(a - b), 1.6e-2 * std::fabs(b)) << "at " << i << ": " << a << " vs " << b;
          }
          EXPECT_GT(subnormal, 10);
        });
      }
  });
}

// bf16 channels_last with the size-5 window, where the window dominates N (alpha / 5 = 1, k = 0.01): a wrong term
// moves y by far more than bf16's rounding, which the sweep's tolerance (alpha 0.7, k 1.3) could hide. 32 and 96
// channels: the path that takes 32 at a time (two pixels in lockstep; 45 pixels leave one alone); 48: the
// 16-at-a-time one. With and without AVX512_BF16 (as Bf16SubnormalOutputsRound).
TEST(LrnKernels, Bf16ChannelsLastWindowTerms) {
  locnet::testing::with_and_without_avx512_bf16([&](bool native) {
    Sweep sweep(lrn_kernels(), {"hwy"});
    for (int64_t c : {32, 48, 96}) {
      LrnProblem p = size5(c, true, DType::bf16);
      p.n = 3;
      p.nsp = 2;
      p.sp[1] = 3;
      p.sp[2] = 5;
      p.alpha = 5;
      p.k = 0.01;
      const int64_t count = p.n * c * 15;
      Tensor x = locnet::testing::random_tensor(Shape{count}, DType::f64, 31).to(DType::bf16);
      sweep.compare(p, [&](const LrnKernel& k, const LrnKernel& ref) {
        SCOPED_TRACE(fmt::format("{} native={} c={}", k.name, native, c));
        Guarded y(count, DType::bf16), yr(count, DType::bf16);
        k.forward(p, x.raw(), y.data());
        ref.forward(p, x.raw(), yr.data());
        // One bf16 unit in the last place is at most 2^-7 of the value.
        EXPECT_LE(max_scaled_error(y.inner(), yr.inner(), 8e-3, 1e-6), 1.0);
        EXPECT_TRUE(y.guards_intact());
      });
    }
  });
}

TEST(LrnKernels, NanPropagatesInEveryPath) {
  Sweep sweep(lrn_kernels(), {"hwy"});
  for (DType dt : {DType::f32, DType::bf16})
    for (bool last : {true, false})
      for (double beta : {0.75, 0.6}) {
        LrnProblem p;
        p.c = 20;
        p.nsp = 1;
        p.sp[2] = 16;
        p.channels_last = last;
        p.behind = p.ahead = 1;
        p.alpha = 1;
        p.beta = beta;
        p.dtype = dt;
        Tensor x = locnet::testing::random_tensor(Shape{320}, DType::f32, 5);
        x.set(37, NAN);
        x = x.to(dt);
        sweep.each(p, [&](const LrnKernel& k) {
          Tensor y(Shape{320}, dt);
          k.forward(p, x.raw(), y.raw());
          EXPECT_TRUE(std::isnan(y.item(37))) << k.name << " " << dtype_name(dt);
          int nans = 0;
          for (int64_t i = 0; i < 320; ++i) nans += std::isnan(y.item(i));
          EXPECT_EQ(nans, 3) << k.name << " " << dtype_name(dt) << ": exactly the window around the NaN";
        });
      }
}

// A running window sum keeps the rounding residue of a large square that left it: 1e6 + 0.01 rounds to 1e6 in f32,
// so after both leave, the sum is -0.01 where the true one is 0. With a small k, N = k + alpha S must still be
// taken as >= k (a negative N gives N^-beta = NaN), as the reference's sum of squares is, or the rows redone exactly
// (channels_first's 8-row groups, beta 1/2 and 3/4, find the NaN y instead of clamping). Only x = (1e3, 0.1) pairs
// and their dy are nonzero, so every output is well conditioned: the lost 0.01 moves N of zero x and dy only.
// The wide window (channels_last: running sums in double) with x = 1e10, whose square hides 0.01 in double too, and
// one pair only (a second would enter the window before the first leaves).
TEST(LrnKernels, RunningSumResidueNeverMakesNNegative) {
  Sweep sweep(lrn_kernels(), {"hwy"});
  const LrnKernel& ref = sweep.ref();
  for (bool last : {false, true})
    for (int64_t reach : {1, 17})
      for (int64_t pixels : {37, 64}) {  // 64: whole vectors only, with no tail whose check would catch a miss
        const double big = reach == 1 ? 1e3 : 1e10;
        LrnProblem p;
        p.c = 40;
        p.nsp = 1;
        p.sp[2] = pixels;
        p.channels_last = last;
        p.behind = p.ahead = reach;
        p.alpha = 1;
        p.beta = 0.75;
        p.k = 1e-6;
        p.dtype = DType::f32;
        const int64_t count = p.c * pixels;
        Tensor x(Shape{count}, DType::f32), g(Shape{count}, DType::f32);
        for (int64_t px = 0; px < pixels; ++px)
          for (int64_t c : reach == 1 ? std::vector<int64_t>{1, 33} : std::vector<int64_t>{1})  // 33: between anchors
            for (int64_t j : {c, c + 1}) {
              const int64_t i = last ? px * p.c + j : j * pixels + px;
              x.set(i, j == c ? big : 0.1);
              g.set(i, 0.5 + 0.01 * double(px));
            }
        Tensor yr(Shape{count}, DType::f32), dr(Shape{count}, DType::f32);
        ref.forward(p, x.raw(), yr.raw());
        ref.backward(p, x.raw(), g.raw(), dr.raw());
        sweep.compare(p, [&](const LrnKernel& k, const LrnKernel&) {
          SCOPED_TRACE(fmt::format("{} last={} reach={} pixels={}", k.name, last, reach, pixels));
          Tensor y(Shape{count}, DType::f32), d(Shape{count}, DType::f32);
          k.forward(p, x.raw(), y.raw());
          k.backward(p, x.raw(), g.raw(), d.raw());
          EXPECT_LE(max_scaled_error(y, yr, 1e-5, 1e-5), 1.0);
          EXPECT_LE(max_scaled_error(d, dr, 1e-4, 1e-4), 1.0);
        });
        // bf16's forward, with and without AVX512_BF16 (channels_first's 2-vector steps on it).
        p.dtype = DType::bf16;
        const Tensor xb = x.to(DType::bf16);
        Tensor ybr(Shape{count}, DType::bf16);
        ref.forward(p, xb.raw(), ybr.raw());
        locnet::testing::with_and_without_avx512_bf16([&](bool native) {
          sweep.compare(p, [&](const LrnKernel& k, const LrnKernel&) {
            SCOPED_TRACE(fmt::format("{} last={} reach={} pixels={} bf16 native={}", k.name, last, reach, pixels,
                                     native));
            Tensor y(Shape{count}, DType::bf16);
            k.forward(p, xb.raw(), y.raw());
            EXPECT_LE(max_scaled_error(y, ybr, 8e-3, 8e-3), 1.0);
          });
        });
      }
}
