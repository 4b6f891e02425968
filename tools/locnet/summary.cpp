#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "locnet/formats.hpp"
#include "locnet/io/file.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/model/from_spec.hpp"

namespace locnet::cli {
namespace {
// --input-shape as a Keras user types it, "(32, 32, 3)" or "[32, 32, 3]", or as separate ints 32 32 3.
Shape parse_input_shape(const std::vector<std::string>& words) {
  std::string text = fmt::format("{}", fmt::join(words, " "));
  bool python = text.find_first_of("(),[]") != std::string::npos;
  if (!python) text = fmt::format("({},)", fmt::join(words, ", "));
  std::vector<int64_t> dims;
  Value v;
  try {
    v = parse_value(text);
  } catch (const ConfigError&) {
    v = Value(text);  // reported below with the text as typed
  }
  bool ok = detail::from_value(v, dims) && !dims.empty();
  for (int64_t d : dims) ok &= d > 0;
  if (!ok)
    raise<ConfigError>("--input-shape must be positive ints, as 32 32 3 or \"(32, 32, 3)\", got '{}'",
                       fmt::join(words, " "));
  return Shape(dims);
}
}  // namespace

void add_summary(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("summary", "Print the layer table of a network spec or a model file (shapes, "
                                            "parameters, connections); --graph draws it as SVG");
  auto spec = std::make_shared<std::string>();
  auto input = std::make_shared<std::vector<std::string>>();
  cmd->add_option("spec", *spec, "Network, e.g. \"Input((10, 10, 12)) >> Flatten() >> Dense(10)\", or a model file "
                                 "(a locnet model file, Keras .h5/.keras or ONNX: locnet info --formats)")->required();
  cmd->add_option("--input-shape", *input,
                  "Per-sample input shape when the spec has no Input(...): 32 32 3 or \"(32, 32, 3)\"");
  auto graph = std::make_shared<std::string>();
  cmd->add_option("--graph", *graph, "Also draw the network as an SVG file (one box per layer, arrows for "
                                     "connections), e.g. out.svg");
  cmd->callback([&action, spec, input, graph] {
    action = [spec, input, graph] {
      // An existing file is a model file of any format load_any_model reads.
      Model model = std::filesystem::is_regular_file(*spec) ? load_any_model(*spec) : parse_model(*spec);
      std::optional<Shape> in;
      if (!input->empty()) in = parse_input_shape(*input).with_batch(Shape::kUnknown);
      std::fputs(model.summary(in).c_str(), stdout);
      if (!graph->empty()) {
        const std::string svg = model.svg(in);
        write_file_atomic(*graph, std::as_bytes(std::span(svg.data(), svg.size())));
      }
      return 0;
    };
  });
}

}  // namespace locnet::cli
