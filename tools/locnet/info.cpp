#include <algorithm>
#include <cstdio>

#include "commands.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/params/constraints.hpp"
#include "locnet/params/initializers.hpp"
#include "locnet/train/losses.hpp"
#include "locnet/train/optimizers.hpp"
#include "locnet/params/regularizers.hpp"

namespace locnet::cli {
namespace {

std::vector<TypeDoc> layer_docs() {
  std::vector<TypeDoc> out;
  for (const auto& name : layer_type_names()) {
    const LayerType& t = find_layer_type(name);
    out.push_back({t.type, {}, t.doc, t.options()});
  }
  return out;
}

struct Kind {
  const char* name;
  std::vector<TypeDoc> (*docs)();
};
const Kind kKinds[] = {{"layers", layer_docs},         {"optimizers", optimizer_docs},
                       {"schedules", schedule_docs},   {"losses", loss_docs},
                       {"regularizers", regularizer_docs}, {"constraints", constraint_docs},
                       {"initializers", initializer_docs}};

void list(const Kind& k) {
  std::printf("%c%s:\n", k.name[0] - 'a' + 'A', k.name + 1);
  for (const TypeDoc& t : k.docs()) std::printf("  %-28s %s\n", t.name.c_str(), t.doc.c_str());
}

void describe(const TypeDoc& t) {
  std::printf("%s: %s\n", t.name.c_str(), t.doc.c_str());
  if (!t.aliases.empty()) std::printf("Also called: %s\n", fmt::format("{}", fmt::join(t.aliases, ", ")).c_str());
  if (t.options.empty()) {
    std::printf("\nNo options.\n");
    return;
  }
  std::printf("\nOptions:\n");
  size_t w0 = 6, w1 = 4, w2 = 7;
  for (const auto& o : t.options) {
    w0 = std::max(w0, o.name.size());
    w1 = std::max(w1, o.type.size());
    w2 = std::max(w2, o.default_repr.size());
  }
  std::printf("  %-*s  %-*s  %-*s  %s\n", int(w0), "option", int(w1), "type", int(w2), "default", "description");
  for (const auto& o : t.options)
    std::printf("  %-*s  %-*s  %-*s  %s\n", int(w0), o.name.c_str(), int(w1), o.type.c_str(), int(w2),
                o.default_repr.c_str(), o.doc.c_str());
}

int info(const std::string& what) {
  for (const Kind& k : kKinds) {
    if (what.empty() || what == k.name) {
      list(k);
      if (!what.empty()) return 0;
      std::printf("\n");
    }
  }
  if (what.empty()) return 0;
  for (const Kind& k : kKinds)
    for (const TypeDoc& t : k.docs())
      if (t.name == what || std::find(t.aliases.begin(), t.aliases.end(), what) != t.aliases.end()) {
        describe(t);
        return 0;
      }
  std::vector<std::string> kinds;
  for (const Kind& k : kKinds) kinds.push_back(k.name);
  raise<ConfigError>("info: '{}' must be the name of a layer type, optimizer, schedule, loss, regularizer, "
                     "constraint or initializer, or one of {}; got an unknown name (locnet info lists them all)",
                     what, fmt::join(kinds, ", "));
}

}  // namespace

void add_info(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("info", "Explain a layer type, optimizer, schedule, loss, regularizer, constraint "
                                         "or initializer and its options with defaults (no NAME: list them all)");
  auto name = std::make_shared<std::string>();
  cmd->add_option("name", *name, "e.g. Dense, SGD, glorot_uniform, L2, MaxNorm; or a kind such as optimizers");
  cmd->callback([&action, name] { action = [name] { return info(*name); }; });
}

}  // namespace locnet::cli
