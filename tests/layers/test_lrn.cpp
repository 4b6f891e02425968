// LRN: every convention against an independent implementation written from that framework's documented formula
// (docs/lrn.md, docs/frameworks.md), gradient checks, the call API and the error paths.
#include <cmath>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/layers/lrn.hpp"
#include "locnet/layers/registry.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

namespace {

// x viewed channels-first as (N, C, S).
struct Ncs {
  const Tensor& t;
  bool last;
  int64_t n, c, s;
  Ncs(const Tensor& t, bool channels_last) : t(t), last(channels_last) {
    n = t.dim(0);
    c = last ? t.dim(-1) : t.dim(1);
    s = t.numel() / (n * c);
  }
  int64_t at(int64_t b, int64_t ch, int64_t p) const { return last ? (b * s + p) * c + ch : (b * c + ch) * s + p; }
  double operator()(int64_t b, int64_t ch, int64_t p) const { return t.item(at(b, ch, p)); }
};

// y = x / (k + scale * sum over channels [lo(c), hi(c)] of x^2)^beta, written per framework below.
Tensor across(const Tensor& x, bool last, double k, double scale, double beta,
              const std::function<std::pair<int64_t, int64_t>(int64_t c, int64_t C)>& window) {
  Ncs v(x, last);
  Tensor y(x.shape(), DType::f64);
  for (int64_t b = 0; b < v.n; ++b)
    for (int64_t p = 0; p < v.s; ++p)
      for (int64_t ch = 0; ch < v.c; ++ch) {
        auto [lo, hi] = window(ch, v.c);
        double sum = 0;
        for (int64_t j = std::max<int64_t>(lo, 0); j <= std::min(hi, v.c - 1); ++j) sum += v(b, j, p) * v(b, j, p);
        y.set(v.at(b, ch, p), v(b, ch, p) / std::pow(k + scale * sum, beta));
      }
  return y;
}

Tensor run(Layer& layer, const Tensor& x) {
  Rng rng(0);
  layer.build(x.shape().with_dim(0, Shape::kUnknown), rng, x.dtype());
  return layer.forward(x, Mode::Inference);
}

void expect_close(const Tensor& got, const Tensor& want, double rtol = 1e-12) {
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_LE(max_scaled_error(got, want, rtol, 1e-14), 1.0);
}

// (N, C, S...) -> (N, S..., C).
Tensor to_channels_last(const Tensor& x) {
  std::vector<int64_t> d = x.shape().dims(), dl{d[0]};
  dl.insert(dl.end(), d.begin() + 2, d.end());
  dl.push_back(d[1]);
  Tensor xl(Shape(dl), x.dtype());
  const int64_t C = d[1], S = x.numel() / (d[0] * C);
  for (int64_t b = 0; b < d[0]; ++b)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t s = 0; s < S; ++s) xl.set((b * S + s) * C + c, x.item((b * C + c) * S + s));
  return xl;
}

const Shape kNchw{2, 7, 3, 2};
const Shape kNhwc{2, 3, 2, 7};

}  // namespace

TEST(Lrn, NeupyDocumentedFormula) {
  // neupy doc: depth_radius = number of channels (odd), alpha not divided; defaults k=2, alpha=1e-4, beta=0.75.
  Tensor x = random_tensor(kNhwc, DType::f64, 1, 3.0);
  LocalResponseNorm l;
  expect_close(run(l, x), across(x, true, 2, 1e-4, 0.75, [](int64_t c, int64_t) {
                 return std::pair{c - 2, c + 2};
               }));
  LocalResponseNorm l3({.alpha = 0.3, .beta = 0.6, .k = 1.5, .depth_radius = 3});
  expect_close(run(l3, x), across(x, true, 1.5, 0.3, 0.6, [](int64_t c, int64_t) { return std::pair{c - 1, c + 1}; }));
  // neupy's own unit test: a 1x1x1x1 input of ones gives 1 / (2 + 1e-4)^0.75 = 0.594582...
  Tensor one = Tensor::from<double>({1.0}, Shape{1, 1, 1, 1});
  LocalResponseNorm d;
  EXPECT_NEAR(run(d, one).item(0), 0.594582, 1e-6);
}

TEST(Lrn, TensorFlowHalfWidth) {
  // sqr_sum = sum(input[..., d - r : d + r + 1] ** 2); output = input / (bias + alpha * sqr_sum) ** beta
  Tensor x = random_tensor(kNhwc, DType::f64, 2);
  for (int64_t r : {0, 1, 2, 5}) {
    TensorFlowLocalResponseNorm l({.depth_radius = r, .bias = 1.5, .alpha = 0.2, .beta = 0.5});
    expect_close(run(l, x), across(x, true, 1.5, 0.2, 0.5, [r](int64_t c, int64_t) { return std::pair{c - r, c + r}; }));
  }
}

TEST(Lrn, PyTorchPadAndAveragePool) {
  // F.local_response_norm: pad size//2 channels in front and (size-1)//2 behind, avg-pool of size over channels.
  Tensor x = random_tensor(kNchw, DType::f64, 3);
  for (int64_t n : {1, 2, 3, 4, 5, 8, 11}) {
    SCOPED_TRACE(n);
    PyTorchLocalResponseNorm l({.size = n, .alpha = 0.5, .beta = 0.75, .k = 1.0});
    Ncs v(x, false);
    Tensor want(x.shape(), DType::f64);
    for (int64_t b = 0; b < v.n; ++b)
      for (int64_t p = 0; p < v.s; ++p)
        for (int64_t c = 0; c < v.c; ++c) {
          // padded index c' = c + n//2 covers padded [c, c + n - 1] -> original [c - n//2, c - n//2 + n - 1]
          double avg = 0;
          for (int64_t q = 0; q < n; ++q) {
            int64_t j = c - n / 2 + q;
            if (j >= 0 && j < v.c) avg += v(b, j, p) * v(b, j, p);
          }
          avg /= double(n);
          want.set(v.at(b, c, p), v(b, c, p) / std::pow(avg * 0.5 + 1.0, 0.75));
        }
    expect_close(run(l, x), want);
  }
}

TEST(Lrn, CaffeAcrossAndWithin) {
  Tensor x = random_tensor(Shape{2, 4, 5, 6}, DType::f64, 4);
  CaffeLocalResponseNorm across_l({.local_size = 3, .alpha = 0.9, .beta = 0.75, .k = 2.0});
  expect_close(run(across_l, x), across(x, false, 2.0, 0.9 / 3, 0.75, [](int64_t c, int64_t) {
                 return std::pair{c - 1, c + 1};
               }));
  // WITHIN_CHANNEL: y = x (1 + alpha/n^2 sum_{n x n box, zero padded} x^2)^-beta; k is ignored.
  for (int64_t n : {1, 3, 5}) {
    CaffeLocalResponseNorm within({.local_size = n, .alpha = 0.7, .beta = 0.75, .k = 5.0, .norm_region = "WITHIN_CHANNEL"});
    Tensor want(x.shape(), DType::f64);
    int64_t H = 5, W = 6, h = (n - 1) / 2;
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t c = 0; c < 4; ++c)
        for (int64_t i = 0; i < H; ++i)
          for (int64_t j = 0; j < W; ++j) {
            double sum = 0;
            for (int64_t a = i - h; a <= i + h; ++a)
              for (int64_t e = j - h; e <= j + h; ++e)
                if (a >= 0 && a < H && e >= 0 && e < W) sum += std::pow(x.item(((b * 4 + c) * H + a) * W + e), 2);
            int64_t o = ((b * 4 + c) * H + i) * W + j;
            want.set(o, x.item(o) / std::pow(1.0 + 0.7 / double(n * n) * sum, 0.75));
          }
    expect_close(run(within, x), want);
  }
}

TEST(Lrn, WolframOneBasedFormulaAndUnbatchedCall) {
  // D_ijk = ((alpha/(2c+1)) sum_{x=max(1,i-c)}^{min(N,c+i)} T_xjk^2 + b)^beta, O = T / D; input (C, H, W).
  Tensor x = random_tensor(Shape{6, 3, 4}, DType::f64, 5);
  WolframLocalResponseNorm l({.Alpha = 0.8, .Beta = 0.6, .Bias = 1.2, .ChannelWindowSize = 1});
  Tensor y = l(x);
  ASSERT_EQ(y.shape(), x.shape());
  int64_t N = 6, c = 1;
  for (int64_t i = 1; i <= N; ++i)
    for (int64_t p = 0; p < 12; ++p) {
      double sum = 0;
      for (int64_t q = std::max<int64_t>(1, i - c); q <= std::min(N, c + i); ++q) sum += std::pow(x.item((q - 1) * 12 + p), 2);
      double d = std::pow(0.8 / double(2 * c + 1) * sum + 1.2, 0.6);
      EXPECT_NEAR(y.item((i - 1) * 12 + p), x.item((i - 1) * 12 + p) / d, 1e-12);
    }
  // A batch of the same array gives the same values.
  Tensor xb = x.reshape(Shape{1, 6, 3, 4});
  WolframLocalResponseNorm lb({.Alpha = 0.8, .Beta = 0.6, .Bias = 1.2, .ChannelWindowSize = 1});
  Tensor yb = lb(xb);
  EXPECT_EQ(yb.shape(), (Shape{1, 6, 3, 4}));
  EXPECT_LE(max_scaled_error(yb.reshape(x.shape()), y, 1e-15, 0), 1.0);
  // C >= 2c+1 is required.
  WolframLocalResponseNorm wide;  // c = 2 -> 5 channels
  EXPECT_THROW_MSG(wide(Tensor(Shape{4, 3, 3}, DType::f64)), ShapeError, "number of channels must be >= 5");
}

TEST(Lrn, OnnxExtraChannelAfter) {
  // square_sum[:, c] = sum x[:, max(0, c - c1) : min(C, c + c2)]^2, c1 = floor((size-1)/2), c2 = ceil((size-1)/2) + 1
  Tensor x = random_tensor(Shape{2, 7, 5}, DType::f64, 6);
  for (int64_t n : {1, 2, 3, 4, 7}) {
    OnnxLocalResponseNorm l({.size = n, .alpha = 0.4, .beta = 0.8, .bias = 1.1});
    int64_t c1 = (n - 1) / 2, c2 = (n - 1 + 1) / 2 + 1;
    expect_close(run(l, x), across(x, false, 1.1, 0.4 / double(n), 0.8, [=](int64_t c, int64_t) {
                   return std::pair{c - c1, c + c2 - 1};
                 }));
  }
}

TEST(Lrn, OneDnnEvenSizeTakesOneTapLess) {
  Tensor x = random_tensor(Shape{2, 9, 4}, DType::f64, 7);
  for (int64_t n : {1, 4, 5, 6}) {
    OneDnnLocalResponseNorm l({.local_size = n, .alpha = 0.3, .beta = 0.75, .k = 1.0});
    int64_t half = (n - 1) / 2;
    expect_close(run(l, x), across(x, false, 1.0, 0.3 / double(n), 0.75, [=](int64_t c, int64_t) {
                   return std::pair{c - half, c + half};
                 }));
  }
  // within: box [x - half, x + half] clipped, divisor n^(spatial dims), k used.
  Tensor x1 = random_tensor(Shape{1, 2, 7}, DType::f64, 8);
  OneDnnLocalResponseNorm w({.local_size = 4, .alpha = 0.6, .beta = 0.75, .k = 2.0, .alg_kind = "lrn_within_channel"});
  Tensor y = run(w, x1);
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t i = 0; i < 7; ++i) {
      double sum = 0;
      for (int64_t j = std::max<int64_t>(0, i - 1); j <= std::min<int64_t>(6, i + 1); ++j) sum += std::pow(x1.item(c * 7 + j), 2);
      EXPECT_NEAR(y.item(c * 7 + i), x1.item(c * 7 + i) * std::pow(2.0 + 0.6 / 4 * sum, -0.75), 1e-12);
    }
}

TEST(Lrn, MxnetChannelPool) {
  // tmp_norm = chpool<sum>(square(data), nsize) * alpha/nsize + knorm; pad = nsize/2
  Tensor x = random_tensor(Shape{1, 6, 2, 2}, DType::f64, 9);
  MxnetLocalResponseNorm l({.nsize = 5, .alpha = 0.5, .beta = 0.75, .knorm = 2.0});
  expect_close(run(l, x), across(x, false, 2.0, 0.5 / 5, 0.75, [](int64_t c, int64_t) { return std::pair{c - 2, c + 2}; }));
  MxnetLocalResponseNorm big({.nsize = 7});
  EXPECT_THROW_MSG(run(big, x), ShapeError, "number of channels must be >= 7");
}

TEST(Lrn, GoldenValuesOfTheReference) {
  // Synthetic: x = [0.5, -1, 2, 0.25, -1.5, 3], alpha = 0.1, beta = 0.75, k = 2; TF r = 2 equals the
  // AlexNet-paper formula, computed here by hand for channel 0: S = 0.25 + 1 + 4.
  Tensor x = Tensor::from<double>({0.5, -1, 2, 0.25, -1.5, 3}, Shape{1, 6});
  TensorFlowLocalResponseNorm tf({.depth_radius = 2, .bias = 2, .alpha = 0.1, .beta = 0.75});
  Tensor y = run(tf, x);
  EXPECT_NEAR(y.item(0), 0.5 / std::pow(2 + 0.1 * 5.25, 0.75), 1e-14);
  EXPECT_NEAR(y.item(5), 3 / std::pow(2 + 0.1 * (0.0625 + 2.25 + 9), 0.75), 1e-14);
  // TF r = 1 with alpha*3 equals PyTorch / ONNX / Caffe n = 3.
  TensorFlowLocalResponseNorm tf1({.depth_radius = 1, .bias = 2, .alpha = 0.3, .beta = 0.75});
  PyTorchLocalResponseNorm pt({.size = 3, .alpha = 0.9, .beta = 0.75, .k = 2, .data_format = "channels_last"});
  expect_close(run(pt, x), run(tf1, x), 1e-14);
}

TEST(Lrn, LayoutsAndRanksAgree) {
  // The same data in channels_first and channels_last, for 0 to 3 spatial axes.
  for (Shape cf : {Shape{3, 5}, Shape{2, 5, 4}, Shape{2, 5, 3, 4}, Shape{1, 5, 2, 3, 2}}) {
    SCOPED_TRACE(cf.str());
    Tensor x = random_tensor(cf, DType::f64, 10);
    Tensor xl = to_channels_last(x);
    std::vector<int64_t> d = cf.dims();
    int64_t C = d[1], S = x.numel() / (d[0] * C);
    PyTorchLocalResponseNorm first({.size = 4, .alpha = 0.5});
    PyTorchLocalResponseNorm last({.size = 4, .alpha = 0.5, .data_format = "channels_last"});
    Tensor yf = run(first, x), yl = run(last, xl);
    for (int64_t b = 0; b < d[0]; ++b)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t s = 0; s < S; ++s)
          EXPECT_DOUBLE_EQ(yl.item((b * S + s) * C + c), yf.item((b * C + c) * S + s));
  }
}

TEST(Lrn, EveryConventionTakesWhatTheLayersBeforeItProduce) {
  // Rank 2 (Dense, global pooling, Flatten), 3 (1D layers), 4 (2D layers), 5 (3D layers), in either data format
  // (a model may mix them): every convention takes each, channels_last equals channels_first on the transposed
  // data, and the gradients check. Within-channel needs a spatial axis (rank 2 is a ShapeError). PyTorch's own
  // LocalResponseNorm refuses rank 2; locnet takes it as one pixel.
  const char* specs[] = {"LocalResponseNorm(depth_radius=3, alpha=0.1, data_format='{}')",
                         "LocalResponseNorm.tensorflow(depth_radius=1, alpha=0.3, data_format='{}')",
                         "LocalResponseNorm.pytorch(2, alpha=0.5, data_format='{}')",
                         "LocalResponseNorm.caffe(local_size=3, data_format='{}')",
                         "LocalResponseNorm.caffe(local_size=3, norm_region='WITHIN_CHANNEL', data_format='{}')",
                         "LocalResponseNorm.wolfram(ChannelWindowSize=1, data_format='{}')",
                         "LocalResponseNorm.onnx(4, alpha=0.5, data_format='{}')",
                         "LocalResponseNorm.onednn(local_size=3, alpha=0.5, data_format='{}')",
                         "LocalResponseNorm.onednn(local_size=3, alg_kind='lrn_within_channel', data_format='{}')",
                         "LocalResponseNorm.mxnet(nsize=3, alpha=0.5, data_format='{}')"};
  for (const char* spec : specs)
    for (Shape cf : {Shape{3, 5}, Shape{2, 5, 4}, Shape{2, 5, 3, 4}, Shape{1, 5, 2, 3, 2}}) {
      SCOPED_TRACE(fmt::format("{} on {}", spec, cf.str()));
      auto first = make_layer(parse_chain(fmt::format(fmt::runtime(spec), "channels_first")).at(0));
      auto last = make_layer(parse_chain(fmt::format(fmt::runtime(spec), "channels_last")).at(0));
      Tensor x = random_tensor(cf, DType::f64, 12), xl = to_channels_last(x);
      const bool within = std::string(spec).find("ITHIN") != std::string::npos ||
                          std::string(spec).find("ithin") != std::string::npos;
      if (within && cf.rank() == 2) {
        EXPECT_THROW_MSG(run(*first, x), ShapeError, "within-channel normalization needs 1 to 3 spatial axes");
        EXPECT_THROW_MSG(run(*last, xl), ShapeError, "within-channel normalization needs 1 to 3 spatial axes");
        continue;
      }
      expect_close(run(*last, xl), to_channels_last(run(*first, x)), 1e-14);
      locnet::testing::check_layer(*first, cf);
      locnet::testing::check_layer(*last, xl.shape());
    }
}

TEST(Lrn, GradientsEveryConvention) {
  using locnet::testing::check_layer;
  for (int64_t n : {1, 2, 3, 4, 5}) {
    SCOPED_TRACE(n);
    PyTorchLocalResponseNorm pt({.size = n, .alpha = 0.8, .beta = 0.75, .k = 1.0});
    check_layer(pt, Shape{2, 6, 3});
    OnnxLocalResponseNorm onnx({.size = n, .alpha = 0.8, .beta = 0.6, .bias = 1.5, .data_format = "channels_last"});
    check_layer(onnx, Shape{2, 3, 6});
    OneDnnLocalResponseNorm dnn({.local_size = n, .alpha = 0.5, .beta = 0.75, .k = 1.0});
    check_layer(dnn, Shape{1, 5, 2, 2});
  }
  LocalResponseNorm neupy({.alpha = 0.2, .depth_radius = 3});
  check_layer(neupy, Shape{2, 2, 2, 5});
  TensorFlowLocalResponseNorm tf({.depth_radius = 2, .alpha = 0.3});
  check_layer(tf, Shape{2, 2, 7});
  CaffeLocalResponseNorm caffe({.local_size = 3, .alpha = 2.0});
  check_layer(caffe, Shape{2, 5, 2});
  CaffeLocalResponseNorm caffe_within({.local_size = 3, .alpha = 2.0, .norm_region = "WITHIN_CHANNEL"});
  check_layer(caffe_within, Shape{1, 2, 4, 3});
  OneDnnLocalResponseNorm dnn_within({.local_size = 3, .alpha = 1.0, .alg_kind = "lrn_within_channel"});
  check_layer(dnn_within, Shape{1, 2, 3, 2, 3});
  WolframLocalResponseNorm wolfram({.ChannelWindowSize = 1});
  check_layer(wolfram, Shape{2, 4, 2, 2});
  MxnetLocalResponseNorm mxnet({.nsize = 3, .alpha = 0.7});
  check_layer(mxnet, Shape{2, 3, 2, 2});
  TensorFlowLocalResponseNorm general_beta({.depth_radius = 1, .alpha = 0.5, .beta = 1.3});
  check_layer(general_beta, Shape{3, 4});
}

TEST(Lrn, NoParametersAndShapeUnchanged) {
  Sequential m = parse_model("Input((10, 10, 12)) >> LocalResponseNorm()");
  EXPECT_EQ(m.output_shape().str(), "(None, 10, 10, 12)");
  EXPECT_EQ(m.param_count(), 0);
  EXPECT_NE(m.summary().find("Total params: 0"), std::string::npos);
}

TEST(Lrn, SpecNamesAndRoundTrip) {
  Sequential m = parse_model(
      "Input((8, 4, 4)) >> LocalResponseNorm.pytorch(size=4) >> LocalResponseNorm.caffe(norm_region='WITHIN_CHANNEL')"
      " >> LocalResponseNorm.wolfram(ChannelWindowSize=1) >> LocalResponseNorm.onnx(3, bias=2.0)"
      " >> LocalResponseNorm.onednn(alg_kind='lrn_within_channel') >> LocalResponseNorm.mxnet(nsize=3)"
      " >> LocalResponseNorm.tensorflow(2, data_format='channels_first') >> LocalResponseNorm(data_format='channels_first')");
  EXPECT_EQ(m.size(), 8u);
  EXPECT_EQ(m.layer(0).name(), "local_response_norm_pytorch_1");
  EXPECT_EQ(parse_model(m.spec()).spec(), m.spec());
  EXPECT_NE(m.spec().find("LocalResponseNorm.onnx(size=3, alpha=0.0001, beta=0.75, bias=2.0"), std::string::npos)
      << m.spec();
}

TEST(Lrn, HalfPrecisionStorage) {
  Tensor x = random_tensor(kNhwc, DType::f32, 11);
  TensorFlowLocalResponseNorm l32({.depth_radius = 2});
  Tensor y32 = run(l32, x);
  for (DType dt : {DType::bf16, DType::f16}) {
    TensorFlowLocalResponseNorm l({.depth_radius = 2});
    Tensor xh = x.to(dt);
    Tensor yh = run(l, xh);
    EXPECT_EQ(yh.dtype(), dt);
    TensorFlowLocalResponseNorm lf({.depth_radius = 2});
    Tensor want = run(lf, xh.to(DType::f32)).to(dt);  // f32 arithmetic on the rounded input, rounded once
    EXPECT_LE(max_scaled_error(yh, want, dt == DType::bf16 ? 8e-3 : 1e-3, 1e-3), 1.0);
  }
}

TEST(Lrn, NanAndInfPropagate) {
  Tensor x = Tensor::from<float>({1, NAN, 2, INFINITY, 3, 4}, Shape{1, 6});
  TensorFlowLocalResponseNorm l({.depth_radius = 1});
  Tensor y = run(l, x);
  EXPECT_TRUE(std::isnan(y.item(0)));  // its window holds the NaN
  EXPECT_TRUE(std::isnan(y.item(1)));
  EXPECT_TRUE(std::isnan(y.item(3)));  // inf / inf
  EXPECT_FALSE(std::isnan(y.item(5)));
}

TEST(Lrn, ConfigErrors) {
  EXPECT_THROW_MSG(LocalResponseNorm({.depth_radius = 4}), ConfigError,
                   "LocalResponseNorm: depth_radius must be an odd integer >= 1, got 4");
  EXPECT_THROW_MSG(PyTorchLocalResponseNorm({.size = 0}), ConfigError, "size must be an integer >= 1, got 0");
  EXPECT_THROW_MSG(CaffeLocalResponseNorm({.local_size = 4}), ConfigError, "local_size must be an odd integer");
  EXPECT_THROW_MSG(MxnetLocalResponseNorm({.nsize = 2}), ConfigError, "nsize must be an odd integer");
  EXPECT_THROW_MSG(TensorFlowLocalResponseNorm({.depth_radius = -1}), ConfigError, "depth_radius must be an integer >= 0");
  EXPECT_THROW_MSG(TensorFlowLocalResponseNorm({.alpha = -1}), ConfigError, "alpha must be a finite number >= 0, got -1");
  EXPECT_THROW_MSG(TensorFlowLocalResponseNorm({.beta = NAN}), ConfigError, "beta must be a finite number >= 0");
  EXPECT_THROW_MSG(TensorFlowLocalResponseNorm({.bias = INFINITY}), ConfigError, "bias must be a finite number >= 0");
  EXPECT_THROW_MSG(TensorFlowLocalResponseNorm({.bias = 0}), ConfigError, "bias must be > 0 when beta > 0");
  EXPECT_NO_THROW(TensorFlowLocalResponseNorm({.bias = 0, .beta = 0}));
  EXPECT_THROW_MSG(WolframLocalResponseNorm({.Bias = 0}), ConfigError, "Bias must be > 0 when Beta > 0");
  EXPECT_THROW_MSG(MxnetLocalResponseNorm({.nsize = 3, .knorm = -2}), ConfigError, "knorm must be a finite number");
  EXPECT_THROW_MSG(CaffeLocalResponseNorm({.norm_region = "ACROSS"}), ConfigError, "norm_region must be");
  EXPECT_THROW_MSG(OneDnnLocalResponseNorm({.alg_kind = "across"}), ConfigError, "alg_kind must be");
  EXPECT_THROW_MSG(LocalResponseNorm({.data_format = "NCHW"}), ConfigError, "data_format must be");
  EXPECT_THROW_MSG(parse_model("LocalResponseNorm.pytorch()"), ConfigError, "argument 'size' is required");
  EXPECT_THROW_MSG(parse_model("LocalResponseNorm.torch(size=3)"), ConfigError, "unknown layer type 'LocalResponseNorm.torch'");
}

TEST(Lrn, ShapeErrors) {
  LocalResponseNorm l(NeupyLrnConfig{}, "lrn");
  l.set_name("lrn");
  EXPECT_THROW_MSG(l.output_shape(Shape{5}), ShapeError, "lrn (LocalResponseNorm): input rank must be 2 to 5");
  EXPECT_THROW_MSG(l.output_shape(Shape{1, 2, 2, 2, 2, 2}), ShapeError, "input rank must be 2 to 5");
  EXPECT_THROW_MSG(l.output_shape(Shape{1, 4, 0}), ShapeError, "channel axis must be > 0");
  CaffeLocalResponseNorm within({.norm_region = "WITHIN_CHANNEL"});
  EXPECT_THROW_MSG(within.output_shape(Shape{2, 5}), ShapeError, "needs 1 to 3 spatial axes");
  EXPECT_THROW_MSG(parse_model("Input((4, 4, 3)) >> LocalResponseNorm.wolfram()"), ShapeError,
                   "number of channels must be >= 5 (the window size), got 4");
  Rng rng(0);
  l.build(Shape{Shape::kUnknown, 4, 6}, rng);
  EXPECT_THROW_MSG(l.forward(Tensor(Shape{2, 4, 7}), Mode::Inference), ShapeError, "input shape must be (None, 4, 6)");
}
