// Dropout: identity in inference, inverted scaling and the drop fraction in training, masks reproducible from the
// seed or the build rng, dx = dy * mask; Reshape: -1 inference, errors, gradients, the spec.
// Dropout's noise_shape and SpatialDropout1D/2D (Keras): one mask value per element of the noise shape, shared
// along its size-1 axes (whole channels, both data formats), the same scaling and seeds, errors, round trips.
#include <cmath>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/dropout.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/layers/reshape.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

TEST(Dropout, InferenceIsIdentityTrainingScalesKeptValues) {
  Dropout d(0.25);
  Rng rng(1);
  const Shape s{4, 1000};
  d.build(s, rng);
  Tensor x = random_tensor(s, DType::f32, 2);
  EXPECT_TRUE(d.forward(x, Mode::Inference).equal(x));
  Tensor y = d.forward(x, Mode::Training);
  int64_t dropped = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (y.item(i) == 0.0) {
      ++dropped;
      continue;
    }
    ASSERT_FLOAT_EQ(float(y.item(i)), float(x.item(i) / 0.75));
  }
  // 4000 Bernoulli(0.25) draws: mean 1000, standard deviation ~27.
  EXPECT_NEAR(double(dropped), 1000.0, 120.0);
  // dx = dy * mask / (1 - rate): the same elements dropped, the same scale.
  Tensor dy = random_tensor(s, DType::f32, 3);
  Tensor dx = d.backward(dy);
  for (int64_t i = 0; i < x.numel(); ++i)
    ASSERT_FLOAT_EQ(float(dx.item(i)), y.item(i) == 0.0 ? 0.0f : float(dy.item(i) / 0.75));
  // A new training forward draws a new mask.
  EXPECT_FALSE(d.forward(x, Mode::Training).equal(y));
}

TEST(Dropout, MasksAreReproducible) {
  Tensor x = random_tensor(Shape{2, 64}, DType::f32, 4);
  auto masks = [&](Dropout d, uint64_t build_seed) {
    Rng rng(build_seed);
    d.build(x.shape(), rng);
    Tensor a = d.forward(x, Mode::Training), b = d.forward(x, Mode::Training);
    return std::vector<Tensor>{a, b};
  };
  auto a = masks(Dropout(0.5), 7), b = masks(Dropout(0.5), 7), c = masks(Dropout(0.5), 8);
  EXPECT_TRUE(a[0].equal(b[0]) && a[1].equal(b[1])) << "same build seed, same masks";
  EXPECT_FALSE(a[0].equal(c[0])) << "another build seed, other masks";
  auto s1 = masks(Dropout({.rate = 0.5, .seed = 3}), 7), s2 = masks(Dropout({.rate = 0.5, .seed = 3}), 8);
  EXPECT_TRUE(s1[0].equal(s2[0])) << "an explicit seed does not depend on the build rng";
}

TEST(Dropout, GradientsAndErrors) {
  Dropout none(0.0);
  locnet::testing::check_layer(none, Shape{3, 4});
  EXPECT_THROW_MSG(Dropout(1.0), ConfigError, "Dropout: rate must be in [0, 1), got 1");
  EXPECT_THROW_MSG(Dropout(-0.1), ConfigError, "rate must be in [0, 1), got -0.1");
  // noise_shape was NotSupported before issue 29; now a wrong one is a ConfigError (NoiseShape below).
  EXPECT_THROW_MSG(Dropout({.rate = 0.1, .noise_shape = Value::tuple({0, 4})}), ConfigError,
                   "Dropout: noise_shape must be None or a tuple of None and positive ints, got (0, 4)");
  Dropout d(0.5);
  Rng rng(0);
  d.build(Shape{2, 3}, rng);
  d.forward(Tensor(Shape{2, 3}), Mode::Inference);
  EXPECT_THROW_MSG(d.backward(Tensor(Shape{2, 3})), ConfigError, "backward must follow a training-mode forward");
  d.forward(Tensor(Shape{2, 3}), Mode::Training);
  EXPECT_THROW_MSG(d.backward(Tensor(Shape{2, 4})), ShapeError, "output gradient shape must be (2, 3)");
}

TEST(Reshape, ShapesAndValues) {
  Reshape r({-1, 3});
  EXPECT_EQ(r.output_shape(Shape{-1, 2, 3, 2}).str(), "(None, 4, 3)");
  EXPECT_EQ(Reshape({2, 6}).output_shape(Shape{5, 12}), (Shape{5, 2, 6}));
  Rng rng(0);
  r.build(Shape{-1, 2, 3, 2}, rng);
  Tensor x = random_tensor(Shape{2, 2, 3, 2}, DType::f32, 1);
  Tensor y = r.forward(x, Mode::Training);
  EXPECT_EQ(y.shape(), (Shape{2, 4, 3}));
  EXPECT_EQ(y.to_vector(), x.to_vector()) << "row-major order is kept";
  Reshape g({3, -1});
  locnet::testing::check_layer(g, Shape{2, 6, 2});
}

TEST(Reshape, Errors) {
  EXPECT_THROW_MSG(Reshape(std::vector<int64_t>{}), ConfigError, "target_shape must be a non-empty tuple");
  EXPECT_THROW_MSG(Reshape({-1, -1}), ConfigError, "at most one -1, got (-1, -1)");
  EXPECT_THROW_MSG(Reshape({0, 2}), ConfigError, "entries must be > 0 or -1, got (0, 2)");
  EXPECT_THROW_MSG(Reshape({5, -1}).output_shape(Shape{1, 12}), ShapeError,
                   "the input's 12 values per sample must fit target_shape (5, -1)");
  EXPECT_THROW_MSG(Reshape({5}).output_shape(Shape{1, 12}), ShapeError, "must fit target_shape (5,)");
  EXPECT_THROW_MSG(Reshape({5}).output_shape(Shape{1, -1}), ShapeError, "non-batch dimensions must be known");
  // Entries whose product overflows int64 (found by fuzz_spec): the same error, no overflow.
  EXPECT_THROW_MSG(Reshape({31111055556, 22, 6, 16, 1111111}).output_shape(Shape{1, 2111116}), ShapeError,
                   "the input's 2111116 values per sample must fit target_shape");
  EXPECT_THROW_MSG(Reshape({4611686018427387904, 4, -1}).output_shape(Shape{1, 8}), ShapeError, "must fit");
}

TEST(DropoutReshape, Spec) {
  Sequential m = parse_model("Input((12,)) >> Dropout(0.2, seed=5) >> Reshape((3, -1)) >> Dropout(rate=0.5)");
  EXPECT_EQ(m.output_shape().str(), "(None, 3, 4)");
  for (size_t i = 0; i < m.size(); ++i) {
    Call c = m.layer(i).config();
    auto again = make_layer(c);
    again->set_name(m.layer(i).name());
    EXPECT_EQ(again->config(), c);
  }
  EXPECT_EQ(m.layer(0).config().repr(), "Dropout(rate=0.2, noise_shape=None, seed=5, name=\"dropout_1\")");
  EXPECT_THROW_MSG(parse_model("Dropout()"), ConfigError, "argument 'rate' is required");
}

namespace {

// The layer of `spec`, built for x's shape, and its training output on x (x all ones: y is the mask).
Tensor training_output(Layer& layer, const Tensor& x, uint64_t build_seed = 1) {
  Rng rng(build_seed);
  layer.build(x.shape().with_dim(0, Shape::kUnknown), rng, x.dtype());
  return layer.forward(x, Mode::Training);
}

Tensor ones(const Shape& s) {
  Tensor t(s, DType::f64);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, 1.0);
  return t;
}

// y[(n, ..., c)] for an (N, spatial..., C) layout: true when every position of one (n, c) has the same value.
void expect_constant_over(const Tensor& y, int64_t n, int64_t inner, int64_t c, int64_t stride_pos, int64_t positions,
                          double rate, int64_t* dropped) {
  const double v = y.item(n * inner + c);
  EXPECT_TRUE(v == 0.0 || std::abs(v - 1 / (1 - rate)) < 1e-15) << v;
  for (int64_t p = 0; p < positions; ++p) ASSERT_EQ(y.item(n * inner + c + p * stride_pos), v);
  *dropped += v == 0.0;
}

}  // namespace

TEST(SpatialDropout, OneMaskValuePerSampleAndChannel) {
  // SpatialDropout1D: (batch, steps, channels), a channel is dropped over all steps.
  SpatialDropout1D d1({.rate = 0.5});
  Tensor y = training_output(d1, ones(Shape{8, 5, 50}));
  int64_t dropped = 0;
  for (int64_t n = 0; n < 8; ++n)
    for (int64_t c = 0; c < 50; ++c) expect_constant_over(y, n, 250, c, 50, 5, 0.5, &dropped);
  EXPECT_NEAR(double(dropped), 200.0, 45.0);  // 400 Bernoulli(0.5) draws, sd 10
  // SpatialDropout2D channels_last: (batch, rows, cols, channels).
  SpatialDropout2D cl({.rate = 0.25});
  y = training_output(cl, ones(Shape{4, 3, 5, 40}));
  dropped = 0;
  for (int64_t n = 0; n < 4; ++n)
    for (int64_t c = 0; c < 40; ++c) expect_constant_over(y, n, 600, c, 40, 15, 0.25, &dropped);
  EXPECT_NEAR(double(dropped), 40.0, 26.0);  // 160 Bernoulli(0.25) draws, sd 5.5
  // channels_first: (batch, channels, rows, cols), a whole feature map per (n, c).
  SpatialDropout2D cf({.rate = 0.5, .data_format = "channels_first"});
  y = training_output(cf, ones(Shape{2, 30, 3, 3}));
  dropped = 0;
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 30; ++c) expect_constant_over(y, n, 270, c * 9, 1, 9, 0.5, &dropped);
  EXPECT_GT(dropped, 10);
  EXPECT_LT(dropped, 50);
  // Inference is the identity; dx = dy * the same mask.
  Tensor x = locnet::testing::random_tensor(Shape{2, 30, 3, 3}, DType::f64, 5);
  EXPECT_TRUE(cf.forward(x, Mode::Inference).equal(x));
  Tensor mask = cf.forward(ones(x.shape()), Mode::Training);
  Tensor dx = cf.backward(x);
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(dx.item(i), x.item(i) * mask.item(i));
}

TEST(SpatialDropout, SeedsAndRateZero) {
  const Tensor x = ones(Shape{2, 4, 4, 8});
  auto mask = [&](SpatialDropout2D d, uint64_t build_seed) { return training_output(d, x, build_seed); };
  EXPECT_TRUE(mask(SpatialDropout2D({.rate = 0.5}), 7).equal(mask(SpatialDropout2D({.rate = 0.5}), 7)));
  EXPECT_FALSE(mask(SpatialDropout2D({.rate = 0.5}), 7).equal(mask(SpatialDropout2D({.rate = 0.5}), 8)));
  const SpatialDropout2DConfig seeded{.rate = 0.5, .seed = 3};
  EXPECT_TRUE(mask(SpatialDropout2D(seeded), 7).equal(mask(SpatialDropout2D(seeded), 8)))
      << "an explicit seed does not depend on the build rng";
  // rate 0: the identity in training too, with the gradient check.
  SpatialDropout1D none({.rate = 0.0});
  locnet::testing::check_layer(none, Shape{1, 3, 5});
  SpatialDropout2D none2({.rate = 0.0, .data_format = "channels_first"});
  locnet::testing::check_layer(none2, Shape{2, 3, 1, 5});
}

TEST(Dropout, NoiseShape) {
  // Keras's noise_shape: None takes the input's size, 1 shares one mask value along the axis.
  Dropout d({.rate = 0.5, .noise_shape = Value::tuple({Value(), 1, Value()})});
  Tensor y = training_output(d, ones(Shape{6, 4, 40}));
  for (int64_t n = 0; n < 6; ++n)
    for (int64_t c = 0; c < 40; ++c)
      for (int64_t t = 1; t < 4; ++t) ASSERT_EQ(y.item(n * 160 + t * 40 + c), y.item(n * 160 + c));
  // The same noise shape as SpatialDropout1D draws the same masks from the same stream.
  SpatialDropout1D s({.rate = 0.5});
  EXPECT_TRUE(training_output(s, ones(Shape{6, 4, 40})).equal(y));
  // A batch entry of 1: one mask for every sample.
  Dropout b({.rate = 0.5, .noise_shape = Value::tuple({1, 20})});
  y = training_output(b, ones(Shape{3, 20}));
  for (int64_t i = 20; i < 60; ++i) ASSERT_EQ(y.item(i), y.item(i % 20));
  // A noise shape equal to the input's: the same masks as None.
  Dropout full({.rate = 0.5, .noise_shape = Value::tuple({Value(), 20})}), plain(0.5);
  EXPECT_TRUE(training_output(full, ones(Shape{3, 20})).equal(training_output(plain, ones(Shape{3, 20}))));
}

TEST(SpatialDropout, Errors) {
  Rng rng(0);
  EXPECT_THROW_MSG(SpatialDropout1D({.rate = 1.0}), ConfigError, "SpatialDropout1D: rate must be in [0, 1), got 1");
  EXPECT_THROW_MSG(SpatialDropout2D({.rate = -0.5}), ConfigError, "SpatialDropout2D: rate must be in [0, 1)");
  EXPECT_THROW_MSG(SpatialDropout2D({.rate = 0.5, .data_format = "NHWC"}), ConfigError,
                   "SpatialDropout2D: data_format must be None, \"channels_last\" or \"channels_first\", got \"NHWC\"");
  EXPECT_THROW_MSG(SpatialDropout1D({.rate = 0.5}).output_shape(Shape{2, 3}), ShapeError,
                   "input rank must be 3 to fit noise_shape (None, 1, None), got shape (2, 3)");
  EXPECT_THROW_MSG(SpatialDropout2D({.rate = 0.5, .data_format = "channels_first"}).output_shape(Shape{2, 3, 4}),
                   ShapeError, "input rank must be 4 to fit noise_shape (None, None, 1, 1), got shape (2, 3, 4)");
  EXPECT_THROW_MSG(Dropout({.rate = 0.5, .noise_shape = Value::tuple({Value(), 3})}).output_shape(Shape{2, 4}),
                   ShapeError, "noise_shape (None, 3) does not fit input shape (2, 4): axis 1 must be None, 1 or 4");
  EXPECT_THROW_MSG(SpatialDropout1D({.rate = 0.5}).output_shape(Shape{}), ShapeError,
                   "input rank must be >= 1, got shape ()");
  EXPECT_THROW_MSG(Dropout({.rate = 0.5, .noise_shape = Value("x")}), ConfigError,
                   "noise_shape must be None or a tuple of None and positive ints, got \"x\"");
  EXPECT_THROW_MSG(Dropout({.rate = 0.5, .noise_shape = Value::tuple({})}), ConfigError, "got ()");
  // The batch entry is checked against the batch that comes.
  Dropout d({.rate = 0.5, .noise_shape = Value::tuple({2, 4})});
  d.build(Shape{Shape::kUnknown, 4}, rng);
  d.forward(Tensor(Shape{2, 4}), Mode::Training);
  EXPECT_THROW_MSG(d.forward(Tensor(Shape{3, 4}), Mode::Training), ShapeError,
                   "noise_shape (2, 4) does not fit input shape (3, 4): axis 0 must be None, 1 or 3");
}

TEST(SpatialDropout, SpecRoundTrip) {
  for (const char* spec : {"SpatialDropout1D(0.3, seed=2)", "SpatialDropout2D(0.5, data_format=\"channels_first\")",
                           "Dropout(0.5, noise_shape=(None, 1, 4))", "Dropout(0.1, noise_shape=(1,))"}) {
    auto l = make_layer(parse_chain(spec)[0]);
    auto again = make_layer(l->config());
    EXPECT_EQ(again->config().repr(), l->config().repr()) << spec;
  }
  EXPECT_EQ(make_layer(parse_chain("SpatialDropout2D(0.5)")[0])->config().repr(),
            "SpatialDropout2D(rate=0.5, data_format=None, seed=None, name=\"\")");
}
