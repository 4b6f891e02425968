// Runs a kernel test under every instruction set the Highway kernels were compiled for that this CPU supports
// (SSE4, AVX2, AVX-512, ...): Highway's dynamic dispatch is pointed at each in turn, then restored. Without this,
// the tests only ever run the machine's best target, and code for the others would ship untested. On a CPU with
// AVX512_BF16, the AVX-512 targets run a second time with the extension turned off (NoAvx512Bf16Scope), for the
// code that AVX-512 machines without it take.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "hwy/targets.h"
#include "kernels/stream.hpp"

namespace locnet::testing {

template <class F>
void for_each_target(F&& fn) {
  struct Restore {
    ~Restore() { hwy::SetSupportedTargetsForTest(0); }
  } restore;
  int runs = 0;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    const bool avx512 = (target & HWY_AVX3) || (target & HWY_AVX3_DL);
    for (bool bf16 : {true, false}) {
      if (!bf16 && !(avx512 && kernels::use_avx512_bf16())) continue;
      std::optional<kernels::NoAvx512Bf16Scope> off;
      if (!bf16) off.emplace();
      hwy::SetSupportedTargetsForTest(target);
      SCOPED_TRACE(std::string(hwy::TargetName(target)) + (bf16 ? "" : " without AVX512_BF16"));
      fn();
      ++runs;
    }
  }
  EXPECT_GE(runs, 1);
}

}  // namespace locnet::testing
