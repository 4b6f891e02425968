// Mixed data formats in one model, as Keras 2 models have them (each layer honours its own data_format).
// kMixed: a channels_first LocallyConnected2D followed by BatchNorm(axis=1), a channels_first LRN, a BatchNorm on a
// spatial axis, a channels_last LocallyConnected2D and BatchNorm, Flatten and Dense; its forward is checked against
// the same layers in channels_last order on the transposed activations. kPooled: channels_last pooling layers
// between channels_first ones (a channels_last pool over a channels_first tensor pools its (C, H) plane); every
// layer's shape and the pools against channels_first pools on the transposed tensor. kSequence: rank-3 and rank-2
// activations through LRN and BatchNorm. The models' gradients by central differences in double. Synthetic
// references (computed here).
#include <cmath>

#include "gradcheck.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/model/from_spec.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

namespace {

const char* kMixed =
    "Input((3, 7, 6)) >> LocallyConnected2D(4, 3, data_format='channels_first', name='lc') >> "
    "BatchNorm2D.keras(axis=1, name='bn1') >> LocalResponseNorm.caffe(local_size=3, name='lrn') >> "
    "BatchNorm2D.keras(axis=2, activation='relu', name='bn2') >> LocallyConnected2D(2, 2, name='lc2') >> "
    "BatchNorm2D.keras(name='bn3') >> Flatten() >> Dense(3)";

const char* kPooled =
    "Input((3, 8, 6)) >> LocallyConnected2D(4, 3, data_format='channels_first', name='lc') >> "
    "MaxPooling2D(2, padding='same', name='max') >> AveragePooling2D((1, 2), name='avg') >> "
    "LocalResponseNorm.caffe(local_size=3, name='lrn') >> BatchNorm2D.keras(axis=1, name='bn') >> "
    "GlobalAveragePooling2D(data_format='channels_first') >> Dense(3)";

// Sequences (rank 3) in both formats and a Dense output (rank 2) through LRN and BatchNorm.
const char* kSequence =
    "Input((8, 3)) >> LocallyConnected1D(4, 3, name='lc') >> LocalResponseNorm.tensorflow(depth_radius=1) >> "
    "BatchNorm1D.keras(axis=1, name='bn') >> LocallyConnected1D(5, 2, data_format='channels_first', name='lc2') >> "
    "LocalResponseNorm.pytorch(3) >> Flatten() >> Dense(4) >> LocalResponseNorm.caffe(local_size=3) >> "
    "BatchNorm1D.keras(name='bn2') >> Dense(3)";

// (N, A, B, C) -> (N, B, C, A) when `to_last`, else the inverse (N, A, B, C) -> (N, C, A, B).
Tensor move_axis1(const Tensor& x, bool to_last) {
  const int64_t n = x.dim(0), a = x.dim(1), b = x.dim(2), c = x.dim(3);
  Tensor y(to_last ? Shape{n, b, c, a} : Shape{n, c, a, b}, x.dtype());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < a; ++j)
      for (int64_t k = 0; k < b; ++k)
        for (int64_t l = 0; l < c; ++l) {
          int64_t from = ((i * a + j) * b + k) * c + l;
          y.set(to_last ? ((i * b + k) * c + l) * a + j : ((i * c + l) * a + j) * b + k, x.item(from));
        }
  return y;
}

double weighted_sum(const Tensor& y, const Tensor& w) {
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += y.item(i) * w.item(i);
  return s;
}

// The gradients of sum(w * model(x)) for the input and every parameter against central differences.
int check_model_gradients(const char* spec, const Shape& in) {
  Sequential model = parse_model(spec);
  model.build(in.with_dim(0, Shape::kUnknown), uint64_t(5), DType::f64);
  Tensor x = random_tensor(in, DType::f64, 9);
  Tensor w = random_tensor(Shape{in[0], 3}, DType::f64, 10);
  model.zero_grad();
  (void)model.forward(x, Mode::Training);
  Tensor dx = model.backward(w);
  const double eps = 1e-6;
  // Central difference of sum(w * model(x)) along one element of t (the input or a parameter).
  auto numeric = [&](Tensor& t, int64_t i) {
    const double v = t.item(i);
    t.set(i, v + eps);
    double up = weighted_sum(model.forward(x, Mode::Training), w);
    t.set(i, v - eps);
    double down = weighted_sum(model.forward(x, Mode::Training), w);
    t.set(i, v);
    return (up - down) / (2 * eps);
  };
  auto expect_grad = [&](Tensor& t, const Tensor& analytic, const std::string& what) {
    const int64_t step = std::max<int64_t>(1, t.numel() / 40);
    for (int64_t i = 0; i < t.numel(); i += step) {
      double want = numeric(t, i);
      EXPECT_NEAR(analytic.item(i), want, 1e-5 * std::abs(want) + 1e-7) << what << "[" << i << "]";
    }
  };
  expect_grad(x, dx, "dx");
  int checked = 0;
  for (auto& [name, p] : model.named_params(false)) {
    expect_grad(p->value, p->grad, name);
    ++checked;
  }
  return checked;
}

}  // namespace

TEST(MixedDataFormats, ForwardMatchesTheChannelsLastEquivalent) {
  Sequential model = parse_model(kMixed);
  model.build(Shape{Shape::kUnknown, 3, 7, 6}, uint64_t(4), DType::f64);
  for (auto& [name, p] : model.named_params()) {  // non-trivial gamma, beta and running statistics
    const double base = p->name == "gamma" ? 0.7 : p->name == "moving_variance" ? 1.5 : 0.2;
    if (name.rfind("bn", 0) == 0)
      for (int64_t i = 0; i < p->value.numel(); ++i) p->value.set(i, base + 0.1 * double(i));
  }
  EXPECT_EQ(model.output_shape(), (Shape{Shape::kUnknown, 3}));
  Tensor x = random_tensor(Shape{3, 3, 7, 6}, DType::f64, 8);
  for (Mode mode : {Mode::Training, Mode::Inference}) {
    SCOPED_TRACE(mode == Mode::Training ? "training" : "inference");
    Sequential fresh = parse_model(kMixed);  // running statistics as the reference's
    fresh.build(Shape{Shape::kUnknown, 3, 7, 6}, uint64_t(4), DType::f64);
    auto params = model.named_params();
    auto fresh_params = fresh.named_params();
    for (size_t i = 0; i < params.size(); ++i) fresh_params[i].second->value = params[i].second->value.clone();
    Tensor y = fresh.forward(x, mode);
    // The channels_first middle, in channels_last order: (N, C, H, W) -> (N, H, W, C), the channel axis last and
    // H at axis 1; the parameters copied from the model's layers.
    auto bn1 = make_layer(parse_chain("BatchNorm2D.keras()").at(0));
    auto lrn = make_layer(parse_chain("LocalResponseNorm.caffe(local_size=3, data_format='channels_last')").at(0));
    auto bn2 = make_layer(parse_chain("BatchNorm2D.keras(axis=1, activation='relu')").at(0));
    Tensor h = move_axis1(model.layer(0).forward(x, mode), true);
    const std::vector<std::pair<Layer*, size_t>> middle{
        {bn1.get(), size_t(1)}, {lrn.get(), size_t(2)}, {bn2.get(), size_t(3)}};
    for (const auto& [layer, from] : middle) {
      Rng rng(0);
      layer->build(h.shape().with_dim(0, Shape::kUnknown), rng, DType::f64);
      for (auto [mine, theirs] : {std::pair{layer->params(), model.layer(from).params()},
                                  std::pair{layer->buffers(), model.layer(from).buffers()}})
        for (size_t k = 0; k < mine.size(); ++k) mine[k]->value = theirs[k]->value.clone();
      h = layer->forward(h, mode);
    }
    h = move_axis1(h, false);
    for (size_t i = 4; i < model.size(); ++i) h = fresh.layer(i).forward(h, mode);
    EXPECT_LE(max_scaled_error(y, h, 1e-10, 1e-12), 1.0);
  }
}


TEST(MixedDataFormats, WholeModelGradients) {
  // kernel and bias of lc, lc2 and the Dense; gamma and beta of bn1, bn2, bn3
  EXPECT_EQ(check_model_gradients(kMixed, Shape{3, 3, 7, 6}), 12);
  // kernel and bias of lc and the Dense; gamma and beta of bn
  EXPECT_EQ(check_model_gradients(kPooled, Shape{2, 3, 8, 6}), 6);
  // (8, 3) -> lc (6, 4) -> bn over the 6 steps -> lc2 channels_first (5, 3) -> Flatten 15 -> Dense 4 -> 3
  EXPECT_EQ(parse_model(kSequence).output_shape(), (Shape{Shape::kUnknown, 3}));
  EXPECT_EQ(check_model_gradients(kSequence, Shape{3, 8, 3}), 12);
}

TEST(MixedDataFormats, PoolingHonoursItsOwnFormat) {
  Sequential model = parse_model(kPooled);
  model.build(Shape{Shape::kUnknown, 3, 8, 6}, uint64_t(3), DType::f64);
  // lc: (C, H, W) = (4, 6, 4); the channels_last pools take (rows, cols, channels) = (4, 6, 4): 2x2 same pooling
  // -> (2, 3, 4), then (1, 2) valid -> (2, 1, 4); the channels_first LRN and BatchNorm see 2 channels; the
  // channels_first global pool averages the (1, 4) plane of each.
  const Shape want[] = {Shape{-1, 4, 6, 4}, Shape{-1, 2, 3, 4}, Shape{-1, 2, 1, 4}, Shape{-1, 2, 1, 4},
                        Shape{-1, 2, 1, 4}, Shape{-1, 2},       Shape{-1, 3}};
  Shape at = Shape{Shape::kUnknown, 3, 8, 6};
  for (size_t i = 0; i < model.size(); ++i) {
    at = model.layer(i).output_shape(at);
    EXPECT_EQ(at, want[i]) << model.layer(i).name();
  }
  EXPECT_EQ(model.output_shape(), want[6]);
  // Each channels_last pool equals its channels_first twin on the tensor with the last axis moved to axis 1.
  Tensor h = model.layer(0).forward(random_tensor(Shape{2, 3, 8, 6}, DType::f64, 6), Mode::Inference);
  const std::pair<size_t, const char*> twins[] = {
      {1, "MaxPooling2D(2, padding='same', data_format='channels_first')"},
      {2, "AveragePooling2D((1, 2), data_format='channels_first')"}};
  for (const auto& [index, twin] : twins) {
    SCOPED_TRACE(twin);
    Layer& pool = model.layer(index);
    auto first = make_layer(parse_chain(twin).at(0));
    Tensor hf = move_axis1(h, false);
    Rng rng(0);
    first->build(hf.shape().with_dim(0, Shape::kUnknown), rng, DType::f64);
    Tensor y = pool.forward(h, Mode::Inference);
    EXPECT_LE(max_scaled_error(y, move_axis1(first->forward(hf, Mode::Inference), true), 1e-14, 1e-14), 1.0);
    h = y;
  }
}
