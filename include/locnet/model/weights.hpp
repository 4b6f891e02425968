// Saving and loading a model's parameters and buffers as safetensors, keyed "<layer name>.<param name>"
// (e.g. "fc.kernel"). Loading is strict: a missing, extra or mis-shaped key is a FormatError naming the key and
// both shapes; values are converted to the model's dtype. The model must be built.
#pragma once
#include <map>
#include <string>

#include "locnet/io/safetensors.hpp"
#include "locnet/model/sequential.hpp"

namespace locnet {

TensorFile model_weights(Sequential& model);
void load_weights(Sequential& model, const TensorFile& file);
void save_weights(Sequential& model, const std::string& path, std::map<std::string, std::string> metadata = {});
void load_weights(Sequential& model, const std::string& path);

}  // namespace locnet
