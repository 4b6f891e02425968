// Keras 3 model configs -> the Keras 2 form src/interop/keras_h5.cpp reads (src/interop/keras_config.hpp).
#include <regex>

#include "interop/keras_config.hpp"
#include "locnet/core/error.hpp"

namespace locnet {
namespace {

using json = nlohmann::json;

// Keras 3 keys that ask for nothing when they hold their default (null or false): LoRA, quantization, and
// BatchNormalization's synchronized (one device here).
constexpr const char* kEmptyExtras[] = {"lora_rank", "lora_alpha", "quantization_config", "synchronized", "optional"};

std::string text_of(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump().substr(0, 80); }

// Keras's own objects name a keras module and no registered name other than their class (Functional names
// itself); anything else was registered by the user or defined outside Keras.
bool custom(const json& j) {
  if (!j.is_object()) return false;
  if (j.contains("module") && j["module"].is_string()) {
    const std::string m = j["module"];
    if (m != "keras" && !m.starts_with("keras.")) return true;
  }
  return j.contains("registered_name") && !j["registered_name"].is_null() &&
         j["registered_name"] != j.value("class_name", json());
}

[[noreturn]] void refuse_custom(const std::string& owner, const json& j) {
  raise<ConfigError>("{}: custom object {} (module {}, registered_name {}) is not supported: locnet imports Keras's "
                     "own classes only",
                     owner, text_of(j.value("class_name", json())), text_of(j.value("module", json())),
                     text_of(j.value("registered_name", json())));
}

// An option value with Keras 3's wrappers removed: a DTypePolicy becomes its name; custom objects are refused.
json plain_value(const json& v, const std::string& owner, int depth = 0) {
  if (depth > 32 || !(v.is_object() || v.is_array())) return v;
  if (custom(v)) refuse_custom(owner, v);
  if (v.is_object() && v.value("class_name", json()).is_string() &&
      std::string(v["class_name"]).ends_with("DTypePolicy") && v.contains("config") && v["config"].is_object() &&
      v["config"].contains("name"))
    return v["config"]["name"];
  json out = v;
  for (auto& x : out) x = plain_value(x, owner, depth + 1);
  return out;
}

// One call of Keras 3's inbound_nodes, {"args": [tensor or [tensors]], "kwargs": {...}}, as Keras 2's
// [[name, node, tensor, {}], ...]; kwargs other than null (Keras 3 writes "mask": null) are call arguments.
json keras2_call(const json& call, const std::string& owner) {
  const json& args = call.contains("args") ? call["args"] : json();
  if (!args.is_array() || args.size() != 1)
    raise<ConfigError>("{}: inbound node args must hold the inputs alone, got {}", owner, text_of(args));
  const json& kwargs = call.contains("kwargs") ? call["kwargs"] : json::object();
  if (!kwargs.is_object()) raise<ConfigError>("{}: inbound node kwargs must be an object", owner);
  for (const auto& [key, v] : kwargs.items())
    if (!v.is_null())
      raise<ConfigError>("{}: call arguments (inbound node kwargs) are not supported, got '{}'", owner, key);
  json out = json::array();
  for (const json& t : args[0].is_array() ? args[0] : json::array({args[0]})) {
    const json* history = t.is_object() && t.value("class_name", json()) == "__keras_tensor__" &&
                                  t.contains("config") && t["config"].is_object() &&
                                  t["config"].contains("keras_history")
                              ? &t["config"]["keras_history"]
                              : nullptr;
    if (!history || !history->is_array() || history->size() != 3)
      raise<ConfigError>("{}: an inbound node input must be a __keras_tensor__ with keras_history [layer, node, "
                         "tensor], got {}", owner, text_of(t));
    out.push_back(json::array({(*history)[0], (*history)[1], (*history)[2], json::object()}));
  }
  return out;
}

json keras2_layer(const json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("class_name") || !j["class_name"].is_string() || !j.contains("config"))
    raise<FormatError>("{}: every layer must be an object with class_name and config", where);
  const std::string cls = j["class_name"];
  const json& c = j["config"];
  const std::string name = j.contains("name") ? text_of(j["name"])
                           : c.is_object() && c.contains("name") ? text_of(c["name"])
                                                                  : "";
  const std::string owner = fmt::format("Keras layer '{}' ({})", name, cls);
  if (custom(j)) refuse_custom(owner, j);
  if (cls == "Sequential" || cls == "Functional" || cls == "Model")
    raise<ConfigError>("{}: nested models are not supported (save the inner model's layers in the outer one)", owner);
  json out = j;
  if (c.is_object()) {
    json& oc = out["config"];
    for (const char* key : kEmptyExtras)
      if (oc.contains(key) && (oc[key].is_null() || oc[key] == false)) oc.erase(key);
    if (cls == "InputLayer" && oc.contains("batch_shape") && !oc.contains("batch_input_shape")) {
      oc["batch_input_shape"] = oc["batch_shape"];
      oc.erase("batch_shape");
    }
    for (auto& [key, v] : oc.items()) v = plain_value(v, owner + ": option '" + key + "'");
  }
  if (j.contains("inbound_nodes") && j["inbound_nodes"].is_array()) {
    json calls = json::array();
    for (const json& call : j["inbound_nodes"]) calls.push_back(call.is_object() ? keras2_call(call, owner) : call);
    out["inbound_nodes"] = calls;
  }
  return out;
}

// input_layers / output_layers: Keras 3 may write a single tensor as [name, node, tensor].
void wrap_single_endpoint(json& c, const char* key) {
  if (c.contains(key) && c[key].is_array() && !c[key].empty() && c[key][0].is_string())
    c[key] = json::array({c[key]});
}

}  // namespace

std::string keras_snake_case(const std::string& class_name) {
  std::string s = std::regex_replace(class_name, std::regex("[^A-Za-z0-9_]+"), "");
  s = std::regex_replace(s, std::regex("(.)([A-Z][a-z]+)"), "$1_$2");
  s = std::regex_replace(s, std::regex("([a-z])([A-Z])"), "$1_$2");
  for (char& ch : s) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

json keras_config(std::string_view text, const std::string& where) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("class_name") || !j.contains("config"))
    raise<FormatError>("{}: the model config must be a JSON object with class_name and config", where);
  if (custom(j)) refuse_custom(where + ": Keras model", j);
  json& c = j["config"];
  json* layers = c.is_array() ? &c : c.is_object() && c.contains("layers") && c["layers"].is_array() ? &c["layers"]
                                                                                                   : nullptr;
  if (layers)
    for (json& l : *layers) l = keras2_layer(l, where);
  if (c.is_object()) {
    wrap_single_endpoint(c, "input_layers");
    wrap_single_endpoint(c, "output_layers");
  }
  return j;
}

}  // namespace locnet
