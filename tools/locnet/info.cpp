#include <algorithm>
#include <cstdio>

#include "commands.hpp"
#include "locnet/core/catalog.hpp"
#include "locnet/formats.hpp"
#include "locnet/layers/registry.hpp"

namespace locnet::cli {
namespace {

// Layers sorted by name, the other kinds in declaration order.
std::vector<const CatalogEntry*> entries(Kind kind) {
  if (kind != Kind::layer) return catalog().entries(kind);
  std::vector<const CatalogEntry*> out;
  for (const auto& name : layer_type_names()) out.push_back(&find_layer_type(name));
  return out;
}

void list(Kind kind) {
  std::string_view name = kind_plural(kind);
  std::printf("%c%.*s:\n", name[0] - 'a' + 'A', int(name.size() - 1), name.data() + 1);
  for (const CatalogEntry* t : entries(kind)) std::printf("  %-28s %s\n", t->name.c_str(), t->doc.c_str());
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
  for (Kind kind : kKinds) {
    if (what.empty() || what == kind_plural(kind)) {
      list(kind);
      if (!what.empty()) return 0;
      std::printf("\n");
    }
  }
  if (what.empty()) return 0;
  if (const CatalogEntry* t = catalog().find_any(what)) {
    describe(*t);
    return 0;
  }
  std::vector<std::string_view> kinds;
  for (Kind kind : kKinds) kinds.push_back(kind_plural(kind));
  raise<ConfigError>("info: '{}' must be the name of a layer type, optimizer, schedule, loss, regularizer, "
                     "constraint or initializer, or one of {}; got an unknown name (locnet info lists them all)",
                     what, fmt::join(kinds, ", "));
}

// The model file formats locnet reads, version by version.
int formats() {
  std::printf("Model file formats (locnet convert, summary, predict, evaluate, train --resume):\n");
  for (const FormatSupport& f : supported_formats())
    std::printf("  %-20s %-14s %s\n  %-20s %-14s %s\n", f.format.c_str(), f.extensions.c_str(), f.versions.c_str(),
                "", "", f.notes.c_str());
  return 0;
}

}  // namespace

void add_info(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("info", "Explain a layer type, optimizer, schedule, loss, regularizer, constraint "
                                         "or initializer and its options with defaults (no NAME: list them all)");
  auto name = std::make_shared<std::string>();
  cmd->add_option("name", *name, "e.g. Dense, SGD, glorot_uniform, L2, MaxNorm; or a kind such as optimizers");
  auto list_formats = std::make_shared<bool>(false);
  cmd->add_flag("--formats", *list_formats, "List the model file formats locnet reads, version by version");
  cmd->callback([&action, name, list_formats] {
    action = [name, list_formats] { return *list_formats ? formats() : info(*name); };
  });
}

}  // namespace locnet::cli
