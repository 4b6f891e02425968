// Machine-dependent choices of the kernels, with switches for tests.
// Non-temporal ("streaming") stores for large outputs. An ordinary store that misses the cache first reads the line
// it writes (read for ownership), so a kernel that reads x and writes y moves three bytes for every two it must; a
// streaming store skips that read. It also leaves y out of the cache, which only pays when y is too large to stay
// cached for whoever reads it next: hence a size threshold. The Highway kernels' streaming stores themselves:
// src/kernels/stream-inl.h.
#pragma once
#include <cstdint>

namespace locnet::kernels {

// Outputs of at least this many bytes are written with streaming stores. Default 16 MiB: measured on a Zen 5 with
// 32 MiB of L3, streaming paid for an 18 MiB LRN output (input + output beyond the L3) and cost 10% for a 12 MiB
// one (both still cached).
int64_t stream_min_bytes();
void set_stream_min_bytes(int64_t bytes);  // tests: 0 streams every output; a negative value restores the default
inline bool stream_output(int64_t bytes) { return bytes >= stream_min_bytes(); }

// Sets the threshold for a scope (tests, benchmarks: 0 streams every output, INT64_MAX none), then restores the
// previous one, so scopes nest.
struct StreamMinBytesScope {
  explicit StreamMinBytesScope(int64_t bytes) : previous_(stream_min_bytes()) { set_stream_min_bytes(bytes); }
  ~StreamMinBytesScope() { set_stream_min_bytes(previous_); }
  StreamMinBytesScope(const StreamMinBytesScope&) = delete;
  StreamMinBytesScope& operator=(const StreamMinBytesScope&) = delete;

 private:
  int64_t previous_;
};

// AVX512_BF16 (one-instruction f32 -> bf16 conversion), which only some AVX-512 machines have: true where the CPU
// has it, unless a test has turned it off to run the other machines' code paths here.
bool use_avx512_bf16();
struct NoAvx512Bf16Scope {  // tests: as if the CPU lacked AVX512_BF16, for a scope
  NoAvx512Bf16Scope();
  ~NoAvx512Bf16Scope();
  NoAvx512Bf16Scope(const NoAvx512Bf16Scope&) = delete;
  NoAvx512Bf16Scope& operator=(const NoAvx512Bf16Scope&) = delete;
};

}  // namespace locnet::kernels
