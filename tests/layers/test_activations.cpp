// The Activation layer: values of the Keras activations added for issue 27 (selu, swish, hard_sigmoid,
// exponential) against values computed by hand from Keras' published formulas and constants (Python's math
// module, not locnet), and the generic gradient check for every activation name.
#include <gtest/gtest.h>

#include <vector>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/layers/activations.hpp"

using namespace locnet;

namespace {

std::vector<double> apply(const std::string& name, const std::vector<double>& x) {
  Activation a(name);
  Rng rng(0);
  a.build(Shape{Shape::kUnknown, int64_t(x.size())}, rng, DType::f64);
  Tensor y = a.forward(Tensor::from(x, Shape{1, int64_t(x.size())}), Mode::Inference);
  std::vector<double> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = y.item(int64_t(i));
  return out;
}

void expect_values(const std::string& name, const std::vector<double>& x, const std::vector<double>& want) {
  SCOPED_TRACE(name);
  std::vector<double> got = apply(name, x);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-15 * (1 + std::abs(want[i]))) << x[i];
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
