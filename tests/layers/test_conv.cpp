// Conv2D: output sizes from TensorFlow's SAME/VALID rules, a hand-computed example, forward against a loop written
// here over an explicitly zero-padded channels_last copy of the input, gradients in every mode, errors, the spec.
#include <cmath>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/layers/conv.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/params/regularizers.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

namespace {

struct Case {
  bool last = true;
  int64_t n = 2, h = 7, w = 6, c = 3, f = 4, kh = 3, kw = 2, sh = 1, sw = 1, dh = 1, dw = 1;
  std::string padding = "valid";
  bool bias = true;
  std::string str() const {
    return fmt::format("{} n={} {}x{}x{} f={} k={}x{} s={}x{} d={}x{} {} bias={}", last ? "cl" : "cf", n, h, w, c, f,
                       kh, kw, sh, sw, dh, dw, padding, bias);
  }
  Conv2D make() const {
    Conv2DConfig cfg{.filters = f, .kernel_size = {kh, kw}, .strides = {sh, sw}, .padding = padding,
                     .dilation_rate = {dh, dw}, .use_bias = bias, .bias_initializer = "random_normal"};
    if (!last) cfg.data_format = "channels_first";
    return Conv2D(cfg);
  }
  Shape in() const { return last ? Shape{n, h, w, c} : Shape{n, c, h, w}; }
};

// TensorFlow's rule, per axis: (output length, zeros before).
std::pair<int64_t, int64_t> tf_axis(const std::string& padding, int64_t n, int64_t k, int64_t s, int64_t d) {
  int64_t e = (k - 1) * d + 1;
  if (padding == "valid") return {(n - e) / s + 1, 0};
  int64_t out = (n + s - 1) / s;
  int64_t total = std::max<int64_t>((out - 1) * s + e - n, 0);
  return {out, total / 2};
}

// y (channels_last, n, oh, ow, f) by zero-padding x into a channels_last buffer and sliding the window.
std::vector<double> expected_forward(const Case& t, const Tensor& x, const Tensor& kernel, const Tensor& bias) {
  auto [oh, pt] = tf_axis(t.padding, t.h, t.kh, t.sh, t.dh);
  auto [ow, pl] = tf_axis(t.padding, t.w, t.kw, t.sw, t.dw);
  const int64_t H = oh * t.sh + (t.kh - 1) * t.dh + 1 + t.h, W = ow * t.sw + (t.kw - 1) * t.dw + 1 + t.w;
  std::vector<double> y;
  for (int64_t s = 0; s < t.n; ++s) {
    std::vector<double> padded(size_t(H * W * t.c), 0.0);
    for (int64_t i = 0; i < t.h; ++i)
      for (int64_t j = 0; j < t.w; ++j)
        for (int64_t ch = 0; ch < t.c; ++ch) {
          int64_t src = t.last ? ((s * t.h + i) * t.w + j) * t.c + ch : ((s * t.c + ch) * t.h + i) * t.w + j;
          padded[size_t(((i + pt) * W + j + pl) * t.c + ch)] = x.item(src);
        }
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t f = 0; f < t.f; ++f) {
          double acc = t.bias ? bias.item(f) : 0.0;
          for (int64_t a = 0; a < t.kh; ++a)
            for (int64_t b = 0; b < t.kw; ++b)
              for (int64_t ch = 0; ch < t.c; ++ch)
                acc += padded[size_t(((oy * t.sh + a * t.dh) * W + ox * t.sw + b * t.dw) * t.c + ch)] *
                       kernel.item(((a * t.kw + b) * t.c + ch) * t.f + f);
          y.push_back(acc);
        }
  }
  return y;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (bool last : {true, false})
    for (std::string pad : {"valid", "same"}) {
      Case a;
      a.last = last, a.padding = pad;
      out.push_back(a);
      Case b = a;  // strides with an odd total padding (the extra zero after)
      b.sh = 2, b.sw = 3, b.h = 8, b.w = 7, b.kh = 4, b.kw = 3;
      out.push_back(b);
      Case c = a;  // dilation, no bias
      c.dh = 2, c.dw = 3, c.bias = false, c.h = 9, c.w = 8;
      out.push_back(c);
      Case d = a;  // 1x1, batch 1
      d.kh = d.kw = 1, d.n = 1, d.c = 5, d.f = 3;
      out.push_back(d);
      Case e = a;  // 1x1 strided
      e.kh = e.kw = 1, e.sh = e.sw = 2;
      out.push_back(e);
    }
  return out;
}

}  // namespace

TEST(Conv2D, KerasLayoutFansAndShapes) {
  Conv2D conv(Conv2DConfig{.filters = 8, .kernel_size = {3, 5}});
  Rng rng(0);
  conv.build(Shape{Shape::kUnknown, 10, 12, 6}, rng);
  auto ps = conv.params();
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0]->value.shape(), (Shape{3, 5, 6, 8}));
  EXPECT_EQ(ps[1]->value.shape(), (Shape{8}));
  EXPECT_EQ(conv.output_shape(Shape{Shape::kUnknown, 10, 12, 6}).str(), "(None, 8, 8, 8)");
  // glorot_uniform with Keras's fans: fan_in = 3*5*6, fan_out = 3*5*8.
  double limit = std::sqrt(6.0 / (90 + 120)), maxabs = 0;
  for (int64_t i = 0; i < ps[0]->value.numel(); ++i) maxabs = std::max(maxabs, std::abs(ps[0]->value.item(i)));
  EXPECT_LE(maxabs, limit);
  EXPECT_GT(maxabs, 0.9 * limit);
}

TEST(Conv2D, OutputShapesFollowTensorFlow) {
  for (int64_t n : {1, 5, 6, 7, 8})
    for (int64_t k : {1, 2, 3})
      for (int64_t s : {1, 2, 3})
        for (std::string pad : {"valid", "same"}) {
          if (pad == "valid" && n < k) continue;
          Conv2D conv(Conv2DConfig{.filters = 2, .kernel_size = {k, 1}, .strides = {s, 1}, .padding = pad});
          auto [out, before] = tf_axis(pad, n, k, s, 1);
          EXPECT_EQ(conv.output_shape(Shape{1, n, 4, 1}), (Shape{1, out, 4, 2})) << n << " " << k << " " << s << pad;
        }
  Conv2D cf(Conv2DConfig{.filters = 2, .kernel_size = {3}, .strides = {2}, .padding = "same",
                         .data_format = "channels_first"});
  EXPECT_EQ(cf.output_shape(Shape{4, 3, 5, 6}), (Shape{4, 2, 3, 3}));
}

// 3x3 input 1..9, a 2x2 kernel of ones: valid sums the four 2x2 blocks; TensorFlow SAME puts the one zero row and
// column after, so the last output is 9 alone.
TEST(Conv2D, HandComputedValues) {
  Tensor x = Tensor::from<float>({1, 2, 3, 4, 5, 6, 7, 8, 9}, Shape{1, 3, 3, 1});
  for (std::string pad : {"valid", "same"}) {
    Conv2D conv(Conv2DConfig{.filters = 1, .kernel_size = {2}, .padding = pad, .kernel_initializer = "ones"});
    Rng rng(0);
    conv.build(Shape{1, 3, 3, 1}, rng);
    Tensor y = conv.forward(x, Mode::Inference);
    std::vector<double> want = pad == "valid" ? std::vector<double>{12, 16, 24, 28}
                                              : std::vector<double>{12, 16, 9, 24, 28, 15, 15, 17, 9};
    EXPECT_EQ(y.to_vector(), want) << pad;
  }
}

TEST(Conv2D, ForwardMatchesPaddedLoop) {
  for (const Case& t : cases()) {
    SCOPED_TRACE(t.str());
    Conv2D conv = t.make();
    Rng rng(5);
    conv.build(t.in(), rng);
    Tensor x = random_tensor(t.in(), DType::f32, 7);
    Tensor y = conv.forward(x, Mode::Inference);
    std::vector<double> want =
        expected_forward(t, x, conv.params()[0]->value, t.bias ? conv.params()[1]->value : Tensor());
    ASSERT_EQ(y.numel(), int64_t(want.size()));
    // The layer's output is in its data format; want is channels_last (n, oh, ow, f).
    const int64_t oh = t.last ? y.dim(1) : y.dim(2), ow = t.last ? y.dim(2) : y.dim(3);
    for (int64_t s = 0; s < t.n; ++s)
      for (int64_t p = 0; p < oh * ow; ++p)
        for (int64_t f = 0; f < t.f; ++f) {
          int64_t got = t.last ? (s * oh * ow + p) * t.f + f : (s * t.f + f) * oh * ow + p;
          ASSERT_NEAR(y.item(got), want[size_t((s * oh * ow + p) * t.f + f)], 1e-5);
        }
  }
}

TEST(Conv2D, Gradients) {
  for (Case t : cases()) {
    SCOPED_TRACE(t.str());
    t.n = std::min<int64_t>(t.n, 2);
    Conv2D conv = t.make();
    locnet::testing::check_layer(conv, t.in(), {.max_checked = 60});
  }
  Conv2D act(Conv2DConfig{.filters = 2, .kernel_size = {2}, .activation = "tanh"});
  locnet::testing::check_layer(act, Shape{2, 4, 3, 2});
}

TEST(Conv2D, ConfigErrors) {
  EXPECT_THROW_MSG(Conv2D(0, {3}), ConfigError, "Conv2D: filters must be a positive integer, got 0");
  EXPECT_THROW_MSG(Conv2D(2, {3, 3, 3}), ConfigError, "kernel_size must be an int or a tuple of 2 ints, got (3, 3, 3)");
  EXPECT_THROW_MSG(Conv2D(2, {0}), ConfigError, "kernel_size must be positive integers <= 2147483647, got 0");
  EXPECT_THROW_MSG(Conv2D(Conv2DConfig{.filters = 2, .kernel_size = {3}, .strides = {1, -1}}), ConfigError,
                   "strides must be positive integers <= 2147483647, got (1, -1)");
  EXPECT_THROW_MSG(Conv2D(Conv2DConfig{.filters = 2, .kernel_size = {3}, .padding = "causal"}), ConfigError,
                   "padding must be \"valid\" or \"same\", got \"causal\"");
  EXPECT_THROW_MSG(Conv2D(Conv2DConfig{.filters = 2, .kernel_size = {3}, .data_format = "NCHW"}), ConfigError,
                   "data_format must be None, \"channels_last\" or \"channels_first\", got \"NCHW\"");
  // groups > 1 is supported (tests/layers/test_conv_family.cpp); filters must divide by it.
  EXPECT_THROW_MSG(Conv2D(Conv2DConfig{.filters = 3, .kernel_size = {3}, .groups = 2}), ConfigError,
                   "Conv2D: filters (3) must be divisible by groups (2)");
  EXPECT_THROW_MSG(Conv2D(Conv2DConfig{.filters = 2, .kernel_size = {3}, .activation = "relux"}), ConfigError,
                   "activation must be one of");
  EXPECT_THROW_MSG(Conv2D(Conv2DConfig{.filters = 2, .kernel_size = {3}, .kernel_initializer = "glorot"}),
                   ConfigError, "kernel_initializer must be one of");
}

TEST(Conv2D, ShapeErrors) {
  Conv2D conv(Conv2DConfig{.filters = 2, .kernel_size = {3}, .dilation_rate = {2}}, "c");
  conv.set_name("c");
  EXPECT_THROW_MSG(conv.output_shape(Shape{1, 8, 3}), ShapeError, "c (Conv2D): input rank must be 4");
  EXPECT_THROW_MSG(conv.output_shape(Shape{1, 8, -1, 3}), ShapeError, "non-batch dimensions must be known");
  EXPECT_THROW_MSG(conv.output_shape(Shape{1, 4, 8, 3}), ShapeError,
                   "the kernel extent along rows ((kernel - 1) * dilation + 1 = 5) must be <= the input length (4)");
  Rng rng(0);
  conv.build(Shape{Shape::kUnknown, 6, 6, 3}, rng);
  EXPECT_THROW_MSG(conv.forward(Tensor(Shape{1, 6, 6, 4}), Mode::Training), ShapeError,
                   "input shape must be (None, 6, 6, 3) (as built), got (1, 6, 6, 4)");
  conv.forward(Tensor(Shape{1, 6, 6, 3}), Mode::Inference);
  EXPECT_THROW_MSG(conv.backward(Tensor(Shape{1, 2, 2, 2})), ConfigError, "backward must follow a training-mode forward");
}

TEST(Conv2D, SpecRoundTripAndSummary) {
  Sequential m = parse_model("Input((8, 8, 3)) >> Conv2D(4, 3, padding='same', activation='relu', name='conv')");
  EXPECT_EQ(m.output_shape().str(), "(None, 8, 8, 4)");
  EXPECT_EQ(m.param_count(), 3 * 3 * 3 * 4 + 4);  // unbuilt: counted for the Input shape
  m.build(Shape{Shape::kUnknown, 8, 8, 3}, 1);
  EXPECT_EQ(m.param_count(), 3 * 3 * 3 * 4 + 4);
  Call c = m.layer(0).config();
  auto again = make_layer(c);
  again->set_name(again->name_pattern());
  EXPECT_EQ(again->config(), c);
  EXPECT_NE(c.repr().find("kernel_size=(3, 3), strides=(1, 1)"), std::string::npos) << c.repr();  // as Keras
  EXPECT_THROW_MSG(parse_model("Conv2D(4, 3, bogus=1)"), ConfigError, "unknown argument 'bogus'");
  EXPECT_THROW_MSG(parse_model("Conv2D(4)"), ConfigError, "argument 'kernel_size' is required");
}

TEST(Conv2D, RegularizersAndConstraintsReachTheParameters) {
  Conv2D conv(Conv2DConfig{.filters = 2, .kernel_size = {1}, .kernel_initializer = "ones",
                           .kernel_regularizer = "l2", .activity_regularizer = L1(0.5), .bias_constraint = "non_neg"});
  Rng rng(0);
  conv.build(Shape{-1, 1, 2, 1}, rng);
  ASSERT_NE(conv.params()[0]->regularizer, nullptr);
  EXPECT_EQ(conv.params()[1]->regularizer, nullptr);
  EXPECT_EQ(conv.params()[0]->constraint, nullptr);
  ASSERT_NE(conv.params()[1]->constraint, nullptr);
  // y = x per filter (ones kernel, zero bias): activity loss = 0.5 * sum |y| / batch = 0.5 * 2 * (1 + 3) / 2.
  conv.forward(Tensor::from<float>({1, -1, 2, 1}, Shape{2, 1, 2, 1}), Mode::Training);
  EXPECT_DOUBLE_EQ(conv.activity_loss(), 0.5 * 2 * (2 + 3) / 2);
  EXPECT_THROW_MSG(Conv2D(Conv2DConfig{.filters = 2, .kernel_size = {1}, .kernel_regularizer = "l3"}), ConfigError,
                   "Conv2D: kernel_regularizer");
}
