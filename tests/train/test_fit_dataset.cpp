// fit/evaluate over Dataset (issue 32): the LabeledData form is the same run, prefetch changes nothing, a
// regression fit (a sinusoid, mse) and a multi-label fit (binary cross-entropy on two input bits) learn, class and
// sample weights scale the loss as Keras does and shift an imbalanced classifier, metrics and monitors by name,
// augmentation, and the errors. All data synthetic (made here from a seed).
#include <cmath>

#include "expect_error.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/train/trainer.hpp"

using namespace locnet;

namespace {

Sequential build(const char* spec, int64_t features, uint64_t seed = 1) {
  Sequential m = parse_model(spec);
  m.build(Shape{-1, features}, seed);
  return m;
}

bool same_weights(Model& a, Model& b) {
  auto pa = a.named_params(), pb = b.named_params();
  for (size_t i = 0; i < pa.size(); ++i)
    if (!pa[i].second->value.equal(pb[i].second->value)) return false;
  return true;
}

// n samples of one feature in [-1, 1) and the target sin(pi x) + noise (0.02).
std::shared_ptr<Dataset> sinusoid(int64_t n, uint64_t seed) {
  Rng rng(seed);
  Tensor x(Shape{n, 1}), y(Shape{n, 1});
  for (int64_t i = 0; i < n; ++i) {
    x.set(i, rng.uniform(-1, 1));
    y.set(i, std::sin(M_PI * x.item(i)) + 0.02 * rng.normal());
  }
  return tensor_dataset(x, y);
}

// Two classes on one feature, N(0, 1) (90 samples) and N(1.5, 1) (10 samples): an imbalanced, overlapping pair.
LabeledData imbalanced() {
  Rng rng(3);
  LabeledData d{Tensor(Shape{100, 1}), {}};
  for (int64_t i = 0; i < 100; ++i) {
    const int64_t c = i % 10 == 0;
    d.x.set(i, rng.normal() + 1.5 * double(c));
    d.y.push_back(c);
  }
  return d;
}

// A labelled source whose samples of class 1 weigh `w` (Batch::weights).
struct Weighted : Dataset {
  std::shared_ptr<Dataset> d;
  double w;
  int64_t size() const override { return d->size(); }
  Shape sample_shape() const override { return d->sample_shape(); }
  TargetKind target_kind() const override { return d->target_kind(); }
  int64_t classes() const override { return d->classes(); }
  std::string name() const override { return "weighted"; }
  void gather(std::span<const int64_t> idx, Batch& out) const override {
    d->gather(idx, out);
    out.weights = Tensor(Shape{int64_t(idx.size())});
    for (size_t i = 0; i < idx.size(); ++i) out.weights.set(int64_t(i), out.labels[i] == 1 ? w : 1.0);
  }
};

// Multiplies every input by 0: a model trained on it only learns the class balance.
struct Zero : BatchTransform {
  void apply(Batch& b, Rng&) const override { b.x.fill(0.0); }
};

}  // namespace

TEST(FitDataset, LabeledDataIsTheSameRunAndPrefetchChangesNothing) {
  LabeledData d = imbalanced();
  auto run = [&](int form) {
    Sequential m = build("Input((1,)) >> Dense(4, activation='tanh') >> Dense(2)", 1);
    auto opt = make_optimizer("SGD(0.1, momentum=0.9)");
    FitOptions o{.epochs = 3, .batch_size = 16, .seed = 4};
    o.prefetch = form != 2;
    auto data = tensor_dataset(d.x, d.y);
    FitResult r = form == 0 ? fit(m, *opt, d, &d, o) : fit(m, *opt, *data, data.get(), o);
    return std::pair{std::move(m), r.history.back().validation->loss};
  };
  auto [a, la] = run(0);
  auto [b, lb] = run(1);
  auto [c, lc] = run(2);
  EXPECT_TRUE(same_weights(a, b));
  EXPECT_TRUE(same_weights(a, c));
  EXPECT_EQ(la, lb);
  EXPECT_EQ(la, lc);
}

TEST(FitDataset, RegressionLearnsASinusoid) {
  auto all = sinusoid(320, 11);
  Split s = validation_split(all, 0.2);
  Sequential m = build("Input((1,)) >> Dense(32, activation='tanh') >> Dense(1)", 1);
  auto opt = make_optimizer("Adam(0.02)");
  FitOptions o{.epochs = 150, .batch_size = 32, .seed = 1};
  o.loss = "mse";
  o.metrics = {"mae", "rmse"};
  FitResult r = fit(m, *opt, *s.train, s.validation.get(), o);
  ASSERT_EQ(r.history.size(), 150u) << r.stopped;
  const EpochMetrics& last = r.history.back();
  EXPECT_EQ(last.metrics.count("accuracy"), 0u);  // no classes
  EXPECT_LT(last.validation->metrics.at("rmse"), 0.1);
  EXPECT_LT(last.validation->metrics.at("mae"), 0.08);
  EXPECT_NEAR(last.validation->metrics.at("loss"), last.validation->loss, 0);
  EXPECT_NEAR(std::pow(last.validation->metrics.at("rmse"), 2), last.validation->loss, 1e-6);  // mse = rmse^2
  EXPECT_LT(last.metrics.at("loss"), r.history.front().metrics.at("loss") / 5);
  // MAE and Huber train the same network too
  for (const char* loss : {"mae", "huber(delta=0.5)"}) {
    Sequential h = build("Input((1,)) >> Dense(32, activation='tanh') >> Dense(1)", 1);
    auto hopt = make_optimizer("Adam(0.02)");
    o.loss = loss;
    FitResult hr = fit(h, *hopt, *s.train, s.validation.get(), o);
    EXPECT_LT(hr.history.back().validation->metrics.at("mae"), 0.1) << loss;
  }
}

TEST(FitDataset, MultiLabelLearnsTwoBits) {
  Rng rng(5);
  const int64_t n = 128;
  Tensor x(Shape{n, 4}), t(Shape{n, 2});
  for (int64_t i = 0; i < n; ++i) {
    const double b0 = double(rng.below(2)), b1 = double(rng.below(2));
    x.set(i * 4, 2 * b0 - 1), x.set(i * 4 + 1, 2 * b1 - 1);
    x.set(i * 4 + 2, rng.normal()), x.set(i * 4 + 3, rng.normal());
    t.set(i * 2, b0), t.set(i * 2 + 1, b1);
  }
  auto d = tensor_dataset(x, t);
  Sequential m = build("Input((4,)) >> Dense(8, activation='relu') >> Dense(2)", 4);
  auto opt = make_optimizer("Adam(0.05)");
  FitOptions o{.epochs = 30, .batch_size = 16, .seed = 2, .monitor = "val_binary_accuracy"};
  o.loss = "binary_crossentropy";
  o.metrics = {"binary_accuracy"};
  FitResult r = fit(m, *opt, *d, d.get(), o);
  EXPECT_EQ(r.history.back().validation->metrics.at("binary_accuracy"), 1.0);
  EXPECT_EQ(r.history.back().validation->accuracy, 1.0);  // "accuracy" is binary here
  EXPECT_LT(r.history.back().validation->loss, 0.1);
  EXPECT_TRUE(r.history.front().best);
  // a model ending in sigmoid outputs probabilities: binary_cross_entropy here takes logits
  Sequential sig = build("Input((4,)) >> Dense(2, activation='sigmoid')", 4);
  EXPECT_THROW_MSG(fit(sig, *opt, *d, nullptr, o), ConfigError,
                   "fit: loss binary_cross_entropy takes logits; the model must not end in sigmoid or softmax");
}

TEST(FitDataset, ClassAndSampleWeights) {
  LabeledData d = imbalanced();
  auto data = tensor_dataset(d.x, d.y);
  auto first_loss = [&](const Dataset& source, std::map<int64_t, double> cw) {
    Sequential m = build("Input((1,)) >> Dense(2)", 1);
    auto opt = make_optimizer("SGD(0.1)");
    FitOptions o{.epochs = 1, .batch_size = 100};
    o.class_weight = std::move(cw);
    double loss = 0;
    o.on_batch = [&](int64_t, int64_t, double l) { loss = l; };
    fit(m, *opt, source, nullptr, o);
    return std::pair{loss, std::move(m)};
  };
  auto [plain, mp] = first_loss(*data, {});
  auto [doubled, md] = first_loss(*data, {{0, 2.0}, {1, 2.0}});
  EXPECT_NEAR(doubled, 2 * plain, 1e-6 * plain);  // sum w_i l_i / N
  Weighted heavy;
  heavy.d = data, heavy.w = 9.0;
  auto [by_sample, ms] = first_loss(heavy, {});
  auto [by_class, mc] = first_loss(*data, {{1, 9.0}});
  EXPECT_EQ(by_sample, by_class);  // Batch::weights and class_weight are the same weights
  EXPECT_TRUE(same_weights(ms, mc));
  // weighting the rare class 9x makes the classifier find more of it
  auto recall1 = [&](std::map<int64_t, double> cw) {
    Sequential m = build("Input((1,)) >> Dense(2)", 1);
    auto opt = make_optimizer("Adam(0.05)");
    FitOptions o{.epochs = 40, .batch_size = 20, .seed = 1};
    o.class_weight = std::move(cw);
    fit(m, *opt, *data, nullptr, o);
    EvalResult e = evaluate(m, *data, 256, "", {"recall"});
    return double(e.confusion[1][1]) / double(e.confusion[1][0] + e.confusion[1][1]);
  };
  const double unweighted = recall1({}), weighted = recall1({{1, 9.0}});
  EXPECT_LE(unweighted, 0.3);
  EXPECT_GE(weighted, 0.6);
}

TEST(FitDataset, MonitorsAnyMetricByName) {
  LabeledData d = imbalanced();
  auto data = tensor_dataset(d.x, d.y);
  Sequential m = build("Input((1,)) >> Dense(2)", 1);
  auto opt = make_optimizer("SGD(1e-12)");  // nothing changes: the monitored value never improves after epoch 1
  FitOptions o{.epochs = 10, .batch_size = 25, .monitor = "val_f1", .patience = 2};
  o.metrics = {"f1", "precision", "top_k_accuracy"};
  FitResult r = fit(m, *opt, *data, data.get(), o);
  ASSERT_EQ(r.history.size(), 3u);
  EXPECT_NE(r.stopped.find("early stopping: val_f1 did not improve for 2 epochs"), std::string::npos) << r.stopped;
  EXPECT_TRUE(r.history[0].best);
  EXPECT_FALSE(r.history[1].best);
  EXPECT_EQ(monitored(r.history[0], "val_f1"), r.history[0].validation->metrics.at("f1"));
  EXPECT_EQ(monitored(r.history[0], "precision"), r.history[0].metrics.at("precision"));
  EXPECT_EQ(r.history[0].metrics.at("top_k_accuracy"), 1.0);  // 2 classes, k = 5
  EXPECT_THROW_MSG(monitored(r.history[0], "val_recall"), ConfigError, "monitor 'val_recall' is not among");
}

TEST(FitDataset, AugmentationReachesOnlyTrainingBatches) {
  LabeledData d = imbalanced();
  auto data = tensor_dataset(d.x, d.y);
  Sequential m = build("Input((1,)) >> Dense(2)", 1);
  auto opt = make_optimizer("Adam(0.1)");
  FitOptions o{.epochs = 20, .batch_size = 10};
  o.augment = std::make_shared<Zero>();
  FitResult r = fit(m, *opt, *data, data.get(), o);
  // trained on zeros: the kernel never moves (its gradient is x = 0), only the bias learns the 90/10 balance
  Sequential fresh = build("Input((1,)) >> Dense(2)", 1);
  EXPECT_TRUE(m.layer(0).params()[0]->value.equal(fresh.layer(0).params()[0]->value));
  EXPECT_EQ(r.history.back().validation->confusion[1][1], 0);  // always class 0, on the real inputs too
}

TEST(FitDataset, Errors) {
  LabeledData d = imbalanced();
  auto labels = tensor_dataset(d.x, d.y);
  auto values = tensor_dataset(d.x, d.x);
  Sequential m = build("Input((1,)) >> Dense(2)", 1);
  auto opt = make_optimizer("sgd");
  auto with = [](auto set) {
    FitOptions o;
    set(o);
    return o;
  };
  EXPECT_THROW_MSG(fit(m, *opt, *labels, nullptr, with([](FitOptions& o) { o.loss = "msle"; })), ConfigError,
                   "fit: loss must be one of softmax_cross_entropy");
  EXPECT_THROW_MSG(fit(m, *opt, *labels, nullptr, with([](FitOptions& o) { o.loss = "mse"; })), ConfigError,
                   "fit: loss mean_squared_error needs float targets of the output's shape, got class labels from "
                   "arrays");
  EXPECT_THROW_MSG(fit(m, *opt, *labels, nullptr, with([](FitOptions& o) { o.metrics = {"auc"}; })), ConfigError,
                   "metrics: unknown metric 'auc'");
  EXPECT_THROW_MSG(fit(m, *opt, *labels, nullptr, with([](FitOptions& o) { o.metrics = {"rmse"}; })), ConfigError,
                   "metrics: rmse needs float targets, got class labels");
  EXPECT_THROW_MSG(fit(m, *opt, *labels, nullptr, with([](FitOptions& o) { o.monitor = "val_f1"; })), ConfigError,
                   "monitor must be loss, accuracy, val_loss or val_accuracy, got 'val_f1'");
  EXPECT_THROW_MSG(fit(m, *opt, *values, nullptr, with([](FitOptions& o) { o.loss = "mae", o.monitor = "accuracy"; })),
                   ConfigError, "got 'accuracy'");
  EXPECT_THROW_MSG(fit(m, *opt, *labels, nullptr, with([](FitOptions& o) { o.class_weight = {{1, -1.0}}; })),
                   ConfigError, "fit: class_weight must map classes >= 0 to weights >= 0, got 1: -1");
}
