#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/train/checkpoint.hpp"

namespace locnet::cli {

void add_summary(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("summary", "Print the layer table of a network spec or a model file (shapes, "
                                            "parameters)");
  auto spec = std::make_shared<std::string>();
  auto input = std::make_shared<std::vector<int64_t>>();
  cmd->add_option("spec", *spec, "Network, e.g. \"Input((10, 10, 12)) >> Flatten() >> Dense(10)\", or a model file "
                                 "(its spec and weights, as locnet train writes)")->required();
  cmd->add_option("--input-shape", *input, "Per-sample input shape when the spec has no Input(...)");
  cmd->callback([&action, spec, input] {
    action = [spec, input] {
      // An existing file is a model file: its metadata spec, checked against its tensors by load_model.
      Sequential model = std::filesystem::is_regular_file(*spec) ? load_model(*spec) : parse_model(*spec);
      std::optional<Shape> in;
      if (!input->empty()) in = Shape(*input).with_batch(Shape::kUnknown);
      std::fputs(model.summary(in).c_str(), stdout);
      return 0;
    };
  });
}

}  // namespace locnet::cli
