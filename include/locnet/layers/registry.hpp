// Layer types by name: spec call -> layer, and the option list for `locnet info`.
// Every layer family registers its types in src/layers/registry.cpp (one line per family).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "locnet/core/config.hpp"
#include "locnet/layers/layer.hpp"

namespace locnet {

struct LayerType {
  std::string type;
  std::string doc;
  std::function<std::unique_ptr<Layer>(const Call&)> make;
  std::function<std::vector<FieldDoc>()> options;
};

void register_layer_type(LayerType t);
const LayerType& find_layer_type(std::string_view type);  // ConfigError listing the known types
std::vector<std::string> layer_type_names();
std::unique_ptr<Layer> make_layer(const Call& call);     // ConfigError for unknown types or arguments

// The usual registration: L has `using Config = ...;` and a constructor L(Config, std::string name).
template <class L>
LayerType layer_type(std::string type, std::string doc) {
  return LayerType{type, std::move(doc),
                   [](const Call& call) -> std::unique_ptr<Layer> {
                     typename L::Config cfg{};
                     assign_config(cfg, call, {"name", "optimizer", "trainable"});
                     std::string name;
                     if (const Value* v = call.kwarg("name"); v && !v->is_none()) {
                       if (v->kind() != Value::Kind::Str)
                         detail::bad_argument_type(detail::where(call.type, call.column), "name", "string or None",
                                                   *v);
                       name = v->as_str();
                     }
                     auto layer = std::make_unique<L>(cfg, name);
                     if (const Value* v = call.kwarg("optimizer")) layer->set_optimizer(*v);
                     if (const Value* v = call.kwarg("trainable")) {
                       if (v->kind() != Value::Kind::Bool)
                         detail::bad_argument_type(detail::where(call.type, call.column), "trainable", "bool", *v);
                       layer->set_trainable(v->as_bool());
                     }
                     return layer;
                   },
                   [] {
                     auto opts = describe_config<typename L::Config>();
                     opts.push_back({"name", "string or None", "None",
                                     "Layer name: a string, a format string such as \"fc{}\" (filled with the "
                                     "layer's index), or None for <type>_<n>.",
                                     false});
                     opts.push_back({"optimizer", "optimizer spec or None", "None",
                                     "This layer's own optimizer, e.g. SGD(0.1) (numpy-ml's optimizer=); None uses "
                                     "the model's.",
                                     false});
                     opts.push_back({"trainable", "bool", "True",
                                     "False freezes the layer: no optimizer updates its parameters (numpy-ml, "
                                     "Keras); a BatchNorm also normalizes with its running statistics.",
                                     false});
                     return opts;
                   }};
}

}  // namespace locnet
