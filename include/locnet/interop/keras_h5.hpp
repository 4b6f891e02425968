// Keras 2 and Keras 3 files -> locnet models (docs/keras-import.md).
//   load_keras(path): a .keras archive (the file starts with a zip signature) or else an .h5 file.
//   load_keras_archive(path) / parse_keras_archive(bytes, where): a Keras 3 .keras zip (model.save("m.keras")):
//     config.json (Keras 3's serialized model), metadata.json (keras_version) and model.weights.h5, read from
//     memory; each member at most the size its zip entry announces, which must be within kMaxTextFileBytes
//     (JSON) or max_tensor_bytes() (the weights, and the archive itself). A layer's variables are
//     /layers/<snake_case class>[_<k>]/vars/<i> (Keras's saving_lib: the k-th layer of a class in config order,
//     InputLayers aside); the i-th is the locnet layer's i-th parameter, params() then buffers(), which is
//     Keras's order (trainable then non-trainable variables; BatchNormalization: gamma, beta, moving_mean,
//     moving_variance). A missing, extra or mis-shaped variable is a FormatError naming the layer.
//   load_keras_h5(path): a whole model saved with Keras 2's model.save: the root attribute model_config (the
//     architecture JSON) and the weights under /model_weights.
//   load_keras_json(json_path, weights_path): model.to_json() text and a model.save_weights() .h5 (weights at the
//     root).
// Keras 3 configs (in .keras archives and in Keras 3's legacy .h5) are read too: DTypePolicy dtypes, InputLayer's
// batch_shape, inbound_nodes as {"args", "kwargs"} with __keras_tensor__ inputs. A custom object (a module outside
// Keras or a registered_name other than the class) or a nested model is a ConfigError naming it.
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
#include <cstddef>
#include <span>
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

KerasModel load_keras(const std::string& path);
KerasModel load_keras_archive(const std::string& path);
KerasModel parse_keras_archive(std::span<const std::byte> bytes, const std::string& where);
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
