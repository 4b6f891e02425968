#include "locnet/core/config.hpp"

#include <cmath>

namespace locnet::detail {

std::string_view type_name(const bool*) { return "bool"; }
std::string_view type_name(const int64_t*) { return "int"; }
std::string_view type_name(const double*) { return "float"; }
std::string_view type_name(const std::string*) { return "string"; }
std::string_view type_name(const std::vector<int64_t>*) { return "int or tuple of ints"; }
std::string_view type_name(const Value*) { return "value"; }

bool from_value(const Value& v, bool& out) {
  if (v.kind() != Value::Kind::Bool) return false;
  out = v.as_bool();
  return true;
}
bool from_value(const Value& v, int64_t& out) {
  if (v.kind() != Value::Kind::Int) return false;
  out = v.as_int();
  return true;
}
bool from_value(const Value& v, double& out) {
  if (v.kind() != Value::Kind::Int && v.kind() != Value::Kind::Float) return false;
  out = v.as_double();
  return true;
}
bool from_value(const Value& v, std::string& out) {
  if (v.kind() != Value::Kind::Str) return false;
  out = v.as_str();
  return true;
}
bool from_value(const Value& v, std::vector<int64_t>& out) {
  if (v.kind() == Value::Kind::Int) {
    out = {v.as_int()};
    return true;
  }
  if (v.kind() != Value::Kind::Tuple) return false;
  std::vector<int64_t> r;
  for (const auto& item : v.items()) {
    if (item.kind() != Value::Kind::Int) return false;
    r.push_back(item.as_int());
  }
  out = std::move(r);
  return true;
}
bool from_value(const Value& v, Value& out) {
  out = v;
  return true;
}

Value to_value(bool v) { return Value(v); }
Value to_value(int64_t v) { return Value(v); }
Value to_value(double v) { return Value(v); }
Value to_value(const std::string& v) { return Value(v); }
Value to_value(const std::vector<int64_t>& v) {
  std::vector<Value> items(v.begin(), v.end());
  return Value::tuple(std::move(items));
}
Value to_value(const Value& v) { return v; }

std::string where(std::string_view type, int column) {
  return column > 0 ? fmt::format("{} (column {})", type, column) : std::string(type);
}

void bad_argument_type(std::string_view where, std::string_view arg, std::string_view expected, const Value& got) {
  std::string at = got.column > 0 ? fmt::format(" at column {}", got.column) : std::string();
  raise<ConfigError>("{}: argument '{}' must be {}, got {} {}{}", where, arg, expected, got.kind_name(), got.repr(),
                     at);
}

void unknown_argument(std::string_view where, std::string_view arg, const std::vector<std::string>& known) {
  std::vector<std::string> all = known;
  all.push_back("name");
  raise<ConfigError>("{}: unknown argument '{}'; expected one of: {}", where, arg, fmt::join(all, ", "));
}

}  // namespace locnet::detail
