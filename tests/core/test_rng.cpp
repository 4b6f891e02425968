// rng.hpp: determinism, the generator against an independent reimplementation of the published algorithms
// (Vigna's splitmix64 and xoshiro256**), and the distributions' statistics. No output of the code under test is
// hard-coded.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <set>
#include <vector>

#include "locnet/core/rng.hpp"

using namespace locnet;

namespace {

// Written from https://prng.di.unimi.it/splitmix64.c and https://prng.di.unimi.it/xoshiro256starstar.c.
struct RefSplitMix64 {
  uint64_t x;
  uint64_t next() {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

struct RefXoshiro256ss {
  uint64_t s[4];
  explicit RefXoshiro256ss(uint64_t seed) {
    RefSplitMix64 sm{seed};
    for (auto& w : s) w = sm.next();  // rng.hpp: the state is 4 successive splitmix64 outputs of the seed
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

struct Moments {
  double mean, var;
};
Moments moments(const std::vector<double>& v) {
  double m = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return {m, ss / double(v.size() - 1)};
}

constexpr int kDraws = 100000;

}  // namespace

TEST(Rng, ReferenceSplitMix64MatchesPublishedOutput) {
  // First output of splitmix64 from state 0, as printed by the reference implementation.
  RefSplitMix64 sm{0};
  EXPECT_EQ(sm.next(), 0xe220a8397b1dcdafull);
}

TEST(Rng, MatchesReferenceXoshiro256StarStar) {
  for (uint64_t seed : {uint64_t(0), uint64_t(1), uint64_t(42), uint64_t(0xdeadbeefcafebabeull), ~uint64_t(0)}) {
    Rng rng(seed);
    RefXoshiro256ss ref(seed);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(rng.next_u64(), ref.next()) << "seed " << seed << " draw " << i;
  }
}

TEST(Rng, DefaultSeedIsZero) {
  Rng a, b(0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
}

TEST(Rng, UniformUsesTheTop53Bits) {
  Rng rng(7);
  RefXoshiro256ss ref(7);
  for (int i = 0; i < 1000; ++i) {
    const double expected = std::ldexp(double(ref.next() >> 11), -53);
    ASSERT_EQ(rng.uniform(), expected) << i;
  }
}

TEST(Rng, SameSeedSameSequence) {
  Rng a(123), b(123);
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(a.next_u64(), b.next_u64());
    ASSERT_EQ(a.uniform(), b.uniform());
    ASSERT_EQ(a.normal(), b.normal());  // including the cached second Box-Muller value
    ASSERT_EQ(a.truncated_normal(1.0, 0.5), b.truncated_normal(1.0, 0.5));
    ASSERT_EQ(a.below(1000), b.below(1000));
    ASSERT_EQ(a.uniform(-2.0, 3.0), b.uniform(-2.0, 3.0));
  }
}

TEST(Rng, DifferentSeedsDiffer) {
  std::set<uint64_t> firsts;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    Rng a(seed), b(seed + 1);
    int same = 0;
    for (int i = 0; i < 100; ++i) same += a.next_u64() == b.next_u64();
    EXPECT_EQ(same, 0) << seed;
    firsts.insert(Rng(seed).next_u64());
  }
  EXPECT_EQ(firsts.size(), 100u);
}

TEST(Rng, UniformRangeMeanVariance) {
  Rng rng(2024);
  std::vector<double> v(kDraws);
  for (double& x : v) {
    x = rng.uniform();
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
  }
  Moments m = moments(v);
  // Standard error of the mean: sqrt(1/12 / 1e5) = 0.0009; tolerances are ~6 standard errors.
  EXPECT_NEAR(m.mean, 0.5, 0.006);
  EXPECT_NEAR(m.var, 1.0 / 12.0, 0.002);
  // Every tenth of [0, 1) gets close to a tenth of the draws.
  std::vector<int> bins(10, 0);
  for (double x : v) ++bins[size_t(x * 10)];
  for (int c : bins) EXPECT_NEAR(c, kDraws / 10, 600);
}

TEST(Rng, UniformLoHi) {
  Rng rng(5);
  std::vector<double> v(kDraws);
  for (double& x : v) {
    x = rng.uniform(-3.0, 5.0);
    ASSERT_GE(x, -3.0);
    ASSERT_LT(x, 5.0);
  }
  Moments m = moments(v);
  EXPECT_NEAR(m.mean, 1.0, 0.05);
  EXPECT_NEAR(m.var, 64.0 / 12.0, 0.15);
}

TEST(Rng, NormalMeanStddevAndShape) {
  Rng rng(99);
  std::vector<double> v(kDraws);
  for (double& x : v) x = rng.normal();
  Moments m = moments(v);
  EXPECT_NEAR(m.mean, 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(m.var), 1.0, 0.015);
  // Mass within one and two standard deviations: erf(1/sqrt 2) = 0.6827, erf(2/sqrt 2) = 0.9545.
  double within1 = 0, within2 = 0;
  for (double x : v) {
    within1 += std::abs(x) <= 1.0;
    within2 += std::abs(x) <= 2.0;
  }
  EXPECT_NEAR(within1 / kDraws, std::erf(1 / std::sqrt(2.0)), 0.01);
  EXPECT_NEAR(within2 / kDraws, std::erf(2 / std::sqrt(2.0)), 0.005);

  Rng rng2(100);
  for (double& x : v) x = rng2.normal(3.0, 2.0);
  m = moments(v);
  EXPECT_NEAR(m.mean, 3.0, 0.04);
  EXPECT_NEAR(std::sqrt(m.var), 2.0, 0.03);
}

TEST(Rng, TruncatedNormalNeverBeyondTwoStddev) {
  Rng rng(31);
  const double mean = -1.0, sd = 0.5;
  std::vector<double> v(kDraws);
  for (double& x : v) {
    x = rng.truncated_normal(mean, sd);
    ASSERT_LE(std::abs(x - mean), 2 * sd + 1e-12);
  }
  Moments m = moments(v);
  EXPECT_NEAR(m.mean, mean, 0.01);
  // Standard deviation of a standard normal truncated at +-2: sqrt(1 - 2 * 2 phi(2) / (2 Phi(2) - 1)).
  const double phi2 = std::exp(-2.0) / std::sqrt(2 * M_PI);
  const double mass = std::erf(2 / std::sqrt(2.0));
  const double trunc_sd = std::sqrt(1 - 4 * phi2 / mass);  // 0.8796
  EXPECT_NEAR(std::sqrt(m.var), sd * trunc_sd, sd * 0.015);
  // Values come close to the edges: it is truncated, not squashed.
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  EXPECT_LT(*lo, mean - 1.9 * sd);
  EXPECT_GT(*hi, mean + 1.9 * sd);
}

TEST(Rng, BelowInRangeAndUniform) {
  Rng rng(8);
  EXPECT_EQ(rng.below(1), 0u);
  for (uint64_t n : {uint64_t(1), uint64_t(2), uint64_t(3), uint64_t(7), uint64_t(1000000007),
                     (uint64_t(1) << 63) + 1, ~uint64_t(0)}) {
    for (int i = 0; i < 2000; ++i) ASSERT_LT(rng.below(n), n) << n;
  }
  // Chi-square over 10 bins, 9 degrees of freedom: 40 is far in the tail (p ~ 1e-5).
  std::vector<int> counts(10, 0);
  for (int i = 0; i < kDraws; ++i) ++counts[rng.below(10)];
  double chi2 = 0;
  for (int c : counts) chi2 += (c - kDraws / 10.0) * (c - kDraws / 10.0) / (kDraws / 10.0);
  EXPECT_LT(chi2, 40.0);
  for (int c : counts) EXPECT_GT(c, 0);
}

TEST(Rng, BelowIsUnbiasedWhereModuloWouldNotBe) {
  // n = 3 * 2^62: a plain next_u64() % n maps [n, 2^64) onto [0, 2^62), so that third of the range would get
  // half of the draws. Unbiased, it gets a third.
  Rng rng(77);
  const uint64_t n = 3 * (uint64_t(1) << 62);
  int low = 0;
  for (int i = 0; i < kDraws; ++i) {
    uint64_t x = rng.below(n);
    ASSERT_LT(x, n);
    low += x < (uint64_t(1) << 62);
  }
  EXPECT_NEAR(double(low) / kDraws, 1.0 / 3.0, 0.01);
}

TEST(Rng, SplitGivesADifferentDeterministicStream) {
  Rng parent(1234), parent2(1234);
  Rng child = parent.split();
  Rng child2 = parent2.split();
  Rng other = parent.split();  // a second split differs from the first
  parent2.split();
  std::set<uint64_t> parent_vals, child_vals, other_vals;
  std::vector<double> pu, cu;
  for (int i = 0; i < 10000; ++i) {
    uint64_t c = child.next_u64();
    ASSERT_EQ(c, child2.next_u64());  // deterministic
    uint64_t p = parent.next_u64();
    ASSERT_EQ(p, parent2.next_u64());
    child_vals.insert(c);
    parent_vals.insert(p);
    other_vals.insert(other.next_u64());
    pu.push_back(std::ldexp(double(p >> 11), -53));
    cu.push_back(std::ldexp(double(c >> 11), -53));
  }
  // No 64-bit value shared between the streams (a chance collision has probability ~1e-11).
  std::vector<uint64_t> common;
  std::set_intersection(parent_vals.begin(), parent_vals.end(), child_vals.begin(), child_vals.end(),
                        std::back_inserter(common));
  EXPECT_TRUE(common.empty());
  common.clear();
  std::set_intersection(other_vals.begin(), other_vals.end(), child_vals.begin(), child_vals.end(),
                        std::back_inserter(common));
  EXPECT_TRUE(common.empty());
  // And no linear correlation between parent and child.
  Moments mp = moments(pu), mc = moments(cu);
  double cov = 0;
  for (size_t i = 0; i < pu.size(); ++i) cov += (pu[i] - mp.mean) * (cu[i] - mc.mean);
  cov /= double(pu.size() - 1);
  EXPECT_NEAR(cov / std::sqrt(mp.var * mc.var), 0.0, 0.05);  // standard error 0.01
}
