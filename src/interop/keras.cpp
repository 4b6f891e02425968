#include "locnet/interop/keras.hpp"

#include "locnet/layers/locally_connected_keras.hpp"

namespace locnet {

TensorFile keras_weights_to_impl1(Sequential& model, TensorFile file, int implementation) {
  if (implementation < 1 || implementation > 3)
    raise<ConfigError>("Keras LocallyConnected: implementation must be 1, 2 or 3, got {}", implementation);
  if (implementation == 1) return file;
  if (!model.built()) raise<ConfigError>("Keras weights: the model must be built, got an unbuilt model");
  for (size_t i = 0; i < model.size(); ++i) {
    auto* lc = dynamic_cast<LocallyConnectedBase*>(&model.layer(i));
    if (!lc) continue;
    const std::string key = lc->name() + ".kernel";
    if (int own = lc->spec().implementation; own != 1) {
      if (own != implementation)
        raise<ConfigError>("Keras weights: layer '{}' says implementation={}, so its kernel must be read as "
                           "implementation {}, got {} for the file",
                           lc->name(), own, own, implementation);
      continue;  // load_weights converts it
    }
    for (auto& [name, t] : file.tensors) {
      if (name != key) continue;
      const LocallyConnectedGeometry& g = lc->geometry();
      Shape want = keras_kernel_shape(g, implementation);
      if (t.shape() != want)
        raise<FormatError>("weights: key '{}' (Keras implementation {}) must have shape {}, got {}{}", key,
                           implementation, want.str(), t.shape().str(),
                           keras_layout_hint(g, implementation, t.shape()));
      DType dt = t.dtype();
      t = (implementation == 2 ? keras_impl2_to_impl1(g, t) : keras_impl3_to_impl1(g, t)).to(dt);
    }
  }
  return file;
}

}  // namespace locnet
