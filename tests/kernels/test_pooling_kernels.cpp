// The SIMD max-pooling forward (src/kernels/pooling/max_pool_hwy.cpp) against the reference loops: channel counts around the vector
// lengths, overlapping and strided windows, inputs with unread rows/columns ("valid"), ties and NaNs (first
// maximum and first NaN win), batch 1 and batches above the thread count, guard elements around the outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/harness.hpp"
#include "kernels/pooling/problem.hpp"
#include "kernels/targets.hpp"
#include "scoped_threads.hpp"

using namespace locnet;
using namespace locnet::kernels;

namespace {

PoolProblem make(int64_t n, int64_t h, int64_t w, int64_t c, int64_t kh, int64_t kw, int64_t sh, int64_t sw) {
  PoolProblem p;
  p.n = n, p.h = h, p.w = w, p.c = c, p.kh = kh, p.kw = kw, p.sh = sh, p.sw = sw;
  p.oh = (h - kh) / sh + 1, p.ow = (w - kw) / sw + 1;
  p.channels_last = true;
  return p;
}

const MaxPoolKernel& kernel(const char* name) {
  for (const MaxPoolKernel& k : max_pool_kernels())
    if (std::string(k.name) == name) return k;
  throw std::runtime_error(name);
}

bool fast_applicable(const PoolProblem& p) {
  std::string why;
  return kernel("max_pool_hwy").applicable(p, &why);
}

}  // namespace

TEST(MaxPoolKernels, FastMatchesReferenceWithGuards) {
  locnet::testing::for_each_target([&] {
    struct G {
      int64_t n, h, w, c, kh, kw, sh, sw;
    };
    const std::vector<G> shapes = {
        {3, 28, 28, 32, 2, 2, 2, 2}, {1, 14, 14, 32, 2, 2, 2, 2}, {2, 7, 9, 1, 2, 2, 2, 2},  {5, 5, 6, 17, 3, 3, 2, 2},
        {2, 6, 5, 16, 3, 3, 1, 1},   {3, 9, 7, 35, 2, 3, 1, 2},   {1, 1, 1, 8, 1, 1, 1, 1},  {4, 4, 4, 5, 4, 4, 1, 1},
        {2, 11, 10, 64, 3, 2, 3, 2},
    };
    constexpr int64_t kGuard = 19;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    locnet::testing::KernelSweep<MaxPoolKernel> sweep(max_pool_kernels(), {"max_pool_hwy"});
    locnet::testing::ScopedThreads restore;
    for (int threads : {1, 2})
      for (const G& g : shapes)
        for (int data = 0; data < 3; ++data) {  // 0: distinct values, 1: many ties, 2: ties and NaNs
          set_num_threads(threads);
          PoolProblem p = make(g.n, g.h, g.w, g.c, g.kh, g.kw, g.sh, g.sw);
          ASSERT_TRUE(fast_applicable(p));
          SCOPED_TRACE(::testing::Message() << "threads=" << threads << " n=" << g.n << " " << g.h << "x" << g.w << "x"
                                            << g.c << " k=" << g.kh << "x" << g.kw << " s=" << g.sh << "x" << g.sw
                                            << " data=" << data);
          const int64_t in = p.n * p.h * p.w * p.c, out = p.n * p.oh * p.ow * p.c;
          std::mt19937 rng(unsigned(7 + data));
          std::vector<float> x(static_cast<size_t>(in));
          for (float& v : x) {
            v = data == 0 ? std::uniform_real_distribution<float>(-3, 3)(rng) : float(int(rng() % 4)) - 1.5f;
            if (data == 2 && rng() % 7 == 0) v = nan;
            if (data == 2 && rng() % 11 == 0) v = -std::numeric_limits<float>::infinity();
          }
          sweep.compare(p, [&](const MaxPoolKernel& k, const MaxPoolKernel& ref) {
            std::vector<float> y1(size_t(out + 2 * kGuard), -77.f), y2(size_t(out), 0.f);
            std::vector<int64_t> a1(size_t(out + 2 * kGuard), -77), a2(size_t(out), 0);
            k.forward(p, x.data(), y1.data() + kGuard, a1.data() + kGuard);
            ref.forward(p, x.data(), y2.data(), a2.data());
            for (int64_t i = 0; i < out; ++i) {
              const float u = y1[size_t(i + kGuard)], v = y2[size_t(i)];
              ASSERT_TRUE((std::isnan(u) && std::isnan(v)) || u == v) << "y[" << i << "] " << u << " vs " << v;
              ASSERT_EQ(a1[size_t(i + kGuard)], a2[size_t(i)]) << "argmax[" << i << "]";
            }
            for (int64_t gi = 0; gi < kGuard; ++gi) {
              EXPECT_EQ(y1[size_t(gi)], -77.f);
              EXPECT_EQ(y1[size_t(out + kGuard + gi)], -77.f);
              EXPECT_EQ(a1[size_t(gi)], -77);
              EXPECT_EQ(a1[size_t(out + kGuard + gi)], -77);
            }
          });
        }
  });
}

TEST(MaxPoolKernels, FastPathOnlyWhereEveryWindowIsInside) {
  PoolProblem p = make(2, 7, 7, 8, 2, 2, 2, 2);
  EXPECT_TRUE(fast_applicable(p));
  PoolProblem same = p;
  same.pad_left = 1, same.ow = 4;  // a padded column: windows clipped by the reference
  EXPECT_FALSE(fast_applicable(same));
  PoolProblem first = p;
  first.channels_last = false;
  EXPECT_FALSE(fast_applicable(first));
  PoolProblem ceil = p;  // ceil_mode: a 4th row of windows, [6, 8), reaches past the 7 rows
  ASSERT_EQ(ceil.fit(WindowPadding::valid, {{0, 0}, {0, 0}}, true), -1);
  ASSERT_EQ(ceil.oh, 4);
  EXPECT_FALSE(fast_applicable(ceil));
}
