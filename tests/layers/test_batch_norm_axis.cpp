// BatchNorm on any channel axis (Keras's axis=, include/locnet/layers/batch_norm.hpp): outputs and running
// statistics against values computed here over every axis but the channel axis, at the edges of the kernels'
// (outer, C, inner) view (outer 1, inner 1, C 1, odd sizes, ranks 2 to 6); gradient checks in double for middle
// axes; config() round trips; the axis errors. Synthetic references (computed here from the documented formulas).
#include <cmath>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "kernels/harness.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/batch_norm.hpp"
#include "locnet/layers/registry.hpp"

using namespace locnet;
using locnet::testing::check_layer;
using locnet::testing::random_tensor;

namespace {

std::unique_ptr<Layer> layer_of(const std::string& spec) { return make_layer(parse_chain(spec).at(0)); }

Tensor& buffer(Layer& l, const std::string& name) {
  for (Param* p : l.buffers())
    if (p->name == name) return p->value;
  throw std::logic_error("no buffer " + name);
}

// x as (outer, C, inner) around axis a: the channel of flat element i, and the biased statistics per channel.
struct AxisStats {
  int64_t C = 0, inner = 1;
  std::vector<double> mean, var;
  int64_t channel(int64_t i) const { return (i / inner) % C; }
};
AxisStats axis_stats(const Tensor& x, size_t a) {
  AxisStats s;
  s.C = x.dim(int64_t(a));
  for (size_t i = a + 1; i < x.rank(); ++i) s.inner *= x.dim(int64_t(i));
  const double m = double(x.numel() / s.C);
  s.mean.assign(size_t(s.C), 0.0);
  s.var.assign(size_t(s.C), 0.0);
  for (int64_t i = 0; i < x.numel(); ++i) s.mean[size_t(s.channel(i))] += x.item(i) / m;
  for (int64_t i = 0; i < x.numel(); ++i) {
    double d = x.item(i) - s.mean[size_t(s.channel(i))];
    s.var[size_t(s.channel(i))] += d * d / m;
  }
  return s;
}

struct AxisCase {
  const char* spec;
  Shape in;     // batch included
  size_t axis;  // the resolved channel axis
};

}  // namespace

TEST(BatchNormAxis, OutputsAndRunningStatisticsOnEveryAxis) {
  const AxisCase cases[] = {
      {"BatchNorm2D.keras(axis=2)", Shape{2, 3, 4, 5}, 2},            // middle axis: outer 6, inner 5
      {"BatchNorm2D.keras(axis=-2)", Shape{2, 3, 4, 5}, 2},           // the same, from the end
      {"BatchNorm1D.keras(axis=1)", Shape{3, 4, 5}, 1},               // rank 3, channels_first
      {"BatchNorm3D.keras(axis=3, center=False)", Shape{2, 2, 3, 4, 3}, 3},
      {"BatchNorm2D.keras(axis=1)", Shape{1, 3, 2, 2}, 1},            // outer 1
      {"BatchNorm2D.keras(axis=3, activation='relu')", Shape{2, 3, 2, 5}, 3},  // inner 1 (the last axis)
      {"BatchNorm2D.keras(axis=2)", Shape{2, 3, 1, 5}, 2},            // C 1
      {"BatchNorm2D.keras(axis=-3)", Shape{3, 5, 7, 3}, 1},           // odd sizes
      {"BatchNorm2D.keras(axis=1)", Shape{5, 3}, 1},                  // rank 2: Keras takes any rank
      {"BatchNorm2D.keras(axis=[3], scale=False)", Shape{2, 2, 2, 3, 2, 2}, 3},  // rank 6, a one-element list
      {"BatchNorm2D.keras(axis=2)", Shape{2, 33, 3, 17}, 2},          // inner 17: vector tails
      {"BatchNorm1D.keras(axis=2)", Shape{1, 1, 4}, 2},               // batch 1, one step: m = 1, variance 0
      {"BatchNorm2D.keras(axis=3, data_format='channels_last')", Shape{2, 2, 3, 2, 2}, 3},  // explicit, rank 5
  };
  locnet::testing::KernelCount count;
  for (const AxisCase& k : cases)
    for (DType dt : {DType::f64, DType::f32}) {
      SCOPED_TRACE(fmt::format("{} on {} {}", k.spec, k.in.str(), dtype_name(dt)));
      auto layer = layer_of(k.spec);
      Rng rng(2);
      layer->build(k.in.with_dim(0, Shape::kUnknown), rng, dt);
      count.add(layer->kernel());
      EXPECT_EQ(dynamic_cast<BatchNormBase&>(*layer).channel_axis(), int64_t(k.axis));
      Tensor x = random_tensor(k.in, DType::f64, 11, 2.0);
      for (int64_t i = 0; i < x.numel(); ++i) x.set(i, x.item(i) + 0.5 * double(i % 7));
      x = x.to(dt);
      AxisStats s = axis_stats(x, k.axis);
      const auto& c = dynamic_cast<BatchNormBase&>(*layer).canonical();
      std::vector<double> gamma(size_t(s.C), 1.0), beta(size_t(s.C), 0.0);
      for (Param* p : layer->params()) {  // non-trivial gamma and beta
        for (int64_t ch = 0; ch < s.C; ++ch) p->value.set(ch, (p->name == "gamma" ? 0.5 : -0.25) + 0.1 * double(ch));
        (p->name == "gamma" ? gamma : beta) = p->value.to_vector();
      }
      const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
      auto expect_y = [&](const Tensor& y, const std::vector<double>& mean, const std::vector<double>& var) {
        ASSERT_EQ(y.shape(), k.in);
        for (int64_t i = 0; i < x.numel(); ++i) {
          size_t ch = size_t(s.channel(i));
          double z = gamma[ch] * (x.item(i) - mean[ch]) / std::sqrt(var[ch] + c.epsilon) + beta[ch];
          ASSERT_NEAR(y.item(i), c.relu ? std::max(z, 0.0) : z, tol * (1 + std::abs(z))) << i;
        }
      };
      expect_y(layer->forward(x, Mode::Training), s.mean, s.var);
      std::vector<double> rm = buffer(*layer, "moving_mean").to_vector();
      std::vector<double> rv = buffer(*layer, "moving_variance").to_vector();
      for (size_t ch = 0; ch < size_t(s.C); ++ch) {  // Keras: r = 0.99 r + 0.01 s from 0 and 1, biased
        EXPECT_NEAR(rm[ch], 0.01 * s.mean[ch], tol);
        EXPECT_NEAR(rv[ch], 0.99 + 0.01 * s.var[ch], tol);
      }
      expect_y(layer->forward(x, Mode::Inference), rm, rv);
    }
}

TEST(BatchNormAxis, GradientsOnEveryAxisKind) {
  const std::pair<const char*, Shape> cases[] = {
      {"BatchNorm2D.keras(axis=2)", Shape{2, 3, 4, 5}},                        // middle axis
      {"BatchNorm2D.keras(axis=-2, activation='relu')", Shape{2, 3, 4, 5}},    // the same, from the end
      {"BatchNorm3D.keras(axis=2, center=False)", Shape{2, 2, 3, 2, 3}},
      {"BatchNorm1D.keras(axis=1)", Shape{3, 4, 5}},                           // a sequence, channels_first
      {"BatchNorm1D.keras(axis=-2, scale=False)", Shape{2, 5, 3}},             // a sequence's steps
      {"BatchNorm2D.keras(axis=1)", Shape{4, 3}},                              // rank 2 (a Dense output)
      {"BatchNorm2D.keras()", Shape{1, 3}},                                    // rank 2, batch 1
      {"BatchNorm2D.keras(axis=3, data_format='channels_last')", Shape{2, 2, 2, 3, 2}},  // axis 3 of rank 5
  };
  for (const auto& [spec, in] : cases)
    for (bool frozen : {false, true}) {
      SCOPED_TRACE(fmt::format("{} on {} frozen={}", spec, in.str(), frozen));
      auto layer = layer_of(spec);
      Rng rng(1);
      layer->build(in.with_dim(0, Shape::kUnknown), rng, DType::f64);
      for (Param* p : layer->buffers()) {
        if (p->name == "moving_mean") p->value.fill(0.3);
        if (p->name == "moving_variance") p->value.fill(1.7);
      }
      if (frozen) dynamic_cast<BatchNormBase&>(*layer).freeze();
      check_layer(*layer, in);
    }
}

TEST(BatchNormAxis, ConfigRoundTripKeepsTheAxis) {
  for (const char* spec : {"BatchNorm2D.keras(axis=2)", "BatchNorm2D.keras(axis=-2)", "BatchNorm1D.keras(axis=1)",
                           "BatchNorm3D.keras(axis=[3])"}) {
    SCOPED_TRACE(spec);
    auto l = layer_of(spec);
    Call call = l->config();
    EXPECT_EQ(*call.kwarg("axis"), parse_chain(spec).at(0).kwargs.at(0).second);
    auto again = make_layer(parse_chain(call.repr()).at(0));
    EXPECT_EQ(again->config().repr(), call.repr());
    EXPECT_EQ(dynamic_cast<BatchNormBase&>(*again).canonical().axis,
              dynamic_cast<BatchNormBase&>(*l).canonical().axis);
  }
  EXPECT_NE(layer_of("BatchNorm2D.keras(axis=2)")->config().repr().find("axis=2,"), std::string::npos);
}

TEST(BatchNormAxis, Errors) {
  Rng rng(0);
  // Out of range for the input's rank, or the batch axis: a ShapeError naming the axis and the shape.
  KerasBatchNorm2D past({.axis = 4});
  EXPECT_THROW_MSG(past.build(Shape{-1, 3, 4, 5}, rng), ShapeError,
                   "axis 4 must be a non-batch axis of the input (1 to 3, or -3 to -1), got shape (None, 3, 4, 5)");
  KerasBatchNorm2D before({.axis = -4});
  EXPECT_THROW_MSG(before.build(Shape{-1, 3, 4, 5}, rng), ShapeError, "axis -4 must be a non-batch axis");
  KerasBatchNorm1D batch({.axis = 0});
  EXPECT_THROW_MSG(batch.build(Shape{-1, 3}, rng), ShapeError, "axis 0 must be a non-batch axis of the input (1 to 1");
  KerasBatchNorm2D rank1;
  EXPECT_THROW_MSG(rank1.build(Shape{-1}, rng), ShapeError, "input rank must be >= 2");
  // Not an int: ConfigError; several axes: NotSupported.
  EXPECT_THROW_MSG(layer_of("BatchNorm2D.keras(axis='x')"), ConfigError,
                   "BatchNorm2D.keras: axis must be an int (the channel axis, negative from the end), got string "
                   "\"x\"");
  EXPECT_THROW_MSG(layer_of("BatchNorm2D.keras(axis=1.5)"), ConfigError, "axis must be an int");
  EXPECT_THROW_MSG(layer_of("BatchNorm2D.keras(axis=None)"), ConfigError, "axis must be an int");
  EXPECT_THROW_MSG(layer_of("BatchNorm2D.keras(axis=['a'])"), ConfigError, "axis must be an int");
  EXPECT_THROW_MSG(layer_of("BatchNorm2D.keras(axis=[1, 2])"), NotSupported,
                   "BatchNorm2D.keras: axis must be one int here (normalizing over several axes is not supported), "
                   "got (1, 2)");
  // data_format, when given, must agree with the axis.
  EXPECT_THROW_MSG(KerasBatchNorm2D({.axis = 2, .data_format = "channels_first"}), ConfigError, "axis must agree");
  EXPECT_THROW_MSG(KerasBatchNorm2D({.axis = 2, .data_format = "channels_last"}), ConfigError, "axis must agree");
  EXPECT_NO_THROW(KerasBatchNorm2D({.axis = 3, .data_format = "channels_last"}));
  // The channel axis is known once built.
  EXPECT_THROW_MSG(KerasBatchNorm2D().channel_axis(), ConfigError, "the channel axis is known once the layer is built");
}
