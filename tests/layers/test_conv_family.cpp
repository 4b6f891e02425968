// Conv1D, grouped Conv2D, explicit (asymmetric) padding and DepthwiseConv2D: each against a hand-made equivalent
// built from the plain Conv2D (Conv1D as a one-row Conv2D, a grouped convolution as one ungrouped Conv2D per group,
// explicit padding as "valid" on a zero-padded input, DepthwiseConv2D as Conv2D with groups = C), gradient checks
// in double at the edges, every new error message and the config() round trips. The values against PyTorch are in
// tests/conformance/test_conv_pytorch.cpp.
#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/conv.hpp"
#include "locnet/layers/registry.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

namespace {

// Builds `layer` in f64 for `in`, sets its kernel (and a random bias), and returns forward(x).
Tensor run(Layer& layer, const Shape& in, const Tensor& kernel, const Tensor& x) {
  Rng rng(0);
  layer.build(in.with_dim(0, Shape::kUnknown), rng, DType::f64);
  auto ps = layer.params();
  EXPECT_EQ(ps[0]->value.shape(), kernel.shape());
  ps[0]->value = kernel;
  if (ps.size() > 1) ps[1]->value = random_tensor(ps[1]->value.shape(), DType::f64, 9);
  return layer.forward(x, Mode::Inference);
}

// Channels [first, first + count) of a channels_last tensor (n, h, w, c).
Tensor channels(const Tensor& t, int64_t first, int64_t count) {
  const Shape& s = t.shape();
  Tensor out(Shape{s[0], s[1], s[2], count}, t.dtype());
  for (int64_t i = 0; i < out.numel(); ++i) out.set(i, t.item(i / count * s[3] + first + i % count));
  return out;
}

// Kernel (kh, kw, cg, F) -> the (kh, kw, cg, F/groups) slice of group g.
Tensor group_kernel(const Tensor& k, int64_t g, int64_t groups) {
  const Shape& s = k.shape();
  const int64_t fg = s[3] / groups;
  Tensor out(Shape{s[0], s[1], s[2], fg}, k.dtype());
  for (int64_t i = 0; i < out.numel(); ++i) out.set(i, k.item(i / fg * s[3] + g * fg + i % fg));
  return out;
}

}  // namespace

TEST(Conv1D, IsAOneRowConv2D) {
  struct C {
    int64_t n, len, c, f, k, s, d, groups;
    Value padding;
    bool last;
  };
  const std::vector<C> cases = {
      {2, 9, 3, 4, 3, 1, 1, 1, "valid", true},     {1, 8, 2, 3, 4, 1, 1, 1, "same", false},
      {2, 7, 2, 2, 3, 2, 2, 1, "causal", true},    {2, 10, 4, 6, 2, 3, 1, 2, "same", false},
      {1, 6, 2, 2, 3, 1, 1, 1, Value::tuple({2, 0}), true},  {1, 1, 1, 1, 3, 1, 1, 1, "same", true},
  };
  for (const C& t : cases) {
    SCOPED_TRACE(fmt::format("len={} k={} s={} d={} groups={} padding={} last={}", t.len, t.k, t.s, t.d, t.groups,
                             t.padding.repr(), t.last));
    const std::optional<std::string> fmt_name = t.last ? std::nullopt : std::optional<std::string>("channels_first");
    Conv1D c1(Conv1DConfig{.filters = t.f, .kernel_size = {t.k}, .strides = {t.s}, .padding = t.padding,
                           .data_format = fmt_name, .dilation_rate = {t.d}, .groups = t.groups});
    // Causal is "same"'s output length with every zero before: explicit (e - 1, 0) in 2D.
    const int64_t e = (t.k - 1) * t.d + 1;
    Value pad2 = t.padding;
    if (t.padding.kind() == Value::Kind::Str && t.padding.as_str() == "causal")
      pad2 = Value::tuple({Value::tuple({0, 0}), Value::tuple({e - 1, 0})});
    else if (t.padding.kind() == Value::Kind::Tuple)
      pad2 = Value::tuple({Value::tuple({0, 0}), t.padding});
    Conv2D c2(Conv2DConfig{.filters = t.f, .kernel_size = {1, t.k}, .strides = {1, t.s}, .padding = pad2,
                           .data_format = fmt_name, .dilation_rate = {1, t.d}, .groups = t.groups});
    const Shape in1 = t.last ? Shape{t.n, t.len, t.c} : Shape{t.n, t.c, t.len};
    const Shape in2 = t.last ? Shape{t.n, 1, t.len, t.c} : Shape{t.n, t.c, 1, t.len};
    Tensor x = random_tensor(in1, DType::f64, 1), k = random_tensor(Shape{t.k, t.c / t.groups, t.f}, DType::f64, 2);
    Tensor y1 = run(c1, in1, k, x);
    Tensor y2 = run(c2, in2, k.reshape(Shape{1, t.k, t.c / t.groups, t.f}), x.reshape(in2));
    EXPECT_EQ(y1.shape().rank(), 3u);
    EXPECT_LE(max_scaled_error(y1.reshape(y2.shape()), y2, 1e-12, 1e-12), 1.0);
    locnet::testing::check_layer(c1, in1, {.max_checked = 40});
  }
}

TEST(Conv2D, GroupedIsOneConvolutionPerGroup) {
  for (int64_t groups : {2, 3, 6}) {  // 6 = C: depthwise-like
    SCOPED_TRACE(groups);
    const int64_t C = 6, F = 12, cg = C / groups, fg = F / groups;
    Conv2D grouped(Conv2DConfig{.filters = F, .kernel_size = {3, 2}, .strides = {2, 1}, .padding = "same",
                                .dilation_rate = {1, 2}, .groups = groups, .use_bias = false});
    const Shape in{2, 7, 6, C};
    Tensor x = random_tensor(in, DType::f64, 1), k = random_tensor(Shape{3, 2, cg, F}, DType::f64, 2);
    Tensor y = run(grouped, in, k, x);
    for (int64_t g = 0; g < groups; ++g) {
      Conv2D one(Conv2DConfig{.filters = fg, .kernel_size = {3, 2}, .strides = {2, 1}, .padding = "same",
                              .dilation_rate = {1, 2}, .use_bias = false});
      Tensor xg = channels(x, g * cg, cg);
      Tensor yg = run(one, xg.shape(), group_kernel(k, g, groups), xg);
      EXPECT_LE(max_scaled_error(channels(y, g * fg, fg), yg, 1e-12, 1e-12), 1.0) << "group " << g;
    }
  }
}

TEST(Conv2D, ExplicitPaddingIsValidOnAZeroPaddedInput) {
  const int64_t pads[2][2] = {{1, 0}, {2, 3}};
  Conv2D padded(Conv2DConfig{.filters = 3, .kernel_size = {2, 3}, .strides = {1, 2},
                             .padding = Value::tuple({Value::tuple({1, 0}), Value::tuple({2, 3})}),
                             .dilation_rate = {2, 1}, .use_bias = false});
  Conv2D valid(Conv2DConfig{.filters = 3, .kernel_size = {2, 3}, .strides = {1, 2}, .dilation_rate = {2, 1},
                            .use_bias = false});
  const Shape in{2, 4, 5, 2}, big{2, 4 + 1, 5 + 5, 2};
  Tensor x = random_tensor(in, DType::f64, 1), k = random_tensor(Shape{2, 3, 2, 3}, DType::f64, 2);
  Tensor xp(big, DType::f64);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t j = 0; j < 5; ++j)
        for (int64_t c = 0; c < 2; ++c)
          xp.set(((n * big[1] + i + pads[0][0]) * big[2] + j + pads[1][0]) * 2 + c,
                 x.item(((n * 4 + i) * 5 + j) * 2 + c));
  Tensor y = run(padded, in, k, x), want = run(valid, big, k, xp);
  // out = floor((n + before + after - e) / s) + 1: rows (4 + 1 - 3) / 1 + 1 = 3, cols (5 + 5 - 3) / 2 + 1 = 4.
  EXPECT_EQ(y.shape(), (Shape{2, 3, 4, 3}));
  EXPECT_LE(max_scaled_error(y, want, 1e-12, 1e-12), 1.0);
}

TEST(DepthwiseConv2D, IsConv2DWithGroupsC) {
  for (bool last : {true, false}) {
    SCOPED_TRACE(last);
    const std::optional<std::string> fmt_name = last ? std::nullopt : std::optional<std::string>("channels_first");
    const int64_t C = 3, M = 2;
    DepthwiseConv2D dw(DepthwiseConv2DConfig{.kernel_size = {3}, .strides = {2}, .padding = "same",
                                             .depth_multiplier = M, .data_format = fmt_name});
    Conv2D grouped(Conv2DConfig{.filters = C * M, .kernel_size = {3}, .strides = {2}, .padding = "same",
                                .data_format = fmt_name, .groups = C});
    const Shape in = last ? Shape{2, 5, 6, C} : Shape{2, C, 5, 6};
    Tensor x = random_tensor(in, DType::f64, 1), k = random_tensor(Shape{3, 3, C, M}, DType::f64, 2);
    Tensor y = run(dw, in, k, x), want = run(grouped, in, k.reshape(Shape{3, 3, 1, C * M}), x);
    EXPECT_EQ(y.shape(), last ? (Shape{2, 3, 3, C * M}) : (Shape{2, C * M, 3, 3}));
    EXPECT_LE(max_scaled_error(y, want, 1e-12, 1e-12), 1.0);
    EXPECT_EQ(dw.params()[0]->name, "depthwise_kernel");  // Keras's weight name
  }
}

// Edges: batch 1, a 1x1 input with "same", stride > kernel, groups = C, dilation with stride, explicit padding,
// both data formats, no bias, an activation.
TEST(ConvFamily, GradientsAtTheEdges) {
  using locnet::testing::check_layer;
  const auto cf = std::optional<std::string>("channels_first");
  Conv2D same1x1(Conv2DConfig{.filters = 2, .kernel_size = {3}, .padding = "same", .groups = 2});
  check_layer(same1x1, Shape{1, 1, 1, 4});
  Conv2D strided(Conv2DConfig{.filters = 4, .kernel_size = {2}, .strides = {3}, .data_format = cf, .groups = 2});
  check_layer(strided, Shape{2, 4, 7, 7}, {.max_checked = 60});
  Conv2D depth(Conv2DConfig{.filters = 6, .kernel_size = {2, 3}, .strides = {2}, .padding = "same",
                            .dilation_rate = {2}, .groups = 3, .activation = "tanh"});
  check_layer(depth, Shape{2, 6, 7, 3}, {.max_checked = 60});
  Conv2D pads(Conv2DConfig{.filters = 3, .kernel_size = {3}, .padding = Value::tuple({Value::tuple({0, 2}),
                                                                                       Value::tuple({1, 0})}),
                           .data_format = cf, .dilation_rate = {1, 2}, .use_bias = false});
  check_layer(pads, Shape{1, 2, 4, 5});
  DepthwiseConv2D dw(DepthwiseConv2DConfig{.kernel_size = {2, 3}, .strides = {1, 2}, .padding = 1,
                                           .depth_multiplier = 3, .dilation_rate = {2, 1}});
  check_layer(dw, Shape{2, 5, 6, 2}, {.max_checked = 60});
  DepthwiseConv2D dw_cf(DepthwiseConv2DConfig{.kernel_size = {3}, .padding = "same", .data_format = cf});
  check_layer(dw_cf, Shape{1, 3, 1, 1});
  Conv1D causal(Conv1DConfig{.filters = 4, .kernel_size = {2}, .strides = {3}, .padding = "causal",
                             .dilation_rate = {2}, .groups = 4, .use_bias = false});
  check_layer(causal, Shape{1, 8, 4});
}

TEST(ConvFamily, ConfigErrors) {
  EXPECT_THROW_MSG(Conv2D(Conv2DConfig{.filters = 2, .kernel_size = {3}, .groups = 0}), ConfigError,
                   "Conv2D: groups must be a positive integer, got 0");
  EXPECT_THROW_MSG(Conv1D(Conv1DConfig{.filters = 4, .kernel_size = {3}, .groups = 3}), ConfigError,
                   "Conv1D: filters (4) must be divisible by groups (3)");
  EXPECT_THROW_MSG(Conv1D(4, {3, 3}), ConfigError,
                   "Conv1D: kernel_size must be an int or a tuple of 1 int, got (3, 3)");
  EXPECT_THROW_MSG(Conv1D(0, {3}), ConfigError, "Conv1D: filters must be a positive integer, got 0");
  EXPECT_THROW_MSG(Conv1D(Conv1DConfig{.filters = 2, .kernel_size = {3}, .padding = "full"}), ConfigError,
                   "Conv1D: padding must be \"valid\", \"same\" or \"causal\", got \"full\"");
  EXPECT_THROW_MSG(Conv1D(Conv1DConfig{.filters = 2, .kernel_size = {3}, .padding = Value::tuple({1, 2, 3})}),
                   ConfigError,
                   "Conv1D: padding must be \"valid\", \"same\" or \"causal\", an int or (left, right), got (1, 2, 3)");
  EXPECT_THROW_MSG(Conv2D(Conv2DConfig{.filters = 2, .kernel_size = {3}, .padding = 0.5}), ConfigError,
                   "Conv2D: padding must be \"valid\" or \"same\", an int or (rows, cols) or ((top, bottom), (left, "
                   "right)), got 0.5");
  EXPECT_THROW_MSG(Conv2D(Conv2DConfig{.filters = 2, .kernel_size = {3},
                                       .padding = Value::tuple({Value::tuple({1, -1}), 0})}),
                   ConfigError, "Conv2D: explicit padding must be >= 0 on every side, got ((1, -1), 0)");
  EXPECT_THROW_MSG(DepthwiseConv2D(DepthwiseConv2DConfig{.kernel_size = {3}, .depth_multiplier = 0}), ConfigError,
                   "DepthwiseConv2D: depth_multiplier must be a positive integer, got 0");
  EXPECT_THROW_MSG(DepthwiseConv2D(DepthwiseConv2DConfig{.kernel_size = {3}, .padding = "causal"}), ConfigError,
                   "DepthwiseConv2D: padding must be \"valid\" or \"same\", got \"causal\"");
  EXPECT_THROW_MSG(DepthwiseConv2D(DepthwiseConv2DConfig{.kernel_size = {3}, .depthwise_initializer = "glorot"}),
                   ConfigError, "DepthwiseConv2D: depthwise_initializer must be one of");
  EXPECT_THROW_MSG(DepthwiseConv2D(DepthwiseConv2DConfig{.kernel_size = {3}, .depthwise_regularizer = "l3"}),
                   ConfigError, "DepthwiseConv2D: depthwise_regularizer");
  EXPECT_THROW_MSG(DepthwiseConv2D(DepthwiseConv2DConfig{.kernel_size = {3}, .depthwise_constraint = "nope"}),
                   ConfigError, "DepthwiseConv2D: depthwise_constraint");
}

TEST(ConvFamily, ShapeErrors) {
  Conv2D grouped(Conv2DConfig{.filters = 4, .kernel_size = {3}, .groups = 2}, "g");
  grouped.set_name("g");
  EXPECT_THROW_MSG(grouped.output_shape(Shape{1, 5, 5, 3}), ShapeError,
                   "g (Conv2D): input channels (3) must be divisible by groups (2), got shape (1, 5, 5, 3)");
  Conv1D c1(Conv1DConfig{.filters = 2, .kernel_size = {3}, .padding = Value::tuple({1, 0}),
                         .data_format = "channels_first"});
  c1.set_name("c");
  EXPECT_THROW_MSG(c1.output_shape(Shape{1, 4, 5, 6}), ShapeError,
                   "c (Conv1D): input rank must be 3 (batch, channels, steps), got shape (1, 4, 5, 6)");
  EXPECT_THROW_MSG(c1.output_shape(Shape{1, 2, 1}), ShapeError,
                   "c (Conv1D): the kernel extent along steps ((kernel - 1) * dilation + 1 = 3) must be <= the "
                   "padded input length (2), got input shape (1, 2, 1)");
  EXPECT_EQ(c1.output_shape(Shape{1, 2, 2}), (Shape{1, 2, 1}));
  DepthwiseConv2D dw(DepthwiseConv2DConfig{.kernel_size = {3}, .depth_multiplier = 2});
  EXPECT_EQ(dw.output_shape(Shape{4, 5, 6, 3}), (Shape{4, 3, 4, 6}));
  EXPECT_THROW_MSG(dw.output_shape(Shape{4, 2, 6, 3}), ShapeError,
                   "the kernel extent along rows ((kernel - 1) * dilation + 1 = 3) must be <= the input length (2) "
                   "with padding \"valid\"");
}

TEST(ConvFamily, SpecRoundTrips) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Conv2D(4, 3, padding=1, groups=2)", "padding=((1, 1), (1, 1))"},
      {"Conv2D(4, 3, padding=(1, 2))", "padding=((1, 1), (2, 2))"},
      {"Conv2D(4, 3, padding=((0, 1), (2, 3)))", "padding=((0, 1), (2, 3))"},
      {"Conv1D(4, 3, padding='causal', dilation_rate=2, groups=4)",
       "kernel_size=(3,), strides=(1,), padding=\"causal\""},
      {"Conv1D(4, 3, padding=2)", "padding=(2, 2)"},
      {"Conv1D(4, (3,), padding=(0, 1))", "kernel_size=(3,), strides=(1,), padding=(0, 1)"},
      {"DepthwiseConv2D(3, padding='same', depth_multiplier=2, depthwise_regularizer='l2')",
       "kernel_size=(3, 3), strides=(1, 1), padding=\"same\", depth_multiplier=2"},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    auto layer = make_layer(parse_chain(text)[0]);
    Call c = layer->config();
    EXPECT_NE(c.repr().find(expected), std::string::npos) << c.repr();
    auto again = make_layer(parse_chain(c.repr())[0]);
    EXPECT_EQ(again->config(), c);
  }
}
