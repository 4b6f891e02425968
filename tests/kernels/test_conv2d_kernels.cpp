// Every Conv2D kernel against the reference: valid and TensorFlow-same padding (odd totals), strides and dilations,
// 1x1 (the im2col-free path) and 1xk kernels, stride-1 shapes for direct_hwy (C = 1 and 32, long rows, F
// around the vector lengths, even kernels), odd channel counts, batch 1 and batches above the thread count, both
// layouts, with and without bias, f32 and f64, with guard elements around every output and accumulated gradient;
// grouped problems (im2col's per-group GEMMs) and depthwise ones (groups = C: the depthwise kernel, channels_last).
#include <gtest/gtest.h>

#include <cstring>

#include "gradcheck.hpp"
#include "kernels/conv2d/problem.hpp"
#include "kernels/guarded.hpp"
#include "kernels/harness.hpp"
#include "kernels/registry.hpp"
#include "kernels/targets.hpp"
#include "locnet/core/parallel.hpp"
#include "scoped_threads.hpp"

using namespace locnet;
using namespace locnet::kernels;
using locnet::testing::random_tensor;

namespace {

using Guarded = GuardedBuffer<24>;

Conv2dProblem make(int64_t n, int64_t h, int64_t w, int64_t c, int64_t f, int64_t kh, int64_t kw, int64_t sh,
                   int64_t sw, int64_t dh, int64_t dw, bool same, bool last, bool bias, DType dt, int64_t groups = 1) {
  Conv2dProblem p;
  p.groups = groups;
  p.n = n, p.h = h, p.w = w, p.c = c, p.f = f, p.kh = kh, p.kw = kw, p.sh = sh, p.sw = sw;
  p.dilation_h = dh, p.dilation_w = dw;
  p.channels_last = last, p.has_bias = bias, p.dtype = dt;
  auto axis = [&](int64_t size, int64_t k, int64_t s, int64_t d, int64_t& before, int64_t& out) {
    int64_t e = (k - 1) * d + 1;
    if (!same) {
      before = 0, out = (size - e) / s + 1;
      return;
    }
    out = (size + s - 1) / s;
    before = std::max<int64_t>((out - 1) * s + e - size, 0) / 2;
  };
  axis(h, kh, sh, dh, p.pad_top, p.oh);
  axis(w, kw, sw, dw, p.pad_left, p.ow);
  return p;
}

}  // namespace

TEST(Conv2dKernels, RefIsLast) { EXPECT_EQ(std::string(conv2d_kernels().back().name), "ref"); }

TEST(Conv2dKernels, MatchReferenceWithGuards) {
  locnet::testing::for_each_target([&] {
    struct G {
      int64_t n, h, w, c, f, kh, kw, sh, sw, dh, dw;
      bool same;
      int64_t groups = 1;
    };
    const std::vector<G> shapes = {
        {2, 7, 6, 3, 4, 3, 3, 1, 1, 1, 1, false}, {2, 7, 6, 3, 4, 3, 3, 1, 1, 1, 1, true},
        {1, 8, 9, 5, 7, 4, 3, 2, 3, 1, 1, true},  {5, 9, 8, 2, 3, 3, 2, 1, 1, 2, 3, true},
        {3, 5, 5, 17, 1, 1, 1, 1, 1, 1, 1, false}, {3, 6, 7, 4, 5, 1, 1, 2, 2, 1, 1, true},
        {1, 1, 9, 3, 2, 1, 5, 1, 2, 1, 1, true},  {4, 4, 4, 1, 6, 4, 4, 1, 1, 1, 1, false},
        {2, 3, 3, 2, 2, 5, 5, 1, 1, 1, 1, true},  // kernel larger than the input ("same")
        // Kernels far taller than the input: kernel rows that reach no input row at either end (skipped).
        {2, 3, 4, 3, 1, 11, 9, 1, 1, 1, 1, true}, {1, 2, 5, 2, 3, 8, 2, 1, 1, 1, 1, true},
        // Stride 1 (direct_hwy): 1 and 32 channels as in the default network, rows longer than a register tile
        // (29, 31), filters around the vector lengths (7, 16, 17, 33, 40), even kernels (asymmetric "same").
        {3, 28, 29, 1, 32, 3, 3, 1, 1, 1, 1, true}, {3, 14, 14, 32, 32, 3, 3, 1, 1, 1, 1, true},
        {2, 9, 31, 3, 17, 3, 3, 1, 1, 1, 1, false}, {4, 6, 15, 5, 33, 2, 2, 1, 1, 1, 1, true},
        {1, 5, 7, 16, 7, 4, 2, 1, 1, 1, 1, true},  {3, 7, 5, 2, 40, 1, 3, 1, 1, 1, 1, true},
        {2, 4, 3, 9, 16, 3, 1, 1, 1, 1, 1, false}, {5, 1, 1, 4, 3, 3, 3, 1, 1, 1, 1, true},
        // Grouped: two groups, strided and dilated, 1x1 (the identity column matrix), depthwise with a multiplier.
        {2, 6, 5, 4, 6, 3, 3, 1, 1, 1, 1, true, 2}, {3, 7, 7, 6, 9, 3, 2, 2, 2, 1, 2, true, 3},
        {2, 4, 5, 6, 4, 1, 1, 1, 1, 1, 1, false, 2}, {1, 5, 6, 5, 10, 3, 3, 1, 1, 1, 1, true, 5},
        {3, 3, 4, 3, 3, 2, 2, 1, 2, 2, 1, false, 3}, {2, 4, 3, 4, 8, 5, 3, 2, 1, 1, 2, true, 4},
        {3, 6, 6, 17, 17, 3, 3, 1, 1, 1, 1, true, 17},
    };
    locnet::testing::KernelSweep<Conv2dKernel> sweep(conv2d_kernels(), {"direct_hwy", "im2col", "depthwise"});
    locnet::testing::ScopedThreads restore;
    for (int threads : {1, 2})
      for (const G& g : shapes)
        for (bool last : {true, false})
          for (bool bias : {true, false})
            for (DType dt : {DType::f32, DType::f64}) {
              set_num_threads(threads);
              Conv2dProblem p =
                  make(g.n, g.h, g.w, g.c, g.f, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.same, last, bias, dt, g.groups);
              const int64_t in = p.n * p.in_sample(), out = p.n * p.positions() * p.f,
                            wn = p.patch() / p.groups * p.f;
              Tensor x = random_tensor(Shape{in}, dt, 1), w = random_tensor(Shape{wn}, dt, 2),
                     b = random_tensor(Shape{p.f}, dt, 3), dy = random_tensor(Shape{out}, dt, 4),
                     dw0 = random_tensor(Shape{wn}, dt, 5), db0 = random_tensor(Shape{p.f}, dt, 6);
              const double tol = dt == DType::f32 ? 2e-5 : 1e-12;
              sweep.compare(p, [&](const Conv2dKernel& impl, const Conv2dKernel& ref) {
                SCOPED_TRACE(fmt::format("{} threads={} n={} {}x{}x{} f={} groups={} k={}x{} s={}x{} d={}x{} same={} "
                                         "last={} bias={} {}",
                                         impl.name, threads, g.n, g.h, g.w, g.c, g.f, g.groups, g.kh, g.kw, g.sh,
                                         g.sw, g.dh, g.dw, g.same, last, bias, dtype_name(dt)));
                Guarded y1(out, dt), y2(out, dt);
                impl.forward(p, x.raw(), w.raw(), b.raw(), y1.data());
                ref.forward(p, x.raw(), w.raw(), b.raw(), y2.data());
                EXPECT_LE(max_scaled_error(y1.inner(), y2.inner(), tol, tol), 1.0);
                Guarded dx1(in, dt), dx2(in, dt), dw1(wn, dt, &dw0), dw2(wn, dt, &dw0), db1(p.f, dt, &db0),
                    db2(p.f, dt, &db0);
                impl.backward(p, dy.raw(), x.raw(), w.raw(), dx1.data(), dw1.data(), db1.data());
                ref.backward(p, dy.raw(), x.raw(), w.raw(), dx2.data(), dw2.data(), db2.data());
                EXPECT_LE(max_scaled_error(dx1.inner(), dx2.inner(), tol, tol), 1.0);
                EXPECT_LE(max_scaled_error(dw1.inner(), dw2.inner(), tol, 10 * tol), 1.0);
                if (bias) EXPECT_LE(max_scaled_error(db1.inner(), db2.inner(), tol, 10 * tol), 1.0);
                else EXPECT_TRUE(db1.inner().equal(db0)) << "db must be left alone without bias";
                for (const Guarded* gd : {&y1, &dx1, &dw1, &db1}) EXPECT_TRUE(gd->guards_intact());
              });
            }
  });
}

TEST(Conv2dKernels, DirectHwyTakesTheDefaultNetworksConvolutions) {
  for (int64_t c : {1, 32}) {
    Conv2dProblem p = make(64, 28 / (c == 1 ? 1 : 2), 28 / (c == 1 ? 1 : 2), c, 32, 3, 3, 1, 1, 1, 1, true, true,
                           false, DType::f32);
    std::string why;
    EXPECT_EQ(std::string(choose<Conv2dKernel>("conv2d", conv2d_kernels(), p).name), "direct_hwy");
    p.sh = 2;
    EXPECT_FALSE(conv2d_kernels()[0].applicable(p, &why));
  }
}
