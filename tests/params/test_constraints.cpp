// Constraints: every expected value is computed by hand in the comments (Keras epsilon 1e-7 is below the
// tolerance except where stated).
#include <cmath>

#include "expect_error.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/layers/locally_connected.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/model/sequential.hpp"
#include "locnet/params/constraints.hpp"

using namespace locnet;

namespace {
void expect_values(const Tensor& t, const std::vector<double>& want, double tol = 1e-6) {
  ASSERT_EQ(t.numel(), int64_t(want.size()));
  for (int64_t i = 0; i < t.numel(); ++i) EXPECT_NEAR(t.item(i), want[size_t(i)], tol) << "element " << i;
}
// [[3, 0], [4, 1]]: column norms 5 and 1, row norms 3 and sqrt(17).
Tensor w22(DType dt = DType::f32) { return Tensor::from<double>({3, 0, 4, 1}, Shape{2, 2}).to(dt); }
}  // namespace

TEST(Constraints, MaxNormAlongEachAxis) {
  Tensor w = w22();
  MaxNorm(2.0).apply(w);  // axis 0: column 0 scaled by 2/5, column 1 (norm 1 <= 2) kept
  expect_values(w, {1.2, 0, 1.6, 1});
  w = w22(DType::f64);
  MaxNorm(2.0, {1}).apply(w);  // rows: row 0 scaled by 2/3, row 1 by 2/sqrt(17)
  const double s = 2 / std::sqrt(17.0);
  expect_values(w, {2, 0, 4 * s, s}, 1e-6);
  w = w22();
  MaxNorm(2.0, {-1}).apply(w);  // -1 is axis 1 here
  expect_values(w, {2, 0, 4 * s, s});
  w = w22();
  MaxNorm(1.0, {0, 1}).apply(w);  // the whole matrix: norm sqrt(26)
  const double t = 1 / std::sqrt(26.0);
  expect_values(w, {3 * t, 0, 4 * t, t});
}

TEST(Constraints, KerasEpsilonInTheDenominator) {
  // A norm-1 column is scaled by 1 / (1 + 1e-7), which f64 resolves.
  Tensor w = Tensor::from<double>({1.0}, Shape{1, 1});
  MaxNorm(2.0).apply(w);
  EXPECT_NEAR(w.item(0), 1.0 / (1.0 + 1e-7), 1e-15);
  // An all-zero column stays zero (0 / 1e-7) rather than becoming NaN.
  Tensor z(Shape{2, 1}, DType::f64);
  UnitNorm().apply(z);
  expect_values(z, {0, 0}, 0);
}

TEST(Constraints, UnitNormMinMaxNormNonNeg) {
  Tensor w = w22();
  UnitNorm().apply(w);  // columns divided by 5 and 1
  expect_values(w, {0.6, 0, 0.8, 1});
  w = w22();
  // norms 5 and 1, clipped to [1, 2]: desired 0.5 * 2 + 0.5 * 5 = 3.5 (scale 0.7) and 0.5 * 1 + 0.5 * 1 = 1
  MinMaxNorm(1.0, 2.0, 0.5).apply(w);
  expect_values(w, {2.1, 0, 2.8, 1});
  w = w22();
  MinMaxNorm(2.0, 3.0, 1.0, {1}).apply(w);  // row norms 3 (kept) and sqrt(17) -> 3
  const double s = 3 / std::sqrt(17.0);
  expect_values(w, {3, 0, 4 * s, s});
  Tensor v = Tensor::from<float>({-1, 0, 2, -0.5}, Shape{4});
  NonNeg().apply(v);
  expect_values(v, {0, 0, 2, 0}, 0);
}

TEST(Constraints, AxisOfAThreeDimensionalKernel) {
  // (2, 2, 2) with w[a][b][c] = 1 at (0, 0, 0), 2 at (1, 1, 0), 2 at (0, 1, 1) and 0 elsewhere.
  // axis (0, 1): one norm per c: c = 0 sqrt(5), c = 1 2; UnitNorm divides by them.
  Tensor w = Tensor::from<float>({1, 0, 0, 2, 0, 0, 2, 0}, Shape{2, 2, 2});
  UnitNorm({0, 1}).apply(w);
  const double r5 = 1 / std::sqrt(5.0);
  expect_values(w, {r5, 0, 0, 1, 0, 0, 2 * r5, 0});
  // axis 2 (pairs along the last axis): norms 1, 2, 0, 2 ... each nonzero pair becomes a unit vector.
  w = Tensor::from<float>({1, 0, 0, 2, 0, 0, 2, 0}, Shape{2, 2, 2});
  UnitNorm({2}).apply(w);
  expect_values(w, {1, 0, 0, 1, 0, 0, 1, 0});
}

TEST(Constraints, SpecFormsAndConfig) {
  auto make = [](const Value& v) { return make_constraint(v, "test"); };
  EXPECT_EQ(make(Value()), nullptr);
  EXPECT_EQ(make("max_norm")->config().repr(), "MaxNorm(max_value=2.0, axis=0)");
  EXPECT_EQ(make("non_neg")->config().repr(), "NonNeg()");
  EXPECT_EQ(make("unit_norm")->config().repr(), "UnitNorm(axis=0)");
  EXPECT_EQ(make("min_max_norm")->config().repr(), "MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0, axis=0)");
  EXPECT_EQ(make(parse_value("max_norm(3, axis=(0, 1))"))->config().repr(), "MaxNorm(max_value=3.0, axis=(0, 1))");
  EXPECT_EQ(make(parse_value("MinMaxNorm(0.5, rate=0.25, axis=-1)"))->config().repr(),
            "MinMaxNorm(min_value=0.5, max_value=1.0, rate=0.25, axis=-1)");
  Value v = UnitNorm({1});
  EXPECT_EQ(make(v)->config(), UnitNorm({1}).config());
}

TEST(Constraints, Errors) {
  auto make = [](const char* text) { return make_constraint(parse_value(text), "Dense: kernel_constraint"); };
  EXPECT_THROW_MSG(make("'maxnorm'"), ConfigError,
                   "Dense: kernel_constraint must be None, \"max_norm\", \"non_neg\", \"unit_norm\", \"min_max_norm\", "
                   "MaxNorm(max_value, axis), NonNeg(), UnitNorm(axis) or MinMaxNorm(min_value, max_value, rate, axis), "
                   "got \"maxnorm\"");
  EXPECT_THROW_MSG(make("MaxNorm(-1)"), ConfigError,
                   "Dense: kernel_constraint: MaxNorm: max_value must be a finite number >= 0, got -1");
  EXPECT_THROW_MSG(make("NonNeg(1)"), ConfigError, "takes at most 0 positional arguments, got 1");
  EXPECT_THROW_MSG(make("UnitNorm(axes=1)"), ConfigError, "unknown argument 'axes'");
  EXPECT_THROW_MSG(make("unit_norm(axis=(1, 1))"), ConfigError, "constraint axis must not repeat an axis, got 1");
  EXPECT_THROW_MSG(make("MinMaxNorm(2, 1)"), ConfigError,
                   "0 <= min_value <= max_value, got 2 and 1");
  EXPECT_THROW_MSG(make("MinMaxNorm(rate=1.5)"), ConfigError, "MinMaxNorm: rate must be in [0, 1], got 1.5");
  // An axis the parameter lacks is a ShapeError at build, naming the layer and parameter.
  EXPECT_THROW_MSG(MaxNorm(2.0, {2}).check(Shape{3, 4}, "here"), ShapeError,
                   "here: constraint axis must be in [-2, 2) for a parameter of shape (3, 4), got 2");
  Dense d({.units = 2, .bias_constraint = MaxNorm(2.0, {1})});
  Rng rng(0);
  EXPECT_THROW_MSG(d.build(Shape{1, 3}, rng), ShapeError,
                   "(Dense) bias_constraint: constraint axis must be in [-1, 1) for a parameter of shape (2,)");
}

TEST(Constraints, SequentialAppliesEveryParameterConstraint) {
  Sequential m = parse_model(
      "Input((3, 1)) >> LocallyConnected1D(1, 2, kernel_constraint=MaxNorm(1, axis=(0, 1)), bias_constraint='non_neg')"
      " >> Dense(1, kernel_constraint='non_neg')");
  m.build(Shape{Shape::kUnknown, 3, 1});
  auto params = m.named_params(false);
  ASSERT_EQ(params.size(), 4u);
  params[0].second->value = Tensor::from<float>({3, 0, 0, 4}, Shape{2, 2, 1});  // norm over (P, K) per filter: 5
  params[1].second->value = Tensor::from<float>({-1, 2}, Shape{2, 1});
  params[2].second->value = Tensor::from<float>({-3, 0.5}, Shape{2, 1});
  params[3].second->value = Tensor::from<float>({-7}, Shape{1});  // Dense bias: unconstrained
  m.apply_constraints();
  expect_values(params[0].second->value, {0.6, 0, 0, 0.8});
  expect_values(params[1].second->value, {0, 2}, 0);
  expect_values(params[2].second->value, {0, 0.5}, 0);
  expect_values(params[3].second->value, {-7}, 0);
  // The config keeps the constraint and rebuilds the same layer.
  Call c = m.layer(0).config();
  EXPECT_NE(c.repr().find("kernel_constraint=MaxNorm(1, axis=(0, 1)), bias_constraint=\"non_neg\""), std::string::npos)
      << c.repr();
  auto again = make_layer(c);
  again->set_name(again->name_pattern());
  EXPECT_EQ(again->config(), c) << again->config().repr() << "\n" << c.repr();
}
