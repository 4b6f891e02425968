// Keras files -> locnet models. Today: weight files saved from Keras with LocallyConnected implementation 2 or 3;
// the importers of Keras's own file formats extend this module. The per-kernel layout conversions are the layer's
// (include/locnet/layers/locally_connected_keras.hpp), since a layer may keep its kernel in Keras's layout.
#pragma once
#include "locnet/io/safetensors.hpp"
#include "locnet/model/sequential.hpp"

namespace locnet {

// A weight file saved from Keras with the given implementation, with the "<layer>.kernel" of every
// LocallyConnected layer of the (built) model converted to implementation 1; other entries are unchanged, and
// a kernel that is absent is left for load_weights to report. implementation 1 returns the file as it is.
// A layer that sets its own implementation= (2 or 3) is left for load_weights, which converts its kernel from that
// layout; ConfigError if `implementation` (other than 1) contradicts it.
// ConfigError for an implementation other than 1, 2, 3; FormatError naming the key for a mis-shaped kernel.
TensorFile keras_weights_to_impl1(Sequential& model, TensorFile file, int implementation);

}  // namespace locnet
