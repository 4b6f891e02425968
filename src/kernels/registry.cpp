#include "kernels/registry.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "kernels/activation/problem.hpp"
#include "kernels/batch_norm/problem.hpp"
#include "kernels/conv2d/problem.hpp"
#include "kernels/dense/problem.hpp"
#include "kernels/locally_connected/problem.hpp"
#include "kernels/lrn/problem.hpp"
#include "kernels/optimizer/problem.hpp"
#include "kernels/pooling/problem.hpp"
#include "kernels/stream.hpp"

namespace locnet::kernels {
namespace {
// An op's name with its kernels' names in order.
template <class Kernel>
std::pair<std::string, std::vector<std::string>> op(std::string name, std::span<const Kernel> list) {
  std::vector<std::string> names;
  for (const Kernel& k : list) names.emplace_back(k.name);
  return {std::move(name), std::move(names)};
}

}  // namespace

OpImpls library_ops() {
  return {op("activation", activation_kernels()), op("adagrad", adagrad_kernels()), op("adam", adam_kernels()),
          op("avg_pool", avg_pool_kernels()),     op("batch_norm", batch_norm_kernels()),
          op("conv2d", conv2d_kernels()),         op("dense", dense_kernels()),
          op("global_avg_pool", global_avg_pool_kernels()), op("locally_connected", lc_kernels()),
          op("lrn", lrn_kernels()), op("max_pool", max_pool_kernels()), op("rmsprop", rmsprop_kernels()),
          op("sgd", sgd_kernels())};
}

namespace {

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// A typo in LOCNET_IMPL would otherwise silently run the default kernels.
[[noreturn]] void bad_item(std::string_view item, std::string_view what, const OpImpls& ops) {
  std::vector<std::string> lines;
  for (const auto& [op, names] : ops) lines.push_back(fmt::format("{} ({})", op, fmt::join(names, ", ")));
  raise<ConfigError>("LOCNET_IMPL: each item must be <kernel> or <op>:<kernel> with an op and kernel of: {}; got "
                     "'{}' ({})",
                     fmt::join(lines, "; "), item, what);
}
}  // namespace

std::string forced_impl(std::string_view op, const std::vector<std::string>& names) {
  const char* env = std::getenv("LOCNET_IMPL");
  if (!env || !*env) return {};
  OpImpls ops = library_ops();
  if (std::none_of(ops.begin(), ops.end(), [&](const auto& o) { return o.first == op; }))
    ops.emplace_back(std::string(op), names);
  std::string_view spec(env);
  std::string plain, mine;
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    size_t colon = item.find(':');
    std::string_view item_op = colon == std::string_view::npos ? std::string_view() : item.substr(0, colon);
    std::string_view name = colon == std::string_view::npos ? item : item.substr(colon + 1);
    if (colon == std::string_view::npos) {
      if (std::none_of(ops.begin(), ops.end(), [&](const auto& o) { return contains(o.second, name); }))
        bad_item(item, "no op has that kernel", ops);
      plain = std::string(name);
      continue;
    }
    auto it = std::find_if(ops.begin(), ops.end(), [&](const auto& o) { return o.first == item_op; });
    if (it == ops.end()) bad_item(item, fmt::format("there is no op '{}'", item_op), ops);
    if (!contains(it->second, name)) bad_item(item, fmt::format("op '{}' has no kernel '{}'", item_op, name), ops);
    if (item_op == op && mine.empty()) mine = std::string(name);
  }
  return mine.empty() ? plain : mine;
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
