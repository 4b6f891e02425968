// Inside the Keras importer (include/locnet/interop/keras_h5.hpp): the model config as JSON, shared by the .h5
// reader (src/interop/keras_h5.cpp) and the .keras reader (src/interop/keras_archive.cpp).
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "locnet/model/model.hpp"

namespace locnet {

// Keras 2 or Keras 3 config text -> the Keras 2 form (src/interop/keras3_config.cpp): Keras 3's dtype policies
// become their name, InputLayer's batch_shape becomes batch_input_shape, inbound_nodes in the {"args", "kwargs"}
// form become [[name, node, tensor, {}], ...], a single input_layers/output_layers entry becomes a list of one,
// Keras 3's empty extras (lora_rank: null, synchronized: false, ...) are dropped. ConfigError for custom objects
// and nested models; FormatError "<where>: ..." for text that is not a model config.
nlohmann::json keras_config(std::string_view text, const std::string& where);
// The (name, class_name) of each layer of a config that keras_model_from_config accepted, in config order.
std::vector<std::pair<std::string, std::string>> keras_layers(const nlohmann::json& config, const std::string& where);
// The architecture of a config in the Keras 2 form, not built (this and keras_layers: src/interop/keras_h5.cpp).
Model keras_model_from_config(const nlohmann::json& config, const std::string& where);
// Keras's naming.to_snake_case: "BatchNormalization" -> "batch_normalization", "Conv2D" -> "conv2d".
std::string keras_snake_case(const std::string& class_name);

}  // namespace locnet
