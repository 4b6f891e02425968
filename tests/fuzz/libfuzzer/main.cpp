// One libFuzzer binary per target (CMake option LOCNET_FUZZ, clang): LOCNET_FUZZ_TARGET names it.
#include <cstdint>

#include "fuzz/targets.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  locnet::fuzz::init();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto& target = locnet::fuzz::target(LOCNET_FUZZ_TARGET);
  target.run({reinterpret_cast<const std::byte*>(data), size});
  return 0;
}
