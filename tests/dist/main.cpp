// The MPI test program (tests/dist/): every rank runs every test; a rank's failure makes the job fail.
// Rank 0 prints gtest's progress; every other rank prints only its failures, each line prefixed "rank r:".
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "locnet/dist/mpi.hpp"

namespace {

class RankFailures : public testing::EmptyTestEventListener {
 public:
  explicit RankFailures(int rank) : rank_(rank) {}
  // (the test's name from OnTestStart: UnitTest::current_test_info() would take the lock gtest holds here)
  void OnTestStart(const testing::TestInfo& t) override { test_ = fmt::format("{}.{}", t.test_suite_name(), t.name()); }
  void OnTestPartResult(const testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "rank %d: %s: %s:%d: failure\n", rank_, test_.c_str(), r.file_name() ? r.file_name() : "?",
                 r.line_number());
    // the message, each line prefixed, so that lines of several ranks interleaved still say whose they are
    const std::string text = r.message();
    for (size_t begin = 0; begin < text.size();) {
      size_t end = text.find('\n', begin);
      if (end == std::string::npos) end = text.size();
      std::fprintf(stderr, "rank %d:   %s\n", rank_, text.substr(begin, end - begin).c_str());
      begin = end + 1;
    }
    std::fflush(stderr);
  }

 private:
  int rank_;
  std::string test_ = "(outside a test)";
};

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  auto world = locnet::dist::world();  // MPI_Init before any test (and before gtest's threads)
  if (world->rank() != 0) {
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailures(world->rank()));
  }
  return RUN_ALL_TESTS();
}
