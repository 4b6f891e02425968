// BatchNorm: gradient checks for every convention, layout and mode; running statistics of each convention
// against values computed here from its documented update; errors; the large-mean stability case.
#include <cmath>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/layers/batch_norm.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/model/weights.hpp"

using namespace locnet;
using locnet::testing::check_layer;
using locnet::testing::random_tensor;

namespace {

// Per-channel statistics of x (channel axis last or 1), computed directly in double.
struct Stats {
  std::vector<double> mean, var;  // biased
  int64_t m = 0;
};
Stats stats(const Tensor& x, bool last) {
  int64_t C = last ? x.dim(-1) : x.dim(1), S = x.numel() / (x.dim(0) * C);
  Stats s{std::vector<double>(size_t(C)), std::vector<double>(size_t(C)), x.dim(0) * S};
  auto at = [&](int64_t b, int64_t c, int64_t p) { return x.item(last ? (b * S + p) * C + c : (b * C + c) * S + p); };
  for (int64_t c = 0; c < C; ++c) {
    double sum = 0, sq = 0;
    for (int64_t b = 0; b < x.dim(0); ++b)
      for (int64_t p = 0; p < S; ++p) sum += at(b, c, p);
    double mu = sum / double(s.m);
    for (int64_t b = 0; b < x.dim(0); ++b)
      for (int64_t p = 0; p < S; ++p) sq += (at(b, c, p) - mu) * (at(b, c, p) - mu);
    s.mean[size_t(c)] = mu;
    s.var[size_t(c)] = sq / double(s.m);
  }
  return s;
}

Tensor& buffer(Layer& l, const std::string& name) {
  for (Param* p : l.buffers())
    if (p->name == name) return p->value;
  throw std::logic_error("no buffer " + name);
}

void expect_values(const Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
  ASSERT_EQ(t.numel(), int64_t(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(t.item(int64_t(i)), want[i], tol * (1 + std::abs(want[i]))) << i;
}

void build(Layer& l, const Shape& s, DType dt = DType::f64) {
  Rng rng(3);
  l.build(s.with_dim(0, Shape::kUnknown), rng, dt);
}

std::unique_ptr<Layer> layer_of(const std::string& spec) { return make_layer(parse_chain(spec).at(0)); }

}  // namespace

TEST(BatchNorm, GradientsEveryConventionLayoutAndMode) {
  const char* specs[] = {
      "BatchNorm2D()",
      "BatchNorm2D(data_format=\"channels_first\", activation=\"relu\")",
      "BatchNorm2D.pytorch(3)",
      "BatchNorm2D.pytorch(3, affine=False, data_format=\"channels_last\")",
      "BatchNorm2D.pytorch(3, track_running_stats=False, momentum=None)",
      "BatchNorm2D.keras()",
      "BatchNorm2D.keras(axis=1, center=False, gamma_initializer=\"random_normal\")",
      "BatchNorm2D.caffe()",
      "BatchNorm2D.caffe(data_format=\"channels_last\", activation=\"relu\")",
      "BatchNorm2D.caffe(use_global_stats=True)",
  };
  for (const char* spec : specs)
    for (bool frozen : {false, true}) {
      SCOPED_TRACE(fmt::format("{} frozen={}", spec, frozen));
      auto layer = layer_of(spec);
      auto& bn = dynamic_cast<BatchNormBase&>(*layer);
      bool last = bn.canonical().channels_last;
      Shape in = last ? Shape{2, 3, 2, 3} : Shape{2, 3, 3, 2};
      build(*layer, in);
      // Non-trivial running statistics for the frozen/global-stats formula.
      for (Param* p : layer->buffers()) {
        if (p->name == "moving_mean") p->value.fill(0.3);
        if (p->name == "moving_variance") p->value.fill(1.7);
      }
      if (frozen) bn.freeze();
      check_layer(*layer, in);
    }
  // Every rank: (N, C), (N, L, C), 3D.
  for (const char* spec :
       {"BatchNorm1D()", "BatchNorm1D.pytorch(4)", "BatchNorm3D.keras()", "BatchNorm3D.pytorch(4)"}) {
    SCOPED_TRACE(spec);
    auto layer = layer_of(spec);
    bool last = dynamic_cast<BatchNormBase&>(*layer).canonical().channels_last;
    for (Shape in : std::vector<Shape>{std::string(spec).find("1D") != std::string::npos
                                           ? Shape{5, 4}
                                           : (last ? Shape{2, 2, 1, 3, 4} : Shape{2, 4, 2, 1, 3})}) {
      auto l = layer_of(spec);
      check_layer(*l, in);
    }
  }
  BatchNorm1D seq;
  check_layer(seq, Shape{2, 3, 4});
}

TEST(BatchNorm, NumpyMlRunningStatisticsAndOutputs) {
  // numpy-ml: running = momentum * running + (1 - momentum) * batch, biased variance, NHWC; inference uses them.
  BatchNorm2D bn({.momentum = 0.8});
  Shape in{3, 2, 4, 5};
  build(bn, in);
  std::vector<double> rm(5, 0.0), rv(5, 1.0);
  for (uint64_t step = 0; step < 3; ++step) {
    Tensor x = random_tensor(in, DType::f64, 10 + step, 2.0);
    for (int64_t i = 0; i < x.numel(); ++i) x.set(i, x.item(i) + double(i % 5));
    Tensor y = bn.forward(x, Mode::Training);
    Stats s = stats(x, true);
    for (size_t c = 0; c < 5; ++c) {
      rm[c] = 0.8 * rm[c] + (1 - 0.8) * s.mean[c];
      rv[c] = 0.8 * rv[c] + (1 - 0.8) * s.var[c];
    }
    const Tensor& gamma = bn.params()[0]->value;
    for (int64_t i = 0; i < x.numel(); ++i) {
      size_t c = size_t(i % 5);
      double want = gamma.item(int64_t(c)) * (x.item(i) - s.mean[c]) / std::sqrt(s.var[c] + 1e-5);
      EXPECT_NEAR(y.item(i), want, 1e-12);
    }
  }
  expect_values(buffer(bn, "moving_mean"), rm);
  expect_values(buffer(bn, "moving_variance"), rv);
  // numpy-ml draws gamma from U[0, 1) and starts beta at 0.
  for (double g : bn.params()[0]->value.to_vector()) EXPECT_TRUE(g >= 0 && g < 1);
  for (double b : bn.params()[1]->value.to_vector()) EXPECT_EQ(b, 0.0);
  Tensor x = random_tensor(in, DType::f64, 20);
  Tensor y = bn.forward(x, Mode::Inference);
  for (int64_t i = 0; i < x.numel(); ++i) {
    size_t c = size_t(i % 5);
    EXPECT_NEAR(y.item(i), bn.params()[0]->value.item(int64_t(c)) * (x.item(i) - rm[c]) / std::sqrt(rv[c] + 1e-5),
                1e-12);
  }
  expect_values(buffer(bn, "moving_mean"), rm);  // inference leaves them alone
  // Frozen: running statistics in training mode too, nothing updated, nothing trained.
  bn.freeze();
  EXPECT_TRUE(bn.params().empty());
  EXPECT_EQ(bn.buffers().size(), 4u);
  Tensor yf = bn.forward(x, Mode::Training);
  EXPECT_TRUE(yf.equal(y));
  expect_values(buffer(bn, "moving_mean"), rm);
  bn.unfreeze();
  EXPECT_EQ(bn.params().size(), 2u);
}

TEST(BatchNorm, PyTorchKerasCaffeRunningStatistics) {
  Shape in{4, 3, 2, 2};  // channels_first for PyTorch and Caffe
  std::vector<Tensor> xs;
  for (uint64_t i = 0; i < 4; ++i) xs.push_back(random_tensor(in, DType::f64, 30 + i, 1.0 + double(i)));
  const double m = 16, bessel = m / (m - 1);
  {  // PyTorch momentum 0.3: r = 0.7 r + 0.3 s, unbiased variance.
    PyTorchBatchNorm2D bn({.num_features = 3, .momentum = 0.3});
    build(bn, in);
    std::vector<double> rm(3, 0.0), rv(3, 1.0);
    for (const Tensor& x : xs) {
      bn.forward(x, Mode::Training);
      Stats s = stats(x, false);
      for (size_t c = 0; c < 3; ++c) {
        rm[c] = 0.7 * rm[c] + 0.3 * s.mean[c];
        rv[c] = 0.7 * rv[c] + 0.3 * s.var[c] * bessel;
      }
    }
    expect_values(buffer(bn, "moving_mean"), rm);
    expect_values(buffer(bn, "moving_variance"), rv);
    expect_values(buffer(bn, "num_batches_tracked"), {4.0});
  }
  {  // PyTorch momentum=None: the plain average of the per-batch statistics.
    PyTorchBatchNorm2D bn({.num_features = 3, .momentum = std::nullopt});
    build(bn, in);
    std::vector<double> rm(3, 0.0), rv(3, 0.0);
    for (const Tensor& x : xs) {
      bn.forward(x, Mode::Training);
      Stats s = stats(x, false);
      for (size_t c = 0; c < 3; ++c) {
        rm[c] += s.mean[c] / 4;
        rv[c] += s.var[c] * bessel / 4;
      }
    }
    expect_values(buffer(bn, "moving_mean"), rm);
    expect_values(buffer(bn, "moving_variance"), rv);
  }
  {  // Keras: r = 0.99 r + 0.01 s, biased, channels_last by default.
    KerasBatchNorm2D bn;
    build(bn, in);
    std::vector<double> rm(2, 0.0), rv(2, 1.0);
    for (const Tensor& x : xs) {
      bn.forward(x, Mode::Training);
      Stats s = stats(x, true);
      for (size_t c = 0; c < 2; ++c) {
        rm[c] = 0.99 * rm[c] + (1 - 0.99) * s.mean[c];
        rv[c] = 0.99 * rv[c] + (1 - 0.99) * s.var[c];
      }
    }
    expect_values(buffer(bn, "moving_mean"), rm);
    expect_values(buffer(bn, "moving_variance"), rv);
  }
  {  // Keras 2.1.3-2.3.1: the batch variance scaled by m / (m - (1 + epsilon)) first; outputs unchanged.
    KerasBatchNorm2D bn({.keras2_variance_scale = true}), plain;
    build(bn, in);
    build(plain, in);
    std::vector<double> rv(2, 1.0);
    for (const Tensor& x : xs) {
      Tensor y = bn.forward(x, Mode::Training), y_plain = plain.forward(x, Mode::Training);
      for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.item(i), y_plain.item(i));
      Stats s = stats(x, true);
      const double n = double(s.m);  // 4 * 3 * 2 values per channel
      for (size_t c = 0; c < 2; ++c) rv[c] = 0.99 * rv[c] + 0.01 * s.var[c] * (n / (n - (1 + 1e-3)));
    }
    expect_values(buffer(bn, "moving_variance"), rv);
    expect_values(buffer(bn, "moving_mean"), buffer(plain, "moving_mean").to_vector());
  }
  {  // Caffe: sums S = s + maf S, Z = 1 + maf Z, statistic S / Z; before any batch Z = 0 reads as 0.
    CaffeBatchNorm2D bn({.moving_average_fraction = 0.9});
    build(bn, in);
    Tensor y0 = bn.forward(xs[0], Mode::Inference);
    for (int64_t i = 0; i < y0.numel(); ++i) EXPECT_NEAR(y0.item(i), xs[0].item(i) / std::sqrt(1e-5), 1e-9);
    std::vector<double> sm(3, 0.0), sv(3, 0.0);
    double z = 0;
    for (const Tensor& x : xs) {
      bn.forward(x, Mode::Training);
      Stats s = stats(x, false);
      z = 0.9 * z + 1;
      for (size_t c = 0; c < 3; ++c) {
        sm[c] = s.mean[c] + 0.9 * sm[c];
        sv[c] = s.var[c] * bessel + 0.9 * sv[c];
      }
    }
    for (size_t c = 0; c < 3; ++c) {
      sm[c] /= z;
      sv[c] /= z;
    }
    expect_values(buffer(bn, "moving_mean"), sm);
    expect_values(buffer(bn, "moving_variance"), sv);
    expect_values(buffer(bn, "normalizer"), {z});
    EXPECT_TRUE(bn.params().empty());
  }
}

TEST(BatchNorm, ReluIsFused) {
  Tensor x = random_tensor(Shape{3, 4, 5}, DType::f32, 4);
  BatchNorm1D plain({}, "a"), relu({.activation = "relu"}, "b");
  build(plain, x.shape(), DType::f32);
  build(relu, x.shape(), DType::f32);
  relu.params()[0]->value = plain.params()[0]->value.clone();
  for (Mode mode : {Mode::Training, Mode::Inference}) {
    Tensor y = plain.forward(x, mode), yr = relu.forward(x, mode);
    for (int64_t i = 0; i < y.numel(); ++i) EXPECT_FLOAT_EQ(yr.item(i), std::max(0.0, y.item(i)));
  }
}

TEST(BatchNorm, StableStatisticsForLargeMeans) {
  // Per-channel mean 1e4, std 1e-2, f32: the output keeps f32 accuracy (E[x^2] - E[x]^2 loses every digit).
  for (bool last : {true, false}) {
    SCOPED_TRACE(last);
    Shape in = last ? Shape{8, 16, 16, 3} : Shape{8, 3, 16, 16};
    Tensor x = random_tensor(in, DType::f64, 5, 1e-2);
    for (int64_t i = 0; i < x.numel(); ++i) x.set(i, x.item(i) + 1e4);
    x = x.to(DType::f32);
    PyTorchBatchNorm2D bn({.num_features = 3, .data_format = last ? "channels_last" : "channels_first"});
    build(bn, in, DType::f32);
    Tensor y = bn.forward(x, Mode::Training);
    Stats s = stats(x, last);
    for (int64_t i = 0; i < x.numel(); ++i) {
      size_t c = size_t(last ? i % 3 : (i / 256) % 3);
      double want = (x.item(i) - s.mean[c]) / std::sqrt(s.var[c] + 1e-5);
      ASSERT_NEAR(y.item(i), want, 2e-5 * (1 + std::abs(want))) << i;
    }
    Tensor& rv = buffer(bn, "moving_variance");
    for (size_t c = 0; c < 3; ++c) EXPECT_NEAR(rv.item(int64_t(c)), 0.9 + 0.1 * s.var[c] * 2048.0 / 2047.0, 1e-6);
  }
}

TEST(BatchNorm, Errors) {
  EXPECT_THROW_MSG(BatchNorm2D({.epsilon = 0}), ConfigError, "epsilon must be a finite number > 0, got 0");
  EXPECT_THROW_MSG(PyTorchBatchNorm2D({.num_features = 3, .eps = -1}), ConfigError, "eps must be");
  EXPECT_THROW_MSG(CaffeBatchNorm2D({.eps = 0}), ConfigError, "eps must be");
  EXPECT_THROW_MSG(BatchNorm2D({.momentum = 1.5}), ConfigError, "momentum must be in [0, 1], got 1.5");
  EXPECT_THROW_MSG(PyTorchBatchNorm2D({.num_features = 3, .momentum = -0.1}), ConfigError,
                   "momentum must be in [0, 1]");
  EXPECT_THROW_MSG(KerasBatchNorm2D({.momentum = 2}), ConfigError, "momentum must be in [0, 1]");
  EXPECT_THROW_MSG(CaffeBatchNorm2D({.moving_average_fraction = -1}), ConfigError, "moving_average_fraction");
  EXPECT_NO_THROW(KerasBatchNorm2D({.axis = 2}));  // any axis (tests/layers/test_batch_norm_axis.cpp)
  EXPECT_THROW_MSG(KerasBatchNorm2D({.axis = 1, .data_format = "channels_last"}), ConfigError, "axis must agree");
  EXPECT_THROW_MSG(BatchNorm2D({.activation = "tanh"}), ConfigError, "activation must be None");
  EXPECT_THROW_MSG(BatchNorm2D({.data_format = "nchw"}), ConfigError, "data_format must be");
  EXPECT_NO_THROW(layer_of("BatchNorm2D(optimizer=None)"));  // numpy-ml's argument, taken by every layer
  EXPECT_THROW_MSG(layer_of("BatchNorm2D.keras(gamma_regularizer=\"l7\")"), ConfigError, "gamma_regularizer");
  EXPECT_THROW_MSG(PyTorchBatchNorm2D({.num_features = 0}), ConfigError, "num_features must be a positive integer");

  PyTorchBatchNorm2D pt({.num_features = 4});
  Rng rng(0);
  EXPECT_THROW_MSG(pt.build(Shape{-1, 3, 5, 5}, rng), ShapeError, "channels must be num_features = 4, got 3");
  EXPECT_THROW_MSG(pt.build(Shape{-1, 4, 5}, rng), ShapeError, "input rank must be 4");
  pt.build(Shape{-1, 4, 2, 2}, rng);
  EXPECT_THROW_MSG(pt.forward(Tensor(Shape{2, 5, 2, 2}), Mode::Training), ShapeError, "input shape must be");
  // One value per channel: PyTorch's "Expected more than 1 value per channel when training".
  PyTorchBatchNorm1D one({.num_features = 3});
  one.build(Shape{-1, 3}, rng);
  EXPECT_THROW_MSG(one.forward(Tensor(Shape{1, 3}), Mode::Training), ConfigError, "more than 1 value per channel");
  EXPECT_NO_THROW(one.forward(Tensor(Shape{1, 3}), Mode::Inference));
  // numpy-ml defines it (variance 0): no error.
  BatchNorm1D np;
  np.build(Shape{-1, 3}, rng);
  EXPECT_NO_THROW(np.forward(Tensor(Shape{1, 3}), Mode::Training));
  // NaN in training: raised before the running statistics change.
  Tensor x = random_tensor(Shape{4, 3}, DType::f32, 1);
  x.set(4, std::nan(""));
  std::vector<double> before = buffer(np, "moving_mean").to_vector();
  EXPECT_THROW_MSG(np.forward(x, Mode::Training), ConfigError, "batch statistics must be finite in training mode");
  EXPECT_EQ(buffer(np, "moving_mean").to_vector(), before);
  EXPECT_NO_THROW(np.forward(x, Mode::Inference));
  // backward follows the last successful training forward (batch 1), whatever inference ran since.
  EXPECT_THROW_MSG(np.backward(Tensor(Shape{4, 3})), ShapeError, "must be (1, 3), got (4, 3)");

  // Running statistics of the wrong shape on load.
  Sequential model = parse_model("Input((3,)) >> BatchNorm1D(name=\"bn\")");
  model.build(Shape{Shape::kUnknown, 3}, 0);
  TensorFile f = model_weights(model);
  for (auto& [key, t] : f.tensors)
    if (key == "bn.moving_variance") t = Tensor(Shape{4});
  EXPECT_THROW_MSG(load_weights(model, f), FormatError, "bn.moving_variance");
}

TEST(BatchNorm, SpecRoundTripAndWeights) {
  for (const char* spec : {"BatchNorm2D(momentum=0.5)", "BatchNorm1D.pytorch(7, momentum=None, affine=False)",
                           "BatchNorm3D.keras(axis=1, epsilon=0.01)", "BatchNorm2D.caffe(use_global_stats=False)"}) {
    auto l = layer_of(spec);
    auto again = make_layer(l->config());
    EXPECT_EQ(again->config().kwargs, l->config().kwargs) << spec;
  }
  Sequential model =
      parse_model("Input((2, 2, 3)) >> BatchNorm2D.pytorch(3, data_format=\"channels_last\", name=\"bn\")");
  model.build(Shape{Shape::kUnknown, 2, 2, 3}, 0);
  std::vector<std::string> keys;
  for (auto& [key, p] : model.named_params()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"bn.beta", "bn.gamma", "bn.moving_mean", "bn.moving_variance",
                                            "bn.num_batches_tracked"}));
  EXPECT_EQ(model.param_count(), 6);
}

// numpy-ml names gamma, beta and the running statistics scaler, intercept, running_mean, running_var; a weight
// file with those names loads into the numpy-ml convention (values and the inference output checked here).
TEST(BatchNorm, NumpyMlParameterNamesLoad) {
  Sequential model = parse_model("Input((2, 2, 3)) >> BatchNorm2D(name='bn')");
  model.build(Shape{Shape::kUnknown, 2, 2, 3}, uint64_t(0), DType::f64);
  const std::vector<double> scaler{0.5, 2.0, 1.5}, intercept{0.1, -0.2, 0.3}, mean{1.0, -1.0, 0.5},
      var{4.0, 0.25, 1.0};
  TensorFile f;
  f.tensors = {{"bn.scaler", Tensor::from<double>(scaler, Shape{3})},
               {"bn.intercept", Tensor::from<double>(intercept, Shape{3})},
               {"bn.running_mean", Tensor::from<double>(mean, Shape{3})},
               {"bn.running_var", Tensor::from<double>(var, Shape{3})}};
  load_weights(model, f);
  Layer& bn = model.layer(0);
  expect_values(bn.params()[0]->value, scaler);
  expect_values(bn.params()[1]->value, intercept);
  expect_values(buffer(bn, "moving_mean"), mean);
  expect_values(buffer(bn, "moving_variance"), var);
  Tensor x = random_tensor(Shape{2, 2, 2, 3}, DType::f64, 5);
  Tensor y = model.forward(x, Mode::Inference);
  for (int64_t i = 0; i < x.numel(); ++i) {
    size_t c = size_t(i % 3);
    EXPECT_NEAR(y.item(i), scaler[c] * (x.item(i) - mean[c]) / std::sqrt(var[c] + 1e-5) + intercept[c], 1e-12);
  }
  // The names are numpy-ml's, not every convention's: Keras calls them gamma, beta, moving_mean, moving_variance.
  Sequential keras = parse_model("Input((2, 2, 3)) >> BatchNorm2D.keras(name='bn')");
  keras.build(Shape{Shape::kUnknown, 2, 2, 3}, uint64_t(0), DType::f64);
  EXPECT_THROW_MSG(load_weights(keras, f), FormatError, "weights: key 'bn.scaler' matches no parameter of the model");
}

// numpy-ml's and Keras's trainable=False in a spec freezes the BatchNorm (numpy-ml's freeze()), round-trips
// through config(), and trainable=True undoes nothing.
TEST(BatchNorm, TrainableFalseInTheSpecFreezes) {
  auto frozen = layer_of("BatchNorm2D(trainable=False)");
  auto& bn = dynamic_cast<BatchNormBase&>(*frozen);
  EXPECT_TRUE(bn.frozen());
  EXPECT_EQ(frozen->config().repr(),
            "BatchNorm2D(momentum=0.9, epsilon=1e-05, activation=None, data_format=\"channels_last\", sync=False, "
            "name=\"\", trainable=False)");
  EXPECT_TRUE(dynamic_cast<BatchNormBase&>(*make_layer(frozen->config())).frozen());
  build(*frozen, Shape{4, 2, 2, 3});
  EXPECT_TRUE(frozen->params().empty());
  EXPECT_EQ(frozen->param_count(), 0);
  EXPECT_EQ(frozen->buffer_count(), 12);  // gamma, beta, moving_mean, moving_variance
  Tensor x = random_tensor(Shape{4, 2, 2, 3}, DType::f64, 6);
  EXPECT_TRUE(frozen->forward(x, Mode::Training).equal(frozen->forward(x, Mode::Inference)));
  expect_values(buffer(*frozen, "moving_mean"), {0, 0, 0});
  EXPECT_FALSE(dynamic_cast<BatchNormBase&>(*layer_of("BatchNorm2D(trainable=True)")).frozen());
  bn.unfreeze();
  EXPECT_EQ(frozen->config().repr().find("trainable"), std::string::npos);
  EXPECT_THROW_MSG(layer_of("BatchNorm2D(trainable=0)"), ConfigError, "argument 'trainable' must be bool, got int 0");
}

// PyTorch's reset_running_stats(): back to the statistics build() made (PyTorch: 0 and 1, count 0; Keras: the
// initializers' draw; Caffe: sums and normalizer 0), gamma and beta untouched.
TEST(BatchNorm, ResetRunningStats) {
  Shape in{4, 3, 2, 2};
  for (const char* spec : {"BatchNorm2D.pytorch(3)", "BatchNorm2D.pytorch(3, momentum=None)",
                           "BatchNorm2D.keras(axis=1, moving_mean_initializer='random_uniform', "
                           "moving_variance_initializer='random_uniform')",
                           "BatchNorm2D.caffe()", "BatchNorm2D(data_format='channels_first')"}) {
    SCOPED_TRACE(spec);
    auto l = layer_of(spec);
    auto& bn = dynamic_cast<BatchNormBase&>(*l);
    bn.reset_running_stats();  // before build: nothing to reset
    build(*l, in);
    std::vector<std::vector<double>> initial;
    for (Param* p : l->buffers()) initial.push_back(p->value.to_vector());
    std::vector<std::vector<double>> params;
    for (Param* p : l->params()) params.push_back(p->value.to_vector());
    for (uint64_t s = 0; s < 2; ++s) (void)l->forward(random_tensor(in, DType::f64, 40 + s, 3.0), Mode::Training);
    EXPECT_NE(buffer(*l, "moving_mean").to_vector(), initial[0]);
    bn.reset_running_stats();
    for (size_t i = 0; i < initial.size(); ++i) EXPECT_EQ(l->buffers()[i]->value.to_vector(), initial[i]) << i;
    for (size_t i = 0; i < params.size(); ++i) EXPECT_EQ(l->params()[i]->value.to_vector(), params[i]) << i;
  }
  auto none = layer_of("BatchNorm2D.pytorch(3, track_running_stats=False)");
  build(*none, in);
  dynamic_cast<BatchNormBase&>(*none).reset_running_stats();  // no running statistics: nothing to do
  EXPECT_TRUE(none->buffers().empty());
}
