#include "kernels/registry.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "kernels/stream.hpp"

namespace locnet::kernels {

std::string forced_impl(std::string_view op) {
  const char* env = std::getenv("LOCNET_IMPL");
  if (!env || !*env) return {};
  std::string_view spec(env);
  std::string plain;
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    size_t colon = item.find(':');
    if (colon == std::string_view::npos)
      plain = std::string(item);
    else if (item.substr(0, colon) == op)
      return std::string(item.substr(colon + 1));
  }
  return plain;
}

bool verbose() {
  const char* env = std::getenv("LOCNET_VERBOSE");
  return env && *env && std::string_view(env) != "0";
}

void log_choice(std::string_view op, std::string_view chosen, std::string_view reason) {
  if (!verbose()) return;
  std::string line = fmt::format("locnet: {}: using '{}'{}\n", op, chosen,
                                 reason.empty() ? std::string() : fmt::format(" ({})", reason));
  std::fputs(line.c_str(), stderr);
}

namespace {
constexpr int64_t kDefaultStreamMinBytes = int64_t(16) << 20;
std::atomic<int64_t> g_stream_min_bytes{kDefaultStreamMinBytes};
}  // namespace

int64_t stream_min_bytes() { return g_stream_min_bytes.load(std::memory_order_relaxed); }
void set_stream_min_bytes(int64_t bytes) {
  g_stream_min_bytes.store(bytes < 0 ? kDefaultStreamMinBytes : bytes, std::memory_order_relaxed);
}

namespace {
std::atomic<bool> g_no_avx512_bf16{false};
}  // namespace

bool use_avx512_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool has = __builtin_cpu_supports("avx512bf16");
  return has && !g_no_avx512_bf16.load(std::memory_order_relaxed);
#else
  return false;
#endif
}
NoAvx512Bf16Scope::NoAvx512Bf16Scope() { g_no_avx512_bf16.store(true, std::memory_order_relaxed); }
NoAvx512Bf16Scope::~NoAvx512Bf16Scope() { g_no_avx512_bf16.store(false, std::memory_order_relaxed); }

}  // namespace locnet::kernels
