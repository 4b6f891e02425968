#include "locnet/interop/keras_h5.hpp"

#include <map>

#include "interop/keras_config.hpp"

#include "locnet/io/file.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/model/weights.hpp"

namespace locnet {
namespace {

using json = nlohmann::json;
constexpr int kMaxValueDepth = 32;  // nesting of one option's value (tuples of tuples, regularizer calls)

struct KerasLayer {
  const json& j;
  std::string name, cls;
  const json& config() const { return j.at("config"); }
};

[[noreturn]] void refuse(const KerasLayer& l, const std::string& what) {
  raise<ConfigError>("Keras layer '{}' ({}): {}", l.name, l.cls, what);
}

// A JSON option value as a spec value; {"class_name": C, "config": {...}} (a regularizer, a constraint) is C(...).
Value to_value(const json& v, const KerasLayer& l, const std::string& key, int depth = 0) {
  if (depth > kMaxValueDepth) refuse(l, fmt::format("option '{}' is nested deeper than {}", key, kMaxValueDepth));
  switch (v.type()) {
    case json::value_t::null: return Value();
    case json::value_t::boolean: return Value(v.get<bool>());
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return Value(v.get<int64_t>());
    case json::value_t::number_float: return Value(v.get<double>());
    case json::value_t::string: return Value(v.get<std::string>());
    case json::value_t::array: {
      std::vector<Value> items;
      for (const json& x : v) items.push_back(to_value(x, l, key, depth + 1));
      return Value::tuple(std::move(items));
    }
    default:
      if (v.is_object() && v.contains("class_name") && v["class_name"].is_string() && v.contains("config") &&
          v["config"].is_object()) {
        Call c{v["class_name"].get<std::string>(), {}, {}};
        for (const auto& [k, x] : v["config"].items()) c.kwargs.emplace_back(k, to_value(x, l, key, depth + 1));
        return Value(std::move(c));
      }
      refuse(l, fmt::format("option '{}' has an unsupported value {}", key, v.dump().substr(0, 80)));
  }
}

// Keys with a value that asks for nothing locnet does differently, for classes whose locnet type lacks the key.
bool ignorable(const KerasLayer& l, const std::string& key, const json& v) {
  if (key == "name" || key == "batch_input_shape" || key == "batch_size" || key == "input_dtype") return true;
  if (key.size() > 12 && key.ends_with("_initializer")) return true;  // the weights come from the file
  if (key == "dtype") {
    if (v.is_null() || v == "float32") return true;
    refuse(l, fmt::format("option 'dtype' must be float32, got {}", v.dump()));
  }
  if (l.cls == "Flatten" && key == "data_format") return v == "channels_last";
  if (l.cls.starts_with("SpatialDropout") && key == "noise_shape") return v.is_null();
  return false;
}

std::string locnet_type(const std::string& cls) { return cls == "BatchNormalization" ? "BatchNorm1D.keras" : cls; }

std::unique_ptr<Layer> make_keras_layer(const KerasLayer& l) {
  if (!l.config().is_object()) refuse(l, "config must be an object");
  Call call{locnet_type(l.cls), {}, {}};
  for (const auto& [key, v] : l.config().items())
    if (!ignorable(l, key, v)) call.kwargs.emplace_back(key, to_value(v, l, key));
  call.kwargs.emplace_back("name", Value(l.name));
  try {
    find_layer_type(call.type);
  } catch (const ConfigError&) {
    refuse(l, "unsupported class (locnet has no layer type of that name)");
  }
  try {
    return make_layer(call);
  } catch (const ConfigError& e) {
    refuse(l, e.what());
  } catch (const NotSupported& e) {
    refuse(l, e.what());
  }
}

// The per-sample input shape of an InputLayer, or of a Sequential model's first layer.
Shape input_shape(const KerasLayer& l) {
  const json& c = l.config();
  if (!c.contains("batch_input_shape")) refuse(l, "the input shape (batch_input_shape) is missing");
  const json& dims = c["batch_input_shape"];
  if (!dims.is_array() || dims.size() < 2 || dims.size() > size_t(kMaxHdf5Rank))
    refuse(l, fmt::format("batch_input_shape must be a list of 2 to {} entries, got {}", kMaxHdf5Rank,
                          dims.dump().substr(0, 80)));
  std::vector<int64_t> shape;
  for (size_t i = 1; i < dims.size(); ++i) {
    if (!dims[i].is_number_integer() || dims[i].get<int64_t>() < 1)
      refuse(l, fmt::format("batch_input_shape must have known positive sizes after the batch, got {}",
                            dims.dump().substr(0, 80)));
    shape.push_back(dims[i].get<int64_t>());
  }
  for (const char* key : {"sparse", "ragged"})
    if (c.contains(key) && c[key] != false) refuse(l, fmt::format("option '{}' must be false", key));
  return Shape(std::move(shape));
}

KerasLayer keras_layer(const json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("class_name") || !j["class_name"].is_string() || !j.contains("config"))
    raise<FormatError>("{}: every layer must be an object with class_name and config", where);
  const json& c = j["config"];
  std::string name = j.contains("name") && j["name"].is_string() ? j["name"].get<std::string>()
                     : c.is_object() && c.contains("name") && c["name"].is_string() ? c["name"].get<std::string>()
                                                                                    : "";
  if (name.empty()) raise<FormatError>("{}: a layer of class {} has no name", where, j["class_name"].dump());
  return {j, name, j["class_name"].get<std::string>()};
}

// Keras 2.0-2.1 wrote a Sequential config as the list of layers, later ones as {"layers": [...]}.
const json& sequential_layers(const json& c) {
  static const json none = json::array();
  return c.is_array() ? c : c.is_object() && c.contains("layers") ? c["layers"] : none;
}

Model sequential(const json& layers, const std::string& where) {
  Model m;
  NodeId last = -1;
  for (const json& j : layers) {
    const KerasLayer l = keras_layer(j, where);
    if (last < 0) {
      last = m.input(input_shape(l), l.cls == "InputLayer" ? l.name : std::string());
      if (l.cls == "InputLayer") continue;
    } else if (l.cls == "InputLayer") {
      refuse(l, "an InputLayer must come first in a Sequential model");
    }
    last = m.add(make_keras_layer(l), {last});
  }
  if (last < 0) raise<FormatError>("{}: a Sequential model must have layers", where);
  return m;
}

// [["name", node_index, tensor_index(, kwargs)], ...] of a layer's one call, as node ids.
std::vector<NodeId> inbound(const KerasLayer& l, const std::map<std::string, NodeId>& nodes) {
  const json& calls = l.j.contains("inbound_nodes") ? l.j["inbound_nodes"] : json::array();
  if (!calls.is_array() || calls.size() != 1 || !calls[0].is_array())
    refuse(l, fmt::format("inbound_nodes must hold one call (shared layers are not supported), got {}",
                          calls.dump().substr(0, 80)));
  std::vector<NodeId> ids;
  for (const json& t : calls[0]) {
    if (!t.is_array() || t.size() < 3 || !t[0].is_string())
      refuse(l, fmt::format("an inbound node must be [name, node, tensor, kwargs], got {}", t.dump().substr(0, 80)));
    if (t[1] != 0 || t[2] != 0) refuse(l, "an inbound node other than a layer's first output is not supported");
    if (t.size() > 3 && !t[3].empty()) refuse(l, "call arguments (inbound node kwargs) are not supported");
    auto it = nodes.find(t[0].get<std::string>());
    if (it == nodes.end()) refuse(l, fmt::format("inbound layer '{}' is not defined before it", t[0].dump()));
    ids.push_back(it->second);
  }
  return ids;
}

std::vector<NodeId> endpoints(const json& c, const char* key, const std::map<std::string, NodeId>& nodes,
                              const std::string& where) {
  if (!c.contains(key) || !c[key].is_array()) raise<FormatError>("{}: {} must be a list", where, key);
  std::vector<NodeId> ids;
  for (const json& t : c[key]) {
    auto it = t.is_array() && !t.empty() && t[0].is_string() ? nodes.find(t[0].get<std::string>()) : nodes.end();
    if (it == nodes.end()) raise<FormatError>("{}: {} names an unknown layer {}", where, key, t.dump().substr(0, 80));
    ids.push_back(it->second);
  }
  return ids;
}

Model functional(const json& c, const std::string& where) {
  if (!c.contains("layers") || !c["layers"].is_array()) raise<FormatError>("{}: config.layers must be a list", where);
  Model m;
  std::map<std::string, NodeId> nodes;
  for (const json& j : c["layers"]) {
    const KerasLayer l = keras_layer(j, where);
    const NodeId id = l.cls == "InputLayer" ? m.input(input_shape(l), l.name) : m.add(make_keras_layer(l), inbound(l, nodes));
    nodes[l.name] = id;
  }
  m.set_inputs(endpoints(c, "input_layers", nodes, where));
  m.set_outputs(endpoints(c, "output_layers", nodes, where));
  return m;
}

std::string weight_key(const std::string& layer, const std::string& weight) {
  std::string param = weight.substr(weight.rfind('/') + 1);  // "dense_1/kernel:0" -> "kernel:0"
  if (param.ends_with(":0")) param.resize(param.size() - 2);
  return layer + "." + param;
}

KerasModel load(const Hdf5File& weights, const std::string& root, std::string_view json_text,
                const std::string& where) {
  KerasModel k{Model(), {}, {}};
  if (weights.has_attribute(root, "keras_version")) k.keras_version = weights.string_attribute(root, "keras_version");
  if (k.keras_version.empty() && weights.has_attribute("/", "keras_version"))
    k.keras_version = weights.string_attribute("/", "keras_version");
  if (weights.has_attribute(root, "backend")) k.backend = weights.string_attribute(root, "backend");
  k.model = keras_model_from_json(keras_config_for_version(json_text, k.keras_version), where);
  k.model.build_from_inputs();
  load_keras_weights(k.model, weights, root);
  return k;
}

}  // namespace

Model keras_model_from_json(std::string_view text, const std::string& where) {
  return keras_model_from_config(keras_config(text, where), where);
}

Model keras_model_from_config(const json& j, const std::string& where) {
  const json& c = j["config"];
  if (j["class_name"] == "Sequential") return sequential(sequential_layers(c), where);
  if (j["class_name"] == "Model" || j["class_name"] == "Functional") return functional(c, where);
  raise<ConfigError>("{}: Keras model class must be Sequential or Model, got {}", where, j["class_name"].dump());
}

std::vector<std::pair<std::string, std::string>> keras_layers(const json& config, const std::string& where) {
  const json& c = config["config"];
  std::vector<std::pair<std::string, std::string>> out;
  for (const json& j : config["class_name"] == "Sequential" ? sequential_layers(c) : c["layers"]) {
    const KerasLayer l = keras_layer(j, where);
    out.emplace_back(l.name, l.cls);
  }
  return out;
}

void load_keras_weights(Model& model, const Hdf5File& file, const std::string& root) {
  const std::string base = root == "/" ? "" : root;
  TensorFile weights;
  for (const std::string& layer : file.string_array_attribute(root, "layer_names")) {
    const std::string group = base + "/" + layer;
    for (const std::string& w : file.string_array_attribute(group, "weight_names"))
      weights.tensors.emplace_back(weight_key(layer, w), file.dataset(group + "/" + w));
  }
  try {
    load_weights(model, weights);
  } catch (const FormatError& e) {
    raise<FormatError>("{}: {}", file.path(), e.what());
  }
}

KerasModel load_keras_h5(const std::string& path) { return load_keras_h5(Hdf5File(path)); }

KerasModel load_keras_h5(const Hdf5File& file) {
  const std::string& path = file.path();
  if (!file.has_attribute("/", "model_config"))
    raise<FormatError>("{}: not a Keras model file (no model_config attribute; a save_weights file needs its "
                       "architecture JSON too)", path);
  const std::string config = file.string_attribute("/", "model_config");
  return load(file, "/model_weights", config, path);
}

KerasModel load_keras_json(const std::string& json_path, const std::string& weights_path) {
  const std::vector<std::byte> bytes = read_file(json_path, kMaxTextFileBytes);
  Hdf5File file(weights_path);
  return load(file, "/", std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), json_path);
}

}  // namespace locnet
