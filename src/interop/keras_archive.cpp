// Keras 3 .keras archives (include/locnet/interop/keras_h5.hpp).
#include <fstream>
#include <map>

#include "interop/keras_config.hpp"
#include "locnet/core/limits.hpp"
#include "locnet/interop/keras_h5.hpp"
#include "locnet/io/file.hpp"
#include "locnet/io/zip.hpp"
#include "locnet/model/weights.hpp"

namespace locnet {
namespace {

using json = nlohmann::json;

std::string text(const std::vector<std::byte>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// The names of a layer's variables in Keras's order: trainable, then non-trainable (counters are PyTorch's).
std::vector<std::string> variable_names(Layer& layer) {
  std::vector<std::string> names;
  for (Param* p : layer.params()) names.push_back(p->name);
  for (Param* p : layer.buffers())
    if (!p->counter) names.push_back(p->name);
  return names;
}

// Every layer's vars/<i> of model.weights.h5 as "<layer>.<param>", checked against the layer's variables.
TensorFile archive_weights(Model& model, const json& config, const Hdf5File& file, const std::string& where) {
  // Keras 2.13's .keras files name the layer container _layer_checkpoint_dependencies.
  const std::string root = file.has_object("/layers") || !file.has_object("/_layer_checkpoint_dependencies")
                               ? "/layers"
                               : "/_layer_checkpoint_dependencies";
  std::map<std::string, int> used;  // per snake_case class: how many came before
  TensorFile weights;
  for (const auto& [name, cls] : keras_layers(config, where)) {
    if (cls == "InputLayer") continue;
    const std::string snake = keras_snake_case(cls);
    const int k = used[snake]++;
    const std::string vars = root + "/" + (k ? fmt::format("{}_{}", snake, k) : snake) + "/vars";
    const std::vector<std::string> names = variable_names(model.layer(name));
    const std::string expected = fmt::format("layer '{}' ({}) has {} variable(s) ({})", name, cls, names.size(),
                                             joined(names));
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string var = fmt::format("{}/{}", vars, i);
      if (!file.has_object(var)) raise<FormatError>("{}: variable {} is missing: {}", where, var, expected);
      weights.tensors.emplace_back(name + "." + names[i], file.dataset(var));
    }
    if (file.has_object(fmt::format("{}/{}", vars, names.size())))
      raise<FormatError>("{}: {} holds more variables than expected: {}", where, vars, expected);
  }
  return weights;
}

}  // namespace

KerasModel parse_keras_archive(std::span<const std::byte> bytes, const std::string& where) {
  const ZipArchive zip(bytes, where);
  for (const char* member : {"config.json", "model.weights.h5"})
    if (!zip.has(member)) raise<FormatError>("{}: not a Keras 3 .keras archive (no {})", where, member);
  const json config = keras_config(text(zip.read("config.json", kMaxTextFileBytes)), where + ": config.json");
  KerasModel k{keras_model_from_config(config, where + ": config.json"), {}, {}};
  if (zip.has("metadata.json")) {
    const json meta = json::parse(text(zip.read("metadata.json", kMaxTextFileBytes)), nullptr, false);
    if (meta.is_object() && meta.contains("keras_version") && meta["keras_version"].is_string())
      k.keras_version = meta["keras_version"];
  }
  const std::vector<std::byte> image = zip.read("model.weights.h5", max_tensor_bytes());
  const Hdf5File file(image, where + ": model.weights.h5");
  k.model.build_from_inputs();
  const TensorFile weights = archive_weights(k.model, config, file, file.path());
  try {
    load_weights(k.model, weights);
  } catch (const FormatError& e) {
    raise<FormatError>("{}: {}", file.path(), e.what());
  }
  return k;
}

KerasModel load_keras_archive(const std::string& path) {
  const std::vector<std::byte> bytes = read_file(path);
  return parse_keras_archive(bytes, path);
}

KerasModel load_keras(const std::string& path) {
  char magic[4] = {};
  std::ifstream(path, std::ios::binary).read(magic, sizeof magic);
  return std::string_view(magic, 4) == std::string_view("PK\x03\x04", 4) ? load_keras_archive(path)
                                                                          : load_keras_h5(path);
}

}  // namespace locnet
