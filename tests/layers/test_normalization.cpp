// Normalization (keras.layers.Normalization): values against the formula y = (x - mean) / max(sqrt(var), 1e-7)
// (hand-derived; Keras's epsilon rule for a zero variance), invert, axis=1 and axis=None, gradients in double,
// every ConfigError/ShapeError message, the spec round trip, and the statistics saved with the weights.
#include <cmath>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/normalization.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/model/from_spec.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

namespace {
std::unique_ptr<Layer> layer_of(const char* spec) { return make_layer(parse_chain(spec)[0]); }
}  // namespace

TEST(Normalization, ChannelsLastFollowsTheFormula) {
  auto l = layer_of("Normalization(mean=(1.0, -2.0), variance=(4.0, 0.0))");
  Rng rng;
  l->build(Shape{3, 2, 2}, rng);
  Tensor x = random_tensor(Shape{3, 2, 2}, DType::f32, 1);
  Tensor y = l->forward(x, Mode::Inference);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const bool c1 = i % 2 == 1;
    // Feature 1 has variance 0: Keras divides by epsilon = 1e-7.
    const double want = c1 ? (x.item(i) + 2.0) / 1e-7 : (x.item(i) - 1.0) / 2.0;
    ASSERT_NEAR(y.item(i), want, 1e-5 * std::abs(want) + 1e-6) << i;
  }
}

TEST(Normalization, InvertUndoesAndScalarsBroadcast) {
  Rng rng;
  auto n = layer_of("Normalization(mean=3, variance=2.25)");
  auto inv = layer_of("Normalization(mean=3, variance=2.25, invert=True)");
  n->build(Shape{2, 4, 3}, rng, DType::f64);
  inv->build(Shape{2, 4, 3}, rng, DType::f64);
  Tensor x = random_tensor(Shape{2, 4, 3}, DType::f64, 2);
  Tensor y = n->forward(x, Mode::Inference);
  EXPECT_NEAR(y.item(5), (x.item(5) - 3) / 1.5, 1e-12);
  EXPECT_LT(max_scaled_error(inv->forward(y, Mode::Inference), x, 1e-12, 1e-12), 1.0);
}

TEST(Normalization, AxisOneAndNone) {
  Rng rng;
  auto cf = layer_of("Normalization(axis=1, mean=(0, 10), variance=(1, 100))");
  cf->build(Shape{1, 2, 3}, rng);
  Tensor x = Tensor::from<float>({1, 2, 3, 10, 20, 30}, Shape{1, 2, 3});
  EXPECT_TRUE(cf->forward(x, Mode::Inference).equal(Tensor::from<float>({1, 2, 3, 0, 1, 2}, Shape{1, 2, 3})));
  auto all = layer_of("Normalization(axis=None, mean=2, variance=4)");
  all->build(Shape{1, 2, 3}, rng);
  EXPECT_EQ(dynamic_cast<Normalization&>(*all).features(), 1);
  EXPECT_FLOAT_EQ(float(all->forward(x, Mode::Inference).item(5)), 14.0f);
}

TEST(Normalization, Gradients) {
  for (const char* spec : {"Normalization(mean=(0.5, -1.0, 2.0), variance=(0.25, 4.0, 9.0))",
                           "Normalization(axis=1, mean=0.5, variance=2.0, invert=True)", "Normalization(axis=None)"}) {
    SCOPED_TRACE(spec);
    auto l = layer_of(spec);
    locnet::testing::check_layer(*l, Shape{1, 2, 3});  // batch 1, odd sizes
    auto odd = layer_of(spec);
    locnet::testing::check_layer(*odd, Shape{3, 1, 3});  // a size-1 dimension
  }
}

TEST(Normalization, Errors) {
  EXPECT_THROW_MSG(layer_of("Normalization(axis='x')"), ConfigError,
                   "Normalization: axis must be an int or None, got string \"x\"");
  EXPECT_THROW_MSG(layer_of("Normalization(axis=(1, 2))"), NotSupported,
                   "Normalization: axis must be one int or None here (several axes are not supported), got (1, 2)");
  EXPECT_THROW_MSG(layer_of("Normalization(mean=1)"), ConfigError,
                   "Normalization: mean and variance must both be given or both be None, got mean=1 variance=None");
  EXPECT_THROW_MSG(layer_of("Normalization(mean='a', variance=1)"), ConfigError,
                   "Normalization: mean must be None, a number or a tuple of numbers, got \"a\"");
  EXPECT_THROW_MSG(layer_of("Normalization(mean=0, variance=-1)"), ConfigError,
                   "Normalization: variance must hold finite numbers >= 0, got -1");
  EXPECT_THROW_MSG(layer_of("Normalization(mean=(), variance=1)"), ConfigError,
                   "Normalization: mean must not be an empty tuple, got ()");
  Rng rng;
  auto three = layer_of("Normalization(mean=(1, 2, 3), variance=1)");
  EXPECT_THROW_MSG(three->build(Shape{2, 2}, rng), ConfigError, "mean must have 1 or 2 values (the features), got 3");
  auto l = layer_of("Normalization(axis=3)");
  EXPECT_THROW_MSG(l->output_shape(Shape{2, 2, 2}), ShapeError,
                   "axis 3 must be a non-batch axis of the input (1 to 2, or -2 to -1), got shape (2, 2, 2)");
  EXPECT_THROW_MSG(l->output_shape(Shape{2}), ShapeError, "input rank must be >= 2, got shape (2,)");
  EXPECT_THROW_MSG(l->output_shape(Shape{2, -1, 3, 1}), ShapeError, "non-batch dimensions must be known and > 0");
  auto n = dynamic_cast<Normalization*>(layer_of("Normalization()").release());
  std::unique_ptr<Normalization> own(n);
  EXPECT_THROW_MSG(n->features(), ConfigError, "the features are known once the layer is built");
  n->build(Shape{2, 2}, rng);
  std::vector<double> one{0.0}, two{0.0, 1.0}, neg{0.0, -1.0};
  EXPECT_THROW_MSG(n->set_statistics(one, two), ConfigError, "statistics must have 2 values each (the features), got 1 and 2");
  EXPECT_THROW_MSG(n->set_statistics(two, neg), ConfigError, "statistics must be finite with variance >= 0");
  EXPECT_THROW_MSG(n->backward(Tensor(Shape{2, 2})), ConfigError, "backward must follow a training-mode forward");
}

TEST(Normalization, SpecRoundTripAndBuffers) {
  for (const char* spec : {"Normalization()", "Normalization(axis=None, mean=1.5, variance=2)",
                           "Normalization(axis=1, mean=(1, 2), variance=(3, 4), invert=True)"}) {
    auto l = layer_of(spec);
    EXPECT_EQ(make_layer(l->config())->config().repr(), l->config().repr()) << spec;
  }
  EXPECT_EQ(layer_of("Normalization()")->config().repr(),
            "Normalization(axis=-1, mean=None, variance=None, invert=False, name=\"\")");
  // Unadapted statistics are 0 and 1 (the identity); they are buffers, nothing trains.
  Rng rng;
  auto l = layer_of("Normalization()");
  l->build(Shape{-1, 4, 3}, rng);
  EXPECT_EQ(l->param_count(), 0);
  EXPECT_EQ(l->buffer_count(), 6);
  Tensor x = random_tensor(Shape{2, 4, 3}, DType::f32, 3);
  EXPECT_TRUE(l->forward(x, Mode::Inference).equal(x));
}
