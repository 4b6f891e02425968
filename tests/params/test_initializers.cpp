// Initializers (Keras's definitions): moments and bounds checked statistically on large tensors with fixed seeds
// (the tolerances are several standard errors wide, so a correct initializer passes for any seed and a wrong
// scale or fan fails by far), orthogonality exactly, and the spec round trip. The expected values come from
// Keras's formulas written out here, not from the code under test.
#include <cmath>

#include "expect_error.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/layers/conv.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/layers/locally_connected.hpp"
#include "locnet/model/sequential.hpp"
#include "locnet/model/weights.hpp"
#include "locnet/params/initializers.hpp"

using namespace locnet;

namespace {

struct Moments {
  double mean = 0, stddev = 0, min = INFINITY, max = -INFINITY;
};
Moments moments(const Tensor& t) {
  Moments m;
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < t.numel(); ++i) {
    double x = t.item(i);
    s += x;
    s2 += x * x;
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  double n = double(t.numel());
  m.mean = s / n;
  m.stddev = std::sqrt(s2 / n - m.mean * m.mean);
  return m;
}

Tensor filled(const Value& init, const Shape& shape, uint64_t seed = 1) {
  Tensor t(shape, DType::f64);
  Rng rng(seed);
  initialize(init, t, rng, "test");
  return t;
}

Value spec(const char* text) { return parse_value(text); }

constexpr double kTruncStd = 0.87962566103423978;  // stddev of N(0, 1) truncated to [-2, 2]

// Mean within 5 standard errors, stddev within 2%.
void expect_moments(const Tensor& t, double mean, double stddev) {
  Moments m = moments(t);
  EXPECT_NEAR(m.mean, mean, 5 * stddev / std::sqrt(double(t.numel())));
  EXPECT_NEAR(m.stddev, stddev, 0.02 * stddev);
}

}  // namespace

TEST(Initializers, KerasFansOfEachRank) {
  EXPECT_EQ(keras_fans(Shape{}), std::make_pair(int64_t(1), int64_t(1)));
  EXPECT_EQ(keras_fans(Shape{7}), std::make_pair(int64_t(7), int64_t(7)));
  EXPECT_EQ(keras_fans(Shape{3, 5}), std::make_pair(int64_t(3), int64_t(5)));
  // Conv2D kernel (kh, kw, C, F): receptive field 3*3
  EXPECT_EQ(keras_fans(Shape{3, 3, 16, 32}), std::make_pair(int64_t(144), int64_t(288)));
  // LocallyConnected implementation 1 kernel (P, K, F): receptive field P
  EXPECT_EQ(keras_fans(Shape{10, 27, 4}), std::make_pair(int64_t(270), int64_t(40)));
}

TEST(Initializers, RandomNormalUniformTruncatedNormalWithArguments) {
  const Shape big{300, 400};
  expect_moments(filled(spec("RandomNormal(mean=1.0, stddev=2.0, seed=3)"), big), 1.0, 2.0);
  expect_moments(filled(spec("RandomNormal()"), big), 0.0, 0.05);  // Keras's defaults
  {
    Tensor u = filled(spec("RandomUniform(minval=-1.0, maxval=3.0, seed=4)"), big);
    Moments m = moments(u);
    EXPECT_GE(m.min, -1.0);
    EXPECT_LT(m.max, 3.0);
    EXPECT_LT(m.min, -0.99);
    EXPECT_GT(m.max, 2.99);
    expect_moments(u, 1.0, 4.0 / std::sqrt(12.0));
  }
  {
    // Truncated at 2 stddev: the bounds hold and are reached; the stddev shrinks by the truncation factor.
    Tensor t = filled(spec("TruncatedNormal(0.5, 0.2, seed=5)"), big);
    Moments m = moments(t);
    EXPECT_GE(m.min, 0.5 - 0.4);
    EXPECT_LE(m.max, 0.5 + 0.4);
    EXPECT_LT(m.min, 0.5 - 0.39);
    EXPECT_GT(m.max, 0.5 + 0.39);
    expect_moments(t, 0.5, 0.2 * kTruncStd);
  }
  Tensor c = filled(spec("Constant(value=0.25)"), Shape{3, 4});
  for (int64_t i = 0; i < c.numel(); ++i) EXPECT_EQ(c.item(i), 0.25);
  Tensor c2 = filled(spec("Constant(-2)"), Shape{5});
  for (int64_t i = 0; i < c2.numel(); ++i) EXPECT_EQ(c2.item(i), -2.0);
}

TEST(Initializers, VarianceScalingModesAndDistributions) {
  const Shape k{4, 4, 30, 60};  // fans 480, 960; fan_avg 720
  const double fan_in = 480, fan_out = 960, fan_avg = 720;
  // truncated_normal: the drawn values have variance scale / n, bounded by 2 sqrt(scale / n) / 0.8796...
  {
    Tensor t = filled(spec("VarianceScaling(scale=2.0, mode='fan_in', distribution='truncated_normal', seed=1)"), k);
    double sd = std::sqrt(2.0 / fan_in);
    expect_moments(t, 0.0, sd);
    Moments m = moments(t);
    EXPECT_LE(std::max(-m.min, m.max), 2 * sd / kTruncStd);
    EXPECT_GT(std::max(-m.min, m.max), 1.98 * sd / kTruncStd);
  }
  expect_moments(filled(spec("VarianceScaling(0.5, 'fan_out', 'untruncated_normal')"), k), 0.0,
                 std::sqrt(0.5 / fan_out));
  {
    Tensor t = filled(spec("VarianceScaling(3.0, mode='fan_avg', distribution='uniform')"), k);
    double limit = std::sqrt(3.0 * 3.0 / fan_avg);
    Moments m = moments(t);
    EXPECT_GE(m.min, -limit);
    EXPECT_LT(m.max, limit);
    EXPECT_GT(m.max, 0.99 * limit);
    expect_moments(t, 0.0, limit / std::sqrt(3.0));
  }
  // Keras's defaults: scale 1, fan_in, truncated_normal; Keras 2's "normal" means truncated_normal.
  expect_moments(filled(spec("VarianceScaling()"), k), 0.0, std::sqrt(1.0 / fan_in));
  expect_moments(filled(spec("VarianceScaling(distribution='normal')"), k), 0.0, std::sqrt(1.0 / fan_in));
}

TEST(Initializers, HeLecunGlorotAreVarianceScalingPresets) {
  const Shape k{3, 3, 40, 80};  // fans 360, 720
  const double fi = 360, fo = 720;
  struct Row {
    const char* name;
    double stddev;  // of the drawn values
  };
  for (Row r : {Row{"he_normal", std::sqrt(2 / fi)}, Row{"HeNormal(seed=2)", std::sqrt(2 / fi)},
                Row{"he_uniform", std::sqrt(6 / fi) / std::sqrt(3.0)}, Row{"lecun_normal", std::sqrt(1 / fi)},
                Row{"LecunUniform()", std::sqrt(3 / fi) / std::sqrt(3.0)},
                Row{"glorot_normal", std::sqrt(2 / (fi + fo))},
                Row{"GlorotUniform", std::sqrt(6 / (fi + fo)) / std::sqrt(3.0)}}) {
    SCOPED_TRACE(r.name);
    std::string text = r.name;
    Value v = text.find('(') == std::string::npos ? Value(text) : spec(r.name);
    expect_moments(filled(v, k), 0.0, r.stddev);
  }
  // Names in either spelling are the same initializer: same stream, same values.
  Tensor a = filled(Value("he_normal"), Shape{6, 7}, 9), b = filled(Value("HeNormal"), Shape{6, 7}, 9);
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a.item(i), b.item(i));
}

TEST(Initializers, LayersUseKerasFansOfTheirKernels) {
  Rng rng(1);
  // Dense kernel (in, units)
  Dense d({.units = 400, .kernel_initializer = "he_normal"});
  d.build(Shape{1, 300}, rng);
  expect_moments(d.params()[0]->value, 0.0, std::sqrt(2.0 / 300));
  // Conv2D kernel (3, 3, C, F): fan_out = 9 F
  Conv2D conv2({.filters = 64, .kernel_size = {3}, .kernel_initializer = spec("VarianceScaling(mode='fan_out')")});
  conv2.build(Shape{1, 8, 8, 32}, rng);
  expect_moments(conv2.params()[0]->value, 0.0, std::sqrt(1.0 / (9 * 64)));
  // LocallyConnected2D implementation 1 kernel (P, K, F): fan_in = K P
  LocallyConnected2D lc({.filters = 8, .kernel_size = {3, 3}, .kernel_initializer = "lecun_normal"});
  lc.build(Shape{1, 12, 12, 10}, rng);
  const double P = 100, K = 90;
  expect_moments(lc.params()[0]->value, 0.0, std::sqrt(1.0 / (K * P)));
  // A bias (units,) has fans (units, units), as Keras's compute_fans of its own shape.
  Dense db({.units = 2000, .bias_initializer = "he_uniform"});
  db.build(Shape{1, 3}, rng);
  Moments m = moments(db.params()[1]->value);
  EXPECT_LE(std::max(-m.min, m.max), std::sqrt(6.0 / 2000));
  EXPECT_GT(std::max(-m.min, m.max), 0.95 * std::sqrt(6.0 / 2000));
}

TEST(Initializers, OrthogonalIsOrthogonalInEveryOrientation) {
  auto gram = [](const Tensor& t, int64_t rows, int64_t cols, bool of_columns, double gain) {
    int64_t n = of_columns ? cols : rows, len = of_columns ? rows : cols;
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = 0; b < n; ++b) {
        double dot = 0;
        for (int64_t i = 0; i < len; ++i)
          dot += of_columns ? t.item(i * cols + a) * t.item(i * cols + b) : t.item(a * cols + i) * t.item(b * cols + i);
        EXPECT_NEAR(dot, a == b ? gain * gain : 0.0, 1e-12) << a << "," << b;
      }
  };
  gram(filled(spec("Orthogonal(seed=1)"), Shape{50, 20}), 50, 20, true, 1.0);   // tall: orthonormal columns
  gram(filled(spec("Orthogonal(gain=2.0)"), Shape{20, 50}), 20, 50, false, 2.0);  // wide: orthonormal rows
  gram(filled(Value("orthogonal"), Shape{16, 16}), 16, 16, true, 1.0);
  gram(filled(spec("Orthogonal()"), Shape{4, 5, 6}), 20, 6, true, 1.0);  // (prod(shape[:-1]), shape[-1])
  // Each column (row) is a uniformly random direction: its entries have mean 0 and variance 1 / length.
  Tensor big = filled(spec("Orthogonal(seed=7)"), Shape{400, 300});
  expect_moments(big, 0.0, std::sqrt(1.0 / 400));
  Tensor t(Shape{5}, DType::f64);
  Rng rng(0);
  EXPECT_THROW_MSG(initialize(spec("Orthogonal()"), t, rng, "fc (Dense) bias_initializer"), ConfigError,
                   "fc (Dense) bias_initializer: Orthogonal needs a tensor of rank >= 2");
}

TEST(Initializers, SeededInitializerRepeatsAndIgnoresTheModelStream) {
  Tensor a = filled(spec("RandomNormal(seed=11)"), Shape{20}, 1);
  Tensor b = filled(spec("RandomNormal(seed=11)"), Shape{20}, 2);
  Tensor c = filled(spec("RandomNormal(seed=12)"), Shape{20}, 1);
  Tensor d = filled(spec("RandomNormal()"), Shape{20}, 1), e = filled(spec("RandomNormal()"), Shape{20}, 2);
  int same_ab = 0, same_ac = 0, same_de = 0;
  for (int64_t i = 0; i < 20; ++i) {
    same_ab += a.item(i) == b.item(i);
    same_ac += a.item(i) == c.item(i);
    same_de += d.item(i) == e.item(i);
  }
  EXPECT_EQ(same_ab, 20);
  EXPECT_EQ(same_ac, 0);
  EXPECT_EQ(same_de, 0);
}

TEST(Initializers, BadArgumentsAreConfigErrors) {
  auto check = [](const char* text, const char* part) {
    SCOPED_TRACE(text);
    EXPECT_THROW_MSG(check_initializer(spec(text), "Dense: kernel_initializer"), ConfigError, part);
  };
  check("'glorot'", "Dense: kernel_initializer must be one of zeros, ones, constant, random_normal");
  check("GlorotUniformish()", "got 'GlorotUniformish'");
  check("RandomNormal(stddev=-1.0)", "RandomNormal stddev must be >= 0, got -1");
  check("TruncatedNormal(0.0, -0.1)", "stddev must be >= 0");
  check("RandomUniform(1.0, 0.0)", "minval must be <= maxval (0), got 1");
  check("VarianceScaling(scale=0.0)", "scale must be > 0, got 0");
  check("VarianceScaling(mode='fan_sum')", "mode must be \"fan_in\", \"fan_out\" or \"fan_avg\", got \"fan_sum\"");
  check("VarianceScaling(distribution='gamma')", "distribution must be \"truncated_normal\"");
  check("he_normal(seed=-1)", "seed must be None or an integer >= 0, got -1");
  check("RandomNormal(std=0.1)", "Dense: kernel_initializer: RandomNormal (column 1): unknown argument 'std'");
  check("Zeros(1)", "takes at most 0 positional arguments");
  check("Orthogonal(gain='big')", "argument 'gain' must be float");
  check("3", "must be an initializer name or call");
  EXPECT_THROW_MSG(parse_model("Dense(3, kernel_initializer=RandomNormal(stddev=-1.0))"), ConfigError,
                   "Dense: kernel_initializer: RandomNormal stddev must be >= 0");
}

// config() -> spec text -> parse -> the same config, and the same weights for the same seed.
TEST(Initializers, SpecRoundTrip) {
  const char* text =
      "Input((6, 6, 2)) >> Conv2D(3, 2, kernel_initializer=Orthogonal(gain=0.5, seed=1), "
      "bias_initializer=Constant(0.25)) >> LocallyConnected2D(2, 3, kernel_initializer=VarianceScaling(2.0, "
      "'fan_avg', 'uniform'), bias_initializer=RandomNormal(mean=1.0, stddev=0.5, seed=3)) >> Flatten() >> "
      "Dense(4, kernel_initializer=TruncatedNormal(stddev=0.1), bias_initializer='he_uniform')";
  Sequential a = parse_model(text);
  Sequential b = parse_model(a.spec());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a.layer(i).config(), b.layer(i).config()) << a.layer(i).config().repr();
  EXPECT_EQ(a.spec(), b.spec());
  a.build(*a.input_shape(), 5);
  b.build(*b.input_shape(), 5);
  TensorFile wa = model_weights(a), wb = model_weights(b);
  ASSERT_EQ(wa.tensors.size(), wb.tensors.size());
  for (size_t i = 0; i < wa.tensors.size(); ++i)
    for (int64_t j = 0; j < wa.tensors[i].second.numel(); ++j)
      ASSERT_EQ(wa.tensors[i].second.item(j), wb.tensors[i].second.item(j)) << wa.tensors[i].first;
  const Tensor* conv_bias = wa.find(a.layer(0).name() + ".bias");
  ASSERT_NE(conv_bias, nullptr);
  for (int64_t j = 0; j < conv_bias->numel(); ++j) EXPECT_EQ(conv_bias->item(j), 0.25);
}
