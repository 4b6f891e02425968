// The reader shared by regularizers and constraints (src/params/regularizers.cpp, src/params/constraints.cpp).
#pragma once
#include <algorithm>
#include <string>

#include "locnet/core/catalog.hpp"

namespace locnet::params {

// "None, \"l1\", \"l2\", L1(l1) or L2(l2)": None, each type's lower-case alias as a string, then each call.
inline std::string spec_forms(const Catalog& c, Kind kind) {
  std::vector<std::string> names{"None"}, calls;
  for (const CatalogEntry* e : c.entries(kind)) {
    if (!e->aliases.empty()) names.push_back(fmt::format("\"{}\"", e->aliases[0]));
    std::vector<std::string> args;
    for (const FieldDoc& f : e->options) args.push_back(f.name);
    calls.push_back(fmt::format("{}({})", e->name, fmt::join(args, ", ")));
  }
  std::string last = calls.back();
  calls.pop_back();
  return fmt::format("{}, {} or {}", fmt::join(names, ", "), fmt::join(calls, ", "), last);
}

// None -> nullptr; an alias as a string ("l2", "max_norm") -> the type with its defaults; a call by type or alias.
// ConfigError "<where> must be <forms>, got <v>", or "<where>: <the call's error>".
inline std::unique_ptr<CatalogObject> read_spec_object(const Catalog& c, Kind kind, const Value& v,
                                                       std::string_view where) {
  if (v.is_none()) return nullptr;
  if (v.kind() == Value::Kind::Str) {
    const CatalogEntry* e = c.find(kind, v.as_str());
    if (e && std::find(e->aliases.begin(), e->aliases.end(), v.as_str()) != e->aliases.end())
      return e->make(Call{v.as_str(), {}, {}, -1});
  } else if (v.kind() == Value::Kind::Call) {
    const Call& call = v.call();
    if (const CatalogEntry* e = c.find(kind, call.type)) {
      try {
        return e->make(call);
      } catch (const ConfigError& err) {
        // assign_config's messages start with the call; the constructors' do not.
        std::string msg = err.what();
        raise<ConfigError>("{}: {}", msg.starts_with(call.type)
                                         ? std::string(where)
                                         : fmt::format("{}: {}", where, detail::where(call.type, call.column)),
                           msg);
      }
    }
  }
  raise<ConfigError>("{} must be {}, got {}", where, spec_forms(c, kind), v.repr());
}

}  // namespace locnet::params
