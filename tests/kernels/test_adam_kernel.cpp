// Every optimized optimizer kernel (today the Highway Adam, src/kernels/optimizer/adam_hwy.cpp) against the
// reference of its op (src/kernels/optimizer/ref.cpp), bit for bit, under every Highway target: lengths around
// the vector lengths (n = 0, 1, and lanes - 1, lanes, lanes + 1 for 4, 8 and 16 f32 lanes: SSE4/NEON, AVX2,
// AVX-512), with and without weight decay, with large and tiny gradients, and guard elements past n.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/optimizer/problem.hpp"
#include "kernels/targets.hpp"

using namespace locnet;
using namespace locnet::kernels;

TEST(AdamKernel, OptimizedMatchesReferenceBitForBit) {
  const std::span<const AdamKernel> list = adam_kernels();
  const AdamKernel& ref = list.back();
  ASSERT_EQ(std::string(ref.name), "ref");
  int compared = 0;
  for (const AdamKernel& k : list.first(list.size() - 1)) {  // every optimized kernel
    SCOPED_TRACE(k.name);
    locnet::testing::for_each_target([&] {
      for (int64_t n : {0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 1001})
        for (bool decayed : {false, true}) {
          SCOPED_TRACE(::testing::Message() << "n=" << n << " decayed=" << decayed);
          const AdamProblem p{DType::f32, n, decayed, 0.002 * 0.01, 0.1, 0.001, 0.0015, 1e-7};
          std::string why;
          ASSERT_TRUE(k.applicable(p, &why)) << why;
          std::mt19937 rng(unsigned(n) * 2 + decayed);
          std::normal_distribution<float> nd(0, 1);
          std::vector<float> w(size_t(n) + 8), g(size_t(n) + 8), m(size_t(n) + 8), v(size_t(n) + 8);
          for (size_t i = 0; i < w.size(); ++i) {
            w[i] = nd(rng);
            g[i] = nd(rng) * (i % 5 == 0 ? 1e4f : i % 7 == 0 ? 1e-6f : 1.0f);
            m[i] = nd(rng) * 0.1f;
            v[i] = std::abs(nd(rng)) * 0.01f;
          }
          auto w2 = w, m2 = m, v2 = v;
          void* s1[] = {m.data(), v.data()};
          void* s2[] = {m2.data(), v2.data()};
          for (int step = 0; step < 3; ++step) {
            k.update(p, w.data(), g.data(), s1);
            ref.update(p, w2.data(), g.data(), s2);
          }
          // The whole buffers: the 8 elements past n are guards, left alike by both.
          EXPECT_EQ(std::memcmp(w.data(), w2.data(), w.size() * sizeof(float)), 0);
          EXPECT_EQ(std::memcmp(m.data(), m2.data(), m.size() * sizeof(float)), 0);
          EXPECT_EQ(std::memcmp(v.data(), v2.data(), v.size() * sizeof(float)), 0);
          ++compared;
        }
    });
  }
  EXPECT_GT(compared, 0);  // the optimized kernel exists and was compared
}

TEST(AdamKernel, HighwayAppliesToF32Only) {
  std::string why;
  const AdamKernel& hwy = adam_kernels().front();
  EXPECT_EQ(std::string(hwy.name), "hwy");
  EXPECT_TRUE(hwy.applicable(AdamProblem{DType::f32, 10, false, 0, 0.1, 0.001, 0.001, 1e-7}, &why));
  EXPECT_FALSE(hwy.applicable(AdamProblem{DType::f64, 10, false, 0, 0.1, 0.001, 0.001, 1e-7}, &why));
  EXPECT_EQ(why, "dtype must be f32");
}
