// `locnet summary MODEL.h5` on a real Keras 2.1.3 file (tests/interop/keras_h5/README.md): Keras's layer names and
// parameter counts (computed from the file's weight shapes).
#include <gtest/gtest.h>

#include "cli/cli_run.hpp"

namespace {

const std::string kDir = std::string(LOCNET_SOURCE_DIR) + "/tests/interop/keras_h5/";

TEST(CliKeras, SummaryOfAKerasH5File) {
  CliRun r = run({"summary", kDir + "dl4j_cnn_batch_norm.h5"});
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* s : {"conv2d_1 (Conv2D)", "batch_normalization_1 (BatchNorm1D.keras)", "dense_1 (Dense)",
                        "Total params: 79", "Trainable params: 77", "Non-trainable params: 2"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  CliRun weights_only = run({"summary", kDir + "hls4ml_KERAS_3layer_batch_norm_weights.h5"});
  EXPECT_EQ(weights_only.status, 3) << weights_only.out;
  EXPECT_NE(weights_only.out.find("not a Keras model file"), std::string::npos) << weights_only.out;
}

TEST(CliKeras, SummaryOfAKeras3Archive) {  // the synthetic file of tests/interop/keras3/generate.py
  CliRun r = run({"summary", std::string(LOCNET_SOURCE_DIR) + "/tests/interop/keras3/functional.keras"});
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* s : {"bn (BatchNorm1D.keras)", "cat (Concatenate)", "head (Dense)"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
}

}  // namespace
