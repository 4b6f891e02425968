// locnet convert IN OUT: any model file locnet reads (formats.hpp), or a PyTorch state_dict with --spec, to a
// locnet model file, or to ONNX (interop/onnx_export.hpp) when OUT ends in .onnx.
#include <cstdio>

#include "commands.hpp"
#include "locnet/formats.hpp"
#include "locnet/interop/onnx_export.hpp"
#include "locnet/interop/torch_state_dict.hpp"
#include "locnet/model/from_spec.hpp"

namespace locnet::cli {
namespace {

// --module torch_path=layer, repeated: the module map of load_state_dict.
ModuleMap module_map(const std::vector<std::string>& pairs) {
  ModuleMap map;
  for (const std::string& p : pairs) {
    const size_t eq = p.find('=');
    if (eq == 0 || eq == std::string::npos || eq + 1 == p.size())
      raise<ConfigError>("--module must be MODULE=LAYER, as features.0=conv1, got '{}'", p);
    map[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return map;
}

int convert(const std::string& in, const std::string& out, const std::string& spec,
            const std::vector<std::string>& modules) {
  if (spec.empty() && !modules.empty()) raise<ConfigError>("--module needs --spec (it pairs state_dict modules)");
  Model model;
  // An imported model (or state_dict) takes its input as it is: the converted file says so (uint8 at scale 1), or
  // predict would apply locnet's 1/255 default for files without a scaling.
  std::optional<InputScaling> scaling = InputScaling{"uint8", 1.0};
  if (spec.empty()) {
    model = load_any_model(in, scaling);
  } else {  // IN is a PyTorch state_dict: its modules pair with the spec's layers by order or by --module
    model = parse_model(spec);
    if (!model.input_shape()) raise<ConfigError>("--spec needs an Input(shape) first, got '{}'", spec);
    model.build(*model.input_shape(), uint64_t(0));
    load_state_dict(model, in, module_map(modules));
  }
  if (out.ends_with(".onnx"))  // opset 13 (docs/onnx-export.md)
    save_onnx(model, out);
  else
    save_model(model, out, scaling);
  std::printf("wrote %s (%lld parameters)\n", out.c_str(), static_cast<long long>(model.param_count()));
  return 0;
}

}  // namespace

void add_convert(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("convert", "Convert a model file (Keras .h5/.keras, ONNX, locnet; or a PyTorch "
                                            "state_dict with --spec) to a locnet model file, or to ONNX (OUT.onnx)");
  auto in = std::make_shared<std::string>(), out = std::make_shared<std::string>(),
       spec = std::make_shared<std::string>();
  cmd->add_option("in", *in, "Input model file (locnet info --formats lists the formats)")->required();
  cmd->add_option("out", *out, "Output: a locnet model file (.safetensors), or .onnx")->required();
  cmd->add_option("--spec", *spec, "IN is a PyTorch state_dict (safetensors): the locnet network with PyTorch-"
                                   "convention layers it loads into, modules paired with layers in order "
                                   "(docs/pytorch-state-dict.md)");
  auto modules = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--module", *modules, "With --spec: pair a state_dict module with a layer by name, "
                                        "MODULE=LAYER (e.g. features.0=conv1); repeat it for every module");
  cmd->callback([&action, in, out, spec, modules] {
    action = [=] { return convert(*in, *out, *spec, *modules); };
  });
}

}  // namespace locnet::cli
