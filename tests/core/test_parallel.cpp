// parallel.hpp: coverage (every index exactly once), chunking, exceptions, nesting and the thread count.
#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "expect_error.hpp"
#include "locnet/core/error.hpp"
#include "locnet/core/parallel.hpp"
#include "scoped_threads.hpp"

using namespace locnet;
using locnet::testing::ScopedThreads;

namespace {

struct Chunks {
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> list;
};

// Runs parallel_for and checks: every index in [begin, end) visited exactly once, nothing outside it, every
// chunk non-empty and (unless it is the whole range, run inline) at least `grain` long.
void check_coverage(int64_t begin, int64_t end, int64_t grain) {
  const int64_t n = std::max<int64_t>(end - begin, 0);
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  for (auto& h : hits) h = 0;
  std::atomic<int> outside{0};
  Chunks chunks;
  parallel_for(begin, end, grain, [&](int64_t lo, int64_t hi) {
    {
      std::lock_guard<std::mutex> lock(chunks.mu);
      chunks.list.emplace_back(lo, hi);
    }
    for (int64_t i = lo; i < hi; ++i) {
      if (i < begin || i >= end)
        ++outside;
      else
        ++hits[size_t(i - begin)];
    }
  });
  SCOPED_TRACE(::testing::Message() << "begin=" << begin << " end=" << end << " grain=" << grain
                                    << " threads=" << num_threads());
  EXPECT_EQ(outside.load(), 0);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << "index " << begin + i;
  if (n == 0) {
    EXPECT_TRUE(chunks.list.empty());
  }
  for (auto [lo, hi] : chunks.list) {
    EXPECT_LT(lo, hi);
    const bool whole = lo == begin && hi == end;
    EXPECT_TRUE(whole || hi - lo >= std::max<int64_t>(grain, 1))
        << "chunk [" << lo << ", " << hi << ") is shorter than the grain";
  }
}

const std::tuple<int64_t, int64_t, int64_t> kRanges[] = {
    {0, 0, 1},      {5, 5, 1},     {5, 3, 1},       {0, 1, 1},     {0, 10, 100},    {0, 10, 0},
    {0, 10, -4},    {-7, 13, 3},   {0, 2, 1},       {0, 3, 1},     {0, 10, 4},      {0, 1000, 1},
    {0, 1000, 7},   {0, 1000, 999}, {0, 1000, 1000}, {0, 1000, 501}, {100, 10000, 64}, {0, 1 << 16, 1000},
    {-100, -1, 2},  {1, 17, 5},    {0, 37, 12},
};

}  // namespace

TEST(Parallel, EveryIndexExactlyOnceWithTheDefaultThreadCount) {
  for (auto [b, e, g] : kRanges) check_coverage(b, e, g);
}

TEST(Parallel, EveryIndexExactlyOnceWithMoreThreadsThanCores) {
  ScopedThreads guard;
  for (int t : {2, 3, 4, 7, 16}) {
    set_num_threads(t);
    ASSERT_EQ(num_threads(), t);
    for (auto [b, e, g] : kRanges) check_coverage(b, e, g);
  }
}

TEST(Parallel, SmallRangesRunInlineOnTheCaller) {
  ScopedThreads guard;
  set_num_threads(4);
  const auto caller = std::this_thread::get_id();
  int calls = 0;
  bool same_thread = false;
  parallel_for(0, 10, 100, [&](int64_t lo, int64_t hi) {  // one grain's worth: a single chunk
    ++calls;
    same_thread = std::this_thread::get_id() == caller;
    EXPECT_EQ(lo, 0);
    EXPECT_EQ(hi, 10);
  });
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(same_thread);
}

TEST(Parallel, UsesSeveralThreadsForLargeRanges) {
  ScopedThreads guard;
  set_num_threads(4);
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> chunks;
  parallel_for(0, 4000, 1, [&](int64_t lo, int64_t hi) {
    std::lock_guard<std::mutex> lock(mu);
    chunks.emplace_back(lo, hi);
  });
  EXPECT_GT(chunks.size(), 1u);
  EXPECT_LE(chunks.size(), 4u);  // no more chunks than threads
}

TEST(Parallel, ExceptionsAreRethrownOnTheCallerWithTheirType) {
  ScopedThreads guard;
  for (int t : {1, 2, 4}) {
    set_num_threads(t);
    EXPECT_THROW_MSG(parallel_for(0, 1000, 1,
                                  [](int64_t lo, int64_t hi) {
                                    if (lo <= 617 && 617 < hi) throw std::out_of_range("bad index 617");
                                  }),
                     std::out_of_range, "bad index 617");
    EXPECT_THROW_MSG(parallel_for(0, 1000, 10,
                                  [](int64_t lo, int64_t) {
                                    if (lo == 0) throw ShapeError("first chunk: shape must be (2,), got (3,)");
                                  }),
                     ShapeError, "must be (2,), got (3,)");
    // Every chunk throws: exactly one exception reaches the caller, and it is one of them.
    EXPECT_THROW_MSG(parallel_for(0, 1000, 1,
                                  [](int64_t lo, int64_t) { throw ConfigError("chunk at " + std::to_string(lo)); }),
                     ConfigError, "chunk at ");
    // A non-std exception type survives too.
    bool caught = false;
    try {
      parallel_for(0, 100, 1, [](int64_t, int64_t hi) {
        if (hi == 100) throw 42;
      });
    } catch (int v) {
      caught = v == 42;
    }
    EXPECT_TRUE(caught) << t;
    // The pool still works afterwards.
    check_coverage(0, 1000, 1);
  }
}

TEST(Parallel, NestedCallsRunInlineAndCoverEverything) {
  ScopedThreads guard;
  set_num_threads(4);
  constexpr int64_t kOuter = 8, kInner = 1000;
  std::vector<std::atomic<int>> hits(static_cast<size_t>(kOuter * kInner));
  for (auto& h : hits) h = 0;
  std::atomic<int> inner_calls{0}, inner_on_other_thread{0}, outer_calls{0};
  parallel_for(0, kOuter, 1, [&](int64_t lo, int64_t hi) {
    ++outer_calls;
    for (int64_t o = lo; o < hi; ++o) {
      const auto me = std::this_thread::get_id();
      parallel_for(0, kInner, 1, [&](int64_t ilo, int64_t ihi) {
        ++inner_calls;
        if (std::this_thread::get_id() != me) ++inner_on_other_thread;
        EXPECT_EQ(ilo, 0);  // inline: one call with the whole range
        EXPECT_EQ(ihi, kInner);
        for (int64_t i = ilo; i < ihi; ++i) ++hits[size_t(o * kInner + i)];
      });
    }
  });
  EXPECT_GT(outer_calls.load(), 1);  // the outer loop did run in parallel, so the inner calls were nested
  EXPECT_EQ(inner_calls.load(), kOuter);
  EXPECT_EQ(inner_on_other_thread.load(), 0);
  for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 1) << i;
}

TEST(Parallel, OneThreadRunsEverythingInlineThenRestores) {
  const int before = num_threads();
  {
    ScopedThreads guard;
    set_num_threads(1);
    EXPECT_EQ(num_threads(), 1);
    const auto caller = std::this_thread::get_id();
    int calls = 0;
    parallel_for(0, 100000, 1, [&](int64_t lo, int64_t hi) {
      ++calls;
      EXPECT_EQ(std::this_thread::get_id(), caller);
      EXPECT_EQ(lo, 0);
      EXPECT_EQ(hi, 100000);
    });
    EXPECT_EQ(calls, 1);
    check_coverage(-5, 5000, 3);
  }
  EXPECT_EQ(num_threads(), before);
}

TEST(Parallel, NonPositiveRestoresTheDefault) {
  ScopedThreads guard;
  // The default is OMP_NUM_THREADS (its first entry) when set, else the number of available processors.
  int expected = omp_get_num_procs();
  if (const char* env = std::getenv("OMP_NUM_THREADS"); env && std::atoi(env) > 0) expected = std::atoi(env);
  set_num_threads(3);
  ASSERT_EQ(num_threads(), 3);
  set_num_threads(0);
  EXPECT_EQ(num_threads(), expected);
  set_num_threads(1);
  set_num_threads(-2);
  EXPECT_EQ(num_threads(), expected);
}
