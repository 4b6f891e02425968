// Runs a kernel test under every instruction set the Highway kernels were compiled for that this CPU supports
// (SSE4, AVX2, AVX-512, ...): Highway's dynamic dispatch is pointed at each in turn, then restored. Without this,
// the tests only ever run the machine's best target, and code for the others would ship untested. On a CPU with
// AVX512_BF16, the AVX-512 targets run a second time with the extension turned off (with_and_without_avx512_bf16).
#pragma once
#include <gtest/gtest.h>

#include <cstdint>

#include "hwy/targets.h"
#include "kernels/stream.hpp"

namespace locnet::testing {

// fn(native) with AVX512_BF16 as the CPU has it (native: whether it does), then, on a CPU that has it, again as if
// it had not (NoAvx512Bf16Scope, native false), so that the code of AVX-512 machines without it runs here too.
template <class F>
void with_and_without_avx512_bf16(F&& fn) {
  const bool has = kernels::use_avx512_bf16();
  fn(has);
  if (!has) return;
  kernels::NoAvx512Bf16Scope off;
  fn(false);
}

template <class F>
void for_each_target(F&& fn) {
  struct Restore {
    ~Restore() { hwy::SetSupportedTargetsForTest(0); }
  } restore;
  int runs = 0;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    const auto run = [&](bool native) {
      SCOPED_TRACE(native ? "with AVX512_BF16" : "without AVX512_BF16");
      fn();
      ++runs;
    };
    (target & (HWY_AVX3 | HWY_AVX3_DL)) ? with_and_without_avx512_bf16(run) : run(false);
  }
  EXPECT_GE(runs, 1);
}

}  // namespace locnet::testing
