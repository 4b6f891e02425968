// MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D: hand-computed values (TensorFlow SAME corners, padding
// out of the average's count, first maximum wins ties), both layouts, gradients, errors, the spec.
// PoolingOptions: the options beyond Keras (explicit pads, ceil_mode, count_include_pad), the 1D layers and the
// global max and 1D pools: output sizes per rule, hand-computed values (synthetic references, derived by hand in the
// comments), the 1D layers against the 2D ones over one row, gradients in double, every new error message and the
// spec round trip. PyTorch's own numbers: tests/conformance/test_pool_pytorch.cpp.
#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/core/window.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/layers/pooling.hpp"
#include "locnet/layers/registry.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

namespace {

Tensor forward(Layer& l, const Tensor& x) {
  Rng rng(0);
  l.build(x.shape(), rng, x.dtype());
  return l.forward(x, Mode::Training);
}

// (1, 3, 3, 1) holding 1..9.
Tensor nine() { return Tensor::from<double>({1, 2, 3, 4, 5, 6, 7, 8, 9}, Shape{1, 3, 3, 1}); }

std::unique_ptr<Layer> layer(const std::string& spec) { return make_layer(parse_value(spec).call()); }

// (1, 4, 1) holding 1..4.
Tensor four() { return Tensor::from<double>({1, 2, 3, 4}, Shape{1, 4, 1}); }

}  // namespace

TEST(Pooling, MaxHandComputed) {
  MaxPooling2D valid({.pool_size = {2}, .strides = std::vector<int64_t>{1}});
  EXPECT_EQ(forward(valid, nine()).to_vector(), (std::vector<double>{5, 6, 8, 9}));
  // SAME, stride 2: out 2x2, the one padding row/col goes after.
  MaxPooling2D same({.pool_size = {2}, .padding = "same"});
  EXPECT_EQ(forward(same, nine()).to_vector(), (std::vector<double>{5, 6, 8, 9}));
  // Negative inputs: the padding is never the maximum.
  Tensor neg = nine();
  for (int64_t i = 0; i < 9; ++i) neg.set(i, -neg.item(i));
  MaxPooling2D same2({.pool_size = {2}, .padding = "same"});
  EXPECT_EQ(forward(same2, neg).to_vector(), (std::vector<double>{-1, -3, -7, -9}));
}

TEST(Pooling, MaxGradientGoesToFirstMaximum) {
  Tensor x = Tensor::from<double>({1, 7, 7, 2}, Shape{1, 2, 2, 1});
  MaxPooling2D mp;
  EXPECT_EQ(forward(mp, x).to_vector(), (std::vector<double>{7}));
  Tensor dx = mp.backward(Tensor::from<double>({3}, Shape{1, 1, 1, 1}));
  EXPECT_EQ(dx.to_vector(), (std::vector<double>{0, 3, 0, 0}));
}

TEST(Pooling, AverageSameLeavesPaddingOutOfTheCount) {
  AveragePooling2D same({.pool_size = {2}, .padding = "same"});
  EXPECT_EQ(forward(same, nine()).to_vector(), (std::vector<double>{3, 4.5, 7.5, 9}));
  Tensor dx = same.backward(Tensor::from<double>({4, 2, 2, 1}, Shape{1, 2, 2, 1}));
  EXPECT_EQ(dx.to_vector(), (std::vector<double>{1, 1, 1, 1, 1, 1, 1, 1, 1}));
  AveragePooling2D valid({.pool_size = {2, 3}, .strides = std::vector<int64_t>{1, 1}});
  EXPECT_EQ(forward(valid, nine()).to_vector(), (std::vector<double>{3.5, 6.5}));
}

TEST(Pooling, ChannelsFirstMatchesChannelsLast) {
  Tensor cl = random_tensor(Shape{2, 5, 7, 3}, DType::f32, 3);
  Tensor cf(Shape{2, 3, 5, 7});
  for (int64_t s = 0; s < 2; ++s)
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 7; ++j)
        for (int64_t c = 0; c < 3; ++c) cf.set(((s * 3 + c) * 5 + i) * 7 + j, cl.item(((s * 5 + i) * 7 + j) * 3 + c));
  for (bool max : {true, false})
    for (std::string pad : {"valid", "same"}) {
      Pooling2DConfig cfg{.pool_size = {3, 2}, .strides = std::vector<int64_t>{2, 3}, .padding = pad};
      Pooling2DConfig cfg_cf = cfg;
      cfg_cf.data_format = "channels_first";
      std::unique_ptr<Layer> a, b;
      if (max) a = std::make_unique<MaxPooling2D>(cfg), b = std::make_unique<MaxPooling2D>(cfg_cf);
      else a = std::make_unique<AveragePooling2D>(cfg), b = std::make_unique<AveragePooling2D>(cfg_cf);
      Tensor ya = forward(*a, cl), yb = forward(*b, cf);
      ASSERT_EQ(ya.dim(3), yb.dim(1));
      int64_t oh = ya.dim(1), ow = ya.dim(2);
      for (int64_t s = 0; s < 2; ++s)
        for (int64_t p = 0; p < oh * ow; ++p)
          for (int64_t c = 0; c < 3; ++c)
            EXPECT_FLOAT_EQ(ya.item((s * oh * ow + p) * 3 + c), yb.item((s * 3 + c) * oh * ow + p)) << max << pad;
    }
}

TEST(Pooling, Gradients) {
  for (std::string fmt_ : {"channels_last", "channels_first"})
    for (std::string pad : {"valid", "same"}) {
      SCOPED_TRACE(fmt_ + " " + pad);
      Pooling2DConfig cfg{.pool_size = {3, 2}, .strides = std::vector<int64_t>{2, 1}, .padding = pad,
                          .data_format = fmt_};
      MaxPooling2D mp(cfg);  // random normal inputs: no ties
      locnet::testing::check_layer(mp, Shape{2, 5, 6, 3});
      AveragePooling2D ap(cfg);
      locnet::testing::check_layer(ap, Shape{2, 5, 6, 3});
      GlobalAveragePooling2D gap({.data_format = fmt_});
      locnet::testing::check_layer(gap, Shape{2, 4, 3, 5});
    }
}

TEST(Pooling, GlobalAverage) {
  GlobalAveragePooling2D gap;
  EXPECT_EQ(forward(gap, nine()).to_vector(), (std::vector<double>{5}));
  Tensor x = Tensor::from<double>({1, 10, 2, 20, 3, 30, 4, 40}, Shape{1, 2, 2, 2});
  GlobalAveragePooling2D keep({.keepdims = true});
  Tensor y = forward(keep, x);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 1, 2}));
  EXPECT_EQ(y.to_vector(), (std::vector<double>{2.5, 25}));
  GlobalAveragePooling2D cf({.data_format = "channels_first"});
  EXPECT_EQ(forward(cf, x).to_vector(), (std::vector<double>{8.25, 19.25}));
  EXPECT_EQ(cf.output_shape(Shape{-1, 2, 2, 2}).str(), "(None, 2)");
}

// Pooling2DConfig is shared by MaxPooling2D and AveragePooling2D: its validate(type) names the layer type being
// built (it once said "Pooling2D", a type that does not exist), also from a spec.
TEST(Pooling, ConfigErrorsNameTheRealType) {
  Pooling2DConfig bad{.pool_size = {0}};
  EXPECT_THROW_MSG(bad.validate("AveragePooling2D"), ConfigError, "AveragePooling2D: pool_size must be positive");
  EXPECT_THROW_MSG(AveragePooling2D layer(bad), ConfigError, "AveragePooling2D: pool_size must be positive");
  EXPECT_THROW_MSG(make_layer(parse_value("AveragePooling2D(padding='full')").call()), ConfigError,
                   "AveragePooling2D: padding must be");
  EXPECT_THROW_MSG(make_layer(parse_value("MaxPooling2D(data_format='nhwc')").call()), ConfigError,
                   "MaxPooling2D: data_format must be");
  EXPECT_EQ(Pooling2DConfig{.pool_size = {3}}.validate("MaxPooling2D").pool_size, (std::vector<int64_t>{3, 3}));
}

TEST(Pooling, Errors) {
  EXPECT_THROW_MSG(MaxPooling2D({.pool_size = {0}}), ConfigError, "MaxPooling2D: pool_size must be positive integers");
  EXPECT_THROW_MSG(AveragePooling2D({.strides = std::vector<int64_t>{1, 2, 3}}), ConfigError,
                   "AveragePooling2D: strides must be an int or a tuple of 2 ints, got (1, 2, 3)");
  EXPECT_THROW_MSG(MaxPooling2D({.padding = "full"}), ConfigError, "padding must be \"valid\" or \"same\"");
  EXPECT_THROW_MSG(GlobalAveragePooling2D({.data_format = "nhwc"}), ConfigError, "data_format must be None");
  MaxPooling2D mp({.pool_size = {4}});
  EXPECT_THROW_MSG(mp.output_shape(Shape{1, 3, 8, 2}), ShapeError,
                   "pool_size along rows (4) must be <= the input length (3)");
  EXPECT_THROW_MSG(mp.output_shape(Shape{1, 8, 8}), ShapeError, "input rank must be 4");
  GlobalAveragePooling2D gap;
  EXPECT_THROW_MSG(gap.output_shape(Shape{1, 8, 8}), ShapeError, "input rank must be 4");
  Tensor x = nine();
  MaxPooling2D mp2;  // inference alone caches nothing for backward
  Rng rng(0);
  mp2.build(x.shape().with_dim(0, Shape::kUnknown), rng, x.dtype());
  mp2.forward(x, Mode::Inference);
  EXPECT_THROW_MSG(mp2.backward(Tensor(Shape{1, 1, 1, 1}, DType::f64)), ConfigError, "backward must follow");
}

TEST(Pooling, Spec) {
  Sequential m = parse_model(
      "Input((28, 28, 1)) >> MaxPooling2D() >> AveragePooling2D(3, strides=1, padding='same') >> "
      "GlobalAveragePooling2D(keepdims=True)");
  EXPECT_EQ(m.output_shape().str(), "(None, 1, 1, 1)");
  for (size_t i = 0; i < m.size(); ++i) {
    Call c = m.layer(i).config();
    auto again = make_layer(c);
    again->set_name(m.layer(i).name());
    EXPECT_EQ(again->config(), c);
  }
  EXPECT_EQ(m.layer(0).config().repr(),
            "MaxPooling2D(pool_size=(2, 2), strides=None, padding=\"valid\", data_format=None, name=\"max_pooling2d_1\")");
}

// The layers' output sizes with ceil_mode (the rule itself: Window2D.CeilModeAndPaddingAfter in
// tests/core/test_window.cpp).
TEST(PoolingOptions, CeilModeOutputSizes) {
  // The layer's output shapes follow it.
  EXPECT_EQ(layer("MaxPooling2D(2, 2, padding=1, ceil_mode=True)")->output_shape(Shape{-1, 5, 6, 3}).str(),
            "(None, 3, 4, 3)");
  EXPECT_EQ(layer("MaxPooling1D(3, 2, padding=(2, 0), ceil_mode=True, data_format='channels_first')")
                ->output_shape(Shape{2, 3, 4})
                .str(),
            "(2, 3, 3)");
}

// x = 1..4, pool 3, stride 2, padding 1: windows [-1, 2) = {1, 2} and [1, 4) = {2, 3, 4}; ceil_mode adds [3, 6) =
// {4}, which reaches past the padded input [-1, 5): count_include_pad counts 2 there (PyTorch).
TEST(PoolingOptions, AverageCountsAsDocumented) {
  AveragePooling1D excl({.pool_size = {3}, .strides = std::vector<int64_t>{2}, .padding = 1});
  EXPECT_EQ(forward(excl, four()).to_vector(), (std::vector<double>{1.5, 3}));
  AveragePooling1D incl({.pool_size = {3}, .strides = std::vector<int64_t>{2}, .padding = 1, .count_include_pad = true});
  EXPECT_EQ(forward(incl, four()).to_vector(), (std::vector<double>{1, 3}));
  Tensor dx = incl.backward(Tensor::from<double>({3, 6}, Shape{1, 2, 1}));
  EXPECT_EQ(dx.to_vector(), (std::vector<double>{1, 3, 2, 2}));  // 3/3 | 3/3 + 6/3 | 6/3 | 6/3
  AveragePooling1D ceil_incl({.pool_size = {3}, .strides = std::vector<int64_t>{2}, .padding = 1, .ceil_mode = true,
                              .count_include_pad = true});
  EXPECT_EQ(forward(ceil_incl, four()).to_vector(), (std::vector<double>{1, 3, 2}));
  AveragePooling1D ceil_excl({.pool_size = {3}, .strides = std::vector<int64_t>{2}, .padding = 1, .ceil_mode = true});
  EXPECT_EQ(forward(ceil_excl, four()).to_vector(), (std::vector<double>{1.5, 3, 4}));
  // "same" with count_include_pad counts TensorFlow's padding too (ONNX SAME_UPPER, count_include_pad=1).
  AveragePooling1D same_incl({.pool_size = {2}, .strides = std::vector<int64_t>{2}, .padding = "same",
                              .count_include_pad = true});
  Tensor odd = Tensor::from<double>({1, 2, 3}, Shape{1, 3, 1});
  EXPECT_EQ(forward(same_incl, odd).to_vector(), (std::vector<double>{1.5, 1.5}));
  // 1x1 input, pool 2, padding 1: one window [-1, 1)^2 holding the pixel; 4 counted with the padding.
  Tensor one = Tensor::from<double>({8}, Shape{1, 1, 1, 1});
  AveragePooling2D tiny({.pool_size = {2}, .padding = 1, .count_include_pad = true});
  EXPECT_EQ(forward(tiny, one).to_vector(), (std::vector<double>{2}));
  AveragePooling2D tiny_excl({.pool_size = {2}, .padding = 1});
  EXPECT_EQ(forward(tiny_excl, one).to_vector(), (std::vector<double>{8}));
}

TEST(PoolingOptions, MaxPaddingNeverWins) {
  Tensor neg = Tensor::from<double>({-1, -2, -3, -4}, Shape{1, 4, 1});
  MaxPooling1D mp({.pool_size = {3}, .strides = std::vector<int64_t>{2}, .padding = 1, .ceil_mode = true});
  EXPECT_EQ(forward(mp, neg).to_vector(), (std::vector<double>{-1, -2, -4}));
  Tensor dx = mp.backward(Tensor::from<double>({1, 2, 3}, Shape{1, 3, 1}));
  EXPECT_EQ(dx.to_vector(), (std::vector<double>{1, 2, 0, 3}));
  // Asymmetric 2D pads ((1, 0), (0, 1)) on 1..9 (3x3), pool 2, stride 2: windows rows [-1, 1), [1, 3) x cols
  // [0, 2), [2, 4).
  MaxPooling2D asym({.pool_size = {2}, .padding = Value::tuple({Value::tuple({1, 0}), Value::tuple({0, 1})})});
  EXPECT_EQ(forward(asym, nine()).to_vector(), (std::vector<double>{2, 3, 8, 9}));
}

// Global max: the first maximum takes the gradient, as in MaxPooling.
TEST(PoolingOptions, GlobalMax) {
  Tensor x = Tensor::from<double>({1, 10, 7, 20, 7, 30, 4, 40}, Shape{1, 2, 2, 2});
  GlobalMaxPooling2D gmp;
  EXPECT_EQ(forward(gmp, x).to_vector(), (std::vector<double>{7, 40}));
  EXPECT_EQ(gmp.backward(Tensor::from<double>({5, 6}, Shape{1, 2})).to_vector(),
            (std::vector<double>{0, 0, 5, 0, 0, 0, 0, 6}));
  GlobalMaxPooling2D cf({.data_format = "channels_first", .keepdims = true});
  Tensor y = forward(cf, x);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 1, 1}));
  EXPECT_EQ(y.to_vector(), (std::vector<double>{20, 40}));
  GlobalMaxPooling1D g1({.keepdims = true});
  EXPECT_EQ(g1.output_shape(Shape{-1, 5, 3}).str(), "(None, 1, 3)");
  EXPECT_EQ(forward(g1, four()).to_vector(), (std::vector<double>{4}));
  GlobalAveragePooling1D a1({.data_format = "channels_first"});
  EXPECT_EQ(forward(a1, Tensor::from<double>({1, 2, 3, 5, 7, 9}, Shape{1, 2, 3})).to_vector(),
            (std::vector<double>{2, 7}));
  GlobalAveragePooling1D a1_keep({.data_format = "channels_first", .keepdims = true});
  EXPECT_EQ(a1_keep.output_shape(Shape{2, 4, 5}).str(), "(2, 4, 1)");
}

// A 1D layer computes what the 2D one does with pool (1, k) over an input of one row.
TEST(PoolingOptions, OneDimensionalIsOneRowOf2D) {
  Tensor x1 = random_tensor(Shape{3, 11, 4}, DType::f64, 5);
  Tensor x2 = Tensor::from<double>(x1.to_vector(), Shape{3, 1, 11, 4});
  for (bool max : {true, false})
    for (const char* pad : {"'valid'", "'same'", "(2, 1)"})
      for (const char* ceil : {"False", "True"}) {
        if (std::string(pad) == "'same'" && std::string(ceil) == "True") continue;
        const std::string opts = fmt::format("3, 2, padding={}, ceil_mode={}", pad, ceil);
        const std::string pad2 = std::string(pad) == "(2, 1)" ? "((0, 0), (2, 1))" : pad;
        const std::string opts2 = fmt::format("(1, 3), (1, 2), padding={}, ceil_mode={}", pad2, ceil);
        const std::string incl = max ? "" : ", count_include_pad=True";
        SCOPED_TRACE(opts + incl);
        auto a = layer((max ? "MaxPooling1D(" : "AveragePooling1D(") + opts + incl + ")");
        auto b = layer((max ? "MaxPooling2D(" : "AveragePooling2D(") + opts2 + incl + ")");
        Tensor y1 = forward(*a, x1), y2 = forward(*b, x2);
        EXPECT_EQ(y1.to_vector(), y2.to_vector());
        Tensor dy = random_tensor(y1.shape(), DType::f64, 6);
        EXPECT_EQ(a->backward(dy).to_vector(),
                  b->backward(Tensor::from<double>(dy.to_vector(), y2.shape())).to_vector());
      }
}

TEST(PoolingOptions, Gradients) {
  const char* const specs[] = {
      "MaxPooling2D(3, 2, padding=1, ceil_mode=True{})",
      "AveragePooling2D((3, 2), (2, 1), padding=((1, 0), (1, 1)), ceil_mode=True, count_include_pad=True{})",
      "AveragePooling2D(3, 2, padding=(1, 2), count_include_pad=False{})",
      "MaxPooling1D(3, padding=(0, 2), ceil_mode=True{})",
      "AveragePooling1D(4, 3, padding=2, ceil_mode=True, count_include_pad=True{})",
      "AveragePooling1D(2, padding='same'{})",
      "GlobalMaxPooling2D(keepdims=True{})",
      "GlobalMaxPooling1D(keepdims=False{})",
      "GlobalAveragePooling1D(keepdims=True{})",
  };
  for (bool last : {true, false})
    for (const char* spec : specs) {
      const std::string s = fmt::format(fmt::runtime(spec), last ? "" : ", data_format='channels_first'");
      SCOPED_TRACE(s);
      auto l = layer(s);
      const bool one = s.find("1D") != std::string::npos;
      locnet::testing::check_layer(*l, one ? Shape{2, 9, 3} : Shape{2, 7, 6, 3});
      auto single = layer(s);  // batch 1
      locnet::testing::check_layer(*single, one ? Shape{1, 5, 1} : Shape{1, 5, 4, 1});
    }
}

TEST(PoolingOptions, ConfigErrors) {
  EXPECT_THROW_MSG(layer("MaxPooling2D(padding='full')"), ConfigError,
                   "MaxPooling2D: padding must be \"valid\" or \"same\", an int, (rows, cols) or ((top, bottom), "
                   "(left, right)), got \"full\"");
  EXPECT_THROW_MSG(layer("AveragePooling1D(padding=(1, 2, 3))"), ConfigError,
                   "AveragePooling1D: padding must be \"valid\" or \"same\", an int or (left, right), got (1, 2, 3)");
  EXPECT_THROW_MSG(layer("AveragePooling1D(padding=1.5)"), ConfigError, "AveragePooling1D: padding must be");
  EXPECT_THROW_MSG(layer("MaxPooling2D(3, padding=((1, 3), (0, 0)))"), ConfigError,
                   "MaxPooling2D: explicit padding must be >= 0 and < pool_size along its axis (Caffe's rule), got "
                   "padding=((1, 3), (0, 0)) with pool_size=(3, 3)");
  EXPECT_THROW_MSG(layer("MaxPooling2D((1, 3), padding=(1, 0))"), ConfigError, "explicit padding must be >= 0 and <");
  EXPECT_THROW_MSG(layer("MaxPooling1D(2, padding=-1)"), ConfigError,
                   "MaxPooling1D: explicit padding must be >= 0 and < pool_size along its axis");
  EXPECT_THROW_MSG(layer("MaxPooling2D(padding='same', ceil_mode=True)"), ConfigError,
                   "MaxPooling2D: ceil_mode applies to \"valid\" and explicit padding, got padding=\"same\"");
  EXPECT_THROW_MSG(layer("MaxPooling1D(count_include_pad=True)"), ConfigError,
                   "MaxPooling1D: count_include_pad applies to average pooling only, got True");
  EXPECT_THROW_MSG(layer("AveragePooling1D((2, 2))"), ConfigError,
                   "AveragePooling1D: pool_size must be an int or a tuple of 1 int, got (2, 2)");
  EXPECT_THROW_MSG(layer("MaxPooling1D(2, strides=0)"), ConfigError, "MaxPooling1D: strides must be positive integers");
  EXPECT_THROW_MSG(layer("GlobalMaxPooling1D(data_format='ncw')"), ConfigError,
                   "GlobalMaxPooling1D: data_format must be None, \"channels_last\" or \"channels_first\", got \"ncw\"");
  EXPECT_THROW_MSG(layer("GlobalMaxPooling2D(data_format='nhwc')"), ConfigError, "GlobalMaxPooling2D: data_format");
  EXPECT_THROW_MSG(layer("GlobalAveragePooling1D(keepdims=3)"), ConfigError, "keepdims");
}

TEST(PoolingOptions, ShapeErrors) {
  auto mp = layer("MaxPooling2D((2, 5), padding=(0, 1))");
  EXPECT_THROW_MSG(mp->output_shape(Shape{1, 4, 2, 3}), ShapeError,
                   "pool_size along cols (5) must be <= the padded input length (2 + 1 + 1), got input shape");
  auto m1 = layer("MaxPooling1D(4)");
  EXPECT_THROW_MSG(m1->output_shape(Shape{1, 3, 2}), ShapeError,
                   "pool_size along steps (4) must be <= the input length (3) with padding \"valid\"");
  EXPECT_THROW_MSG(m1->output_shape(Shape{1, 3, 3, 2}), ShapeError,
                   "input rank must be 3 (batch, steps, channels), got shape (1, 3, 3, 2)");
  auto a1 = layer("AveragePooling1D(data_format='channels_first')");
  EXPECT_THROW_MSG(a1->output_shape(Shape{1, 3}), ShapeError, "input rank must be 3 (batch, channels, steps)");
  EXPECT_THROW_MSG(a1->output_shape(Shape{1, 3, -1}), ShapeError, "non-batch dimensions must be known");
  auto g1 = layer("GlobalAveragePooling1D()");
  EXPECT_THROW_MSG(g1->output_shape(Shape{1, 3, 3, 1}), ShapeError, "input rank must be 3");
  auto g2 = layer("GlobalMaxPooling2D()");
  EXPECT_THROW_MSG(g2->output_shape(Shape{1, 3, 3}), ShapeError, "input rank must be 4");
  GlobalMaxPooling1D inference_only;
  Rng rng(0);
  inference_only.build(Shape{-1, 4, 1}, rng, DType::f64);
  inference_only.forward(four(), Mode::Inference);
  EXPECT_THROW_MSG(inference_only.backward(Tensor(Shape{1, 1}, DType::f64)), ConfigError, "backward must follow");
}

// Keras's options print as Keras does; the PyTorch/ONNX ones appear once set, and every form round-trips.
TEST(PoolingOptions, SpecRoundTrip) {
  EXPECT_EQ(layer("MaxPooling1D()")->config().repr(),
            "MaxPooling1D(pool_size=(2,), strides=None, padding=\"valid\", data_format=\"channels_last\", name=\"\")");
  EXPECT_EQ(layer("AveragePooling2D(3, 1, padding=((1, 0), (2, 1)), ceil_mode=True, count_include_pad=True)")
                ->config()
                .repr(),
            "AveragePooling2D(pool_size=(3, 3), strides=(1, 1), padding=((1, 0), (2, 1)), data_format=None, "
            "ceil_mode=True, count_include_pad=True, name=\"\")");
  EXPECT_EQ(layer("GlobalAveragePooling1D()")->config().repr(),
            "GlobalAveragePooling1D(data_format=\"channels_last\", keepdims=False, name=\"\")");
  for (const char* spec : {"MaxPooling1D(3, 2, padding=(1, 0), ceil_mode=True)", "AveragePooling1D(2, padding=1, "
                           "count_include_pad=True)", "MaxPooling2D(2, padding=(1, 0))", "GlobalMaxPooling2D(keepdims=True)",
                           "GlobalMaxPooling1D(data_format='channels_first')"}) {
    SCOPED_TRACE(spec);
    Call c = layer(spec)->config();
    EXPECT_EQ(make_layer(parse_value(c.repr()).call())->config(), c);
  }
}
