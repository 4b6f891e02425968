// Every locally connected kernel against the reference: every padding mode (valid, Keras 'same', causal, explicit
// asymmetric), strides 1-3 and dilation 1-2 per axis, both formats, odd sizes, channel counts off the SIMD width
// on both sides of the direct-read threshold, batch 1, with and without bias, f32 and f64, and guard elements
// around every output (y, dx) and accumulated gradient (dw, db).
#include <gtest/gtest.h>

#include <cstring>

#include "gradcheck.hpp"
#include "kernels/guarded.hpp"
#include "kernels/harness.hpp"
#include "kernels/locally_connected/problem.hpp"
#include "kernels/targets.hpp"
#include "locnet/core/parallel.hpp"
#include "scoped_threads.hpp"

using namespace locnet;
using namespace locnet::kernels;

namespace {

using Sweep = locnet::testing::KernelSweep<LcKernel>;
using Guarded = GuardedBuffer<24>;

enum class Pad { valid, same, causal, explicit_ };

// Geometry per the padding table of locally_connected.hpp (causal on cols only; rows stay valid).
LcProblem make(int64_t n, int64_t h, int64_t w, int64_t c, int64_t f, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
               int64_t dh, int64_t dw, Pad pad, bool last, bool bias, DType dt) {
  LcProblem p;
  p.n = n, p.h = h, p.w = w, p.c = c, p.f = f, p.kh = kh, p.kw = kw, p.sh = sh, p.sw = sw;
  p.dilation_h = dh, p.dilation_w = dw;
  p.channels_last = last;
  p.has_bias = bias;
  p.dtype = dt;
  auto axis = [&](int64_t size, int64_t k, int64_t s, int64_t d, Pad mode, int64_t before, int64_t after,
                  int64_t& pad_before, int64_t& out) {
    int64_t e = (k - 1) * d + 1;
    switch (mode) {
      case Pad::valid: pad_before = 0, out = (size - e) / s + 1; break;
      case Pad::same: pad_before = e / 2, out = (size + s - 1) / s; break;
      case Pad::causal: pad_before = e - 1, out = (size + s - 1) / s; break;
      case Pad::explicit_: pad_before = before, out = (size + before + after - e) / s + 1; break;
    }
  };
  axis(h, kh, sh, dh, pad == Pad::causal ? Pad::valid : pad, 2, 1, p.pad_top, p.oh);
  axis(w, kw, sw, dw, pad, 0, 3, p.pad_left, p.ow);
  return p;
}

void compare(Sweep& sweep, const LcProblem& p, uint64_t seed) {
  const int64_t nx = p.n * p.in_sample(), nw = p.positions() * p.patch() * p.f, ny = p.n * p.positions() * p.f;
  const DType dt = p.dtype;
  auto rnd = [&](int64_t count, uint64_t s) { return locnet::testing::random_tensor(Shape{count}, DType::f64, s).to(dt); };
  Tensor x = rnd(nx, seed), w = rnd(nw, seed + 1), b = rnd(p.positions() * p.f, seed + 2), dy = rnd(ny, seed + 3);
  Tensor dw0 = rnd(nw, seed + 4), db0 = rnd(p.positions() * p.f, seed + 5);
  const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
  sweep.compare(p, [&](const LcKernel& k, const LcKernel& ref) {
    Guarded y1(ny, dt), y2(ny, dt);
    k.forward(p, x.raw(), w.raw(), b.raw(), y1.data());
    ref.forward(p, x.raw(), w.raw(), b.raw(), y2.data());
    EXPECT_LE(max_scaled_error(y1.inner(), y2.inner(), tol, tol), 1.0);
    Guarded dx1(nx, dt), dx2(nx, dt), dw1(nw, dt, &dw0), dw2(nw, dt, &dw0), db1(db0.numel(), dt, &db0),
        db2(db0.numel(), dt, &db0);
    k.backward(p, dy.raw(), x.raw(), w.raw(), dx1.data(), dw1.data(), db1.data());
    ref.backward(p, dy.raw(), x.raw(), w.raw(), dx2.data(), dw2.data(), db2.data());
    EXPECT_LE(max_scaled_error(dx1.inner(), dx2.inner(), tol, tol), 1.0);
    EXPECT_LE(max_scaled_error(dw1.inner(), dw2.inner(), tol, tol), 1.0);
    EXPECT_LE(max_scaled_error(db1.inner(), db2.inner(), tol, tol), 1.0);
    EXPECT_TRUE(y1.guards_intact() && dx1.guards_intact() && dw1.guards_intact() && db1.guards_intact())
        << "write outside an output";
    if (!p.has_bias) {
      EXPECT_TRUE(db1.inner().equal(db0)) << "db must be untouched without bias";
    }
  });
}

}  // namespace

TEST(LocallyConnectedKernels, MatchReferenceOverEveryMode) {
  locnet::testing::for_each_target([&] {
    Sweep sweep(lc_kernels(), {"hwy", "blas"});
    int combo = 0;
    for (bool last : {true, false})
      for (Pad pad : {Pad::valid, Pad::same, Pad::causal, Pad::explicit_})
        for (int64_t s : {1, 2, 3})
          for (int64_t d : {1, 2})
            for (int64_t c : {1, 3, 17, 33}) {
              // Channel counts 1/3/17 gather their patches (runs < 32 values); 33 reads x in place (channels_last).
              int64_t n = combo % 3 == 0 ? 1 : 3;
              DType dt = combo % 2 ? DType::f32 : DType::f64;
              bool bias = combo % 5 != 0;
              int64_t f = combo % 4 == 0 ? 17 : 5;
              LcProblem p = make(n, 7, 9, c, f, 3, 2 + combo % 2, 4 - s, s, 3 - d, d, pad, last, bias, dt);
              SCOPED_TRACE(fmt::format("last={} pad={} n={} {}x{}x{} f={} k={}x{} s={}x{} d={}x{} pt={} pl={} "
                                       "out={}x{} {} bias={}",
                                       last, int(pad), n, p.h, p.w, c, f, p.kh, p.kw, p.sh, p.sw, p.dilation_h,
                                       p.dilation_w, p.pad_top, p.pad_left, p.oh, p.ow, dtype_name(dt), bias));
              compare(sweep, p, uint64_t(combo));
              ++combo;
            }
  });
}

TEST(LocallyConnectedKernels, EdgeShapes) {
  locnet::testing::for_each_target([&] {
    Sweep sweep(lc_kernels(), {"hwy", "blas"});
    for (bool last : {true, false})
      for (DType dt : {DType::f32, DType::f64}) {
        SCOPED_TRACE(fmt::format("last={} {}", last, dtype_name(dt)));
        // One position (fewer positions than threads: BLAS keeps its own threads), 1D (h = 1).
        compare(sweep, make(4, 3, 3, 40, 6, 3, 3, 1, 1, 1, 1, Pad::valid, last, true, dt), 1);
        compare(sweep, make(2, 1, 11, 35, 7, 1, 5, 1, 2, 1, 1, Pad::causal, last, true, dt), 2);
        // Large dilation with 'same': windows with no tap inside the input (bias only) and clipped direct runs.
        compare(sweep, make(2, 3, 4, 33, 3, 2, 3, 1, 1, 4, 5, Pad::same, last, true, dt), 3);
        compare(sweep, make(1, 3, 4, 2, 3, 2, 3, 1, 1, 4, 5, Pad::same, last, false, dt), 4);
        // Batch 1 (GEMV/GER paths), direct reads with dilation (runs of C >= 32 values), kernel as large as the input.
        compare(sweep, make(1, 6, 5, 32, 9, 2, 2, 1, 1, 2, 2, Pad::same, last, true, dt), 5);
        compare(sweep, make(1, 5, 6, 34, 4, 5, 6, 1, 1, 1, 1, Pad::valid, last, true, dt), 6);
        compare(sweep, make(3, 5, 6, 34, 4, 5, 6, 1, 1, 1, 1, Pad::valid, last, true, dt), 7);
        // The "hwy" register tile's edges: 13 samples (two 6-row blocks and one row), 37 filters (2-vector tiles,
        // then single columns), gathered K = 27 (padded rows) and direct runs of 80 values.
        compare(sweep, make(13, 5, 6, 3, 37, 3, 3, 1, 1, 1, 1, Pad::valid, last, true, dt), 8);
        compare(sweep, make(13, 4, 5, 40, 37, 2, 2, 2, 1, 1, 1, Pad::same, last, true, dt), 9);
        // AVX-512's wide tiles (6 rows x 4 vectors, 12 rows x 2 vectors): 85 filters = 64 + 16 + 5 and
        // 53 = 32 + 16 + 5 (one strip of each width, then single columns), 17 and 14 samples (a full tile and a
        // short one), the fused bias on every strip; gathered and direct.
        compare(sweep, make(17, 4, 5, 3, 85, 2, 3, 1, 1, 1, 1, Pad::same, last, true, dt), 10);
        compare(sweep, make(14, 3, 4, 36, 53, 2, 2, 1, 1, 1, 1, Pad::valid, last, true, dt), 11);
      }
  });
}

// Backward runs blocks of output rows (columns when there is one row) in raster order, even blocks on all threads,
// then odd ones (blas.cpp): several blocks per thread count, a block edge inside every window reach (strides and
// dilations that make Gh, Gw = 2-3), columns for 1D, gathered and direct patches; synthetic data, the reference
// kernel as the specification.
TEST(LocallyConnectedKernels, BackwardBlocksOverThreads) {
  locnet::testing::ScopedThreads restore;
  locnet::testing::for_each_target([&] {
    Sweep sweep(lc_kernels(), {"hwy", "blas"});
    for (int threads : {1, 2, 3})
      for (bool last : {true, false})
        for (DType dt : {DType::f32, DType::f64}) {
          set_num_threads(threads);
          SCOPED_TRACE(fmt::format("threads={} last={} {}", threads, last, dtype_name(dt)));
          compare(sweep, make(3, 16, 6, 3, 67, 3, 2, 1, 1, 1, 1, Pad::valid, last, true, dt), 20);
          compare(sweep, make(2, 19, 5, 2, 5, 3, 2, 2, 1, 2, 1, Pad::same, last, true, dt), 21);
          compare(sweep, make(3, 1, 40, 2, 7, 1, 5, 1, 2, 1, 1, Pad::causal, last, false, dt), 22);
          compare(sweep, make(2, 12, 4, 33, 6, 2, 2, 1, 1, 1, 1, Pad::valid, last, true, dt), 23);
          compare(sweep, make(1, 9, 3, 3, 9, 3, 3, 1, 1, 1, 1, Pad::same, last, true, dt), 24);
        }
  });
}
