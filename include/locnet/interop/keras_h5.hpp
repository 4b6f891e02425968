// Keras 2 .h5 files -> locnet models (docs/keras-import.md).
//   load_keras_h5(path): a whole model saved with Keras 2's model.save: the root attribute model_config (the
//     architecture JSON) and the weights under /model_weights.
//   load_keras_json(json_path, weights_path): model.to_json() text and a model.save_weights() .h5 (weights at the
//     root).
// Sequential (a list of layers, or {"layers": [...]}) and functional Model configs (layers[*].inbound_nodes, each
// layer called once) are supported. Node names are the Keras layer names; a Keras class becomes the locnet type of
// the same name (BatchNormalization: BatchNorm1D.keras, which takes any rank with its axis) and its config keys
// become the options of the same name. Initializers are dropped (the weights come from the file); a dtype other
// than float32, shared layers and call arguments are refused.
// Weights: /<root>/<layer>/<name> for each name of the layer's weight_names attribute, loaded as
// "<layer>.<last path part without :0>" with model/weights.hpp's strict checks.
// Keras versions: a file's keras_version from 2.1.3 to 2.3.1 (multi-backend Keras, not tf.keras's "-tf") gives
// its BatchNormalization layers keras2_variance_scale=True (their moving-variance update, docs/batch_norm.md).
// Errors: FormatError naming the file for HDF5 or JSON that cannot be read; ConfigError
// "Keras layer '<name>' (<class>): ..." for an unsupported class or option, naming it.
#pragma once
#include <string>
#include <string_view>

#include "locnet/io/hdf5.hpp"
#include "locnet/model/model.hpp"

namespace locnet {

struct KerasModel {
  Model model;                // built (f32) and loaded
  std::string keras_version;  // the file's keras_version attribute ("" when absent)
  std::string backend;        // likewise
};

KerasModel load_keras_h5(const std::string& path);
KerasModel load_keras_h5(const Hdf5File& file);  // an open file (or file image)
KerasModel load_keras_json(const std::string& json_path, const std::string& weights_path);

// The architecture alone (not built): `json` is model_config / model.to_json() text, `where` names it in errors.
Model keras_model_from_json(std::string_view json, const std::string& where);
// Whether Keras `version` scaled the batch variance by m / (m - (1 + epsilon)) in BatchNormalization training.
bool keras_scales_batch_variance(std::string_view version);
// `config` (model_config JSON) with that version's rules set as options (keras2_variance_scale); unchanged when
// it has none or is not a model config (keras_model_from_json reports that).
std::string keras_config_for_version(std::string_view config, std::string_view version);
// Loads the weights of every layer under `root` ("/model_weights" or "/") into the built model.
void load_keras_weights(Model& model, const Hdf5File& file, const std::string& root);

}  // namespace locnet
