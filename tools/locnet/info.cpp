#include <cstdio>

#include "commands.hpp"
#include "locnet/layers/registry.hpp"

namespace locnet::cli {

void add_info(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("info", "List a layer type's options with defaults (no TYPE: list the types)");
  auto type = std::make_shared<std::string>();
  cmd->add_option("type", *type, "Layer type, e.g. Dense");
  cmd->callback([&action, type] {
    action = [type] {
      if (type->empty()) {
        for (const auto& name : layer_type_names())
          std::printf("%-28s %s\n", name.c_str(), find_layer_type(name).doc.c_str());
        return 0;
      }
      const LayerType& t = find_layer_type(*type);
      std::printf("%s: %s\n\nOptions:\n", t.type.c_str(), t.doc.c_str());
      auto opts = t.options();
      size_t w0 = 6, w1 = 4, w2 = 7;
      for (const auto& o : opts) {
        w0 = std::max(w0, o.name.size());
        w1 = std::max(w1, o.type.size());
        w2 = std::max(w2, o.default_repr.size());
      }
      std::printf("  %-*s  %-*s  %-*s  %s\n", int(w0), "option", int(w1), "type", int(w2), "default", "description");
      for (const auto& o : opts)
        std::printf("  %-*s  %-*s  %-*s  %s\n", int(w0), o.name.c_str(), int(w1), o.type.c_str(), int(w2),
                    o.default_repr.c_str(), o.doc.c_str());
      return 0;
    };
  });
}

}  // namespace locnet::cli
