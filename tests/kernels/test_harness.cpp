// tests/kernels/harness.hpp on a toy op: it compares each applicable optimized kernel with the reference and counts
// the pairs, and a test whose optimized kernels never apply (or never reach a required one) fails.
#include "kernels/harness.hpp"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "kernels/toy_op.hpp"

using namespace locnet::testing;
using namespace locnet::testing::toy;

namespace {

const Kernel kNeverAndRef[] = {{"never", never}, {"ref", always}};
const Kernel kNoRef[] = {{"fast", only_even}};
const Kernel kRefNeverApplies[] = {{"fast", only_even}, {"ref", never}};

const std::vector<Problem> kOdd = {{1}, {3}, {5}};
const std::vector<Problem> kMixed = {{1}, {2}, {3}, {4}};

// The messages of the failures fn reports (ADD_FAILURE's "Failed" line left out), intercepted so that they do not
// fail this test.
std::vector<std::string> failures_of(const std::function<void()>& fn) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter intercept(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    fn();
  }
  std::vector<std::string> messages;
  for (int i = 0; i < results.size(); ++i) {
    const std::string m = results.GetTestPartResult(i).message();
    messages.push_back(m.starts_with("Failed\n") ? m.substr(7) : m);
  }
  return messages;
}

template <class Problems>
std::vector<std::string> failures_of_compare_all(std::span<const Kernel> list, const Problems& problems,
                                                 std::vector<std::string> required = {}) {
  return failures_of(
      [&] { compare_all(list, problems, [](const Problem&, const Kernel&, const Kernel&) {}, required); });
}

const std::string kNothing = "no kernel but the reference ran: the optimized kernels applied to none of the problems";
using Messages = std::vector<std::string>;

}  // namespace

TEST(KernelHarness, ComparesEachApplicableKernelWithTheReference) {
  std::vector<std::pair<std::string, int>> pairs;
  const int compared = compare_all(std::span<const Kernel>(kList), kMixed,
                                   [&](const Problem& p, const Kernel& k, const Kernel& ref) {
                                     EXPECT_STREQ(ref.name, "ref");
                                     pairs.emplace_back(k.name, p.size);
                                   }, {"fast"});
  EXPECT_EQ(compared, 2);
  EXPECT_EQ(pairs, (std::vector<std::pair<std::string, int>>{{"fast", 2}, {"fast", 4}}));
}

TEST(KernelHarness, FailsWhenNoOptimizedKernelApplies) {
  // Every kernel but the reference skipped on every problem: before the harness, such a loop passed.
  EXPECT_EQ(failures_of_compare_all(kNeverAndRef, kMixed), Messages{kNothing});
  EXPECT_EQ(failures_of_compare_all(kList, kOdd), Messages{kNothing});
  EXPECT_EQ(failures_of_compare_all(kList, std::vector<Problem>{}), Messages{kNothing});
  EXPECT_EQ(failures_of_compare_all(kList, kMixed), Messages{});
}

TEST(KernelHarness, FailsWhenARequiredKernelNeverRan) {
  EXPECT_EQ(failures_of_compare_all(kList, kMixed, {"fast", "simd"}), Messages{"kernel 'simd' never ran"});
  EXPECT_EQ(failures_of_compare_all(kNeverAndRef, kMixed, {"never"}),
            (Messages{kNothing, "kernel 'never' never ran"}));
}

TEST(KernelHarness, EachCountsTheReferenceButDoesNotPassOnItAlone) {
  {
    KernelSweep<Kernel> sweep(kList, {"fast", "ref"});
    std::vector<std::string> ran;
    for (const Problem& p : kMixed) sweep.each(p, [&](const Kernel& k) { ran.emplace_back(k.name); });
    EXPECT_EQ(ran, (std::vector<std::string>{"ref", "fast", "ref", "ref", "fast", "ref"}));
    EXPECT_EQ(sweep.of("ref"), 4);
    EXPECT_EQ(sweep.optimized(), 2);
  }
  EXPECT_EQ(failures_of([] {
              KernelSweep<Kernel> sweep(kNeverAndRef);
              for (const Problem& p : kMixed) sweep.each(p, [](const Kernel&) {});
            }),
            Messages{kNothing});
}

// Layer-level tests count the kernel() each layer chose.
TEST(KernelHarness, KernelCountOfLayersChoices) {
  EXPECT_EQ(failures_of([] {
              KernelCount chosen;
              chosen.add("ref");
              chosen.add("ref");
            }),
            Messages{kNothing});
  EXPECT_EQ(failures_of([] {
              KernelCount chosen({"blas"});
              chosen.add("ref");
              chosen.add("blas");
              EXPECT_EQ(chosen.optimized(), 1);
            }),
            Messages{});
}

TEST(KernelHarness, TheReferenceMustExistAndApply) {
  EXPECT_THROW(ref_of(std::span<const Kernel>(kNoRef)), std::logic_error);
  EXPECT_EQ(failures_of_compare_all(kRefNeverApplies, std::vector<Problem>{{2}}),
            (Messages{"the reference does not apply: never", kNothing}));
}
