// fit/evaluate: a tiny network learns XOR, the same seed gives the same weights, the confusion matrix and loss of a
// hand-set model, a model ending in softmax trains as the same model on logits, a diverging run stops naming the
// epoch and batch, early stopping, and the errors.
#include <cmath>

#include "expect_error.hpp"
#include "fashion_mnist.hpp"
#include "gradcheck.hpp"
#include "locnet/io/idx.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/train/trainer.hpp"

using namespace locnet;

namespace {

LabeledData xor_data() { return {Tensor::from<float>({0, 0, 0, 1, 1, 0, 1, 1}, Shape{4, 2}), {0, 1, 1, 0}}; }

Sequential xor_model(uint64_t seed = 1) {
  Sequential m = parse_model("Input((2,)) >> Dense(8, activation='tanh') >> Dense(2)");
  m.build(Shape{-1, 2}, seed);
  return m;
}

}  // namespace

TEST(Trainer, LearnsXor) {
  Sequential m = xor_model();
  auto opt = make_optimizer("Adam(0.05)");
  LabeledData d = xor_data();
  FitResult r = fit(m, *opt, d, &d, {.epochs = 150, .batch_size = 4});
  EXPECT_TRUE(r.stopped.empty()) << r.stopped;
  ASSERT_EQ(r.history.size(), 150u);
  EXPECT_EQ(r.history.back().validation->accuracy, 1.0);
  EXPECT_LT(r.history.back().validation->loss, 0.1);
  EXPECT_GT(r.history.front().loss, r.history.back().loss);
}

TEST(Trainer, SameSeedSameWeights) {
  auto run = [](uint64_t fit_seed) {
    Sequential m = xor_model();
    auto opt = make_optimizer("SGD(0.1, momentum=0.9)");
    fit(m, *opt, xor_data(), nullptr, {.epochs = 3, .batch_size = 3, .seed = fit_seed});
    return m;
  };
  Sequential a = run(5), b = run(5), c = run(6);
  auto pa = a.named_params(), pb = b.named_params(), pc = c.named_params();
  bool any_differs = false;
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(pa[i].second->value.equal(pb[i].second->value)) << pa[i].first;
    any_differs |= !pa[i].second->value.equal(pc[i].second->value);
  }
  EXPECT_TRUE(any_differs) << "another shuffling seed visits the batches in another order";
}

TEST(Trainer, EvaluateByHand) {
  Sequential m = parse_model("Input((2,)) >> Dense(2, use_bias=False)");
  m.build(Shape{-1, 2}, 0);
  Tensor& k = m.layer(0).params()[0]->value;
  k.fill(0.0);
  k.set(0, 1.0);
  k.set(3, 1.0);  // identity: logits = x
  LabeledData d{Tensor::from<float>({1, 0, 0, 1, 2, 1, 0, 3}, Shape{4, 2}), {0, 1, 1, 1}};
  EvalResult r = evaluate(m, d, 3);  // two batches: 3 + 1
  EXPECT_EQ(r.accuracy, 0.75);
  EXPECT_EQ(r.confusion, (std::vector<std::vector<int64_t>>{{1, 0}, {1, 2}}));
  auto ce = [](double z0, double z1, int y) { return std::log(std::exp(z0) + std::exp(z1)) - (y ? z1 : z0); };
  EXPECT_NEAR(r.loss, (ce(1, 0, 0) + ce(0, 1, 1) + ce(2, 1, 1) + ce(0, 3, 1)) / 4, 1e-6);
}

TEST(Trainer, EndsInSoftmax) {
  for (const char* spec :
       {"Input((2,)) >> Dense(3, activation='softmax')", "Input((2,)) >> Dense(3) >> Activation('softmax')",
        "Input((2,)) >> Dense(3) >> Softmax()", "Input((2,)) >> Dense(3) >> Softmax(axis=1)"})
    EXPECT_TRUE(ends_in_softmax(parse_model(spec))) << spec;
  for (const char* spec : {"Input((2,)) >> Dense(3)", "Input((2,)) >> Dense(3) >> Activation('relu')",
                           "Input((2, 3)) >> Dense(3) >> Softmax(axis=1)",
                           "Input((2,)) >> Dense(3, activation='softmax') >> Dense(3)", "Input((2,))"})
    EXPECT_FALSE(ends_in_softmax(parse_model(spec))) << spec;
}

// A final softmax (fused or a layer) is not applied twice: the loss is the cross-entropy of the model's
// probabilities, so the model trains step for step as the same model without the softmax trained on its logits
// (the probabilities stay inside the clip range here), and evaluate reports -log p[y] of its own output.
TEST(Trainer, ModelEndingInSoftmaxTrainsAsItsLogits) {
  Tensor x = Tensor::from<double>({0.1, 0.9, 0.8, 0.3, 0.5, 0.5, 0.9, 0.0, 0.2, 0.2, 0.7, 0.6}, Shape{6, 2});
  LabeledData d{x, {0, 1, 2, 1, 0, 2}};
  auto train = [&](const char* spec) {
    Sequential m = parse_model(spec);
    m.build(Shape{-1, 2}, 4, DType::f64);
    auto opt = make_optimizer("SGD(0.5)");
    FitResult r = fit(m, *opt, d, &d, {.epochs = 3, .batch_size = 4, .seed = 2});
    return std::pair{std::move(m), std::move(r)};
  };
  auto [logits, rl] = train("Input((2,)) >> Dense(3, name='d')");
  auto [fused, rf] = train("Input((2,)) >> Dense(3, activation='softmax', name='d')");
  auto [layer, ra] = train("Input((2,)) >> Dense(3, name='d') >> Activation('softmax')");
  for (Sequential* m : {&fused, &layer}) {
    Tensor k0 = logits.layer(0).params()[0]->value, k = m->layer(0).params()[0]->value;
    EXPECT_LE(max_scaled_error(k, k0, 1e-10, 1e-12), 1.0) << m->spec();
  }
  for (const FitResult* r : {&rf, &ra})
    for (size_t e = 0; e < 3; ++e) {
      EXPECT_NEAR(r->history[e].loss, rl.history[e].loss, 1e-10) << e;
      EXPECT_NEAR(r->history[e].validation->loss, rl.history[e].validation->loss, 1e-10) << e;
    }
  Tensor p = fused.forward(x, Mode::Inference);
  double want = 0;
  for (int64_t i = 0; i < 6; ++i) want -= std::log(p.item(i * 3 + d.y[size_t(i)])) / 6;
  EXPECT_NEAR(evaluate(fused, d).loss, want, 1e-12);
}

TEST(Trainer, DivergenceStopsNamingEpochAndBatch) {
  Sequential m = xor_model();
  auto opt = make_optimizer("SGD(1e200)");
  FitResult r = fit(m, *opt, xor_data(), nullptr, {.epochs = 5, .batch_size = 4});
  EXPECT_NE(r.stopped.find("the loss is"), std::string::npos) << r.stopped;
  EXPECT_NE(r.stopped.find("at epoch 2, batch 1 of 1"), std::string::npos) << r.stopped;
  EXPECT_EQ(r.history.size(), 1u);
}

TEST(Trainer, EarlyStopping) {
  Sequential m = xor_model();
  auto opt = make_optimizer("SGD(0.0)");  // nothing changes but the batch order (rounding, below min_delta)
  FitResult r = fit(m, *opt, xor_data(), nullptr, {.epochs = 10, .batch_size = 4, .monitor = "loss", .patience = 2, .min_delta = 1e-6});
  EXPECT_EQ(r.history.size(), 3u);
  EXPECT_NE(r.stopped.find("early stopping: loss did not improve for 2 epochs"), std::string::npos) << r.stopped;
}

TEST(Trainer, Errors) {
  Sequential m = xor_model();
  auto opt = make_optimizer("sgd");
  LabeledData d = xor_data();
  LabeledData bad{d.x, {0, 1}};
  EXPECT_THROW_MSG(fit(m, *opt, bad, nullptr, {}), ShapeError, "fit: the number of labels must be 4 (one per sample), got 2");
  EXPECT_THROW_MSG(fit(m, *opt, d, nullptr, {.batch_size = 0}), ConfigError, "batch_size must be >= 1, got 0");
  EXPECT_THROW_MSG(fit(m, *opt, d, nullptr, {.patience = 1}), ConfigError, "monitor 'val_loss' needs validation data");
  EXPECT_THROW_MSG(fit(m, *opt, d, nullptr, {.monitor = "auc"}), ConfigError,
                   "monitor must be loss, accuracy, val_loss or val_accuracy, got 'auc'");
  EXPECT_THROW_MSG(evaluate(m, LabeledData{Tensor(Shape{0, 2}), {}}), ShapeError, "x must hold at least one sample");
  Sequential flat = parse_model("Input((2,)) >> Dense(2) >> Reshape((2, 1))");
  flat.build(Shape{-1, 2}, 0);
  EXPECT_THROW_MSG(evaluate(flat, d), ShapeError, "the model output must be logits (batch, classes) = (4, K), got (4, 2, 1)");
}

// 500 Fashion-MNIST training images, a small CNN, a few seconds: well above chance (10%) on 500 test images.
// Needs the data set (Debian's dataset-fashion-mnist, or a directory in LOCNET_FASHION_MNIST); skipped without it.
TEST(Trainer, FashionMnistSubsetLearns) {
  const std::string dir = locnet::testing::fashion_mnist_dir();
  if (!locnet::testing::has_fashion_mnist(dir)) GTEST_SKIP() << "no Fashion-MNIST in " << dir;
  MnistData data = load_mnist(dir);
  LabeledData train = locnet::testing::first_samples(data.train, 500);
  LabeledData test = locnet::testing::first_samples(data.test, 500);
  Sequential m = parse_model(
      "Input((28, 28, 1)) >> Conv2D(8, 3, activation='relu') >> MaxPooling2D() >> Flatten() >> Dense(10)");
  m.build(Shape{-1, 28, 28, 1}, 3);
  auto opt = make_optimizer("Adam(0.003)");
  FitResult r = fit(m, *opt, train, &test, {.epochs = 8, .batch_size = 32, .seed = 1});
  ASSERT_TRUE(r.stopped.empty()) << r.stopped;
  EXPECT_GT(r.history.back().validation->accuracy, 0.6);
}
