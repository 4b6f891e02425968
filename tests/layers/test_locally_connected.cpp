// LocallyConnected1D/2D: forward against a direct loop written here from Keras's implementation-1 formula
// (docs/locally_connected.md: Layouts, the flat bias rule) with the padding table of the header, hand-computed
// values, Keras's 'same' window rule (docs/frameworks.md), Keras's documented example, layouts, gradients in every
// mode and every error path. The cases: tests/layers/lc_cases.hpp; Keras implementation 2/3 kernel layouts:
// tests/layers/test_locally_connected_keras.cpp.
#include <cmath>
#include <cstdlib>
#include <set>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "kernels/harness.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/layers/locally_connected.hpp"
#include "locnet/layers/locally_connected_keras.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/model/sequential.hpp"
#include "lc_cases.hpp"
#include "scoped_env.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

using namespace lc_cases;

TEST(LocallyConnected, SeedExampleShapesAndParameterCounts) {
  Sequential m = Input({32, 32, 3}) >> LocallyConnected2D(64, {3, 3}) >> LocallyConnected2D(32, {3, 3});
  EXPECT_EQ(m.output_shape().str(), "(None, 28, 28, 32)");
  std::string s = m.summary();
  EXPECT_NE(s.find("(None, 30, 30, 64)"), std::string::npos) << s;
  EXPECT_NE(s.find("1,612,800"), std::string::npos) << s;  // (30*30)*(3*3*3*64) + (30*30)*64, the Keras docstring
  // (28*28)*(3*3*64*32) + (28*28)*32
  EXPECT_NE(s.find("14,475,776"), std::string::npos) << s;
  LocallyConnected2D first(64, {3, 3});
  Rng rng(1);
  first.build(Shape{Shape::kUnknown, 32, 32, 3}, rng);
  auto ps = first.params();
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0]->name, "kernel");
  EXPECT_EQ(ps[0]->value.shape(), (Shape{900, 27, 64}));
  EXPECT_EQ(ps[1]->name, "bias");
  EXPECT_EQ(ps[1]->value.shape(), (Shape{30, 30, 64}));
  // 1D: kernel (OL, k*C, F), bias (OL, F).
  LocallyConnected1D l1(5, {3});
  l1.build(Shape{2, 10, 4}, rng);
  EXPECT_EQ(l1.params()[0]->value.shape(), (Shape{8, 12, 5}));
  EXPECT_EQ(l1.params()[1]->value.shape(), (Shape{8, 5}));
}

// Keras's _compute_fans on (P, K, F): fan_in = K*P, fan_out = F*P; glorot_uniform limit 8.56e-3 for the seed.
TEST(LocallyConnected, GlorotUsesKerasFans) {
  LocallyConnected2D l(64, {3, 3});
  Rng rng(3);
  l.build(Shape{Shape::kUnknown, 32, 32, 3}, rng);
  double limit = std::sqrt(6.0 / (27.0 * 900 + 64.0 * 900));
  EXPECT_NEAR(limit, 8.56e-3, 1e-5);
  const Tensor& k = l.params()[0]->value;
  double maxabs = 0, sumsq = 0;
  for (int64_t i = 0; i < k.numel(); ++i) {
    maxabs = std::max(maxabs, std::abs(k.item(i)));
    sumsq += k.item(i) * k.item(i);
  }
  EXPECT_LE(maxabs, limit);
  EXPECT_GT(maxabs, 0.99 * limit);
  EXPECT_NEAR(std::sqrt(sumsq / double(k.numel())), limit / std::sqrt(3.0), 1e-2 * limit);  // uniform's stddev
  for (int64_t i = 0; i < l.params()[1]->value.numel(); ++i) ASSERT_EQ(l.params()[1]->value.item(i), 0.0);
}

// Small examples computed by hand.
TEST(LocallyConnected, HandComputedValues) {
  // 1D valid, C = 1, F = 1, k = 2: y0 = 1*0.5 + 2*(-1) + 0.25, y1 = 2*2 + 3*3 - 1.
  LocallyConnected1D l1(1, {2});
  Tensor x = Tensor::from<double>({1, 2, 3}, Shape{1, 3, 1});
  Tensor y = run(l1, x);
  l1.params()[0]->value = Tensor::from<double>({0.5, -1, 2, 3}, Shape{2, 2, 1});
  l1.params()[1]->value = Tensor::from<double>({0.25, -1}, Shape{2, 1});
  y = l1.forward(x, Mode::Inference);
  ASSERT_EQ(y.shape(), (Shape{1, 2, 1}));
  EXPECT_DOUBLE_EQ(y.item(0), 0.5 - 2 + 0.25);
  EXPECT_DOUBLE_EQ(y.item(1), 4 + 9 - 1);

  // 2D channels_first, 2 channels, 2x2 input, kernel 1x2, F = 1: two positions (row 0, row 1), patch order
  // (c, dy, dx) = (c0 dx0, c0 dx1, c1 dx0, c1 dx1).
  LocallyConnected2D l2({.filters = 1, .kernel_size = {1, 2}, .data_format = "channels_first", .use_bias = false});
  Tensor x2 = Tensor::from<double>({1, 2, 3, 4, /* channel 1 */ 10, 20, 30, 40}, Shape{1, 2, 2, 2});
  (void)run(l2, x2);
  l2.params()[0]->value = Tensor::from<double>({1, 0.1, 0.01, 0.001, /* row 1 */ 2, 3, 5, 7}, Shape{2, 4, 1});
  Tensor y2 = l2.forward(x2, Mode::Inference);
  ASSERT_EQ(y2.shape(), (Shape{1, 1, 2, 1}));
  EXPECT_DOUBLE_EQ(y2.item(0), 1 * 1 + 2 * 0.1 + 10 * 0.01 + 20 * 0.001);
  EXPECT_DOUBLE_EQ(y2.item(1), 3 * 2 + 4 * 3 + 30 * 5 + 40 * 7);
}

// Keras's 'same' windows (its conv_connected_inputs rule, docs/frameworks.md), read off with x = 2^i and an
// all-ones kernel.
TEST(LocallyConnected, KerasSameWindowTable) {
  struct Row {
    int64_t n, k, s;
    std::vector<std::set<int64_t>> windows;
  };
  const std::vector<Row> table = {
      {6, 3, 1, {{0, 1}, {0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 5}, {4, 5}}},
      {6, 2, 1, {{0}, {0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}}},
      {6, 3, 2, {{0, 1}, {1, 2, 3}, {3, 4, 5}}},
      {5, 3, 2, {{0, 1}, {1, 2, 3}, {3, 4}}},
      {7, 4, 2, {{0, 1}, {0, 1, 2, 3}, {2, 3, 4, 5}, {4, 5, 6}}},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(fmt::format("n={} k={} s={}", row.n, row.k, row.s));
    LocallyConnected1D l({.filters = 1, .kernel_size = {row.k}, .strides = {row.s}, .padding = "same",
                          .use_bias = false});
    std::vector<double> xs;
    for (int64_t i = 0; i < row.n; ++i) xs.push_back(std::ldexp(1.0, int(i)));
    Tensor x = Tensor::from(xs, Shape{1, row.n, 1});
    (void)run(l, x);
    l.params()[0]->value.fill(1.0);
    Tensor y = l.forward(x, Mode::Inference);
    ASSERT_EQ(y.numel(), int64_t(row.windows.size()));
    for (size_t o = 0; o < row.windows.size(); ++o) {
      std::set<int64_t> got;
      auto bits = int64_t(y.item(int64_t(o)));
      for (int64_t i = 0; i < row.n; ++i)
        if (bits >> i & 1) got.insert(i);
      EXPECT_EQ(got, row.windows[o]) << "output " << o;
    }
  }
}

TEST(LocallyConnected, ForwardMatchesKerasFormulaEveryMode) {
  locnet::testing::KernelCount chosen({"hwy", "blas"});  // the optimized kernels the default choice must reach
  for (const char* impl : {static_cast<const char*>(nullptr), "locally_connected:ref"}) {
    locnet::testing::ScopedEnv guard("LOCNET_IMPL", impl);  // nullptr: the registry's own choice
    for (const Case& t : all_cases()) {
      SCOPED_TRACE(t.str() + (impl ? " ref" : ""));
      for (DType dt : {DType::f64, DType::f32}) {
        auto l = t.make();
        Tensor x = random_tensor(t.in_shape(), dt, 11);
        (void)run(*l, x);
        if (!impl) chosen.add(l->kernel());
        auto ps = l->params();
        ps[0]->value = random_tensor(ps[0]->value.shape(), dt, 12);
        Tensor want = keras_formula(t, x, ps[0]->value, &ps[1]->value);
        Tensor y = l->forward(x, Mode::Inference);
        ASSERT_EQ(y.shape(), want.shape());
        EXPECT_LE(max_scaled_error(y, want, dt == DType::f64 ? 1e-12 : 2e-5, 1e-5), 1.0) << dtype_name(dt);
      }
    }
  }
}

TEST(LocallyConnected, BiasIsAddedInOutputMemoryOrder) {
  // A zero kernel leaves the bias alone: every sample's output block equals the flat bias buffer, in both
  // formats (channels_first reads the "(OH, OW, F)" bias as (F, OH, OW), docs/locally_connected.md).
  for (bool last : {true, false}) {
    LocallyConnected2D l({.filters = 3, .kernel_size = {2, 2}, .data_format = last ? "channels_last" : "channels_first",
                          .kernel_initializer = "zeros"});
    Tensor x = random_tensor(last ? Shape{2, 3, 4, 2} : Shape{2, 2, 3, 4}, DType::f64, 1);
    (void)run(l, x);
    Tensor& b = l.params()[1]->value;
    ASSERT_EQ(b.shape(), (Shape{2, 3, 3}));
    for (int64_t i = 0; i < b.numel(); ++i) b.set(i, double(i));
    Tensor y = l.forward(x, Mode::Inference);
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = 0; i < 18; ++i) EXPECT_EQ(y.item(n * 18 + i), double(i)) << "last=" << last;
  }
}

// The channels_first kernel is V.transpose(0, 1, 4, 2, 3, 5) of the channels_last one; with inputs
// transposed to match, the outputs are the same (up to the layout).
TEST(LocallyConnected, ChannelsFirstPatchOrderIsChannelMajor) {
  const int64_t N = 2, H = 5, W = 4, C = 3, F = 2, kh = 2, kw = 3, OH = 4, OW = 2;
  LocallyConnected2D cl({.filters = F, .kernel_size = {kh, kw}, .use_bias = false});
  LocallyConnected2D cf({.filters = F, .kernel_size = {kh, kw}, .data_format = "channels_first", .use_bias = false});
  Tensor x = random_tensor(Shape{N, H, W, C}, DType::f64, 3);
  Tensor xt(Shape{N, C, H, W}, DType::f64);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < H; ++i)
      for (int64_t j = 0; j < W; ++j)
        for (int64_t c = 0; c < C; ++c) xt.set(((n * C + c) * H + i) * W + j, x.item(((n * H + i) * W + j) * C + c));
  Tensor y = run(cl, x);
  (void)run(cf, xt);
  const Tensor& v = cl.params()[0]->value;  // (P, kh*kw*C, F) = V (OH, OW, kh, kw, C, F)
  Tensor& k2 = cf.params()[0]->value;
  for (int64_t p = 0; p < OH * OW; ++p)
    for (int64_t dy = 0; dy < kh; ++dy)
      for (int64_t dx = 0; dx < kw; ++dx)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t f = 0; f < F; ++f)
            k2.set(((p * C + c) * kh * kw + dy * kw + dx) * F + f, v.item(((p * kh + dy) * kw * C + dx * C + c) * F + f));
  Tensor yt = cf.forward(xt, Mode::Inference);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p = 0; p < OH * OW; ++p)
      for (int64_t f = 0; f < F; ++f)
        EXPECT_NEAR(yt.item((n * F + f) * OH * OW + p), y.item((n * OH * OW + p) * F + f), 1e-12);
}

TEST(LocallyConnected, ActivationAndNoBias) {
  Case t;
  t.f = 2;
  auto cfg = t.config<2>();
  cfg.activation = "relu";
  cfg.use_bias = false;
  LocallyConnected2D l(cfg);
  Tensor x = random_tensor(t.in_shape(), DType::f64, 5);
  Tensor y = run(l, x);
  ASSERT_EQ(l.params().size(), 1u);
  Tensor want = keras_formula(t, x, l.params()[0]->value, nullptr);
  int negatives = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    EXPECT_NEAR(y.item(i), std::max(0.0, want.item(i)), 1e-12);
    negatives += want.item(i) < 0;
  }
  EXPECT_GT(negatives, 0);
}

TEST(LocallyConnected, GradientsEveryMode) {
  locnet::testing::GradCheck opt;
  opt.max_checked = 60;
  int checked = 0;
  for (Case t : all_cases()) {
    // Every mode once per rank and format, strides and dilation varied across the modes.
    if ((t.sw + t.dw + (t.padding == "same")) % 3 != 0) continue;
    t.h = t.rank == 1 ? 1 : 6;
    t.w = 7;
    t.c = 2;
    t.f = 3;
    SCOPED_TRACE(t.str());
    auto l = t.make();
    locnet::testing::check_layer(*l, t.in_shape(), opt);
    ++checked;
  }
  EXPECT_GE(checked, 20);
  // An activation, no bias and batch 1.
  Case t;
  t.batch = 1;
  t.padding = "same";
  auto cfg = t.config<2>();
  cfg.activation = "tanh";
  cfg.use_bias = false;
  LocallyConnected2D l(cfg);
  locnet::testing::check_layer(l, t.in_shape(), opt);
}

// Taps that fall outside the input contribute nothing and their weights get exactly zero gradient.
TEST(LocallyConnected, OutsideTapsGetZeroGradient) {
  LocallyConnected1D l({.filters = 2, .kernel_size = {3}, .padding = "same", .dilation_rate = {2}});
  Tensor x = random_tensor(Shape{3, 5, 2}, DType::f64, 1);
  Rng rng(0);
  l.build(Shape{Shape::kUnknown, 5, 2}, rng, DType::f64);
  (void)l.forward(x, Mode::Training);
  (void)l.backward(random_tensor(Shape{3, 5, 2}, DType::f64, 2));
  const Tensor& g = l.params()[0]->grad;  // (5, 3*2, 2): extent 5, before 2 -> taps at o - 2, o, o + 2
  for (int64_t o = 0; o < 5; ++o)
    for (int64_t j = 0; j < 3; ++j) {
      int64_t i = o - 2 + 2 * j;
      bool inside = i >= 0 && i < 5;
      for (int64_t q = j * 2; q < j * 2 + 2; ++q)
        for (int64_t f = 0; f < 2; ++f) {
          double v = g.item((o * 6 + q) * 2 + f);
          if (inside) {
            EXPECT_NE(v, 0.0) << o << " " << j;
          } else {
            EXPECT_EQ(v, 0.0) << o << " " << j;
          }
        }
    }
}

TEST(LocallyConnected, ConfigRoundTripsThroughSpec) {
  const char* spec =
      "LocallyConnected2D(8, (3, 2), strides=2, padding=((1, 0), (2, 1)), data_format='channels_first', "
      "activation='relu', dilation_rate=(1, 2), name='lc')";
  Sequential m = parse_model(spec);
  Layer& l = m.layer(0);
  EXPECT_EQ(l.type(), "LocallyConnected2D");
  Call c = l.config();
  auto again = make_layer(c);
  again->set_name(again->name_pattern());
  EXPECT_EQ(again->config(), c);
  EXPECT_NE(c.repr().find("padding=((1, 0), (2, 1))"), std::string::npos) << c.repr();
  EXPECT_NE(c.repr().find("kernel_regularizer=None"), std::string::npos) << c.repr();
  // (N, C, H, W) = (N, 2, 6, 9): rows (6 + 1 - 3)/2 + 1 = 3, cols (9 + 3 - 3)/2 + 1 = 5.
  EXPECT_EQ(l.output_shape(Shape{Shape::kUnknown, 2, 6, 9}).str(), "(None, 8, 3, 5)");
  Sequential one = parse_model("Input((10, 4)) >> LocallyConnected1D(3, 4, padding='CAUSAL', strides=3)");
  EXPECT_EQ(one.output_shape().str(), "(None, 4, 3)");
  // ZeroPadding2D's (rows, cols) symmetric form and a single int.
  EXPECT_EQ(parse_model("Input((5, 5, 1)) >> LocallyConnected2D(2, 3, padding=(1, 2))").output_shape().str(),
            "(None, 5, 7, 2)");
  EXPECT_EQ(parse_model("Input((5, 1)) >> LocallyConnected1D(2, 3, padding=1)").output_shape().str(), "(None, 5, 2)");
}

TEST(LocallyConnected, CloneOwnsItsParameters) {
  LocallyConnected2D l(2, {2, 2});
  Rng rng(0);
  l.build(Shape{1, 3, 3, 1}, rng);
  auto c = l.clone();
  c->params()[0]->value.fill(5.0);
  EXPECT_NE(l.params()[0]->value.item(0), 5.0);
}

TEST(LocallyConnected, ConfigErrors) {
  using L2 = LocallyConnected2D;
  using L1 = LocallyConnected1D;
  EXPECT_THROW_MSG(L2(0, {3, 3}), ConfigError, "LocallyConnected2D: filters must be a positive integer, got 0");
  EXPECT_THROW_MSG(L1(-2, {3}), ConfigError, "LocallyConnected1D: filters must be a positive integer, got -2");
  EXPECT_THROW_MSG(L2(4, {0, 3}), ConfigError, "kernel_size must be positive integers <= 2147483647, got (0, 3)");
  EXPECT_THROW_MSG(L2(4, {3, 3, 3}), ConfigError, "kernel_size must be an int or a tuple of 2 ints, got (3, 3, 3)");
  EXPECT_THROW_MSG(L1(4, {3, 3}), ConfigError, "kernel_size must be an int or a tuple of 1 int, got (3, 3)");
  EXPECT_THROW_MSG(L2({.filters = 4}), ConfigError, "kernel_size must be an int or a tuple of 2 ints, got ()");
  EXPECT_THROW_MSG(L2({.filters = 4, .kernel_size = {3}, .strides = {0}}), ConfigError,
                   "strides must be positive integers <= 2147483647, got (0,)");
  EXPECT_THROW_MSG(L1({.filters = 4, .kernel_size = {3}, .dilation_rate = {-1}}), ConfigError,
                   "dilation_rate must be positive integers <= 2147483647, got (-1,)");
  EXPECT_THROW_MSG(L2({.filters = 4, .kernel_size = {3}, .padding = "full"}), ConfigError,
                   "padding must be \"valid\", \"same\" or explicit zeros, got \"full\"");
  EXPECT_THROW_MSG(L2({.filters = 4, .kernel_size = {3}, .padding = "causal"}), ConfigError,
                   "(\"causal\" is for 1D), got \"causal\"");
  EXPECT_THROW_MSG(L1({.filters = 4, .kernel_size = {3}, .padding = Value::tuple({1, -1})}), ConfigError,
                   "explicit padding must be >= 0 on every side, got (1, -1)");
  EXPECT_THROW_MSG(L1({.filters = 4, .kernel_size = {3}, .padding = Value::tuple({1, 2, 3})}), ConfigError,
                   "an int or (left, right), got (1, 2, 3)");
  EXPECT_THROW_MSG(L2({.filters = 4, .kernel_size = {3}, .padding = 1.5}), ConfigError,
                   "an int or (rows, cols) or ((top, bottom), (left, right)), got 1.5");
  EXPECT_THROW_MSG(L2({.filters = 4, .kernel_size = {3}, .data_format = "channels_middle"}), ConfigError,
                   "data_format must be None, \"channels_last\" or \"channels_first\", got \"channels_middle\"");
  EXPECT_THROW_MSG(L2({.filters = 4, .kernel_size = {3}, .activation = "relux"}), ConfigError,
                   "activation must be one of");
  EXPECT_THROW_MSG(L2({.filters = 4, .kernel_size = {3}, .kernel_initializer = "glorot"}), ConfigError,
                   "LocallyConnected2D: kernel_initializer must be one of");
  EXPECT_THROW_MSG(make_layer(parse_chain("LocallyConnected2D(4, 3, paddin='same')")[0]), ConfigError,
                   "unknown argument 'paddin'");
  EXPECT_THROW_MSG(make_layer(parse_chain("LocallyConnected2D(4, 3, kernel_regularizer=L3(1e-4))")[0]), ConfigError,
                   "LocallyConnected2D: kernel_regularizer must be None, \"l1\", \"l2\", \"l1_l2\", L1(l1), L2(l2) or "
                   "L1L2(l1, l2), got L3(0.0001)");
  EXPECT_THROW_MSG(make_layer(parse_chain("LocallyConnected1D(4, 3, bias_constraint='nonneg')")[0]), ConfigError,
                   "LocallyConnected1D: bias_constraint must be None, \"max_norm\", \"non_neg\"");
}

TEST(LocallyConnected, ShapeErrors) {
  LocallyConnected2D l(4, {3, 3}, "lc");
  l.set_name("lc");
  EXPECT_THROW_MSG(l.output_shape(Shape{Shape::kUnknown, 5, 5}), ShapeError,
                   "lc (LocallyConnected2D): input rank must be 4 (batch, rows, cols, channels), got shape (None, 5, 5)");
  LocallyConnected1D l1({.filters = 2, .kernel_size = {3}, .data_format = "channels_first"}, "c1");
  l1.set_name("c1");
  EXPECT_THROW_MSG(l1.output_shape(Shape{2, 3, 4, 5}), ShapeError,
                   "c1 (LocallyConnected1D): input rank must be 3 (batch, channels, steps), got shape (2, 3, 4, 5)");
  EXPECT_THROW_MSG(l.output_shape(Shape{Shape::kUnknown, 2, 5, 3}), ShapeError,
                   "the kernel extent along rows ((kernel - 1) * dilation + 1 = 3) must be <= the input length (2), "
                   "got input shape (None, 2, 5, 3)");
  LocallyConnected2D dil({.filters = 1, .kernel_size = {2, 3}, .padding = Value::tuple({0, 1}), .dilation_rate = {1, 3}});
  EXPECT_THROW_MSG(dil.output_shape(Shape{1, 4, 4, 1}), ShapeError,
                   "the kernel extent along cols ((kernel - 1) * dilation + 1 = 7) must be <= the padded input "
                   "length (6), got input shape (1, 4, 4, 1)");
  EXPECT_THROW_MSG(l.output_shape(Shape{1, Shape::kUnknown, 5, 3}), ShapeError,
                   "non-batch dimensions must be known and > 0, got shape (1, None, 5, 3)");
  EXPECT_THROW_MSG(l.output_shape(Shape{1, 5, 5, 0}), ShapeError,
                   "non-batch dimensions must be known and > 0, got shape (1, 5, 5, 0)");
  // The spatial size is fixed at build.
  Rng rng(0);
  l.build(Shape{Shape::kUnknown, 5, 5, 3}, rng);
  EXPECT_THROW_MSG(l.forward(Tensor(Shape{2, 6, 5, 3}), Mode::Inference), ShapeError,
                   "lc (LocallyConnected2D): input shape must be (None, 5, 5, 3) (as built), got (2, 6, 5, 3)");
  EXPECT_THROW_MSG(l.forward(Tensor(Shape{2, 5, 5, 4}), Mode::Inference), ShapeError,
                   "input shape must be (None, 5, 5, 3) (as built), got (2, 5, 5, 4)");
  EXPECT_THROW_MSG(l.backward(Tensor(Shape{2, 3, 3, 4})), ConfigError, "backward must follow a training-mode forward");
  (void)l.forward(Tensor(Shape{2, 5, 5, 3}), Mode::Training);
  EXPECT_THROW_MSG(l.backward(Tensor(Shape{2, 3, 3, 5})), ShapeError,
                   "output gradient shape must be (2, 3, 3, 4), got (2, 3, 3, 5)");
  // The link that causes a mismatch is named.
  EXPECT_THROW_MSG(Input({2, 2, 1}) >> LocallyConnected2D(1, {3, 3}), ShapeError, "must be <= the input length (2)");
  // f32/f64 only.
  LocallyConnected2D h(1, {1, 1});
  EXPECT_THROW_MSG(h.build(Shape{1, 2, 2, 1}, rng, DType::bf16), NotSupported, "dtype must be f32 or f64, got bf16");
  EXPECT_THROW_MSG(LocallyConnected2D(1, {1, 1}).geometry(), ConfigError, "geometry needs a built layer");
}

TEST(LocallyConnected, EmptyBatch) {
  LocallyConnected2D l(2, {2, 2});
  Rng rng(0);
  l.build(Shape{Shape::kUnknown, 3, 3, 1}, rng);
  Tensor y = l.forward(Tensor(Shape{0, 3, 3, 1}), Mode::Training);
  EXPECT_EQ(y.shape(), (Shape{0, 2, 2, 2}));
  EXPECT_EQ(l.backward(y).shape(), (Shape{0, 3, 3, 1}));
}
