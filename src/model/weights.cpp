#include "locnet/model/weights.hpp"

namespace locnet {

TensorFile model_weights(Sequential& model) {
  if (!model.built()) raise<ConfigError>("save weights: the model must be built, got an unbuilt model");
  TensorFile f;
  for (auto& [key, p] : model.named_params()) f.tensors.emplace_back(key, p->value);
  return f;
}

void load_weights(Sequential& model, const TensorFile& file) {
  if (!model.built()) raise<ConfigError>("load weights: the model must be built, got an unbuilt model");
  auto params = model.named_params();
  for (const auto& [key, t] : file.tensors) {
    bool known = false;
    for (auto& [k, p] : params) known |= k == key;
    if (!known) {
      std::vector<std::string> keys;
      for (auto& [k, p] : params) keys.push_back(k);
      raise<FormatError>("weights: key '{}' matches no parameter of the model; expected keys: {}", key,
                         fmt::join(keys, ", "));
    }
  }
  for (auto& [key, p] : params) {
    const Tensor* t = file.find(key);
    if (!t) raise<FormatError>("weights: key '{}' is missing (shape {})", key, p->value.shape().str());
    if (t->shape() != p->value.shape())
      raise<FormatError>("weights: key '{}' must have shape {}, got {}", key, p->value.shape().str(), t->shape().str());
  }
  for (auto& [key, p] : params) p->value = file.find(key)->to(p->value.dtype());
}

void save_weights(Sequential& model, const std::string& path, std::map<std::string, std::string> metadata) {
  TensorFile f = model_weights(model);
  metadata.emplace("format", "locnet");
  f.metadata = std::move(metadata);
  write_safetensors(path, f);
}

void load_weights(Sequential& model, const std::string& path) { load_weights(model, read_safetensors(path)); }

}  // namespace locnet
