// A toy op for the tests of the kernel registry (test_registry.cpp) and of the kernel-test harness
// (test_harness.cpp): kList holds "fast", which applies to even sizes only, and "ref", which applies to all.
#pragma once
#include <string>

namespace locnet::testing::toy {

struct Problem {
  int size;
};
struct Kernel {
  const char* name;
  bool (*applicable)(const Problem&, std::string* why);
};
inline bool only_even(const Problem& p, std::string* why) {
  if (p.size % 2 == 0) return true;
  *why = "size must be even";
  return false;
}
inline bool always(const Problem&, std::string*) { return true; }
inline bool never(const Problem&, std::string* why) {
  *why = "never";
  return false;
}
inline constexpr Kernel kList[] = {{"fast", only_even}, {"ref", always}};

}  // namespace locnet::testing::toy
