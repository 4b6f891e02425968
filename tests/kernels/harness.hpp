// The kernel-test harness. Kernel tests compare every optimized kernel of an op's list (src/kernels/<op>/
// registry.cpp, "ref" last) with the reference, on each problem the kernel applies to. Skipping the kernels that
// do not apply is right per problem, but a loop that only skips would pass with nothing compared if an optimized
// kernel stopped applying everywhere. So the harness counts what ran, by kernel name, and fails the test at the end
// of the count's scope when no kernel but the reference ran, or when a kernel the test requires never did.
//
//   KernelSweep<LrnKernel> sweep(lrn_kernels(), {"hwy"});                  // "hwy" must run at least once
//   for (...) sweep.compare(p, [&](const LrnKernel& k, const LrnKernel& ref) { ...k against ref... });
//   sweep.each(p, [&](const LrnKernel& k) { ...a property of every applicable kernel, ref included... });
//   compare_all(lrn_kernels(), problems, [&](const LrnProblem& p, const LrnKernel& k, const LrnKernel& ref) {...});
//
// Layer-level tests that build under the chosen kernel count the layers' kernel() in a KernelCount.
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace locnet::testing {

inline constexpr std::string_view kRef = "ref";

// Runs by kernel name; checked when it goes out of scope (unless the test has already failed fatally).
class KernelCount {
 public:
  explicit KernelCount(std::vector<std::string> required = {}) : required_(std::move(required)) {}
  ~KernelCount() {
    if (::testing::Test::HasFatalFailure()) return;
    if (optimized() == 0)
      ADD_FAILURE() << "no kernel but the reference ran: the optimized kernels applied to none of the problems";
    for (const std::string& name : required_)
      if (of(name) == 0) ADD_FAILURE() << "kernel '" << name << "' never ran";
  }
  KernelCount(const KernelCount&) = delete;
  KernelCount& operator=(const KernelCount&) = delete;

  void add(std::string_view kernel) { ++runs_[std::string(kernel)]; }
  int of(std::string_view kernel) const {
    auto it = runs_.find(kernel);
    return it == runs_.end() ? 0 : it->second;
  }
  int optimized() const {  // runs of kernels other than the reference
    int n = 0;
    for (const auto& [name, runs] : runs_) n += name == kRef ? 0 : runs;
    return n;
  }

 private:
  std::vector<std::string> required_;
  std::map<std::string, int, std::less<>> runs_;
};

template <class Kernel>
const Kernel& ref_of(std::span<const Kernel> list) {
  for (const Kernel& k : list)
    if (std::string_view(k.name) == kRef) return k;
  throw std::logic_error("the kernel list has no \"ref\"");
}

// A KernelCount over one op's kernel list (each Kernel has `name` and `applicable(problem, why)`).
template <class Kernel>
class KernelSweep : public KernelCount {
 public:
  explicit KernelSweep(std::span<const Kernel> list, std::vector<std::string> required = {})
      : KernelCount(std::move(required)), list_(list), ref_(ref_of(list)) {}

  const Kernel& ref() const { return ref_; }

  // fn(k, ref) for every kernel but the reference that applies to p; the reference must apply too.
  template <class Problem, class Fn>
  int compare(const Problem& p, Fn&& fn) {
    std::string why;
    if (!ref_.applicable(p, &why)) {
      ADD_FAILURE() << "the reference does not apply: " << why;
      return 0;
    }
    int n = 0;
    for (const Kernel& k : list_)
      if (&k != &ref_ && k.applicable(p, &why)) {
        SCOPED_TRACE(k.name);
        fn(k, ref_);
        add(k.name);
        ++n;
      }
    return n;
  }

  // fn(k) for every kernel that applies to p, the reference included.
  template <class Problem, class Fn>
  int each(const Problem& p, Fn&& fn) {
    std::string why;
    int n = 0;
    for (const Kernel& k : list_)
      if (k.applicable(p, &why)) {
        SCOPED_TRACE(k.name);
        fn(k);
        add(k.name);
        ++n;
      }
    return n;
  }

 private:
  std::span<const Kernel> list_;
  const Kernel& ref_;
};

// fn(p, k, ref) for every problem and every kernel but the reference that applies to it; returns the number of
// (kernel, problem) pairs compared, and fails the test when it is 0 or a required kernel never ran.
template <class Kernel, class Problems, class Fn>
int compare_all(std::span<const Kernel> list, const Problems& problems, Fn&& fn,
                std::vector<std::string> required = {}) {
  KernelSweep<Kernel> sweep(list, std::move(required));
  for (const auto& p : problems) sweep.compare(p, [&](const Kernel& k, const Kernel& ref) { fn(p, k, ref); });
  return sweep.optimized();
}

}  // namespace locnet::testing
