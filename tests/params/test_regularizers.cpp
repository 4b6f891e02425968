// Regularizers: every expected value is computed by hand in the comments.
#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/layers/locally_connected.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/model/sequential.hpp"
#include "locnet/params/regularizers.hpp"

using namespace locnet;

namespace {
void expect_values(const Tensor& t, const std::vector<double>& want, double tol = 1e-6) {
  ASSERT_EQ(t.numel(), int64_t(want.size()));
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_NEAR(t.item(i), want[size_t(i)], tol) << "element " << i;
}
}  // namespace

TEST(Regularizers, L1L2LossAndGradient) {
  Tensor w = Tensor::from<float>({1, -2, 0, 3}, Shape{2, 2});
  L1L2 r(0.1, 0.2);
  // 0.1 * (1 + 2 + 0 + 3) + 0.2 * (1 + 4 + 0 + 9) = 0.6 + 2.8
  EXPECT_NEAR(r.loss(w), 3.4, 1e-6);
  // grad accumulates: 1 + 0.1 sign(w) + 0.4 w; sign(0) = 0
  Tensor g = Tensor::from<float>({1, 1, 1, 1}, Shape{2, 2});
  r.add_grad(w, g);
  expect_values(g, {1.5, 0.1, 1.0, 2.3});
}

TEST(Regularizers, L1AndL2DefaultsAndF64) {
  Tensor w = Tensor::from<double>({-0.5, 2.0}, Shape{2});
  EXPECT_NEAR(L1().loss(w), 0.01 * 2.5, 1e-12);
  EXPECT_NEAR(L2().loss(w), 0.01 * 4.25, 1e-12);
  Tensor g(Shape{2}, DType::f64);
  L2(0.5).add_grad(w, g);  // 2 * 0.5 * w
  expect_values(g, {-0.5, 2.0}, 1e-12);
  L1(0.25).add_grad(w, g);  // += 0.25 sign(w)
  expect_values(g, {-0.75, 2.25}, 1e-12);
  Tensor wrong(Shape{3}, DType::f64);
  EXPECT_THROW_MSG(L2().add_grad(w, wrong), ShapeError, "grad's shape and dtype must be (2,) f64, got (3,) f64");
}

TEST(Regularizers, SpecForms) {
  auto l1l2 = [](const Value& v) { return dynamic_cast<const L1L2&>(*make_regularizer(v, "test")); };
  EXPECT_EQ(make_regularizer(Value(), "test"), nullptr);
  EXPECT_EQ(l1l2("l1").l1(), 0.01);
  EXPECT_EQ(l1l2("l1").l2(), 0.0);
  EXPECT_EQ(l1l2("l2").l2(), 0.01);
  EXPECT_EQ(l1l2("l1_l2").l1(), 0.01);  // Keras's l1_l2 string and function: both 0.01
  EXPECT_EQ(l1l2("l1_l2").l2(), 0.01);
  EXPECT_EQ(l1l2(parse_value("l1_l2(l2=0.5)")).l1(), 0.01);
  EXPECT_EQ(l1l2(parse_value("L1L2(l2=0.5)")).l1(), 0.0);  // the class defaults to 0
  EXPECT_EQ(l1l2(parse_value("L1L2(1e-5, l2=1e-4)")).l1(), 1e-5);
  EXPECT_EQ(l1l2(parse_value("L1L2(1e-5, l2=1e-4)")).l2(), 1e-4);
  EXPECT_EQ(l1l2(parse_value("L2(3)")).l2(), 3.0);
  EXPECT_EQ(l1l2(parse_value("l1(l1=0.5)")).l1(), 0.5);
  // config() is the call that rebuilds the same regularizer; objects convert to it.
  Value v = L2(1e-4);
  EXPECT_EQ(v.repr(), "L2(l2=0.0001)");
  EXPECT_EQ(make_regularizer(v, "test")->config(), L2(1e-4).config());
  EXPECT_EQ(L1L2(0.5, 0.25).config().repr(), "L1L2(l1=0.5, l2=0.25)");
}

TEST(Regularizers, Errors) {
  auto make = [](const char* text) { return make_regularizer(parse_value(text), "Dense: kernel_regularizer"); };
  EXPECT_THROW_MSG(make("'l3'"), ConfigError,
                   "Dense: kernel_regularizer must be None, \"l1\", \"l2\", \"l1_l2\", L1(l1), L2(l2) or L1L2(l1, l2), "
                   "got \"l3\"");
  EXPECT_THROW_MSG(make("0.01"), ConfigError, "Dense: kernel_regularizer must be None, \"l1\"");
  EXPECT_THROW_MSG(make("L2(l3=1)"), ConfigError, "Dense: kernel_regularizer: L2 (column 1): unknown argument 'l3'");
  EXPECT_THROW_MSG(make("L2('a')"), ConfigError, "argument 'l2' must be float, got string \"a\"");
  EXPECT_THROW_MSG(make("L1(-1)"), ConfigError,
                   "Dense: kernel_regularizer: L1 (column 1): regularizer penalty l1 must be a finite number >= 0, got -1");
  EXPECT_THROW_MSG(L1L2(0.0, -0.5), ConfigError, "regularizer penalty l2 must be a finite number >= 0, got -0.5");
  EXPECT_THROW_MSG(Dense(DenseConfig{.units = 2, .bias_regularizer = "L2"}), ConfigError,
                   "Dense: bias_regularizer must be None");
}

// Dense(2) with kernel [[1, -2], [3, 0.5]] and bias [0.5, -1]; x = [[1, 2], [0, -1]] gives
// y = x k + b = [[1 + 6 + 0.5, -2 + 1 - 1], [-3 + 0.5, -0.5 - 1]] = [[7.5, -2], [-2.5, -1.5]].
struct DenseByHand : ::testing::Test {
  Sequential model;
  Tensor x = Tensor::from<float>({1, 2, 0, -1}, Shape{2, 2});
  void make(DenseConfig cfg) {
    model = Sequential();
    model.add(Dense(cfg));
    model.build(Shape{Shape::kUnknown, 2});
    model.layer(0).params()[0]->value = Tensor::from<float>({1, -2, 3, 0.5}, Shape{2, 2});
    model.layer(0).params()[1]->value = Tensor::from<float>({0.5, -1}, Shape{2});
  }
};

TEST_F(DenseByHand, ParameterRegularizersAddToLossAndGradsNotToBackward) {
  make({.units = 2, .kernel_regularizer = L2(0.5), .bias_regularizer = L1(2.0)});
  // 0.5 * (1 + 4 + 9 + 0.25) + 2 * (0.5 + 1)
  EXPECT_NEAR(model.regularization_loss(), 7.125 + 3.0, 1e-6);
  (void)model.forward(x, Mode::Training);
  (void)model.backward(Tensor(Shape{2, 2}));  // dy = 0: backward leaves the gradients at 0
  Param& k = *model.layer(0).params()[0];
  Param& b = *model.layer(0).params()[1];
  expect_values(k.grad, {0, 0, 0, 0});
  model.add_regularization_grads();
  expect_values(k.grad, {1, -2, 3, 0.5});  // 2 * 0.5 * k
  expect_values(b.grad, {2, -2});          // 2 * sign(b)
  EXPECT_EQ(model.layer(0).activity_loss(), 0.0);
}

TEST_F(DenseByHand, ActivityRegularizerOnTheOutputDividedByBatch) {
  make({.units = 2, .activity_regularizer = L2(0.5)});
  (void)model.forward(x, Mode::Training);
  // 0.5 * (56.25 + 4 + 6.25 + 2.25) / batch 2
  EXPECT_NEAR(model.regularization_loss(), 0.5 * 68.75 / 2, 1e-5);
  // dy = 0, so dz = 2 * 0.5 * y / 2 = y / 2 = [[3.75, -1], [-1.25, -0.75]];
  // dx = dz k^T: row 0 [3.75 + 2, 11.25 - 0.5], row 1 [-1.25 + 1.5, -3.75 - 0.375]
  Tensor dx = model.backward(Tensor(Shape{2, 2}));
  expect_values(dx, {5.75, 10.75, 0.25, -4.125}, 1e-5);
  // dkernel = x^T dz: [[3.75, -1], [7.5 + 1.25, -2 + 0.75]]; dbias = column sums of dz
  expect_values(model.layer(0).params()[0]->grad, {3.75, -1, 8.75, -1.25}, 1e-5);
  expect_values(model.layer(0).params()[1]->grad, {2.5, -1.75}, 1e-5);
  const double trained_loss = model.regularization_loss();
  (void)model.forward(Tensor(Shape{3, 2}), Mode::Inference);
  EXPECT_EQ(model.regularization_loss(), trained_loss) << "an inference forward records no activity loss";
}

TEST(Regularizers, LocallyConnectedWiring) {
  // 1D, 3 steps, 1 channel, kernel 2, 1 filter: kernel (2, 2, 1), bias (2, 1).
  Sequential m = parse_model(
      "Input((3, 1)) >> LocallyConnected1D(1, 2, kernel_regularizer='l1', bias_regularizer=L2(1.0), "
      "activity_regularizer=L1(0.5), name='lc')");
  m.build(Shape{Shape::kUnknown, 3, 1});
  Layer& lc = m.layer(0);
  lc.params()[0]->value = Tensor::from<float>({1, -1, 2, 0}, Shape{2, 2, 1});
  lc.params()[1]->value = Tensor::from<float>({0.5, -3}, Shape{2, 1});
  // x = [1, 2, 3]: y0 = 1 - 2 + 0.5 = -0.5, y1 = 2 * 2 + 0 - 3 = 1
  Tensor x = Tensor::from<float>({1, 2, 3}, Shape{1, 3, 1});
  expect_values(m.forward(x, Mode::Training), {-0.5, 1});
  // 0.01 * 4 + 1.0 * (0.25 + 9) + 0.5 * (0.5 + 1) / 1
  EXPECT_NEAR(m.regularization_loss(), 0.04 + 9.25 + 0.75, 1e-6);
  // dy = 0 -> dz = 0.5 sign(y) = [-0.5, 0.5]; dkernel[p, q] = x[p + q] dz[p]; dx[i] = sum dz[p] k[p, i - p]
  Tensor dx = m.backward(Tensor(Shape{1, 2, 1}));
  expect_values(dx, {-0.5, 0.5 + 1.0, 0.0});
  expect_values(lc.params()[0]->grad, {-0.5, -1, 1, 1.5});
  m.add_regularization_grads();
  expect_values(lc.params()[0]->grad, {-0.49, -1.01, 1.01, 1.5});
  expect_values(lc.params()[1]->grad, {-0.5 + 1.0, 0.5 - 6.0});
  // The config keeps the forms given, and rebuilds the same layer.
  Call c = lc.config();
  EXPECT_NE(c.repr().find("kernel_regularizer=\"l1\", bias_regularizer=L2(1.0), activity_regularizer=L1(0.5)"),
            std::string::npos)
      << c.repr();
  auto again = make_layer(c);
  again->set_name(again->name_pattern());
  EXPECT_EQ(again->config(), c) << again->config().repr() << "\n" << c.repr();
}

TEST(Regularizers, GradientCheckSeesTheLayerFunctionOnly) {
  LocallyConnected2D lc({.filters = 2, .kernel_size = {2, 2}, .kernel_regularizer = L2(10.0),
                         .bias_regularizer = "l1"});
  locnet::testing::check_layer(lc, Shape{2, 3, 3, 2});
  Dense d({.units = 3, .kernel_regularizer = L1L2(1.0, 1.0)});
  locnet::testing::check_layer(d, Shape{2, 4});
}
