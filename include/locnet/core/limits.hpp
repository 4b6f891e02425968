// Resource limits (docs/robustness.md). Sizes read from files or text are checked against them before anything is
// allocated, so a hostile or corrupt header fails with a typed error instead of exhausting memory.
#pragma once
#include <cstdint>

namespace locnet {

// The largest single tensor, in bytes. Default: the machine's physical memory; the environment variable
// LOCNET_MAX_TENSOR_BYTES, read once at first use, overrides it (a value that is not a positive whole number
// raises ConfigError at every use); set_max_tensor_bytes() changes it at run time (0 restores the default).
// Creating a larger tensor raises ConfigError naming its shape, size and the limit.
uint64_t max_tensor_bytes();
void set_max_tensor_bytes(uint64_t bytes);

}  // namespace locnet
