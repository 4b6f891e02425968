// The single-process and thread-group Collectives (core/collective.hpp, dist/thread_group.hpp): what the data-
// parallel trainer and SyncBatchNorm rely on, without MPI. Synthetic values.
#include <gtest/gtest.h>

#include "locnet/core/collective.hpp"
#include "locnet/core/error.hpp"
#include "locnet/dist/thread_group.hpp"
#include "ranks.hpp"

namespace locnet {
namespace {

using testing::on_ranks;

TEST(Collective, LocalIsOneRankAndLeavesDataAlone) {
  auto g = local_collective();
  EXPECT_EQ(g->rank(), 0);
  EXPECT_EQ(g->size(), 1);
  EXPECT_EQ(g->where(), "");
  std::vector<double> d{1.5, -2};
  g->all_reduce_sum(std::span<double>(d));
  g->all_reduce_sum_async(std::span<double>(d))->wait();
  EXPECT_EQ(d, (std::vector<double>{1.5, -2}));
  std::vector<double> all(2);
  g->all_gather(d, all);
  EXPECT_EQ(all, d);
  EXPECT_THROW(g->broadcast({}, 1), ConfigError);
}

TEST(Collective, ThreadGroupSumsMaxGathersAndBroadcasts) {
  auto group = dist::thread_group(3);
  on_ranks(group, [](Collective& g) {
    const int r = g.rank();
    std::vector<double> d{double(r), 1.0};
    g.all_reduce_sum(std::span<double>(d));
    EXPECT_EQ(d, (std::vector<double>{3.0, 3.0}));
    std::vector<float> f{float(r) * 0.5f};
    g.all_reduce_sum_async(std::span<float>(f))->wait();
    EXPECT_EQ(f[0], 1.5f);
    std::vector<double> m{double(-r)};
    g.all_reduce_max(std::span<double>(m));
    EXPECT_EQ(m[0], 0.0);
    std::vector<double> mine{double(r), double(10 * r)}, all(6);
    g.all_gather(mine, all);
    EXPECT_EQ(all, (std::vector<double>{0, 0, 1, 10, 2, 20}));
    std::vector<std::byte> b(4, std::byte(r));
    g.broadcast(b, 2);
    EXPECT_EQ(b[3], std::byte(2));
    g.barrier();
    EXPECT_EQ(g.where(), fmt::format("rank {} of 3", r));
  });
}

TEST(Collective, ThreadGroupMismatchesAndTimeoutsAreErrors) {
  EXPECT_THROW(dist::thread_group(0), ConfigError);
  auto group = dist::thread_group(2);
  EXPECT_THROW(on_ranks(group,
                        [](Collective& g) {
                          std::vector<double> d(size_t(g.rank() + 1));
                          g.all_reduce_sum(std::span<double>(d));
                        }),
               ShapeError);
  auto slow = dist::thread_group(2, 0.2);
  try {
    on_ranks(slow, [](Collective& g) {
      if (g.rank() == 0) g.barrier();  // rank 1 never comes
    });
    FAIL() << "expected a DistError";
  } catch (const DistError& e) {
    EXPECT_NE(std::string(e.what()).find("barrier: rank 0 of 2 waited 0.2 s"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace locnet
