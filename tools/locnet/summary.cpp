#include <cstdio>

#include "commands.hpp"
#include "locnet/io/spec.hpp"

namespace locnet::cli {

void add_summary(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("summary", "Print the layer table of a network spec (shapes, parameters)");
  auto spec = std::make_shared<std::string>();
  auto input = std::make_shared<std::vector<int64_t>>();
  cmd->add_option("spec", *spec, "Network, e.g. \"Input((10, 10, 12)) >> Flatten() >> Dense(10)\"")->required();
  cmd->add_option("--input-shape", *input, "Per-sample input shape when the spec has no Input(...)");
  cmd->callback([&action, spec, input] {
    action = [spec, input] {
      Sequential model = parse_model(*spec);
      std::optional<Shape> in;
      if (!input->empty()) in = Shape(*input).with_batch(Shape::kUnknown);
      std::fputs(model.summary(in).c_str(), stdout);
      return 0;
    };
  });
}

}  // namespace locnet::cli
