#include "locnet/train/checkpoint.hpp"

#include <charconv>
#include <cmath>

#include "locnet/model/from_spec.hpp"
#include "locnet/model/weights.hpp"

namespace locnet {
namespace {

constexpr std::string_view kOptimizerPrefix = "optimizer/";

TensorFile model_file(Model& model, const std::optional<InputScaling>& input) {
  for (const auto& shape : model.input_shapes())
    if (!shape) raise<ConfigError>("model file: the model needs an Input(shape) so the file can rebuild it, got none");
  TensorFile f = model_weights(model);
  DType dt = f.tensors.empty() ? DType::f32 : f.tensors.front().second.dtype();
  f.metadata = {{"format", "locnet"},
                {"locnet_version", LOCNET_VERSION},
                {"spec", model.spec()},
                {"dtype", dt == DType::f64 ? "f64" : "f32"}};
  if (input) {
    f.metadata["input_dtype"] = input->dtype;
    f.metadata["input_scale"] = fmt::format("{}", input->scale);  // shortest round-trip text
  }
  return f;
}

const std::string& metadata(const TensorFile& f, const std::string& path, const std::string& key) {
  auto it = f.metadata.find(key);
  if (it == f.metadata.end())
    raise<FormatError>("{}: not a locnet model file: metadata '{}' is missing", path, key);
  return it->second;
}

int64_t metadata_int(const TensorFile& f, const std::string& path, const std::string& key) {
  const std::string& s = metadata(f, path, key);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0)
    raise<FormatError>("{}: metadata '{}' must be a non-negative integer, got '{}'", path, key, s);
  return v;
}

std::optional<InputScaling> input_scaling(const TensorFile& f, const std::string& path) {
  const bool has_dtype = f.metadata.count("input_dtype"), has_scale = f.metadata.count("input_scale");
  if (!has_dtype && !has_scale) return std::nullopt;
  InputScaling s{metadata(f, path, "input_dtype"), 0.0};
  if (s.dtype != "uint8") raise<FormatError>("{}: metadata 'input_dtype' must be 'uint8', got '{}'", path, s.dtype);
  const std::string& text = metadata(f, path, "input_scale");
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), s.scale);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(s.scale) || s.scale <= 0)
    raise<FormatError>("{}: metadata 'input_scale' must be a finite number > 0, got '{}'", path, text);
  return s;
}

Model model_from(const TensorFile& f, const std::string& path) {
  if (metadata(f, path, "format") != "locnet")
    raise<FormatError>("{}: metadata 'format' must be 'locnet', got '{}'", path, metadata(f, path, "format"));
  Model model;
  try {
    model = parse_model(metadata(f, path, "spec"));
  } catch (const Error& e) {
    raise<FormatError>("{}: the spec in the file does not parse: {}", path, e.what());
  }
  for (const auto& shape : model.input_shapes())
    if (!shape) raise<FormatError>("{}: the spec in the file has no Input(shape)", path);
  DType dt = metadata(f, path, "dtype") == "f64" ? DType::f64 : DType::f32;
  try {
    model.build_from_inputs(uint64_t(0), dt);
  } catch (const Error& e) {
    raise<FormatError>("{}: the spec in the file does not build: {}", path, e.what());
  }
  TensorFile weights;
  for (const auto& [key, t] : f.tensors)
    if (!key.starts_with(kOptimizerPrefix)) weights.tensors.emplace_back(key, t);
  try {
    load_weights(model, weights);
  } catch (const FormatError& e) {
    raise<FormatError>("{}: {}", path, e.what());
  }
  return model;
}

std::vector<std::string> class_names_of(const TensorFile& f) {
  auto it = f.metadata.find("class_names");
  std::vector<std::string> names;
  if (it == f.metadata.end() || it->second.empty()) return names;
  for (size_t at = 0;;) {
    size_t end = it->second.find('\n', at);
    names.push_back(it->second.substr(at, end - at));
    if (end == std::string::npos) return names;
    at = end + 1;
  }
}

}  // namespace

void save_model(Model& model, const std::string& path, const std::optional<InputScaling>& input) {
  write_safetensors(path, model_file(model, input));
}

Model load_model(const std::string& path) { return model_from(read_safetensors(path), path); }

Model load_model(const std::string& path, std::optional<InputScaling>& input) {
  TensorFile f = read_safetensors(path);
  input = input_scaling(f, path);
  return model_from(f, path);
}

Model load_model(std::span<const std::byte> file, const std::string& name) {
  TensorFile f;
  try {
    f = parse_safetensors(file);
  } catch (const FormatError& e) {
    raise<FormatError>("{}: {}", name, e.what());
  }
  return model_from(f, name);
}

void save_checkpoint(Model& model, const Optimizer& optimizer, const TrainingState& state,
                     const std::string& path, const std::optional<InputScaling>& input) {
  TensorFile f = model_file(model, input);
  for (auto& [key, t] : optimizer.state()) f.tensors.emplace_back(std::string(kOptimizerPrefix) + key, t);
  f.metadata["optimizer"] = optimizer.config().repr();
  f.metadata["epoch"] = std::to_string(state.epoch);
  f.metadata["seed"] = std::to_string(state.seed);
  f.metadata["batch_size"] = std::to_string(state.batch_size);
  for (const std::string& name : state.class_names)
    if (name.empty() || name.find('\n') != std::string::npos)
      raise<ConfigError>("checkpoint: class names must be non-empty and without newlines, got '{}'", name);
  if (!state.class_names.empty()) f.metadata["class_names"] = fmt::format("{}", fmt::join(state.class_names, "\n"));
  write_safetensors(path, f);
}

Checkpoint load_checkpoint(const std::string& path) {
  TensorFile f = read_safetensors(path);
  Checkpoint c{model_from(f, path), nullptr, {}};
  try {
    c.optimizer = make_optimizer(metadata(f, path, "optimizer"), "checkpoint optimizer");
  } catch (const ConfigError& e) {
    raise<FormatError>("{}: {}", path, e.what());
  }
  std::vector<std::pair<std::string, Tensor>> state;
  for (const auto& [key, t] : f.tensors)
    if (key.starts_with(kOptimizerPrefix)) state.emplace_back(key.substr(kOptimizerPrefix.size()), t);
  c.optimizer->load_state(c.model, state);
  c.state.epoch = metadata_int(f, path, "epoch");
  c.state.seed = uint64_t(metadata_int(f, path, "seed"));
  c.state.batch_size = metadata_int(f, path, "batch_size");
  c.state.class_names = class_names_of(f);
  return c;
}

std::vector<std::string> load_class_names(const std::string& path) { return class_names_of(read_safetensors(path)); }

}  // namespace locnet
