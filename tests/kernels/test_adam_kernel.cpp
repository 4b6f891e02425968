// The Highway Adam update (kernels/optimizer/adam.hpp) against the scalar loop, bit for bit: lengths around the
// vector lengths (tails), with and without weight decay, and with large and tiny gradients.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/optimizer/adam.hpp"
#include "kernels/targets.hpp"

using namespace locnet::kernels;

TEST(AdamKernel, SimdMatchesScalarLoopBitForBit) {
  locnet::testing::for_each_target([&] {
    for (int64_t n : {0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 64, 1001})
      for (bool decayed : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "n=" << n << " decayed=" << decayed);
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
        for (int step = 0; step < 3; ++step) {
          adam_update_f32(w.data(), g.data(), m.data(), v.data(), n, decayed, 0.002f * 0.01f, 0.1f, 0.001f, 0.0015f,
                          1e-7f);
          adam_update_f32_ref(w2.data(), g.data(), m2.data(), v2.data(), n, decayed, 0.002f * 0.01f, 0.1f, 0.001f,
                              0.0015f, 1e-7f);
        }
        EXPECT_EQ(std::memcmp(w.data(), w2.data(), w.size() * sizeof(float)), 0);
        EXPECT_EQ(std::memcmp(m.data(), m2.data(), m.size() * sizeof(float)), 0);
        EXPECT_EQ(std::memcmp(v.data(), v2.data(), v.size() * sizeof(float)), 0);
      }
  });
}
