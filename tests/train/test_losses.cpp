// Losses against closed forms written here (log/exp of the textbook definitions), gradients against central
// differences, extreme logits (1e4) that must stay finite in f32 and f64, the probability form through a softmax
// layer against the logits form, and the errors.
#include <cmath>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/layers/activations.hpp"
#include "locnet/train/losses.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

namespace {

// d loss / d z[i] by central differences of `loss`.
template <class F>
void expect_numeric_grad(const Tensor& z, const LossResult& r, F&& loss) {
  for (int64_t i = 0; i < z.numel(); ++i) {
    Tensor zp = z.clone(), zm = z.clone();
    zp.set(i, z.item(i) + 1e-6);
    zm.set(i, z.item(i) - 1e-6);
    EXPECT_NEAR(r.grad.item(i), (loss(zp) - loss(zm)) / 2e-6, 1e-7) << "element " << i;
  }
}

}  // namespace

TEST(Losses, SparseSoftmaxCrossEntropyClosedForm) {
  Tensor z = Tensor::from<double>({1, 2, 3, 0, 0, 0}, Shape{2, 3});
  std::vector<int64_t> y{2, 0};
  LossResult r = softmax_cross_entropy(z, y);
  double e = std::exp(1.0);
  double l0 = -std::log(e * e * e / (e + e * e + e * e * e)), l1 = std::log(3.0);
  EXPECT_NEAR(r.loss, (l0 + l1) / 2, 1e-14);
  double s0[3] = {e / (e + e * e + e * e * e), e * e / (e + e * e + e * e * e), e * e * e / (e + e * e + e * e * e)};
  std::vector<double> want{s0[0] / 2, s0[1] / 2, (s0[2] - 1) / 2, (1.0 / 3 - 1) / 2, 1.0 / 6, 1.0 / 6};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(r.grad.item(i), want[size_t(i)], 1e-14);
  expect_numeric_grad(z, r, [&](const Tensor& t) { return softmax_cross_entropy(t, y).loss; });
}

TEST(Losses, OneHotEqualsSparseAndTakesProbabilities) {
  Tensor z = random_tensor(Shape{2, 3, 4}, DType::f64, 1, 3.0);
  std::vector<int64_t> y{0, 3, 1, 2, 2, 1};
  Tensor onehot(Shape{2, 3, 4}, DType::f64);
  for (size_t i = 0; i < y.size(); ++i) onehot.set(int64_t(i) * 4 + y[i], 1.0);
  LossResult a = softmax_cross_entropy(z, y), b = softmax_cross_entropy(z, onehot);
  EXPECT_NEAR(a.loss, b.loss, 1e-14);
  EXPECT_LE(max_scaled_error(a.grad, b.grad, 1e-12, 1e-15), 1.0);
  // Soft targets: -sum t log softmax(z) per row.
  Tensor t = Tensor::from<double>({0.25, 0.75, 0.5, 0.5}, Shape{2, 2});
  Tensor z2 = Tensor::from<double>({0, 1, 2, -2}, Shape{2, 2});
  double e = std::exp(1.0);
  double want = (-(0.25 * std::log(1 / (1 + e)) + 0.75 * std::log(e / (1 + e))) -
                 (0.5 * std::log(std::exp(2.0) / (std::exp(2.0) + std::exp(-2.0))) +
                  0.5 * std::log(std::exp(-2.0) / (std::exp(2.0) + std::exp(-2.0))))) / 2;
  LossResult soft = softmax_cross_entropy(z2, t);
  EXPECT_NEAR(soft.loss, want, 1e-14);
  expect_numeric_grad(z2, soft, [&](const Tensor& zz) { return softmax_cross_entropy(zz, t).loss; });
}

// Keras sparse_categorical_crossentropy(from_logits=False): rows normalised, clipped to [1e-7, 1 - 1e-7], -log.
TEST(Losses, CrossEntropyOnProbabilitiesClosedForm) {
  // Row 0 sums to 1, row 1 to 0.8 (normalised first, as Keras does).
  Tensor p = Tensor::from<double>({0.2, 0.5, 0.3, 0.1, 0.1, 0.6}, Shape{2, 3});
  std::vector<int64_t> y{1, 2};
  LossResult r = cross_entropy(p, y);
  EXPECT_NEAR(r.loss, (-std::log(0.5) - std::log(0.6 / 0.8)) / 2, 1e-14);
  // dL/dp_j = (1/S - [j = y] / p_y) / N
  std::vector<double> want{0.5, (1 - 1 / 0.5) / 2, 0.5, 1.25 / 2, 1.25 / 2, (1.25 - 1 / 0.6) / 2};
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(r.grad.item(i), want[size_t(i)], 1e-14) << i;
  expect_numeric_grad(p, r, [&](const Tensor& t) { return cross_entropy(t, y).loss; });

  // Clipped at both ends: the loss of eps and of 1 - eps, and no gradient (f32 probabilities, f32 gradient).
  Tensor sure = Tensor::from<float>({0, 1, 0, 0, 1, 0}, Shape{2, 3});
  LossResult c = cross_entropy(sure, std::vector<int64_t>{0, 1});
  EXPECT_NEAR(c.loss, (-std::log(1e-7) - std::log(1 - 1e-7)) / 2, 1e-12);
  EXPECT_EQ(c.grad.dtype(), DType::f32);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(c.grad.item(i), 0.0) << i;
}

// Through a softmax layer the probability form's gradient is the logits form's: softmax(z) - onehot(y), over N.
TEST(Losses, CrossEntropyThroughSoftmaxEqualsLogitsForm) {
  Tensor z = random_tensor(Shape{5, 4}, DType::f64, 7, 3.0);
  std::vector<int64_t> y{0, 3, 1, 2, 2};
  Activation softmax("softmax");
  Rng rng(0);
  softmax.build(Shape{-1, 4}, rng, DType::f64);
  Tensor p = softmax.forward(z, Mode::Training);
  LossResult probs = cross_entropy(p, y), logits = softmax_cross_entropy(z, y);
  EXPECT_NEAR(probs.loss, logits.loss, 1e-13);
  Tensor dz = softmax.backward(probs.grad);
  EXPECT_LE(max_scaled_error(dz, logits.grad, 1e-12, 1e-15), 1.0);
}

TEST(Losses, ExtremeLogitsStayFinite) {
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor z(Shape{2, 3}, dt);
    for (int i = 0; i < 6; ++i) z.set(i, std::vector<double>{1e4, 0, -1e4, -1e4, -1e4, 1e4}[size_t(i)]);
    LossResult r = softmax_cross_entropy(z, std::vector<int64_t>{0, 1});
    EXPECT_NEAR(r.loss, (0.0 + 2e4) / 2, 1e-9);  // row 2: lse = 1e4, z[1] = -1e4
    std::vector<double> want{0, 0, 0, 0, -0.5, 0.5};
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(r.grad.item(i), want[size_t(i)], 1e-12) << dtype_name(dt);
    Tensor zb = Tensor::from<double>({1e4, -1e4, 1e4, -1e4}, Shape{4}).to(dt);
    Tensor tb = Tensor::from<double>({1, 0, 0, 1}, Shape{4}).to(dt);
    LossResult b = binary_cross_entropy(zb, tb);
    EXPECT_NEAR(b.loss, (0 + 0 + 1e4 + 1e4) / 4, 1e-9);
    std::vector<double> gb{0, 0, 0.25, -0.25};
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(b.grad.item(i), gb[size_t(i)], 1e-12);
  }
}

TEST(Losses, BinaryCrossEntropyClosedForm) {
  Tensor z = Tensor::from<double>({0.5, -1.5, 2.0, 0.0, -0.25, 3.0}, Shape{3, 2});
  Tensor t = Tensor::from<double>({1, 0, 0, 1, 0.3, 0.9}, Shape{3, 2});
  double want = 0;
  for (int i = 0; i < 6; ++i) {
    double s = 1 / (1 + std::exp(-z.item(i)));
    want += -(t.item(i) * std::log(s) + (1 - t.item(i)) * std::log(1 - s));
  }
  LossResult r = binary_cross_entropy(z, t);
  EXPECT_NEAR(r.loss, want / 6, 1e-14);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(r.grad.item(i), (1 / (1 + std::exp(-z.item(i))) - t.item(i)) / 6, 1e-15);
  expect_numeric_grad(z, r, [&](const Tensor& zz) { return binary_cross_entropy(zz, t).loss; });
}

TEST(Losses, MeanSquaredErrorClosedForm) {
  Tensor p = Tensor::from<float>({1, 2, 3, 4}, Shape{2, 2});
  Tensor t = Tensor::from<float>({1, 0, 5, 1}, Shape{2, 2});
  LossResult r = mean_squared_error(p, t);
  EXPECT_DOUBLE_EQ(r.loss, (0 + 4 + 4 + 9) / 4.0);
  EXPECT_EQ(r.grad.dtype(), DType::f32);
  EXPECT_EQ(r.grad.to_vector(), (std::vector<double>{0, 1, -1, 1.5}));
}

TEST(Losses, Errors) {
  Tensor z(Shape{2, 3});
  EXPECT_THROW_MSG(softmax_cross_entropy(z, std::vector<int64_t>{0}), ShapeError,
                   "the number of labels must be 2 (one per row of logits (2, 3)), got 1");
  EXPECT_THROW_MSG(softmax_cross_entropy(z, std::vector<int64_t>{0, 3}), ShapeError,
                   "labels must be in [0, 3), got labels[1] = 3");
  EXPECT_THROW_MSG(softmax_cross_entropy(z, std::vector<int64_t>{-1, 0}), ShapeError, "got labels[0] = -1");
  EXPECT_THROW_MSG(cross_entropy(z, std::vector<int64_t>{0}), ShapeError,
                   "cross_entropy: the number of labels must be 2 (one per row of logits (2, 3)), got 1");
  EXPECT_THROW_MSG(cross_entropy(z, std::vector<int64_t>{0, 3}), ShapeError,
                   "cross_entropy: labels must be in [0, 3), got labels[1] = 3");
  EXPECT_THROW_MSG(softmax_cross_entropy(z, Tensor(Shape{2, 4})), ShapeError,
                   "targets shape must be (2, 3) (the logits'), got (2, 4)");
  EXPECT_THROW_MSG(binary_cross_entropy(z, Tensor(Shape{3, 2})), ShapeError, "targets shape must be (2, 3)");
  EXPECT_THROW_MSG(mean_squared_error(Tensor(Shape{0, 3}), Tensor(Shape{0, 3})), ShapeError,
                   "logits must be a non-empty tensor, got (0, 3)");
  EXPECT_THROW_MSG(mean_squared_error(Tensor(Shape{2}, DType::f16), Tensor(Shape{2}, DType::f16)), ShapeError,
                   "dtype must be f32 or f64, got f16");
}

// Issue 32's losses, against formulas written here (synthetic data): Keras's MAE and Huber, categorical
// cross-entropy on probabilities, per-sample losses and Keras's weighted reduction sum_i w_i l_i / N.
TEST(Losses, MeanAbsoluteErrorAndHuberClosedForm) {
  Tensor p = Tensor::from<double>({1.0, 2.0, -3.0, 0.25, 4.0, -0.5}, Shape{3, 2});
  Tensor t = Tensor::from<double>({0.5, 2.5, 1.0, 0.0, 1.5, -0.75}, Shape{3, 2});
  double mae = 0, hub = 0;
  for (int i = 0; i < 6; ++i) {
    double x = p.item(i) - t.item(i), a = std::abs(x);
    mae += a / 6;
    hub += (a <= 1.5 ? 0.5 * x * x : 1.5 * a - 0.5 * 1.5 * 1.5) / 6;
  }
  LossResult m = mean_absolute_error(p, t), h = huber(p, t, 1.5);
  EXPECT_NEAR(m.loss, mae, 1e-15);
  EXPECT_NEAR(h.loss, hub, 1e-15);
  expect_numeric_grad(p, m, [&](const Tensor& z) { return mean_absolute_error(z, t).loss; });
  expect_numeric_grad(p, h, [&](const Tensor& z) { return huber(z, t, 1.5).loss; });
  EXPECT_NEAR(huber(p, t).loss, huber(p, t, 1.0).loss, 0);  // Keras's default delta = 1
  EXPECT_THROW_MSG(huber(p, t, 0.0), ConfigError, "huber: delta must be > 0, got 0");
}

TEST(Losses, CategoricalCrossEntropyOnProbabilities) {
  Tensor p = Tensor::from<double>({0.2, 0.5, 0.3, 0.6, 0.1, 0.3}, Shape{2, 3});
  Tensor t = Tensor::from<double>({0, 1, 0, 0.25, 0.25, 0.5}, Shape{2, 3});
  const double want = (-std::log(0.5) - 0.25 * std::log(0.6) - 0.25 * std::log(0.1) - 0.5 * std::log(0.3)) / 2;
  LossResult r = cross_entropy(p, t);
  EXPECT_NEAR(r.loss, want, 1e-15);
  expect_numeric_grad(p, r, [&](const Tensor& q) { return cross_entropy(q, t).loss; });
  // one-hot targets give the sparse form's loss and gradient
  Tensor onehot = Tensor::from<double>({0, 1, 0, 1, 0, 0}, Shape{2, 3});
  LossResult a = cross_entropy(p, onehot), b = cross_entropy(p, std::vector<int64_t>{1, 0});
  EXPECT_NEAR(a.loss, b.loss, 1e-15);
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(a.grad.item(i), b.grad.item(i), 1e-15) << i;
}

TEST(Losses, PerSampleAndWeighted) {
  Tensor z = Tensor::from<double>({1, 2, 3, 0, 0, 0, -1, 4, 0.5}, Shape{3, 3});
  std::vector<int64_t> y = {2, 1, 0};
  LossResult r = softmax_cross_entropy(z, y);
  ASSERT_EQ(r.per_sample.size(), 3u);
  EXPECT_NEAR((r.per_sample[0] + r.per_sample[1] + r.per_sample[2]) / 3, r.loss, 1e-15);
  const std::vector<double> w = {2.0, 0.0, 0.5};
  LossResult wr = weighted(r, w);
  EXPECT_NEAR(wr.loss, (2.0 * r.per_sample[0] + 0.5 * r.per_sample[2]) / 3, 1e-15);  // Keras: / N, not / sum w
  expect_numeric_grad(z, wr, [&](const Tensor& zz) { return weighted(softmax_cross_entropy(zz, y), w).loss; });
  // elementwise losses: a sample's loss is the mean over its elements
  Tensor p = Tensor::from<double>({1, 2, 3, 4}, Shape{2, 2}), t = Tensor::from<double>({0, 0, 0, 0}, Shape{2, 2});
  EXPECT_EQ(mean_squared_error(p, t).per_sample, (std::vector<double>{2.5, 12.5}));
  EXPECT_THROW_MSG(weighted(r, std::vector<double>{1.0}), ShapeError,
                   "the number of sample weights must be 3 (one per sample), got 1");
}

TEST(Losses, CatalogNamesAndOptions) {
  for (const char* name : {"mae", "mean_absolute_error", "huber", "Huber", "huber(delta=2.0)", "mse"})
    EXPECT_NO_THROW(make_loss(Value(name))) << name;
  EXPECT_EQ(make_loss(Value("huber(delta=2.0)"))->config().repr(), "huber(delta=2.0)");
  EXPECT_EQ(make_loss(Value("mae"))->config().type, "mean_absolute_error");
  Tensor p = Tensor::from<double>({0.0, 5.0}, Shape{2, 1}), t = Tensor::from<double>({1.0, 0.0}, Shape{2, 1});
  EXPECT_NEAR((*make_loss(Value("huber(delta=2.0)")))(p, t).loss, huber(p, t, 2.0).loss, 0);
  EXPECT_THROW_MSG(make_loss(Value("huber(delta=-1.0)")), ConfigError, "huber: delta must be > 0, got -1");
  EXPECT_THROW_MSG(make_loss(Value("msle")), ConfigError, "loss must be one of");
}
