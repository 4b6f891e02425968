// Keras 2 .h5 import on SYNTHETIC files (tests/interop/keras2_synthetic/generate.py): written with h5py in exactly
// the layout of Keras 2's model.save (that of the real files in tests/interop/keras_h5/), not by Keras. They cover
// what the real files do not: LocallyConnected1D/2D with implementation 1, 2 and 3 (each kernel in its own
// layout), channels_last and channels_first in one model, nonzero biases, BatchNormalization with axis -1 and 1
// on rank 2 and rank 4, Activation, Dropout, SpatialDropout2D, InputLayer. The references are NumPy float64
// outputs from Keras 2's documented computation of each implementation (not locnet's conversions).
#include <gtest/gtest.h>

#include <cmath>

#include "locnet/interop/keras_h5.hpp"
#include "locnet/io/npy.hpp"

using namespace locnet;

namespace {

const std::string kDir = std::string(LOCNET_SOURCE_DIR) + "/tests/interop/keras2_synthetic/";

void expect_matches_reference(const std::string& name) {
  KerasModel k = load_keras_h5(kDir + name + ".h5");
  EXPECT_EQ(k.keras_version, "2.3.1");
  const Tensor x = read_npy(kDir + name + "_x.npy").to(DType::f32);
  const Tensor want = read_npy(kDir + name + "_y.npy");
  const Tensor got = k.model.forward(x, Mode::Inference).to(DType::f64);
  ASSERT_EQ(got.shape(), want.shape()) << name;
  for (int64_t i = 0; i < want.numel(); ++i)
    EXPECT_NEAR(got.data<double>()[i], want.data<double>()[i], 1e-5 + 1e-5 * std::abs(want.data<double>()[i]))
        << name << " element " << i;
}

TEST(Keras2Synthetic, LocallyConnected2DEveryImplementationBothDataFormats) {
  for (const char* name : {"lc2d_impl1", "lc2d_impl2", "lc2d_impl3"}) expect_matches_reference(name);
}

TEST(Keras2Synthetic, LocallyConnected1DEveryImplementationBothDataFormats) {
  for (const char* name : {"lc1d_impl1", "lc1d_impl2", "lc1d_impl3"}) expect_matches_reference(name);
}

TEST(Keras2Synthetic, BatchNormalizationOnRank2WithAxisMinus1And1) { expect_matches_reference("bn_dense"); }

TEST(Keras2Synthetic, EveryImplementationHasTheSameParameterCount) {
  // Implementation 2 stores a dense (masked) kernel, but the layer holds implementation 1's: the counts agree.
  // lc_last: 3*5 positions, 3*2*2 taps, 3 filters + 3*5*3 bias = 585; lc_first: 4*2 positions, 3*2*2 taps,
  // 2 filters + 16 = 208; two BatchNormalization: 2*(3 + 2) trainable, 2*(3 + 2) moving.
  for (const char* name : {"lc2d_impl1", "lc2d_impl2", "lc2d_impl3"}) {
    KerasModel k = load_keras_h5(kDir + name + ".h5");
    EXPECT_EQ(k.model.param_count(), 585 + 208 + 10) << name << "\n" << k.model.summary();
    EXPECT_EQ(k.model.buffer_count(), 10) << name;
    EXPECT_EQ(k.model.node_name(k.model.inputs()[0]), "input_1");
  }
}

// The moving variance after one training step, by hand: Keras 2.1.3 stores var m / (m - (1 + epsilon)) (its
// keras/layers/normalization.py), tf.keras 2.2.4-tf the biased batch variance var; both with momentum 0.99.
void expect_one_training_step(const std::string& version, bool scaled) {
  const std::string path = kDir + "bn_train_" + version + ".h5";
  KerasModel k = load_keras_h5(path);
  EXPECT_EQ(k.keras_version, version);
  EXPECT_EQ(keras_scales_batch_variance(version), scaled);
  const Hdf5File file(path);
  const Tensor r0 = file.dataset("/model_weights/bn/bn/moving_variance:0");
  const Tensor m0 = file.dataset("/model_weights/bn/bn/moving_mean:0");
  const std::vector<double> xs = {0.5, -1, 2, 1.5, 0, -2, -0.5, 3, 1, 2.5, 1, 0.25};  // (4, 3)
  Tensor x = Tensor::empty(Shape({4, 3}), DType::f32);
  for (int64_t i = 0; i < 12; ++i) x.set(i, xs[size_t(i)]);
  k.model.forward(x, Mode::Training);
  const double m = 4, eps = 1e-3, factor = scaled ? m / (m - (1 + eps)) : 1.0;
  for (auto& [name, p] : k.model.named_params())
    for (int64_t c = 0; c < 3; ++c) {
      double mean = 0, var = 0;
      for (int64_t n = 0; n < 4; ++n) mean += xs[size_t(n * 3 + c)] / m;
      for (int64_t n = 0; n < 4; ++n) var += (xs[size_t(n * 3 + c)] - mean) * (xs[size_t(n * 3 + c)] - mean) / m;
      if (name == "bn.moving_variance") {
        EXPECT_NEAR(p->value.item(c), 0.99 * r0.item(c) + 0.01 * var * factor, 1e-6) << version << " channel " << c;
      } else if (name == "bn.moving_mean") {
        EXPECT_NEAR(p->value.item(c), 0.99 * m0.item(c) + 0.01 * mean, 1e-6) << version << " channel " << c;
      }
    }
}

TEST(Keras2Synthetic, BatchNormalizationTrainingRuleFollowsKerasVersion) {
  expect_one_training_step("2.1.3", true);
  expect_one_training_step("2.2.4-tf", false);
}

TEST(Keras2Synthetic, WhichVersionsScaleTheBatchVariance) {
  for (const char* v : {"2.1.3", "2.1.6", "2.2.4", "2.3.1"}) EXPECT_TRUE(keras_scales_batch_variance(v)) << v;
  for (const char* v : {"2.0.8", "2.1.2", "2.2.4-tf", "2.3.0-tf", "2.4.0", "3.0.1", "", "x"})
    EXPECT_FALSE(keras_scales_batch_variance(v)) << v;
  // The real Keras 2.1.3 file's layer gets the option; the 2.0.8 file's do not.
  EXPECT_NE(load_keras_h5(std::string(LOCNET_SOURCE_DIR) + "/tests/interop/keras_h5/dl4j_cnn_batch_norm.h5")
                .model.layer(1).config().repr().find("keras2_variance_scale=True"),
            std::string::npos);
}

}  // namespace
