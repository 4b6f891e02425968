// Runs a kernel test under every instruction set the Highway kernels were compiled for that this CPU supports
// (SSE4, AVX2, AVX-512, ...): Highway's dynamic dispatch is pointed at each in turn, then restored. Without this,
// the tests only ever run the machine's best target, and code for the others would ship untested.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>

#include "hwy/targets.h"

namespace locnet::testing {

template <class F>
void for_each_target(F&& fn) {
  struct Restore {
    ~Restore() { hwy::SetSupportedTargetsForTest(0); }
  } restore;
  int runs = 0;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    fn();
    ++runs;
  }
  EXPECT_GE(runs, 1);
}

}  // namespace locnet::testing
