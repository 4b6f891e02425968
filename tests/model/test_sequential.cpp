#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/layers/activations.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/model/sequential.hpp"

using namespace locnet;

TEST(Sequential, NeupyCompositionInfersShapes) {
  Sequential m = Input({10, 10, 12}) >> Flatten() >> Dense(10);
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.output_shape().str(), "(None, 10)");
  EXPECT_EQ(m.layer(0).name(), "flatten_1");
  EXPECT_EQ(m.layer(1).name(), "dense_1");
}

TEST(Sequential, KerasAdd) {
  Sequential m(Input({4}));
  m.add(Dense(3, "relu"));
  m.add(Dense(2));
  EXPECT_EQ(m.layer(1).name(), "dense_2");
  EXPECT_EQ(m.output_shape().str(), "(None, 2)");
}

TEST(Sequential, NeupyNamingRules) {
  Sequential m = Input({4}) >> Dense(3, std::nullopt, "fc{}") >> Dense(3, std::nullopt, "fc{}") >>
                 Dense(3, std::nullopt, "out") >> Dense(3, std::nullopt, "fc-{:03d}") >> Dense(3) >> Activation("relu");
  EXPECT_EQ(m.layer(0).name(), "fc1");
  EXPECT_EQ(m.layer(1).name(), "fc2");
  EXPECT_EQ(m.layer(2).name(), "out");
  EXPECT_EQ(m.layer(3).name(), "fc-001");
  EXPECT_EQ(m.layer(4).name(), "dense_1");
  EXPECT_EQ(m.layer(5).name(), "activation_1");
  EXPECT_EQ(&m.layer("out"), &m.layer(2));
  EXPECT_THROW_MSG(m.layer("nope"), ConfigError, "got 'nope'");
}

TEST(Sequential, DuplicateNamesAreConfigErrors) {
  EXPECT_THROW_MSG(Input({4}) >> Dense(3, std::nullopt, "fc") >> Dense(3, std::nullopt, "fc"), ConfigError,
                   "layer names must be unique, got 'fc' twice");
  // An explicit name that collides with a generated one.
  EXPECT_THROW_MSG(Input({4}) >> Dense(3) >> Dense(3, std::nullopt, "dense_1"), ConfigError, "'dense_1' twice");
  EXPECT_THROW_MSG(Input({4}) >> Dense(3, std::nullopt, "fc{:q}"), ConfigError, "format string");
}

// A layer that accepts only rank-4 inputs, to provoke a link error between two layers.
struct RankFour : Flatten {
  using Flatten::Flatten;
  std::string type() const override { return "RankFour"; }
  Shape output_shape(const Shape& in) const override {
    if (in.rank() != 4) raise<ShapeError>("{}: input rank must be 4, got shape {}", where(), in.str());
    return in;
  }
};

TEST(Sequential, LinkErrorNamesBothLayersAndShapes) {
  EXPECT_THROW_MSG(Input({10, 12}) >> Dense(5, std::nullopt, "fc") >> Flatten() >> RankFour("r4"), ShapeError,
                   "cannot connect 'flatten_1' (Flatten) with output shape (None, 50) to 'r4' (RankFour): "
                   "r4 (RankFour): input rank must be 4, got shape (None, 50)");
  EXPECT_THROW_MSG(Sequential(Input(Shape{})) >> Dense(3, std::nullopt, "fc"), ShapeError,
                   "cannot connect the input with output shape (None,) to 'fc' (Dense)");
}

TEST(Sequential, SummaryTable) {
  Sequential m = Input({10, 10, 12}) >> Flatten() >> Dense(10);
  std::string s = m.summary();
  EXPECT_NE(s.find("flatten_1 (Flatten)"), std::string::npos) << s;
  EXPECT_NE(s.find("(None, 1200)"), std::string::npos) << s;
  EXPECT_NE(s.find("12,010"), std::string::npos) << s;
  EXPECT_NE(s.find("Total params: 12,010"), std::string::npos) << s;
  EXPECT_NE(s.find("Trainable params: 12,010"), std::string::npos) << s;
  EXPECT_NE(s.find("Non-trainable params: 0"), std::string::npos) << s;
  EXPECT_FALSE(m.built()) << "summary builds a copy, not the model";
  Sequential no_input;
  no_input.add(Dense(2));
  EXPECT_THROW_MSG(no_input.summary(), ConfigError, "input shape is needed");
  EXPECT_NE(no_input.summary(Shape{Shape::kUnknown, 3}).find("Total params: 8"), std::string::npos);
}

TEST(Sequential, ForwardBackwardChainsLayers) {
  Sequential m = Input({3}) >> Dense(4, "tanh") >> Dense(2);
  m.build(Shape{Shape::kUnknown, 3}, uint64_t(7), DType::f64);
  Tensor x = locnet::testing::random_tensor(Shape{5, 3}, DType::f64, 1);
  Tensor y = m.forward(x, Mode::Training);
  // y must equal applying the layers one by one
  Tensor h = m.layer(0).forward(x, Mode::Inference);
  Tensor y2 = m.layer(1).forward(h, Mode::Inference);
  EXPECT_LE(max_scaled_error(y, y2, 1e-12, 1e-14), 1.0);
  m.forward(x, Mode::Training);
  Tensor dy = locnet::testing::random_tensor(y.shape(), DType::f64, 2);
  m.zero_grad();
  Tensor dx = m.backward(dy);
  EXPECT_EQ(dx.shape(), x.shape());
  auto named = m.named_params();
  ASSERT_EQ(named.size(), 4u);
  EXPECT_EQ(named[0].first, "dense_1.kernel");
  EXPECT_EQ(named[3].first, "dense_2.bias");
  // db of the last layer is the column sum of dy
  for (int64_t j = 0; j < 2; ++j) {
    double s = 0;
    for (int64_t i = 0; i < 5; ++i) s += dy.item(i * 2 + j);
    EXPECT_NEAR(named[3].second->grad.item(j), s, 1e-12);
  }
}

TEST(Sequential, InputShapeMismatchAtBuild) {
  Sequential m = Input({3}) >> Dense(4);
  EXPECT_THROW_MSG(m.build(Shape{2, 5}), ShapeError, "input shape must be (None, 3) (from Input), got (2, 5)");
}

TEST(Sequential, CopyIsDeep) {
  Sequential m = Input({3}) >> Dense(2);
  m.build(Shape{Shape::kUnknown, 3});
  Sequential c = m;
  c.layer(0).params()[0]->value.fill(3.0);
  EXPECT_NE(m.layer(0).params()[0]->value.item(0), 3.0);
}

TEST(Sequential, SpecRoundTrip) {
  Sequential m = Input({10, 10, 12}) >> Flatten() >> Dense(10, "relu", "fc{}") >> Dense(3, "softmax");
  std::string spec = m.spec();
  Sequential again = parse_model(spec);
  EXPECT_EQ(again.spec(), spec);
  EXPECT_EQ(again.layer(1).name(), "fc1");
  EXPECT_EQ(again.output_shape().str(), "(None, 3)");
}

TEST(Sequential, SameSeedSameParameters) {
  Sequential a = Input({6}) >> Dense(5), b = a;
  a.build(Shape{Shape::kUnknown, 6}, uint64_t(42));
  b.build(Shape{Shape::kUnknown, 6}, uint64_t(42));
  EXPECT_TRUE(a.layer(0).params()[0]->value.equal(b.layer(0).params()[0]->value));
  b.build(Shape{Shape::kUnknown, 6}, uint64_t(43));
  EXPECT_FALSE(a.layer(0).params()[0]->value.equal(b.layer(0).params()[0]->value));
}

// param_count()/buffer_count() before build(): from the Input shape when there is one (as summary() reports),
// the same numbers as after build; without an Input shape only built layers count.
TEST(Sequential, ParamCountBeforeBuild) {
  Sequential m = parse_model("Input((10, 10, 12)) >> Flatten() >> Dense(10) >> BatchNorm1D.pytorch(10)");
  EXPECT_FALSE(m.built());
  EXPECT_EQ(m.param_count(), 12010 + 20);
  EXPECT_EQ(m.buffer_count(), 21);  // running mean, variance, num_batches_tracked
  EXPECT_FALSE(m.built()) << "counting builds a copy";
  m.build(Shape{Shape::kUnknown, 10, 10, 12});
  EXPECT_EQ(m.param_count(), 12030);
  EXPECT_EQ(m.buffer_count(), 21);
  Sequential no_input = parse_model("Flatten() >> Dense(10)");
  EXPECT_EQ(no_input.param_count(), 0);
  EXPECT_EQ((Input({4}) >> Dense(3)).param_count(), 15);
}
