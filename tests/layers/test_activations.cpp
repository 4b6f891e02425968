// The Activation layer: values of the Keras activations added for issue 27 (selu, swish, hard_sigmoid,
// exponential) against values computed by hand from Keras' published formulas and constants (Python's math
// module, not locnet), and the generic gradient check for every activation name.
// The activation layers (Softmax, ReLU, LeakyReLU, ELU, ThresholdedReLU, PReLU): hand-derived values from Keras's
// formulas (synthetic), double gradient checks away from the kinks, the edges (softmax along axis 1 of rank 4 and
// negative axes, max_value with threshold, shared_axes in both layouts), every error and the spec round trip. Real
// PyTorch values: tests/conformance/test_act_pytorch.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/activations.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/weights.hpp"

using namespace locnet;

namespace {

std::unique_ptr<Layer> layer_of(const std::string& spec) { return make_layer(parse_chain(spec)[0]); }

// The layer of `spec` on one row of values, in f64, against `want`.
void expect_layer_values(const std::string& spec, const std::vector<double>& x, const std::vector<double>& want) {
  SCOPED_TRACE(spec);
  auto l = layer_of(spec);
  Rng rng(0);
  l->build(Shape{Shape::kUnknown, int64_t(x.size())}, rng, DType::f64);
  Tensor y = l->forward(Tensor::from(x, Shape{1, int64_t(x.size())}), Mode::Inference);
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(y.item(int64_t(i)), want[i], 1e-15 * (1 + std::abs(want[i]))) << x[i];
}

void expect_values(const std::string& name, const std::vector<double>& x, const std::vector<double>& want) {
  expect_layer_values("Activation(\"" + name + "\")", x, want);
}

}  // namespace

TEST(Activation, KerasSelu) {
  // scale * x for x > 0, scale * alpha * (exp(x) - 1) otherwise
  expect_values("selu", {1, -1, -3, 0}, {1.0507009873554805, -1.1113307378125625, -1.6705687287671118, 0});
}

TEST(Activation, KerasSwish) { expect_values("swish", {1, -2, 0}, {0.7310585786300049, -0.2384058440442351, 0}); }

TEST(Activation, KerasTwoHardSigmoid) {
  // Keras 2: clip(0.2 x + 0.5, 0, 1). Keras 3's relu6(x + 3) / 6 would give 4/6 at 1 and 1/6 at -2.
  expect_values("hard_sigmoid", {-3, -2.5, -2, -1, 0, 1, 2.5, 3}, {0, 0, 0.1, 0.3, 0.5, 0.7, 1, 1});
}

TEST(Activation, KerasExponential) {
  expect_values("exponential", {1, -2, 0}, {2.718281828459045, 0.1353352832366127, 1});
}

TEST(Activation, GradientsForEveryActivation) {
  for (const std::string& name : activation_names()) {
    SCOPED_TRACE(name);
    Activation a(name);
    // Central differences (step 1e-6) straddle a kink (relu at 0, hard_sigmoid at +-2.5) with probability ~0.
    locnet::testing::check_layer(a, Shape{3, 7});
  }
}

TEST(Activation, UnknownNameListsTheKnownOnes) {
  EXPECT_THROW_MSG(Activation("hard_swish"), ConfigError, "selu, swish, hard_sigmoid, exponential, got 'hard_swish'");
}

TEST(ActivationLayers, KerasReLUPiecewiseRule) {
  // y = x > threshold ? min(x, max_value) : negative_slope (x - threshold) (Keras's backend.relu).
  expect_layer_values("ReLU()", {-2, 0, 0.5, 7}, {0, 0, 0.5, 7});
  expect_layer_values("ReLU(max_value=6.0)", {-1, 3, 6, 9}, {0, 3, 6, 6});
  expect_layer_values("ReLU(max_value=3.0, negative_slope=0.1, threshold=0.5)", {-1, 0.2, 0.5, 1, 3, 4},
                      {-0.15, -0.03, 0, 1, 3, 3});
  expect_layer_values("ReLU(negative_slope=0.5)", {-4, 2}, {-2, 2});
  expect_layer_values("ThresholdedReLU(theta=1.0)", {-2, 0.5, 1, 1.5}, {0, 0, 0, 1.5});
  expect_layer_values("LeakyReLU()", {-1, 0, 2}, {-0.3, 0, 2});  // Keras's layer default 0.3
  expect_layer_values("LeakyReLU(negative_slope=0.2)", {-1, 2}, {-0.2, 2});  // Keras 3's name
  expect_layer_values("ELU(alpha=0.5)", {-1, 0, 2}, {0.5 * std::expm1(-1.0), 0, 2});
}

TEST(ActivationLayers, DefaultReLUReusesTheReluKernel) {
  for (const auto& [spec, kernel] : std::vector<std::pair<std::string, std::string>>{
           {"ReLU()", "relu"}, {"ReLU(max_value=6.0)", "ref"}, {"LeakyReLU()", "ref"}, {"Softmax(axis=1)", "ref"}}) {
    auto l = layer_of(spec);
    EXPECT_EQ(l->kernel(), "none") << spec;
    Rng rng(0);
    l->build(Shape{Shape::kUnknown, 3, 4}, rng);
    EXPECT_EQ(l->kernel(), kernel) << spec;
  }
}

TEST(ActivationLayers, Gradients) {
  // Central differences straddle a kink (0, threshold, max_value) with probability ~0; input scale 2 reaches the
  // max_value and threshold pieces.
  for (const char* spec :
       {"Softmax()", "Softmax(axis=1)", "Softmax(axis=-2)", "Softmax(axis=2)", "ReLU()", "ReLU(max_value=1.0)",
        "ReLU(max_value=1.5, negative_slope=0.2, threshold=0.3)", "ReLU(negative_slope=0.1, threshold=0.4)",
        "LeakyReLU()", "LeakyReLU(alpha=0.05)", "ELU()", "ELU(alpha=0.7)", "ThresholdedReLU(theta=0.5)"}) {
    SCOPED_TRACE(spec);
    auto l = layer_of(spec);
    locnet::testing::check_layer(*l, Shape{2, 3, 4, 5}, {.input_scale = 2.0});
  }
  // Batch 1, size-1 and odd dims.
  auto s = layer_of("Softmax(axis=1)");
  locnet::testing::check_layer(*s, Shape{1, 1, 3});
  auto r = layer_of("ReLU(max_value=0.5)");
  locnet::testing::check_layer(*r, Shape{1, 7});
}

TEST(ActivationLayers, SoftmaxAlongAnyAxis) {
  const Shape s{2, 3, 4, 5};
  Tensor x = locnet::testing::random_tensor(s, DType::f64, 3, 2.0);
  auto run = [&](const std::string& spec) {
    auto l = layer_of(spec);
    Rng rng(0);
    l->build(s.with_dim(0, Shape::kUnknown), rng, DType::f64);
    return l->forward(x, Mode::Inference);
  };
  Tensor y1 = run("Softmax(axis=1)");
  EXPECT_TRUE(run("Softmax(axis=-3)").equal(y1)) << "a negative axis counts from the end";
  EXPECT_TRUE(run("Softmax(axis=3)").equal(run("Softmax()")));
  // Along axis 1: each (n, h, w) column sums to 1 and equals exp(x) / sum exp(x) over the 3 channels.
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t hw = 0; hw < 20; ++hw) {
      double sum = 0, denom = 0;
      for (int64_t c = 0; c < 3; ++c) denom += std::exp(x.item((n * 3 + c) * 20 + hw));
      for (int64_t c = 0; c < 3; ++c) {
        const int64_t i = (n * 3 + c) * 20 + hw;
        sum += y1.item(i);
        EXPECT_NEAR(y1.item(i), std::exp(x.item(i)) / denom, 1e-15);
      }
      EXPECT_NEAR(sum, 1.0, 1e-15);
    }
}

TEST(ActivationLayers, PReLUAlphaShapesAndGradients) {
  // Keras: alpha has the input's shape without the batch, 1 on shared_axes.
  for (const auto& [spec, alpha] : std::vector<std::pair<std::string, Shape>>{
           {"PReLU()", Shape{4, 5, 3}},
           {"PReLU(shared_axes=(1, 2))", Shape{1, 1, 3}},     // channels_last, one alpha per channel
           {"PReLU(shared_axes=(2, 3))", Shape{4, 1, 1}},     // channels_first, one alpha per channel
           {"PReLU(shared_axes=2)", Shape{4, 1, 3}},
           {"PReLU(shared_axes=(1, 2, 3))", Shape{1, 1, 1}}}) {  // PyTorch's num_parameters=1
    SCOPED_TRACE(spec);
    auto l = layer_of(spec.substr(0, spec.size() - 1) + (spec == "PReLU()" ? "" : ", ") +
                      "alpha_initializer=RandomUniform(-0.5, 0.5))");
    Rng rng(0);
    l->build(Shape{Shape::kUnknown, 4, 5, 3}, rng, DType::f64);
    ASSERT_EQ(l->params().size(), 1u);
    EXPECT_EQ(l->params()[0]->value.shape(), alpha);
    locnet::testing::check_layer(*l, Shape{2, 4, 5, 3});
    locnet::testing::check_layer(*l, Shape{1, 4, 5, 3});
  }
  // The default alpha is zeros: a ReLU.
  expect_layer_values("PReLU()", {-1, 2}, {0, 2});
  // Values: alpha per channel of (1, 2, 2) channels_first.
  auto l = layer_of("PReLU(shared_axes=(2, 3))");
  Rng rng(0);
  l->build(Shape{Shape::kUnknown, 2, 1, 2}, rng, DType::f64);
  l->params()[0]->value = Tensor::from(std::vector<double>{0.5, 0.25}, Shape{2, 1, 1});
  Tensor y = l->forward(Tensor::from(std::vector<double>{-2, 3, -4, -8}, Shape{1, 2, 1, 2}), Mode::Training);
  EXPECT_TRUE(y.equal(Tensor::from(std::vector<double>{-1, 3, -1, -2}, Shape{1, 2, 1, 2})));
  l->backward(Tensor::from(std::vector<double>{1, 1, 1, 0.5}, Shape{1, 2, 1, 2}));
  // dalpha = sum dy min(x, 0): channel 0 gets -2, channel 1 gets -4 - 4.
  EXPECT_TRUE(l->params()[0]->grad.equal(Tensor::from(std::vector<double>{-2, -8}, Shape{2, 1, 1})));
  EXPECT_EQ(l->params()[0]->aliases, std::vector<std::string>{"weight"});  // PyTorch's name, for loading
}

TEST(ActivationLayers, PReLURegularizerAndConstraintOnAlpha) {
  // As on any parameter: the model adds the regularizer's loss and applies the constraint (after optimizer steps).
  Sequential m = parse_model("Input((3, 2)) >> PReLU(alpha_initializer=Constant(-0.5), alpha_regularizer=L2(0.1), "
                             "alpha_constraint=NonNeg(), shared_axes=1)");
  m.build(Shape{Shape::kUnknown, 3, 2}, 0, DType::f64);
  const Param& alpha = *m.named_params().at(0).second;
  EXPECT_EQ(alpha.value.shape(), (Shape{1, 2}));
  EXPECT_NEAR(m.regularization_loss(), 0.1 * 2 * 0.25, 1e-15);  // Keras's L2: l2 * sum(alpha^2)
  m.apply_constraints();
  EXPECT_TRUE(alpha.value.equal(Tensor(Shape{1, 2}, DType::f64))) << "NonNeg clips -0.5 to 0";
}

TEST(ActivationLayers, PReLULoadsPyTorchsWeightKeyInAlphasShape) {
  // On (N, C) inputs PyTorch's PReLU(C) weight (C,) is alpha's shape; other inputs need it reshaped first.
  Sequential m = parse_model("Input((3,)) >> PReLU(name=\"act\")");
  m.build(Shape{Shape::kUnknown, 3}, 0, DType::f64);
  const Tensor weight = Tensor::from(std::vector<double>{0.1, 0.2, 0.3}, Shape{3});
  load_weights(m, TensorFile{.tensors = {{"act.weight", weight}}});
  EXPECT_TRUE(m.named_params().at(0).second->value.equal(weight));
  Sequential cf = parse_model("Input((3, 2)) >> PReLU(shared_axes=2, name=\"act\")");
  cf.build(Shape{Shape::kUnknown, 3, 2}, 0, DType::f64);
  EXPECT_THROW_MSG(load_weights(cf, TensorFile{.tensors = {{"act.weight", weight}}}), FormatError,
                   "weights: key 'act.weight' must have shape (3, 1), got (3,)");
}

TEST(ActivationLayers, Errors) {
  EXPECT_THROW_MSG(layer_of("Softmax(axis=0)"), ConfigError, "Softmax: axis must not be 0 (the batch axis), got 0");
  Rng rng(0);
  EXPECT_THROW_MSG(layer_of("Softmax(axis=3)")->build(Shape{2, 3, 4}, rng), ShapeError,
                   "axis 3 must name a non-batch axis of the input, got shape (2, 3, 4)");
  EXPECT_THROW_MSG(layer_of("Activation(\"softmax\")")->build(Shape{4}, rng), ShapeError,
                   "axis -1 must name a non-batch axis of the input, got shape (4,)");  // Keras refuses 1D too
  EXPECT_THROW_MSG(layer_of("Softmax(axis=-3)")->build(Shape{2, 3, 4}, rng), ShapeError,
                   "axis -3 must name a non-batch axis");
  EXPECT_THROW_MSG(layer_of("Softmax(axis=(1, 2))"), ConfigError, "axis");
  EXPECT_THROW_MSG(layer_of("ReLU(max_value=-1.0)"), ConfigError,
                   "ReLU: max_value must be a finite number >= 0, got -1");
  EXPECT_THROW_MSG(layer_of("ReLU(negative_slope=-0.5)"), ConfigError, "ReLU: negative_slope must be");
  EXPECT_THROW_MSG(layer_of("ReLU(threshold=-0.5)"), ConfigError, "ReLU: threshold must be a finite number >= 0");
  EXPECT_THROW_MSG(ReLU({.max_value = NAN}), ConfigError, "ReLU: max_value must be a finite number >= 0, got nan");
  EXPECT_THROW_MSG(layer_of("LeakyReLU(alpha=-0.1)"), ConfigError, "LeakyReLU: alpha must be a finite number >= 0");
  EXPECT_THROW_MSG(layer_of("LeakyReLU(negative_slope=-1.0)"), ConfigError, "LeakyReLU: negative_slope must be");
  EXPECT_THROW_MSG(layer_of("LeakyReLU(alpha=0.1, negative_slope=0.2)"), ConfigError,
                   "LeakyReLU: alpha and negative_slope name the same slope (Keras 2 and 3); give one, got "
                   "alpha=0.1, negative_slope=0.2");
  EXPECT_THROW_MSG(ELU({.alpha = INFINITY}), ConfigError, "ELU: alpha must be a finite number, got inf");
  EXPECT_THROW_MSG(layer_of("ThresholdedReLU(theta=-1.0)"), ConfigError, "ThresholdedReLU: theta must be");
  EXPECT_THROW_MSG(layer_of("PReLU(shared_axes=(0, 1))"), ConfigError,
                   "PReLU: shared_axes must be axes >= 1 (the batch axis is 0), got (0, 1)");
  EXPECT_THROW_MSG(layer_of("PReLU(alpha_regularizer=\"l3\")"), ConfigError, "PReLU: alpha_regularizer");
  EXPECT_THROW_MSG(layer_of("PReLU(alpha_constraint=\"bad\")"), ConfigError, "PReLU: alpha_constraint");
  EXPECT_THROW_MSG(layer_of("PReLU(alpha_initializer=\"zeroes\")"), ConfigError,
                   "PReLU: alpha_initializer must be one of");
  EXPECT_THROW_MSG(layer_of("PReLU(shared_axes=(1, 2), alpha_constraint=MaxNorm(2.0, axis=3))")
                       ->build(Shape{2, 3, 4, 5}, rng),
                   ShapeError,
                   "alpha_constraint: constraint axis must be in [-3, 3) for a parameter of shape (1, 1, 5), got 3");
  EXPECT_THROW_MSG(layer_of("PReLU(shared_axes=3)")->build(Shape{2, 3, 4}, rng), ShapeError,
                   "shared_axes 3 is out of range for input shape (2, 3, 4)");
  EXPECT_THROW_MSG(layer_of("PReLU()")->build(Shape{2}, rng), ShapeError, "input rank must be >= 2, got shape (2,)");
  EXPECT_THROW_MSG(layer_of("PReLU()")->build(Shape{2, Shape::kUnknown}, rng), ShapeError,
                   "the non-batch sizes must be known");
  EXPECT_THROW_MSG(layer_of("ReLU()")->build(Shape{}, rng), ShapeError, "input rank must be >= 1");
  for (const char* spec : {"ReLU()", "PReLU()"}) {
    auto l = layer_of(spec);
    l->build(Shape{2, 3}, rng);
    EXPECT_THROW_MSG(l->backward(Tensor(Shape{2, 3})), ConfigError, "backward must follow a training-mode forward");
    l->forward(Tensor(Shape{2, 3}), Mode::Training);
    EXPECT_THROW_MSG(l->backward(Tensor(Shape{2, 4})), ShapeError, "output gradient shape must be (2, 3)");
  }
}

TEST(ActivationLayers, SpecRoundTrip) {
  for (const char* spec :
       {"Softmax(axis=-2)", "ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5)", "LeakyReLU(alpha=0.1)",
        "LeakyReLU(negative_slope=0.2)", "ELU(alpha=0.5)", "ThresholdedReLU(theta=2.0)",
        "PReLU(alpha_initializer=\"ones\", alpha_regularizer=L2(0.01), alpha_constraint=\"non_neg\", "
        "shared_axes=(1, 2))"}) {
    auto l = layer_of(spec);
    auto again = make_layer(l->config());
    EXPECT_EQ(again->config().kwargs, l->config().kwargs) << spec;
    EXPECT_EQ(again->config().repr(), l->config().repr()) << spec;
  }
}
