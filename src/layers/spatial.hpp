// Option parsing shared by the sliding-window layers (Conv1D/2D, LocallyConnected, pooling); their output geometry
// is include/locnet/core/window.hpp.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "locnet/core/error.hpp"
#include "locnet/core/value.hpp"

namespace locnet::spatial {

// Window sizes, strides and dilations above this are rejected: (kernel - 1) * dilation + 1 must fit in int64.
inline constexpr int64_t kMaxWindow = (int64_t(1) << 31) - 1;

// An int or a tuple of `rank` positive ints (one per spatial axis) -> out, (rows, cols) with rows kept at 1 for
// rank 1; ConfigError "<type>: <name> must be ..., got <got>" (by default 3 or (3, 3)).
inline void axis_sizes(const char* type, const char* name, int rank, const std::vector<int64_t>& v,
                       int64_t (&out)[2], std::string got = {}) {
  if (got.empty()) got = v.size() == 1 ? std::to_string(v[0]) : fmt::format("({})", fmt::join(v, ", "));
  if (v.size() != 1 && v.size() != size_t(rank))
    raise<ConfigError>("{}: {} must be an int or a tuple of {} int{}, got {}", type, name, rank, rank == 1 ? "" : "s",
                       got);
  for (int i = 0; i < rank; ++i) {
    int64_t e = v[v.size() == 1 ? 0 : size_t(i)];
    if (e <= 0 || e > kMaxWindow)
      raise<ConfigError>("{}: {} must be positive integers <= {}, got {}", type, name, kMaxWindow, got);
    out[2 - rank + i] = e;
  }
}
// An int or a (rows, cols) tuple of positive ints -> out.
inline void size_pair(const char* type, const char* name, const std::vector<int64_t>& v, int64_t (&out)[2]) {
  axis_sizes(type, name, 2, v, out);
}

// None/"channels_last" -> true, "channels_first" -> false.
inline bool channels_last(const char* type, const std::optional<std::string>& data_format) {
  if (!data_format || *data_format == "channels_last") return true;
  if (*data_format == "channels_first") return false;
  raise<ConfigError>("{}: data_format must be None, \"channels_last\" or \"channels_first\", got \"{}\"", type,
                     *data_format);
}

inline void check_padding(const char* type, const std::string& padding) {
  if (padding != "valid" && padding != "same")
    raise<ConfigError>("{}: padding must be \"valid\" or \"same\", got \"{}\"", type, padding);
}

// Explicit padding as ZeroPadding1D/2D take it: p, 1D (left, right), 2D (rows, cols) or ((top, bottom),
// (left, right)); a 1D layer sets the cols (pad[1]) only. Returns false for any other form.
inline bool explicit_padding(const Value& v, int rank, int64_t (&pad)[2][2]) {
  auto is_int = [](const Value& e) { return e.kind() == Value::Kind::Int; };
  auto pair = [&](const Value& e, int64_t (&out)[2]) {
    if (is_int(e)) {
      out[0] = out[1] = e.as_int();
      return true;
    }
    if (e.kind() != Value::Kind::Tuple || e.items().size() != 2 || !is_int(e.items()[0]) || !is_int(e.items()[1]))
      return false;
    out[0] = e.items()[0].as_int();
    out[1] = e.items()[1].as_int();
    return true;
  };
  if (is_int(v)) {
    for (int a = 2 - rank; a < 2; ++a) pad[a][0] = pad[a][1] = v.as_int();
    return true;
  }
  if (v.kind() != Value::Kind::Tuple) return false;
  if (rank == 1) {
    if (v.items().size() != 2 || !is_int(v.items()[0]) || !is_int(v.items()[1])) return false;
    return pair(v, pad[1]);
  }
  return v.items().size() == 2 && pair(v.items()[0], pad[0]) && pair(v.items()[1], pad[1]);
}

}  // namespace locnet::spatial
