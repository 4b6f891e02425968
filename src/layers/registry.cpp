#include "locnet/layers/registry.hpp"

#include <algorithm>

#include "locnet/layers/activations.hpp"
#include "locnet/layers/batch_norm.hpp"
#include "locnet/layers/conv.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/layers/dropout.hpp"
#include "locnet/layers/locally_connected.hpp"
#include "locnet/layers/lrn.hpp"
#include "locnet/layers/merge.hpp"
#include "locnet/layers/normalization.hpp"
#include "locnet/layers/pooling.hpp"
#include "locnet/layers/reshape.hpp"
#include "locnet/layers/spatial_ops.hpp"

namespace locnet {

// One line per layer type.
void declare_layers(Catalog& c) {
  c.add(layer_entry<Dense>());
  c.add(layer_entry<Activation>());
  c.add(layer_entry<Flatten>());
  c.add(layer_entry<LocalResponseNorm>());
  c.add(layer_entry<TensorFlowLocalResponseNorm>());
  c.add(layer_entry<PyTorchLocalResponseNorm>());
  c.add(layer_entry<CaffeLocalResponseNorm>());
  c.add(layer_entry<WolframLocalResponseNorm>());
  c.add(layer_entry<OnnxLocalResponseNorm>());
  c.add(layer_entry<OneDnnLocalResponseNorm>());
  c.add(layer_entry<MxnetLocalResponseNorm>());
  c.add(layer_entry<LocallyConnected1D>());
  c.add(layer_entry<LocallyConnected2D>());
  c.add(layer_entry<BatchNorm1D>());
  c.add(layer_entry<BatchNorm2D>());
  c.add(layer_entry<BatchNorm3D>());
  c.add(layer_entry<PyTorchBatchNorm1D>());
  c.add(layer_entry<PyTorchBatchNorm2D>());
  c.add(layer_entry<PyTorchBatchNorm3D>());
  c.add(layer_entry<KerasBatchNorm1D>());
  c.add(layer_entry<KerasBatchNorm2D>());
  c.add(layer_entry<KerasBatchNorm3D>());
  c.add(layer_entry<CaffeBatchNorm1D>());
  c.add(layer_entry<CaffeBatchNorm2D>());
  c.add(layer_entry<CaffeBatchNorm3D>());
  c.add(layer_entry<Conv2D>());
  c.add(layer_entry<MaxPooling2D>());
  c.add(layer_entry<AveragePooling2D>());
  c.add(layer_entry<GlobalAveragePooling2D>());
  c.add(layer_entry<Dropout>());
  c.add(layer_entry<Normalization>());
  c.add(layer_entry<Reshape>());
  c.add(layer_entry<MaxPooling1D>());
  c.add(layer_entry<AveragePooling1D>());
  c.add(layer_entry<GlobalMaxPooling1D>());
  c.add(layer_entry<GlobalMaxPooling2D>());
  c.add(layer_entry<GlobalAveragePooling1D>());
  c.add(layer_entry<ZeroPadding1D>());
  c.add(layer_entry<ZeroPadding2D>());
  c.add(layer_entry<Cropping1D>());
  c.add(layer_entry<Cropping2D>());
  c.add(layer_entry<UpSampling1D>());
  c.add(layer_entry<UpSampling2D>());
  c.add(layer_entry<Permute>());
  c.add(layer_entry<RepeatVector>());
  c.add(layer_entry<Identity>());
  c.add(layer_entry<Conv1D>());
  c.add(layer_entry<DepthwiseConv2D>());
  c.add(layer_entry<Concatenate>());
  c.add(layer_entry<Add>());
  c.add(layer_entry<Subtract>());
  c.add(layer_entry<Multiply>());
  c.add(layer_entry<Average>());
  c.add(layer_entry<Maximum>());
  c.add(layer_entry<Minimum>());
  c.add(layer_entry<Dot>());
  c.add(layer_entry<Softmax>());
  c.add(layer_entry<ReLU>());
  c.add(layer_entry<LeakyReLU>());
  c.add(layer_entry<PReLU>());
  c.add(layer_entry<ELU>());
  c.add(layer_entry<ThresholdedReLU>());
  c.add(layer_entry<SpatialDropout1D>());
  c.add(layer_entry<SpatialDropout2D>());
  c.set_reader(Kind::layer, [](const Value& v, std::string_view where) -> std::unique_ptr<CatalogObject> {
    if (v.kind() != Value::Kind::Call)
      raise<ConfigError>("{}: a layer must be a call such as Dense(10), got {}", where, v.repr());
    return make_layer(v.call());
  });
}

const CatalogEntry& find_layer_type(std::string_view type) {
  if (const CatalogEntry* e = catalog().find(Kind::layer, type)) return *e;
  raise<ConfigError>("unknown layer type '{}'; expected one of: {}", type, fmt::join(layer_type_names(), ", "));
}

std::vector<std::string> layer_type_names() {
  std::vector<std::string> names = catalog().names(Kind::layer);
  std::sort(names.begin(), names.end());
  return names;
}

std::unique_ptr<Layer> make_layer(const Call& call) {
  const CatalogEntry* e = catalog().find(Kind::layer, call.type);
  if (!e)
    raise<ConfigError>("{}: unknown layer type '{}'; expected one of: {}", detail::where("spec", call.column),
                       call.type, fmt::join(layer_type_names(), ", "));
  return Catalog::make_as<Layer>(*e, call);
}

namespace detail {

std::string layer_name(const Call& call) {
  const Value* v = call.kwarg("name");
  if (!v || v->is_none()) return {};
  if (v->kind() != Value::Kind::Str) bad_argument_type(where(call.type, call.column), "name", "string or None", *v);
  return v->as_str();
}

std::unique_ptr<Layer> with_layer_options(std::unique_ptr<Layer> layer, const Call& call) {
  if (const Value* v = call.kwarg("optimizer")) layer->set_optimizer(*v);
  if (const Value* v = call.kwarg("trainable")) {
    if (v->kind() != Value::Kind::Bool) bad_argument_type(where(call.type, call.column), "trainable", "bool", *v);
    layer->set_trainable(v->as_bool());
  }
  return layer;
}

void add_layer_options(std::vector<FieldDoc>& options) {
  options.push_back({"name", "string or None", "None",
                     "Layer name: a string, a format string such as \"fc{}\" (filled with the layer's index), or None "
                     "for <type>_<n>.",
                     false});
  options.push_back({"optimizer", "optimizer spec or None", "None",
                     "This layer's own optimizer, e.g. SGD(0.1) (numpy-ml's optimizer=); None uses the model's.",
                     false});
  options.push_back({"trainable", "bool", "True",
                     "False freezes the layer: no optimizer updates its parameters (numpy-ml, Keras); a BatchNorm "
                     "also normalizes with its running statistics.",
                     false});
}

}  // namespace detail
}  // namespace locnet
