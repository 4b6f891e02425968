// Every Collective operation across dist::world() (MPI ranks under mpirun; the single process otherwise).
// Synthetic data: the expected values are formed here from each rank's known contribution (small integers, exact in
// any summation order).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "locnet/core/error.hpp"
#include "locnet/core/rng.hpp"
#include "locnet/dist/mpi.hpp"

namespace locnet::dist {
namespace {

// Sets or removes an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { had_ ? ::setenv(name_, old_.c_str(), 1) : ::unsetenv(name_); }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

TEST(MpiCollective, WorldMatchesTheLauncher) {
  auto w = world();
  ASSERT_GE(w->size(), 1);
  ASSERT_GE(w->rank(), 0);
  ASSERT_LT(w->rank(), w->size());
  if (const char* n = std::getenv("OMPI_COMM_WORLD_SIZE")) {
    EXPECT_TRUE(mpi_available());
    EXPECT_TRUE(launched_by_mpi());
    EXPECT_EQ(w->size(), std::atoi(n));
    EXPECT_EQ(w->rank(), std::atoi(std::getenv("OMPI_COMM_WORLD_RANK")));
  }
  auto again = world();  // the same group, every call
  EXPECT_EQ(again->rank(), w->rank());
  EXPECT_EQ(again->size(), w->size());
  EXPECT_EQ(w->where(), w->size() == 1 ? "" : fmt::format("rank {} of {}", w->rank(), w->size()));
}

TEST(MpiCollective, SumsMaxGatherBroadcastBarrier) {
  auto w = world();
  const int r = w->rank(), n = w->size();
  std::vector<double> d{double(r + 1), -2.0 * r, 0.5};
  w->all_reduce_sum(std::span(d));
  EXPECT_EQ(d, (std::vector<double>{n * (n + 1) / 2.0, -1.0 * n * (n - 1), 0.5 * n}));

  std::vector<float> f(1000);  // several elements per rank, exact in float
  for (size_t i = 0; i < f.size(); ++i) f[i] = float(i % 7) * float(r + 1);
  w->all_reduce_sum(std::span(f));
  for (size_t i = 0; i < f.size(); ++i) ASSERT_EQ(f[i], float(i % 7) * float(n * (n + 1) / 2)) << i;

  std::vector<double> m{double(r), -double(r), r == n - 1 ? 7.0 : 1.0};
  w->all_reduce_max(std::span(m));
  EXPECT_EQ(m, (std::vector<double>{double(n - 1), 0.0, 7.0}));

  const std::vector<double> mine{double(r), 10.0 + r};
  std::vector<double> all(size_t(2 * n), -1);
  w->all_gather(mine, all);
  for (int k = 0; k < n; ++k) {
    EXPECT_EQ(all[size_t(2 * k)], k);
    EXPECT_EQ(all[size_t(2 * k + 1)], 10.0 + k);
  }

  for (int root = 0; root < n; ++root) {
    std::vector<std::byte> bytes(5, std::byte(r));
    w->broadcast(bytes, root);
    EXPECT_EQ(bytes, std::vector<std::byte>(5, std::byte(root))) << "root " << root;
  }
  w->barrier();

  std::vector<double> none;  // zero lengths are no operations on every rank
  w->all_reduce_sum(std::span(none));
  w->all_gather(none, none);
  w->broadcast({}, 0);
}

// Sums of arbitrary floats: whatever order MPI adds in, every rank gets the same bits.
TEST(MpiCollective, EveryRankGetsTheSameBits) {
  auto w = world();
  Rng rng(uint64_t(17 + w->rank()));
  std::vector<float> f(1 << 16);  // 256 KiB: more than one eager message
  for (float& v : f) v = float(rng.normal());
  w->all_reduce_sum(std::span(f));
  std::vector<double> mine{f[0], f[12345], f.back()}, all(3 * size_t(w->size()));
  w->all_gather(mine, all);
  for (int k = 1; k < w->size(); ++k)
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(all[size_t(3 * k) + i], all[i]) << "rank " << k;
}

// Asynchronous sums complete in the order issued, whatever order they are waited in, also with blocking
// operations between them; wait() is idempotent.
TEST(MpiCollective, AsyncSumsKeepTheIssueOrder) {
  auto w = world();
  const int r = w->rank(), n = w->size();
  std::vector<std::vector<float>> f(4);
  std::vector<std::vector<double>> d(2);
  std::vector<std::unique_ptr<Collective::Request>> pending;
  for (size_t k = 0; k < f.size(); ++k) {
    f[k].assign(100000 + k, float(k + 1) * float(r + 1));
    pending.push_back(w->all_reduce_sum_async(std::span(f[k])));
    if (k == 1) {
      std::vector<std::byte> b(3, std::byte(r));
      w->broadcast(b, n - 1);  // blocking, between pending sums
      EXPECT_EQ(b, std::vector<std::byte>(3, std::byte(n - 1)));
    }
  }
  for (size_t k = 0; k < d.size(); ++k) {
    d[k].assign(7, double(k + 1) * double(r + 1));
    pending.push_back(w->all_reduce_sum_async(std::span(d[k])));
  }
  // rank 0 waits in reverse order, the others in issue order
  for (size_t i = 0; i < pending.size(); ++i) pending[r == 0 ? pending.size() - 1 - i : i]->wait();
  for (auto& p : pending) p->wait();
  const float tri = float(n * (n + 1) / 2);
  for (size_t k = 0; k < f.size(); ++k)
    for (float v : f[k]) ASSERT_EQ(v, float(k + 1) * tri) << k;
  for (size_t k = 0; k < d.size(); ++k)
    for (double v : d[k]) ASSERT_EQ(v, double(k + 1) * tri) << k;
}

TEST(MpiCollective, Validation) {
  auto w = world();
  std::vector<double> mine(2), wrong(2 * size_t(w->size()) + 1);
  EXPECT_THROW(w->all_gather(mine, wrong), ShapeError);
  std::vector<std::byte> b(1);
  EXPECT_THROW(w->broadcast(b, w->size()), ConfigError);
  EXPECT_THROW(w->broadcast(b, -1), ConfigError);
  {
    ScopedEnv env("LOCNET_DIST_TIMEOUT", nullptr);
    EXPECT_THROW(world({.timeout_s = 0}), ConfigError);
    EXPECT_THROW(world({.timeout_s = -1}), ConfigError);
  }
  for (const char* bad : {"abc", "0", "-3", "5s", ""}) {
    ScopedEnv env("LOCNET_DIST_TIMEOUT", bad);
    EXPECT_THROW(world(), ConfigError) << "'" << bad << "'";
  }
  ScopedEnv env("LOCNET_DIST_TIMEOUT", "2.5");
  EXPECT_NO_THROW(world({.timeout_s = -1}));  // the environment's value replaces the option
  w->barrier();  // the group still works
}

// A rank that does not arrive: rank 0's collective with a short timeout gives up with a DistError naming the
// operation, the rank and the timeout, and stays failed; the late ranks still complete the operation with rank 0.
TEST(MpiCollective, TimeoutIsADistError) {
  auto w = world();
  if (w->size() == 1) GTEST_SKIP() << "a single process never waits";
  if (w->rank() == 0) {
    ScopedEnv env("LOCNET_DIST_TIMEOUT", nullptr);
    auto impatient = world({.timeout_s = 0.3});
    const auto start = std::chrono::steady_clock::now();
    try {
      impatient->barrier();
      ADD_FAILURE() << "no DistError";
    } catch (const DistError& e) {
      EXPECT_EQ(std::string(e.what()), fmt::format("barrier: rank 0 of {} did not complete within 0.3 s (a rank died "
                                                   "or hangs)", w->size()));
    }
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_GE(waited, 0.3);
    EXPECT_LT(waited, 2.5);  // the others arrive after 3 s
    std::vector<double> d(1);
    EXPECT_THROW(impatient->all_reduce_sum(std::span(d)), DistError);  // failed for good, nothing queued
  } else {
    std::this_thread::sleep_for(std::chrono::seconds(3));
    w->barrier();  // completes rank 0's timed-out barrier
  }
  std::vector<double> d{1.0};
  w->all_reduce_sum(std::span(d));  // the other instances go on
  EXPECT_EQ(d[0], w->size());
}

}  // namespace
}  // namespace locnet::dist
