// Fuzz entry points, shared by the libFuzzer binaries (tests/fuzz/libfuzzer/, built by scripts/fuzz and
// scripts/sanitize) and by the unit test that replays every committed seed and regression input
// (tests/fuzz/test_fuzz_inputs.cpp). Each accepts any bytes: a locnet::Error is the correct answer to bad input;
// anything else (another exception, a crash, a sanitizer report, a hang) is a finding.
#pragma once
#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "locnet/model/sequential.hpp"

namespace locnet::fuzz {

struct Target {
  std::string_view name;  // also the corpus folder: tests/fuzz/corpus/<name>, tests/fuzz/regressions/<name>
  void (*run)(std::span<const std::byte> input);     // swallows locnet::Error, lets everything else escape
  void (*strict)(std::span<const std::byte> input);  // the same without swallowing (for inputs known to be good)
};

const std::vector<Target>& targets();
const Target& target(std::string_view name);  // std::invalid_argument for an unknown name

// Estimated multiply-adds of one forward pass of `model` (built, any graph) on inputs of shapes `in`, plus the
// values each layer reads and writes: the harness skips running models above a bound (a legal model can be too
// slow for the fuzzer's timeout, or need more memory than its limit).
double forward_macs(const Model& model, const std::vector<Shape>& in);

// Limits for fuzzing: one thread, tensors of at most 16 MiB (a header may legitimately ask for more; the
// fuzzer is after crashes, not allocations the limits already bound).
void init();

}  // namespace locnet::fuzz
