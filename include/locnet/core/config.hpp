// Config field lists. Every config struct lists its fields once, in positional order:
//
//   struct DenseConfig {
//     int64_t units = 0;
//     bool use_bias = true;
//     template <class Self, class Visit> static void fields(Self& self, Visit&& v) {
//       v(self.units, Field{"units", "Number of output units.", Field::required});
//       v(self.use_bias, Field{"use_bias", "Whether to add a bias vector."});
//     }
//     void validate() const;
//   };
//
// and that one list drives the spec parser (positional and keyword arguments, type checks), config() round
// trips, JSON, `locnet info` and later the Python keyword arguments. Supported field types: bool, int64_t,
// double, std::string, std::vector<int64_t> (a tuple, or one int meaning a 1-tuple), Value (anything), and
// std::optional of those (None allowed).
#pragma once
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "locnet/core/error.hpp"
#include "locnet/core/value.hpp"

namespace locnet {

struct Field {
  static constexpr bool required = true;
  const char* name;
  const char* doc;
  bool is_required = false;
};

struct FieldDoc {
  std::string name, type, default_repr, doc;
  bool required;
};

// A documented type (a layer, optimizer, schedule, loss, regularizer, constraint or initializer; the catalog's
// entries, core/catalog.hpp), for `locnet info`: its spec name, other names it accepts, one line on what it does,
// and its options.
struct TypeDoc {
  std::string name;
  std::vector<std::string> aliases;
  std::string doc;
  std::vector<FieldDoc> options;
};

namespace detail {
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

std::string_view type_name(const bool*);
std::string_view type_name(const int64_t*);
std::string_view type_name(const double*);
std::string_view type_name(const std::string*);
std::string_view type_name(const std::vector<int64_t>*);
std::string_view type_name(const Value*);
template <class T>
std::string type_name(const std::optional<T>*) {
  return std::string(type_name(static_cast<const T*>(nullptr))) + " or None";
}

// Converts v into out; returns false when the kind does not fit.
bool from_value(const Value& v, bool& out);
bool from_value(const Value& v, int64_t& out);
bool from_value(const Value& v, double& out);
bool from_value(const Value& v, std::string& out);
bool from_value(const Value& v, std::vector<int64_t>& out);
bool from_value(const Value& v, Value& out);
template <class T>
bool from_value(const Value& v, std::optional<T>& out) {
  if (v.is_none()) {
    out.reset();
    return true;
  }
  T t{};
  if (!from_value(v, t)) return false;
  out = std::move(t);
  return true;
}

Value to_value(bool v);
Value to_value(int64_t v);
Value to_value(double v);
Value to_value(const std::string& v);
Value to_value(const std::vector<int64_t>& v);
Value to_value(const Value& v);
template <class T>
Value to_value(const std::optional<T>& v) {
  return v ? to_value(*v) : Value();
}

std::string where(std::string_view type, int column);
[[noreturn]] void bad_argument_type(std::string_view where, std::string_view arg, std::string_view expected,
                                    const Value& got);
[[noreturn]] void unknown_argument(std::string_view where, std::string_view arg, const std::vector<std::string>& known);
}  // namespace detail

// Fills cfg from a call's arguments (positional in field order, then keywords). Keywords in `skip` (such as
// "name") are ignored here. ConfigError names the layer, the argument, the column and what was expected.
template <class Config>
void assign_config(Config& cfg, const Call& call, const std::vector<std::string>& skip = {"name"}) {
  std::vector<std::string> names;
  Config::fields(cfg, [&](auto&, const Field& f) { names.push_back(f.name); });
  std::vector<bool> seen(names.size(), false);
  const std::string where = detail::where(call.type, call.column);
  if (call.args.size() > names.size())
    raise<ConfigError>("{}: takes at most {} positional arguments, got {}", where, names.size(), call.args.size());
  auto set = [&](const std::string& key, const Value& v) {
    size_t idx = 0;
    bool found = false;
    Config::fields(cfg, [&](auto& member, const Field& f) {
      if (found || f.name != key) {
        if (!found) ++idx;
        return;
      }
      found = true;
      if (!detail::from_value(v, member))
        detail::bad_argument_type(where, key, detail::type_name(&member), v);
    });
    if (!found) detail::unknown_argument(where, key, names);
    if (seen[idx]) raise<ConfigError>("{}: argument '{}' given twice", where, key);
    seen[idx] = true;
  };
  for (size_t i = 0; i < call.args.size(); ++i) set(names[i], call.args[i]);
  for (const auto& [key, v] : call.kwargs) {
    if (std::find(skip.begin(), skip.end(), key) != skip.end()) continue;
    set(key, v);
  }
  size_t idx = 0;
  Config::fields(cfg, [&](auto&, const Field& f) {
    if (f.is_required && !seen[idx])
      raise<ConfigError>("{}: argument '{}' is required ({})", where, f.name, f.doc);
    ++idx;
  });
}

// The config as keyword values, in field order.
template <class Config>
std::vector<std::pair<std::string, Value>> config_values(const Config& cfg) {
  std::vector<std::pair<std::string, Value>> out;
  Config::fields(cfg, [&](const auto& member, const Field& f) { out.emplace_back(f.name, detail::to_value(member)); });
  return out;
}

template <class Config>
std::vector<FieldDoc> describe_config() {
  Config defaults{};
  std::vector<FieldDoc> out;
  Config::fields(defaults, [&](const auto& member, const Field& f) {
    out.push_back({f.name, std::string(detail::type_name(&member)),
                   f.is_required ? std::string("required") : detail::to_value(member).repr(), f.doc,
                   f.is_required});
  });
  return out;
}

}  // namespace locnet
