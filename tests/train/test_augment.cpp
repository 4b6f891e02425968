// The input pipeline (include/locnet/train/augment.hpp): adapt() against NumPy's mean and var (real NumPy output,
// tests/conformance/normalization_numpy/generate.py) with batches that do not divide the set; prepend_normalization;
// each augmentation on hand-made batches (a flip flips, a crop with padding 0 is the identity, shifts move pixels
// and fill zeros, channels_first), reproducibility from the seed, labels untouched; make_augmentation's items and
// errors.
#include <gtest/gtest.h>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/train/augment.hpp"

using namespace locnet;

namespace {

const std::string kDir = std::string(LOCNET_SOURCE_DIR) + "/tests/conformance/normalization_numpy/";

// One image (1, H, W, 1) holding 1 .. H*W row by row.
Batch counting_image(int64_t h, int64_t w) {
  Batch b;
  b.x = Tensor(Shape{1, h, w, 1});
  for (int64_t i = 0; i < h * w; ++i) b.x.data<float>()[i] = float(i + 1);
  b.labels = {7};
  return b;
}

Batch random_batch(int64_t n, uint64_t seed) {
  Batch b;
  b.x = Tensor(Shape{n, 6, 5, 2});
  Rng r(seed);
  for (int64_t i = 0; i < b.x.numel(); ++i) b.x.data<float>()[i] = float(r.uniform(0.5, 1.5));
  for (int64_t i = 0; i < n; ++i) b.labels.push_back(i);
  return b;
}

}  // namespace

TEST(Adapt, MatchesNumpyMeanAndVariance) {
  Tensor x = read_npy(kDir + "x.npy");  // (19, 5, 3, 2) float64, offsets ~1000
  auto data = tensor_dataset(x, std::vector<int64_t>(size_t(x.dim(0)), 0));
  const Tensor mean = read_npy(kDir + "mean.npy"), var = read_npy(kDir + "var.npy");
  const Tensor cf_mean = read_npy(kDir + "x_cf_mean.npy"), cf_var = read_npy(kDir + "x_cf_var.npy");
  for (int64_t batch : {1, 4, 19, 100}) {
    SCOPED_TRACE(batch);
    Normalization last;  // unbuilt: adapt builds it for the samples
    adapt(last, *data, batch);
    std::vector<Param*> b = last.buffers();
    // The data set holds f32 samples: the statistics of the rounded values, within f32's relative 6e-8.
    EXPECT_LT(max_scaled_error(b[0]->value, mean, 1e-7, 1e-6), 1.0);
    EXPECT_LT(max_scaled_error(b[1]->value, var, 1e-5, 1e-6), 1.0);
    Normalization first({.axis = 1});
    adapt(first, *data, batch);
    EXPECT_LT(max_scaled_error(first.buffers()[0]->value, cf_mean, 1e-6, 1e-5), 1.0);
    EXPECT_LT(max_scaled_error(first.buffers()[1]->value, cf_var, 1e-5, 1e-5), 1.0);
  }
  Normalization built;
  Rng rng;
  built.build(Shape{-1, 3}, rng);
  EXPECT_THROW_MSG(adapt(built, *data), ShapeError, "adapt Normalization: the samples of arrays must have the layer's input shape (3,), got (5, 3, 2)");
}

TEST(Adapt, PrependNormalizationAdaptsTheFirstLayer) {
  Tensor x = read_npy(kDir + "x.npy");
  auto data = tensor_dataset(x, std::vector<int64_t>(size_t(x.dim(0)), 0));
  Model m = parse_model("Input((5, 3, 2)) >> Flatten() >> Dense(2)");
  m.build(*m.input_shape(), uint64_t(1));
  Model n = prepend_normalization(m, *data, 1);
  ASSERT_EQ(n.layer(0).type(), "Normalization");
  EXPECT_LT(max_scaled_error(n.layer(0).buffers()[0]->value, read_npy(kDir + "mean.npy"), 1e-7, 1e-6), 1.0);
  // The normalized inputs of the whole set have mean ~0 per channel.
  Tensor y = n.layer(0).forward(x.to(DType::f32), Mode::Inference);
  double s = 0;
  for (int64_t i = 0; i < y.numel(); i += 2) s += y.item(i);
  EXPECT_NEAR(s / double(y.numel() / 2), 0.0, 1e-4);
  EXPECT_EQ(n.output_shape(), m.output_shape());
}

TEST(Augment, FlipFlipsAndCropWithoutPaddingIsTheIdentity) {
  Rng rng(1);
  Batch b = counting_image(2, 3);
  RandomFlip(1.0).apply(b, rng);
  EXPECT_TRUE(b.x.equal(Tensor::from<float>({3, 2, 1, 6, 5, 4}, Shape{1, 2, 3, 1})));
  RandomFlip(0.0).apply(b, rng);
  EXPECT_TRUE(b.x.equal(Tensor::from<float>({3, 2, 1, 6, 5, 4}, Shape{1, 2, 3, 1})));
  Batch r = random_batch(4, 2), copy = random_batch(4, 2);
  RandomCrop(0).apply(r, rng);
  EXPECT_TRUE(r.x.equal(copy.x));
}

TEST(Augment, ShiftsMovePixelsAndFillZeros) {
  // A translation of a whole image (factor 1) by round(u H) rows, round(v W) columns: every pixel either moved
  // by the same offset or is 0; with padding 1, a crop moves by -1..1 rows and columns.
  for (int seed = 0; seed < 20; ++seed) {
    Rng rng(static_cast<uint64_t>(seed));
    Batch b = counting_image(4, 5);
    if (seed % 2) RandomTranslation(0.5, 0.5).apply(b, rng);
    else RandomCrop(1).apply(b, rng);
    const float* p = b.x.data<float>();
    int64_t dy = 99, dx = 99, zeros = 0;
    for (int64_t y = 0; y < 4; ++y)
      for (int64_t x = 0; x < 5; ++x) {
        const float v = p[y * 5 + x];
        if (v == 0) {
          ++zeros;
          continue;
        }
        const int64_t sy = int64_t(v - 1) / 5, sx = int64_t(v - 1) % 5;
        if (dy == 99) dy = y - sy, dx = x - sx;
        ASSERT_EQ(y - sy, dy) << seed;
        ASSERT_EQ(x - sx, dx) << seed;
      }
    if (dy == 99) continue;  // shifted out entirely
    EXPECT_EQ(zeros, 20 - (4 - std::abs(dy)) * (5 - std::abs(dx))) << seed;
    if (seed % 2 == 0) EXPECT_TRUE(std::abs(dy) <= 1 && std::abs(dx) <= 1) << seed;
    else EXPECT_TRUE(std::abs(dy) <= 2 && std::abs(dx) <= 3) << seed;  // round(0.5 * 4), round(0.5 * 5)
  }
}

TEST(Augment, ChannelsFirstMovesEveryChannelAlike) {
  Batch b;
  b.x = Tensor::from<float>({1, 2, 3, 4, 10, 20, 30, 40}, Shape{1, 2, 2, 2});  // (N, C, H, W)
  Rng rng(1);
  RandomFlip(1.0, {.channels_first = true}).apply(b, rng);
  EXPECT_TRUE(b.x.equal(Tensor::from<float>({2, 1, 4, 3, 20, 10, 40, 30}, Shape{1, 2, 2, 2})));
  Batch flat;
  flat.x = Tensor::from<float>({1, 2, 3, 4}, Shape{1, 2, 2});  // (N, H, W): one channel
  RandomFlip(1.0).apply(flat, rng);
  EXPECT_TRUE(flat.x.equal(Tensor::from<float>({2, 1, 4, 3}, Shape{1, 2, 2})));
  Batch bad;
  bad.x = Tensor(Shape{2, 3});
  EXPECT_THROW_MSG(RandomFlip().apply(bad, rng), ShapeError,
                   "RandomFlip: images must be (N, H, W, C), (N, C, H, W) or (N, H, W), got shape (2, 3)");
}

TEST(Augment, TheSeedReproducesAndLabelsStay) {
  auto t = make_augmentation("crop=2,flip,translate=0.2");
  auto run = [&](uint64_t seed) {
    Batch b = random_batch(16, 5);
    Rng rng(seed);
    t->apply(b, rng);
    EXPECT_EQ(b.labels.size(), 16u);
    for (int64_t i = 0; i < 16; ++i) EXPECT_EQ(b.labels[size_t(i)], i);
    return b.x;
  };
  EXPECT_TRUE(run(3).equal(run(3)));
  EXPECT_FALSE(run(3).equal(run(4)));
  EXPECT_FALSE(run(3).equal(random_batch(16, 5).x));
}

TEST(Augment, SpecItemsAndErrors) {
  for (const char* ok : {"flip", "crop=4", "flip=0.25, translate=0.1x0.2", "channels_first,crop=1"})
    EXPECT_NO_THROW(make_augmentation(ok)) << ok;
  EXPECT_THROW_MSG(make_augmentation("rotate=3"), ConfigError,
                   "--augment: item must be crop=P, flip[=P], translate=F[xF] or channels_first, got 'rotate=3'");
  EXPECT_THROW_MSG(make_augmentation("crop"), ConfigError, "got 'crop'");
  EXPECT_THROW_MSG(make_augmentation("crop=1.5"), ConfigError,
                   "--augment: item 'crop=1.5' must have a whole number of pixels >= 0");
  EXPECT_THROW_MSG(make_augmentation("translate=a"), ConfigError,
                   "--augment: item 'translate=a' must have a number after '=', got 'a'");
  EXPECT_THROW_MSG(make_augmentation("flip=2"), ConfigError, "RandomFlip: probability must be in [0, 1], got 2");
  EXPECT_THROW_MSG(make_augmentation("translate=0.1x1.5"), ConfigError,
                   "RandomTranslation: width_factor must be in [0, 1], got 1.5");
  EXPECT_THROW_MSG(make_augmentation(" , "), ConfigError, "the spec must name at least one of crop=P, flip, translate=F");
  EXPECT_THROW_MSG(RandomCrop(-1), ConfigError, "RandomCrop: padding must be >= 0, got -1");
}
