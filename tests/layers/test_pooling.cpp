// MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D: hand-computed values (TensorFlow SAME corners, padding
// out of the average's count, first maximum wins ties), both layouts, gradients, errors, the spec.
#include "expect_error.hpp"
#include "gradcheck.hpp"
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
