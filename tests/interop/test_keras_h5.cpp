// Keras 2 .h5 import (include/locnet/interop/keras_h5.hpp).
// The files in tests/interop/keras_h5/ are REAL Keras files (written by Keras 2.0.8, 2.1.3 and tf.keras 2.2.4-tf;
// tests/interop/keras_h5/README.md says where each comes from). The expected parameter counts are Keras's
// model.summary() counts, computed from the weight shapes stored in each file (listed beside each test).
// The configs in the error tests are synthetic JSON written here.
#include <gtest/gtest.h>

#include <cmath>

#include "expect_error.hpp"
#include "locnet/interop/keras_h5.hpp"
#include "locnet/io/npy.hpp"
#include "interop/npy_reference.hpp"

using namespace locnet;

namespace {

const std::string kDir = std::string(LOCNET_SOURCE_DIR) + "/tests/interop/keras_h5/";

std::vector<std::string> layer_names(const Model& m) {
  std::vector<std::string> out;
  for (size_t i = 0; i < m.size(); ++i) out.push_back(m.layer(i).name());
  return out;
}

TEST(KerasH5, SequentialWithBatchNormKeras213) {
  // conv2d_1 3*3*3*1 + 1, batch_normalization_1 4 (2 moving), conv2d_2 3*3*1*1 + 1, dense_1 36 + 1.
  KerasModel k = load_keras_h5(kDir + "dl4j_cnn_batch_norm.h5");
  EXPECT_EQ(k.keras_version, "2.1.3");
  EXPECT_EQ(k.backend, "tensorflow");
  EXPECT_EQ(layer_names(k.model), (std::vector<std::string>{"conv2d_1", "batch_normalization_1", "activation_1",
                                                             "conv2d_2", "flatten_1", "dense_1"}));
  EXPECT_EQ(k.model.param_count(), 77);
  EXPECT_EQ(k.model.buffer_count(), 2);
  EXPECT_EQ(*k.model.input_shape(), Shape({-1, 10, 10, 3})) << k.model.summary();
  EXPECT_EQ(k.model.output_shape(), Shape({-1, 1})) << k.model.summary();
  const Tensor in_file = Hdf5File(kDir + "dl4j_cnn_batch_norm.h5").dataset("/model_weights/dense_1/dense_1/kernel:0");
  int found = 0;  // the parameter holds the file's values
  for (auto& [name, p] : k.model.named_params())
    if (name == "dense_1.kernel") {
      ++found;
      EXPECT_EQ(std::vector<float>(p->value.span<float>().begin(), p->value.span<float>().end()),
                std::vector<float>(in_file.span<float>().begin(), in_file.span<float>().end()));
    }
  EXPECT_EQ(found, 1);
}

TEST(KerasH5, FunctionalLocallyConnectedMixedDataFormats) {
  // tf.keras 2.2.4-tf, LocallyConnected2D channels_first between channels_last layers:
  // 64*27*4 + 8*8*4 = 7168 and 66*81*4 + 11*6*4 = 21648.
  KerasModel k = load_keras_h5(kDir + "cnn2d_32.h5");
  EXPECT_EQ(k.keras_version, "2.2.4-tf");
  EXPECT_EQ(k.model.param_count(), 7168 + 21648) << k.model.summary();
  EXPECT_EQ(k.model.buffer_count(), 0);
  EXPECT_EQ(k.model.node_name(k.model.inputs()[0]), "input_33");
  EXPECT_EQ(k.model.layer(0).name(), "locally_connected2d");
}

TEST(KerasH5, FunctionalLocallyConnectedChannelsLast) {
  // 64*27*4 + 8*8*4 = 7168 and 121*36*4 + 11*11*4 = 17908.
  KerasModel k = load_keras_h5(kDir + "cnn2d_92.h5");
  EXPECT_EQ(k.model.param_count(), 7168 + 17908) << k.model.summary();
  EXPECT_EQ(k.model.output_shape(), Shape({-1, 4})) << k.model.summary();
}

TEST(KerasH5, ArchitectureJsonAndWeightsFileKeras208) {
  // Dense 16*64+64, 64*32+32, 32*32+32, 32*5+5 and four BatchNormalization (gamma, beta trainable; 2 moving).
  KerasModel k = load_keras_json(kDir + "hls4ml_KERAS_3layer_batch_norm.json",
                                 kDir + "hls4ml_KERAS_3layer_batch_norm_weights.h5");
  EXPECT_EQ(k.keras_version, "2.0.8");
  EXPECT_EQ(k.model.param_count(), 1088 + 2080 + 1056 + 165 + 2 * (64 + 32 + 32 + 5));
  EXPECT_EQ(k.model.buffer_count(), 2 * (64 + 32 + 32 + 5));
  EXPECT_EQ(k.model.output_shape(), Shape({-1, 5}));
}

// Outputs against tests/interop/keras_h5/reference.py: NumPy, float64, from Keras's documented semantics and the
// file's weights (not Keras's own outputs); locnet computes in float32.
void expect_matches_reference(Model model, const std::string& name) {
  expect_matches_npy_reference(model, kDir + name);
}

TEST(KerasH5, OutputsMatchTheNumPyReference) {
  expect_matches_reference(load_keras_h5(kDir + "dl4j_cnn_batch_norm.h5").model, "dl4j_cnn_batch_norm");
  expect_matches_reference(load_keras_json(kDir + "hls4ml_KERAS_3layer_batch_norm.json",
                                           kDir + "hls4ml_KERAS_3layer_batch_norm_weights.h5")
                               .model,
                           "hls4ml_KERAS_3layer_batch_norm");
  expect_matches_reference(load_keras_h5(kDir + "cnn2d_32.h5").model, "cnn2d_32");
  expect_matches_reference(load_keras_h5(kDir + "cnn2d_92.h5").model, "cnn2d_92");
}

TEST(KerasH5, WeightsFileWithoutItsArchitectureIsRefused) {
  EXPECT_THROW_MSG(load_keras_h5(kDir + "hls4ml_KERAS_3layer_batch_norm_weights.h5"), FormatError,
                   "hls4ml_KERAS_3layer_batch_norm_weights.h5: not a Keras model file (no model_config");
  EXPECT_THROW_MSG(load_keras_h5(kDir + "hls4ml_KERAS_3layer_batch_norm.json"), FormatError, "not an HDF5 file");
}

std::string sequential(const std::string& layer) {
  return R"({"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {"name": "d", "units": 2,
            "batch_input_shape": [null, 3]}}, )" + layer + "]}";
}

TEST(KerasH5, UnsupportedClassesAndOptionsNameTheLayer) {
  EXPECT_THROW_MSG(keras_model_from_json(sequential(R"({"class_name": "LSTM", "config": {"name": "rnn"}})"), "t"),
                   ConfigError, "Keras layer 'rnn' (LSTM): unsupported class");
  EXPECT_THROW_MSG(
      keras_model_from_json(sequential(R"({"class_name": "Dense", "config": {"name": "e", "units": 2,
                                           "frobnicate": 1}})"), "t"),
      ConfigError, "Keras layer 'e' (Dense): ");
  EXPECT_THROW_MSG(
      keras_model_from_json(sequential(R"({"class_name": "Dense", "config": {"name": "e", "units": 2,
                                           "frobnicate": 1}})"), "t"),
      ConfigError, "frobnicate");
  EXPECT_THROW_MSG(
      keras_model_from_json(sequential(R"({"class_name": "Dense", "config": {"name": "h", "units": 2,
                                           "dtype": "float16"}})"), "t"),
      ConfigError, "Keras layer 'h' (Dense): option 'dtype' must be float32, got \"float16\"");
  EXPECT_THROW_MSG(keras_model_from_json(sequential(R"({"class_name": "Flatten", "config": {"name": "f",
                                                        "data_format": "channels_first"}})"), "t"),
                   ConfigError, "Keras layer 'f' (Flatten): ");
  EXPECT_THROW_MSG(keras_model_from_json(R"({"class_name": "Sequential", "config": [{"class_name": "Dense",
                                             "config": {"name": "d", "units": 2}}]})", "t"),
                   ConfigError, "Keras layer 'd' (Dense): the input shape (batch_input_shape) is missing");
  EXPECT_THROW_MSG(keras_model_from_json("{not json", "cfg.json"), FormatError, "cfg.json: the model config must be");
  EXPECT_THROW_MSG(keras_model_from_json(R"({"class_name": "Subclassed", "config": {}})", "t"), ConfigError,
                   "Keras model class must be Sequential or Model, got \"Subclassed\"");
}

TEST(KerasH5, FunctionalGraphErrors) {
  const std::string head = R"({"class_name": "Model", "config": {"input_layers": [["in", 0, 0]],
      "output_layers": [["d", 0, 0]], "layers": [{"class_name": "InputLayer", "name": "in",
      "config": {"name": "in", "batch_input_shape": [null, 3]}, "inbound_nodes": []}, )";
  EXPECT_THROW_MSG(keras_model_from_json(head + R"({"class_name": "Dense", "name": "d", "config": {"units": 2},
      "inbound_nodes": [[["in", 0, 0, {}]], [["in", 0, 0, {}]]]}]}})", "t"),
                   ConfigError, "Keras layer 'd' (Dense): inbound_nodes must hold one call (shared layers");
  EXPECT_THROW_MSG(keras_model_from_json(head + R"({"class_name": "Dense", "name": "d", "config": {"units": 2},
      "inbound_nodes": [[["x", 0, 0, {}]]]}]}})", "t"),
                   ConfigError, "inbound layer '\"x\"' is not defined before it");
  Model m = keras_model_from_json(head + R"({"class_name": "Dense", "name": "d", "config": {"units": 2},
      "inbound_nodes": [[["in", 0, 0, {}]]]}]}})", "t");
  EXPECT_EQ(m.node_name(m.outputs()[0]), "d");
}

}  // namespace
