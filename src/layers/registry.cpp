#include "locnet/layers/registry.hpp"

#include <map>
#include <mutex>

#include "locnet/layers/activations.hpp"
#include "locnet/layers/batch_norm.hpp"
#include "locnet/layers/conv.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/layers/dropout.hpp"
#include "locnet/layers/locally_connected.hpp"
#include "locnet/layers/lrn.hpp"
#include "locnet/layers/pooling.hpp"
#include "locnet/layers/reshape.hpp"

namespace locnet {
namespace {

std::map<std::string, LayerType, std::less<>>& table() {
  static std::map<std::string, LayerType, std::less<>> t;
  return t;
}

// One line per layer family; keeps registration explicit (static-library linking drops self-registering objects).
void register_builtin() {
  register_layer_type(layer_type<Dense>("Dense", "Fully connected layer: activation(x @ kernel + bias)."));
  register_layer_type(layer_type<Activation>("Activation", "Applies an activation function elementwise."));
  register_layer_type(layer_type<Flatten>("Flatten", "Flattens every axis but the batch, in row-major order."));
  auto lrn = [](auto layer) {
    using L = decltype(layer);
    register_layer_type(layer_type<L>(L::Config::kType, L::Config::kDoc));
  };
  lrn(LocalResponseNorm());
  lrn(TensorFlowLocalResponseNorm());
  lrn(PyTorchLocalResponseNorm({.size = 5}));
  lrn(CaffeLocalResponseNorm());
  lrn(WolframLocalResponseNorm());
  lrn(OnnxLocalResponseNorm({.size = 5}));
  lrn(OneDnnLocalResponseNorm());
  lrn(MxnetLocalResponseNorm({.nsize = 5}));
  register_layer_type(layer_type<LocallyConnected1D>("LocallyConnected1D", LocallyConnected1D::Config::kDoc));
  register_layer_type(layer_type<LocallyConnected2D>("LocallyConnected2D", LocallyConnected2D::Config::kDoc));
  auto bn = [](auto... layer) {
    (register_layer_type(layer_type<decltype(layer)>(decltype(layer)::Config::kType, decltype(layer)::Config::kDoc)),
     ...);
  };
  bn(BatchNorm1D(), BatchNorm2D(), BatchNorm3D(), PyTorchBatchNorm1D({.num_features = 1}),
     PyTorchBatchNorm2D({.num_features = 1}), PyTorchBatchNorm3D({.num_features = 1}), KerasBatchNorm1D(),
     KerasBatchNorm2D(), KerasBatchNorm3D(), CaffeBatchNorm1D(), CaffeBatchNorm2D(), CaffeBatchNorm3D());
  register_layer_type(layer_type<Conv2D>("Conv2D", Conv2D::Config::kDoc));
  register_layer_type(layer_type<MaxPooling2D>("MaxPooling2D", "Max over 2D windows (Keras; TensorFlow 'same')."));
  register_layer_type(layer_type<AveragePooling2D>(
      "AveragePooling2D", "Mean over 2D windows (Keras; 'same' leaves padding out of the count)."));
  register_layer_type(layer_type<GlobalAveragePooling2D>("GlobalAveragePooling2D",
                                                         "Mean over rows and cols per channel (Keras)."));
  register_layer_type(layer_type<Dropout>("Dropout", "Inverted dropout in training, identity in inference (Keras)."));
  register_layer_type(layer_type<Reshape>("Reshape", "Reshapes every axis but the batch; one entry may be -1."));
}

void ensure_builtin() {
  static std::once_flag once;
  std::call_once(once, register_builtin);
}

}  // namespace

void register_layer_type(LayerType t) {
  std::string key = t.type;
  table().insert_or_assign(std::move(key), std::move(t));
}

const LayerType& find_layer_type(std::string_view type) {
  ensure_builtin();
  auto it = table().find(type);
  if (it == table().end())
    raise<ConfigError>("unknown layer type '{}'; expected one of: {}", type, fmt::join(layer_type_names(), ", "));
  return it->second;
}

std::vector<std::string> layer_type_names() {
  ensure_builtin();
  std::vector<std::string> names;
  for (const auto& [k, v] : table()) names.push_back(k);
  return names;
}

std::unique_ptr<Layer> make_layer(const Call& call) {
  ensure_builtin();
  auto it = table().find(call.type);
  if (it == table().end())
    raise<ConfigError>("{}: unknown layer type '{}'; expected one of: {}", detail::where("spec", call.column),
                       call.type, fmt::join(layer_type_names(), ", "));
  return it->second.make(call);
}

}  // namespace locnet
