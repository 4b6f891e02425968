// `locnet summary MODEL.h5` on a real Keras 2.1.3 file (tests/interop/keras_h5/README.md): Keras's layer names and
// parameter counts (computed from the file's weight shapes). `locnet predict` on every real Keras file there
// against the committed NumPy reference (tests/interop/keras_h5/reference.py: float64 from Keras's documented
// semantics, not Keras's own outputs), and on the synthetic files of tests/interop/keras2_synthetic/.
#include <gtest/gtest.h>

#include <cmath>

#include "cli/cli_run.hpp"
#include "locnet/io/npy.hpp"
#include "temp_dir.hpp"

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

using CliKerasPredict = locnet::testing::TempDirTest;

void expect_close(const locnet::Tensor& got, const locnet::Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  for (int64_t i = 0; i < want.numel(); ++i)
    EXPECT_NEAR(got.item(i), want.item(i), 1e-5 * std::abs(want.item(i)) + 1e-6) << what << " element " << i;
}

TEST_F(CliKerasPredict, RealKerasFilesMatchTheNumPyReference) {
  for (const char* name : {"dl4j_cnn_batch_norm", "cnn2d_32", "cnn2d_92"}) {
    CliRun r = run({"predict", kDir + name + ".h5", "--input", kDir + name + "_x.npy", "--output", path("y.npy")});
    ASSERT_EQ(r.status, 0) << name << "\n" << r.out;
    expect_close(locnet::read_npy(path("y.npy")), locnet::read_npy(kDir + name + "_y.npy"), name);
  }
  const std::string hls = kDir + "hls4ml_KERAS_3layer_batch_norm";
  CliRun r = run({"predict", hls + ".json", "--weights", hls + "_weights.h5", "--input", hls + "_x.npy", "--output",
                  path("y.npy")});
  ASSERT_EQ(r.status, 0) << r.out;
  expect_close(locnet::read_npy(path("y.npy")), locnet::read_npy(hls + "_y.npy"), "hls4ml");
}

TEST_F(CliKerasPredict, SyntheticKerasFilesAndErrors) {
  const std::string dir = std::string(LOCNET_SOURCE_DIR) + "/tests/interop/keras2_synthetic/";
  for (const char* name : {"lc2d_impl2", "lc1d_impl3"}) {  // rank-4 and rank-3 outputs, written as they are
    CliRun r = run({"predict", dir + name + ".h5", "--input", dir + name + "_x.npy", "--output", path("y.npy")});
    ASSERT_EQ(r.status, 0) << name << "\n" << r.out;
    expect_close(locnet::read_npy(path("y.npy")), locnet::read_npy(dir + name + "_y.npy"), name);
  }
  CliRun no_weights = run({"predict", kDir + "hls4ml_KERAS_3layer_batch_norm.json", "--input",
                           kDir + "hls4ml_KERAS_3layer_batch_norm_x.npy", "--output", path("y.npy")});
  EXPECT_NE(no_weights.status, 0);
  EXPECT_NE(no_weights.out.find("needs --weights FILE.h5"), std::string::npos) << no_weights.out;
  CliRun weights_only = run({"predict", kDir + "hls4ml_KERAS_3layer_batch_norm_weights.h5", "--input",
                             kDir + "hls4ml_KERAS_3layer_batch_norm_x.npy", "--output", path("y.npy")});
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
