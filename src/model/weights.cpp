#include "locnet/model/weights.hpp"

#include <cmath>

#include "locnet/layers/locally_connected_keras.hpp"

namespace locnet {
namespace {

// A LocallyConnected layer with implementation=2|3 keeps Keras's kernel of that implementation in files;
// fn(layer, its kernel's key) for each.
template <class Fn>
void for_each_keras_layout(Model& model, Fn&& fn) {
  for (size_t i = 0; i < model.size(); ++i)
    if (auto* lc = dynamic_cast<LocallyConnectedBase*>(&model.layer(i)); lc && lc->spec().implementation != 1)
      fn(*lc, lc->name() + ".kernel");
}

// "" or a note for a LocallyConnected kernel whose shape is another Keras implementation's.
std::string layout_hint(Model& model, const std::string& key, const Shape& got) {
  for (size_t i = 0; i < model.size(); ++i)
    if (auto* lc = dynamic_cast<LocallyConnectedBase*>(&model.layer(i)); lc && lc->name() + ".kernel" == key)
      return keras_layout_hint(lc->geometry(), lc->spec().implementation, got);
  return {};
}

}  // namespace

TensorFile model_weights(Model& model) {
  if (!model.built()) raise<ConfigError>("save weights: the model must be built, got an unbuilt model");
  TensorFile f;
  for (auto& [key, p] : model.named_params()) f.tensors.emplace_back(key, p->value);
  for_each_keras_layout(model, [&](LocallyConnectedBase& lc, const std::string& key) {
    for (auto& [name, t] : f.tensors)
      if (name == key)
        t = (lc.spec().implementation == 2 ? keras_impl1_to_impl2 : keras_impl1_to_impl3)(lc.geometry(), t)
                .to(t.dtype());
  });
  return f;
}

void load_weights(Model& model, const TensorFile& keras_file) {
  if (!model.built()) raise<ConfigError>("load weights: the model must be built, got an unbuilt model");
  TensorFile file = keras_file;
  for_each_keras_layout(model, [&](LocallyConnectedBase& lc, const std::string& key) {
    const int impl = lc.spec().implementation;
    for (auto& [name, t] : file.tensors) {
      if (name != key) continue;
      Shape want = keras_kernel_shape(lc.geometry(), impl);
      if (t.shape() != want)
        raise<FormatError>("weights: key '{}' (implementation={}) must have shape {}, got {}{}", key, impl,
                           want.str(), t.shape().str(), keras_layout_hint(lc.geometry(), impl, t.shape()));
      t = (impl == 2 ? keras_impl2_to_impl1 : keras_impl3_to_impl1)(lc.geometry(), t).to(t.dtype());
    }
  });
  auto params = model.named_params();
  // Every key a file may use for a parameter: "<layer>.<param>" and "<layer>.<alias>".
  std::map<std::string, size_t, std::less<>> owner;
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& [key, p] = params[i];
    owner.emplace(key, i);
    for (const std::string& alias : p->aliases) owner.emplace(key.substr(0, key.size() - p->name.size()) + alias, i);
  }
  std::vector<std::pair<std::string, const Tensor*>> found(params.size());  // the file's key and tensor
  for (const auto& [key, t] : file.tensors) {
    auto it = owner.find(key);
    if (it == owner.end()) {
      std::vector<std::string> keys;
      for (auto& [k, p] : params) keys.push_back(k);
      raise<FormatError>("weights: key '{}' matches no parameter of the model; expected keys: {}", key,
                         fmt::join(keys, ", "));
    }
    auto& [param_key, p] = params[it->second];
    if (found[it->second].second)
      raise<FormatError>("weights: parameter '{}' must be given once, got keys '{}' and '{}'", param_key,
                         found[it->second].first, key);
    if (file.int64.count(key) && !p->counter)
      raise<FormatError>("weights: key '{}' must be a floating-point tensor (F32, F64, BF16 or F16), got I64", key);
    found[it->second] = {key, &t};
  }
  for (size_t i = 0; i < params.size(); ++i) {
    auto& [key, p] = params[i];
    const auto& [file_key, t] = found[i];
    if (!t) {
      if (p->counter) continue;  // optional: reset to 0 below
      raise<FormatError>("weights: key '{}' is missing (shape {})", key, p->value.shape().str());
    }
    if (p->counter) {  // locnet writes (1,); PyTorch a scalar ()
      if (t->numel() != 1 || t->rank() > 1)
        raise<FormatError>("weights: key '{}' must have shape (1,) or (), got {}", file_key, t->shape().str());
      const double n = t->item(0);
      if (!(n >= 0 && n == std::floor(n)))
        raise<FormatError>("weights: key '{}' must be a count (an integer >= 0), got {}", file_key, n);
    } else if (t->shape() != p->value.shape()) {
      raise<FormatError>("weights: key '{}' must have shape {}, got {}{}", file_key, p->value.shape().str(),
                         t->shape().str(), layout_hint(model, key, t->shape()));
    }
  }
  for (size_t i = 0; i < params.size(); ++i) {
    Param& p = *params[i].second;
    const Tensor* t = found[i].second;
    if (t) p.value = t->reshape(p.value.shape()).to(p.value.dtype());
    else p.value.fill(0.0);  // an absent counter
  }
}

void save_weights(Model& model, const std::string& path, std::map<std::string, std::string> metadata) {
  TensorFile f = model_weights(model);
  metadata.emplace("format", "locnet");
  f.metadata = std::move(metadata);
  write_safetensors(path, f);
}

void load_weights(Model& model, const std::string& path) { load_weights(model, read_safetensors(path)); }

}  // namespace locnet
