// The activation layers (Softmax on any axis, ReLU with max_value / negative_slope / threshold, ThresholdedReLU,
// LeakyReLU, ELU, PReLU with shared axes in both layouts) against real PyTorch 1.13 output
// (tests/conformance/act_pytorch/generate.py): y, dx and PReLU's dalpha for L = sum(y * dy), in f64 and f32.
#include <gtest/gtest.h>

#include "conformance/cases.hpp"
#include "gradcheck.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/registry.hpp"

using namespace locnet;

TEST(ActPyTorchConformance, ForwardAndBackward) {
  const std::vector<locnet::testing::LayerCase> cases = locnet::testing::layer_cases("act_pytorch");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + ": " + c.spec);
    Tensor x = c.load("x"), dy = c.load("dy"), y_torch = c.load("y"), dx_torch = c.load("dx");
    const bool prelu = c.spec.rfind("PReLU", 0) == 0;
    for (DType dt : {DType::f64, DType::f32}) {
      SCOPED_TRACE(dtype_name(dt));
      auto layer = make_layer(parse_chain(c.spec)[0]);
      Rng rng(0);
      layer->build(x.shape().with_dim(0, Shape::kUnknown), rng, dt);
      if (prelu) {
        Tensor alpha = c.load("alpha");
        ASSERT_EQ(layer->params().at(0)->value.shape(), alpha.shape());
        layer->params()[0]->value = alpha.to(dt);
      }
      const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
      EXPECT_LE(max_scaled_error(layer->forward(x.to(dt), Mode::Training), y_torch, tol, tol), 1.0);
      EXPECT_LE(max_scaled_error(layer->backward(dy.to(dt)), dx_torch, tol, tol), 1.0);
      if (prelu) {
        EXPECT_LE(max_scaled_error(layer->params()[0]->grad, c.load("dalpha"), tol, tol), 1.0);
      }
    }
  }
  EXPECT_EQ(cases.size(), 14u);
}
