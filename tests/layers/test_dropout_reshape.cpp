// Dropout: identity in inference, inverted scaling and the drop fraction in training, masks reproducible from the
// seed or the build rng, dx = dy * mask; Reshape: -1 inference, errors, gradients, the spec.
#include <cmath>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/model/from_spec.hpp"
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
  EXPECT_THROW_MSG(Dropout({.rate = 0.1, .noise_shape = Value::tuple({1, 4})}), NotSupported,
                   "noise_shape must be None");
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
