// Keras 3 import (include/locnet/interop/keras_h5.hpp): .keras archives and Keras 3's legacy .h5.
// The files in tests/interop/keras3/ are SYNTHETIC (Keras is not installed): tests/interop/keras3/generate.py writes
// them in exactly Keras 3's layout with seeded random weights, and the *_y.npy outputs are NumPy float64 computed
// from Keras's documented layer semantics, not Keras's own outputs. The configs in the error tests are synthetic
// JSON written here.
#include <gtest/gtest.h>

#include "expect_error.hpp"
#include "interop/keras_config.hpp"
#include "locnet/core/limits.hpp"
#include "locnet/interop/keras_h5.hpp"
#include "locnet/io/file.hpp"
#include "interop/npy_reference.hpp"

using namespace locnet;

namespace {

const std::string kDir = std::string(LOCNET_SOURCE_DIR) + "/tests/interop/keras3/";

void expect_matches_reference(Model& model, const std::string& name) {
  expect_matches_npy_reference(model, kDir + name);
}

TEST(KerasArchive, SequentialMatchesTheNumPyReference) {
  // dense 6*5 + 5, batch_normalization 2*5 (+ 2*5 moving), dense_1 5*3 + 3.
  KerasModel k = load_keras(kDir + "sequential.keras");
  EXPECT_EQ(k.keras_version, "3.3.3");
  EXPECT_EQ(k.model.param_count(), 35 + 10 + 18);
  EXPECT_EQ(k.model.buffer_count(), 10);
  EXPECT_EQ(k.model.node_name(k.model.inputs()[0]), "input_layer");
  expect_matches_reference(k.model, "sequential");
}

TEST(KerasArchive, FunctionalWithMergesAndBatchNormOnAxis1MatchesTheNumPyReference) {
  // The layers have their own names (bn, left, right, head) but the weights sit under their classes' names
  // (layers/batch_normalization, layers/dense, layers/dense_1, layers/dense_2), in config order.
  KerasModel k = load_keras_archive(kDir + "functional.keras");
  EXPECT_EQ(k.model.node_name(k.model.outputs()[0]), "head");
  EXPECT_EQ(k.model.param_count(), 6 + 2 * (15 * 4 + 4) + 8 * 2 + 2);
  expect_matches_reference(k.model, "functional");
}

TEST(KerasArchive, ParsesFromMemory) {
  const std::vector<std::byte> bytes = read_file(kDir + "sequential.keras");
  KerasModel k = parse_keras_archive(bytes, "in memory");
  expect_matches_reference(k.model, "sequential");
}

TEST(KerasH5, Keras3LegacyH5MatchesTheNumPyReference) {
  // Keras 3's model.save("m.h5"): weight_names without ":0", one with a scope prefix ("sequential/dense/kernel").
  KerasModel k = load_keras(kDir + "legacy.h5");
  EXPECT_EQ(k.keras_version, "3.3.3");
  EXPECT_EQ(k.backend, "tensorflow");
  EXPECT_EQ(k.model.param_count(), 2 * 2 * 2 * 3 + 3 + 2 * 3 + 48 * 2 + 2);
  expect_matches_reference(k.model, "legacy");
}

TEST(KerasArchive, BrokenArchivesAreFormatErrors) {
  EXPECT_THROW_MSG(load_keras_archive(kDir + "no_config.keras"), FormatError,
                   "no_config.keras: not a Keras 3 .keras archive (no config.json)");
  EXPECT_THROW_MSG(load_keras_archive(kDir + "missing_variable.keras"), FormatError,
                   "variable /layers/dense_1/vars/1 is missing: layer 'dense_1' (Dense) has 2 variable(s) "
                   "(kernel, bias)");
  EXPECT_THROW_MSG(load_keras_archive(kDir + "extra_variable.keras"), FormatError,
                   "/layers/dense/vars holds more variables than expected: layer 'dense' (Dense) has 2");
  EXPECT_THROW_MSG(load_keras_archive(kDir + "wrong_shape.keras"), FormatError, "dense.kernel");
  EXPECT_THROW_MSG(load_keras_archive(kDir + "not_hdf5.keras"), FormatError,
                   "not_hdf5.keras: model.weights.h5: not an HDF5 file");
  // A weights file whose BatchNormalization variable 3 claims compact storage of 0 bytes (a mutated file on which
  // HDF5 1.10.8 itself read through a null pointer): refused before HDF5 reads it.
  EXPECT_THROW_MSG(load_keras_archive(std::string(LOCNET_SOURCE_DIR) +
                                      "/tests/fuzz/regressions/keras/hdf5-compact-dataset-of-0-bytes.keras"),
                   FormatError,
                   "dataset /layers/batch_normalization/vars/3 stores 0 bytes, its shape and type need 12");
  EXPECT_THROW_MSG(load_keras_archive(kDir + "bomb.keras"), FormatError,
                   "bomb.keras: member config.json announces 25165824 bytes, more than the limit of 16777216");
  EXPECT_THROW_MSG(load_keras_archive(kDir + "lying_size.keras"), FormatError, "lying_size.keras: member config.json");
  EXPECT_THROW_MSG(load_keras(kDir + "sequential_x.npy"), FormatError, "not an HDF5 file");
  // Every truncation of a good archive is a FormatError (the zip's central directory sits at its end).
  const std::vector<std::byte> bytes = read_file(kDir + "sequential.keras");
  EXPECT_THROW_MSG(parse_keras_archive(std::span(bytes).first(0), "empty.keras"), FormatError,
                   "empty.keras: not a Keras 3 .keras archive (no config.json)");  // libzip: an empty archive
  for (size_t n : {size_t(4), size_t(100), bytes.size() / 2, bytes.size() - 1})
    EXPECT_THROW_MSG(parse_keras_archive(std::span(bytes).first(n), "cut.keras"), FormatError,
                     "cut.keras: not a readable zip archive");
}

TEST(KerasArchive, WeightsOverTheTensorLimitAreRefusedBeforeReading) {
  const uint64_t limit = max_tensor_bytes();
  set_max_tensor_bytes(4096);
  const std::vector<std::byte> bytes = read_file(kDir + "sequential.keras", uint64_t(1) << 20);
  EXPECT_THROW_MSG(parse_keras_archive(bytes, "m.keras"), FormatError,
                   "m.keras: member model.weights.h5 announces");
  set_max_tensor_bytes(limit);
}

TEST(KerasArchive, CustomObjectsAreConfigErrors) {
  EXPECT_THROW_MSG(load_keras_archive(kDir + "custom_object.keras"), ConfigError,
                   "Keras layer 'scale' (Scale): custom object Scale (module my_project.layers, registered_name "
                   "MyProject>Scale) is not supported");
  EXPECT_THROW_MSG(keras_model_from_json(R"({"module": "my_models", "class_name": "Net", "config": {},
                                             "registered_name": "Custom>Net"})", "t"),
                   ConfigError, "t: Keras model: custom object Net");
  // A custom regularizer inside a Keras layer's option.
  EXPECT_THROW_MSG(keras_model_from_json(R"({"class_name": "Sequential", "config": {"layers": [
      {"class_name": "InputLayer", "config": {"name": "in", "batch_shape": [null, 3]}},
      {"module": "keras.layers", "class_name": "Dense", "config": {"name": "d", "units": 2, "kernel_regularizer":
        {"module": "mine", "class_name": "Odd", "config": {}, "registered_name": "Custom>Odd"}}}]}})", "t"),
                   ConfigError, "Keras layer 'd' (Dense): option 'kernel_regularizer': custom object Odd");
}

std::string functional(const std::string& second) {
  return R"({"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
      "config": {"input_layers": [["in", 0, 0]], "output_layers": [["d", 0, 0]], "layers": [
      {"module": "keras.layers", "class_name": "InputLayer", "name": "in", "inbound_nodes": [],
       "config": {"name": "in", "batch_shape": [null, 3], "dtype": "float32", "sparse": false}}, )" +
         second + "]}}";
}

std::string dense_called_with(const std::string& call) {
  return R"({"module": "keras.layers", "class_name": "Dense", "name": "d", "config": {"name": "d", "units": 2},
             "inbound_nodes": [)" + call + "]}";
}

const std::string kInput = R"({"class_name": "__keras_tensor__", "config": {"keras_history": ["in", 0, 0]}})";

TEST(KerasH5, Keras3ConfigForms) {
  Model m = keras_model_from_json(functional(dense_called_with(R"({"args": [)" + kInput + R"(],
      "kwargs": {"mask": null}})")), "t");
  EXPECT_EQ(m.node_name(m.outputs()[0]), "d");
  EXPECT_EQ(*m.input_shape(), Shape({-1, 3}));
  EXPECT_THROW_MSG(keras_model_from_json(functional(dense_called_with(R"({"args": [)" + kInput + R"(],
      "kwargs": {"training": true}})")), "t"),
                   ConfigError, "Keras layer 'd' (Dense): call arguments (inbound node kwargs) are not supported, "
                                "got 'training'");
  EXPECT_THROW_MSG(keras_model_from_json(functional(dense_called_with(R"({"args": [)" + kInput + ", 1" + R"(]})")),
                                         "t"),
                   ConfigError, "Keras layer 'd' (Dense): inbound node args must hold the inputs alone");
  EXPECT_THROW_MSG(keras_model_from_json(functional(dense_called_with(R"({"args": [{"x": 1}]})")), "t"),
                   ConfigError, "an inbound node input must be a __keras_tensor__");
  EXPECT_THROW_MSG(keras_model_from_json(functional(dense_called_with(R"({"args": [)" + kInput + R"(]},
      {"args": [)" + kInput + "]}")), "t"),
                   ConfigError, "Keras layer 'd' (Dense): inbound_nodes must hold one call (shared layers");
  EXPECT_THROW_MSG(keras_model_from_json(functional(R"({"module": "keras", "class_name": "Sequential", "name": "s",
      "config": {"name": "s", "layers": []}, "inbound_nodes": []})"), "t"),
                   ConfigError, "Keras layer 's' (Sequential): nested models are not supported");
  EXPECT_THROW_MSG(keras_model_from_json(functional(R"({"class_name": "Dense", "name": "d", "config": {"name": "d",
      "units": 2, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_float16"}}},
      "inbound_nodes": [[["in", 0, 0, {}]]]})"), "t"),
                   ConfigError, "Keras layer 'd' (Dense): option 'dtype' must be float32, got \"mixed_float16\"");
  EXPECT_THROW_MSG(keras_model_from_json(functional(R"({"class_name": "Dense", "name": "d", "config": {"name": "d",
      "units": 2, "lora_rank": 4}, "inbound_nodes": [[["in", 0, 0, {}]]]})"), "t"),
                   ConfigError, "lora_rank");
}

TEST(KerasH5, ConfigOfTheWrongJsonTypeIsAFormatError) {
  // Found by mutating .keras configs: a Sequential config that is a number was read with json::value() (a
  // nlohmann::json exception, not a locnet error).
  EXPECT_THROW_MSG(keras_model_from_json(R"({"class_name": "Sequential", "config": 2147483648})", "t"), FormatError,
                   "t: a Sequential model must have layers");
}

TEST(KerasH5, KerasSnakeCaseMatchesKerasNaming) {
  EXPECT_EQ(keras_snake_case("BatchNormalization"), "batch_normalization");
  EXPECT_EQ(keras_snake_case("Conv2D"), "conv2d");
  EXPECT_EQ(keras_snake_case("MaxPooling2D"), "max_pooling2d");
  EXPECT_EQ(keras_snake_case("InputLayer"), "input_layer");
  EXPECT_EQ(keras_snake_case("ReLU"), "re_lu");
  EXPECT_EQ(keras_snake_case("Dense"), "dense");
}

}  // namespace
