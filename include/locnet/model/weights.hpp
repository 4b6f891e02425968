// Saving and loading a model's parameters and buffers as safetensors, keyed "<layer name>.<param name>"
// (e.g. "fc.kernel"). Loading is strict: a missing, extra or mis-shaped key is a FormatError naming the key and
// both shapes (and, for a LocallyConnected kernel of another Keras implementation's shape, which one and how to
// load it); values are converted to the model's dtype. The model must be built. A parameter may also come
// under one of its aliases, "<layer>.<alias>" (Param::aliases: e.g. a PyTorch BatchNorm's "bn.running_var"), but
// only once. A counter (Param::counter: PyTorch's num_batches_tracked) may be absent (it becomes 0), may have
// shape (1,) or () and may be stored as I64; it must hold an integer >= 0. I64 anywhere else is a FormatError.
// A LocallyConnected layer with implementation=2|3 has its kernel in that Keras layout in the file, both ways
// (include/locnet/layers/locally_connected_keras.hpp).
#pragma once
#include <map>
#include <string>

#include "locnet/io/safetensors.hpp"
#include "locnet/model/sequential.hpp"

namespace locnet {

TensorFile model_weights(Model& model);
void load_weights(Model& model, const TensorFile& file);
void save_weights(Model& model, const std::string& path, std::map<std::string, std::string> metadata = {});
void load_weights(Model& model, const std::string& path);

}  // namespace locnet
