// One loader for every model file (include/locnet/formats.hpp).
#include "locnet/formats.hpp"

#include <filesystem>

#include "locnet/interop/keras_h5.hpp"
#include "locnet/interop/onnx.hpp"
#include "locnet/io/file.hpp"
#include "locnet/train/checkpoint.hpp"

namespace locnet {
namespace {

constexpr uint64_t kHeadBytes = 16;  // enough for every magic number known_format() checks

std::string extension(const std::string& path) {
  std::string e = std::filesystem::path(path).extension().string();
  for (char& c : e) c = char(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

// An ONNX ModelProto as every writer serializes it: field 1 (ir_version, a varint: tag 0x08) first, with a value
// 1-127 (one byte), then another field. Bytes that merely look like this go to the ONNX reader, which says so.
bool looks_like_onnx(std::span<const std::byte> head) {
  return head.size() >= 3 && head[0] == std::byte{0x08} && unsigned(head[1]) >= 1 && unsigned(head[1]) < 0x80;
}

std::vector<std::byte> head_of(const std::string& path) {
  return read_file(path, [](std::span<const std::byte>) { return kHeadBytes; });
}

}  // namespace

std::string model_file_kind(const std::string& path) {
  // A pipe or device is read once, by the locnet reader as before (sniffing would consume its first bytes); a
  // missing file gets that reader's error too.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return "locnet";
  const std::vector<std::byte> head = head_of(path);
  const std::string_view magic = known_format(head);
  if (magic == "safetensors") return "locnet";
  if (magic == "HDF5") return "Keras .h5";
  if (magic == "zip") return "Keras .keras";
  if (magic.empty() && (extension(path) == ".onnx" || looks_like_onnx(head))) return "ONNX";
  return "";
}

Model load_any_model(const std::string& path) {
  const std::string kind = model_file_kind(path);
  if (kind == "locnet") {
    try {
      return load_model(path);
    } catch (const FormatError& e) {
      // metadata 'format' missing or not locnet's: say what such a file is for
      if (std::string_view(e.what()).find("metadata 'format' ") == std::string_view::npos) throw;
      raise<FormatError>("{}; a safetensors file without locnet's metadata, such as a PyTorch state_dict, loads into "
                         "a network: locnet convert IN OUT --spec SPEC (docs/pytorch-state-dict.md)",
                         e.what());
    }
  }
  if (kind == "Keras .h5") return load_keras_h5(path).model;
  if (kind == "Keras .keras") return load_keras_archive(path).model;
  if (kind == "ONNX") return read_onnx(path);
  // No importer claims it: the locnet reader (the default format) says what is wrong, then the formats tried.
  try {
    return load_model(path);
  } catch (const FormatError& e) {
    const std::string_view other = known_format(head_of(path));
    raise<FormatError>("{}; not a model file locnet reads{}: tried by its first bytes and extension a locnet model "
                       "or checkpoint (safetensors), Keras .h5 (HDF5), Keras 3 .keras (zip), ONNX (.onnx)",
                       e.what(), other.empty() ? std::string() : fmt::format(" (it starts with the {} magic)", other));
  }
}

Model load_any_model(const std::string& path, std::optional<InputScaling>& input) {
  input.reset();
  if (model_file_kind(path) == "locnet") return load_model(path, input);
  input = InputScaling{"uint8", 1.0};  // an imported model takes its input as it is, as its framework's predict does
  return load_any_model(path);
}

std::vector<std::string> load_any_class_names(const std::string& path) {
  return model_file_kind(path) == "locnet" ? load_class_names(path) : std::vector<std::string>{};
}

Checkpoint load_any_checkpoint(const std::string& path) {
  if (model_file_kind(path) == "locnet" && read_safetensors(path).metadata.count("optimizer"))
    return load_checkpoint(path);
  Checkpoint c{load_any_model(path), nullptr, {}};
  c.state.class_names = load_any_class_names(path);
  return c;
}

const std::vector<FormatSupport>& supported_formats() {
  static const std::vector<FormatSupport> table = {
      {"locnet model", ".safetensors", "every locnet version so far (0.1; metadata format=locnet)",
       "spec, weights, class names, input scaling; a checkpoint's optimizer state for train --resume"},
      {"Keras .h5", ".h5, .hdf5", "Keras 2.0-2.3 (standalone) and tf.keras 2.x model.save files",
       "model_config + /model_weights; Sequential and functional; weights-only files need the JSON (API)"},
      {"Keras 3", ".keras, .h5", "Keras 3 model.save files: .keras archives and the legacy .h5 (checked on files "
       "written in Keras 3.x's layout, not by Keras)",
       ".keras: config.json + model.weights.h5 (layers/<class>/vars/<i>); .h5: datasets through weight_names"},
      {"ONNX", ".onnx", "IR versions 3-8, ai.onnx opsets 7-18 (ONNX 1.12's backend tests: up to 17)",
       "the operators of docs/onnx.md, initializers as weights; written by locnet convert IN OUT.onnx "
       "(opset 13, docs/onnx-export.md)"},
      {"PyTorch state_dict", ".safetensors", "PyTorch state_dict() in safetensors layout (F32, F64, I64 scalars)",
       "into a model built from a spec (API: interop/torch_state_dict.hpp; locnet convert --spec)"},
  };
  return table;
}

}  // namespace locnet
