// Metrics on hand-made outputs and targets (train/metrics.hpp): each value worked out by hand in the comments.
#include <cmath>

#include "expect_error.hpp"
#include "locnet/train/metrics.hpp"

using namespace locnet;

namespace {

Batch labels_batch(std::vector<int64_t> y) {
  Batch b;
  b.x = Tensor(Shape{int64_t(y.size()), 1});
  b.labels = std::move(y);
  return b;
}

Batch values_batch(Tensor t) {
  Batch b;
  b.x = Tensor(Shape{t.dim(0), 1});
  b.targets = std::move(t);
  return b;
}

}  // namespace

TEST(Metrics, ClassMetricsOnLabels) {
  // predictions (first largest): 0, 1, 1, 2, 0; labels 0, 1, 2, 2, 1 -> 3 of 5 right
  Tensor z = Tensor::from<float>({5, 1, 0, 0, 3, 1, 0, 2, 1, 1, 1, 4, 2, 2, 1}, Shape{5, 3});
  Metrics m({"accuracy", "sparse_categorical_accuracy", "top2_accuracy", "top_k_accuracy", "precision", "recall",
             "f1"},
            TargetKind::labels, false);
  m.add(z, labels_batch({0, 1, 2, 2, 1}));
  auto v = m.values();
  EXPECT_DOUBLE_EQ(v["accuracy"], 0.6);
  EXPECT_DOUBLE_EQ(v["sparse_categorical_accuracy"], 0.6);
  // top 2: row 2 (0, 2, 1) has its label 2 second, row 4 (2, 2, 1) its label 1 tied first: every row -> 1.0
  EXPECT_DOUBLE_EQ(v["top2_accuracy"], 1.0);
  EXPECT_DOUBLE_EQ(v["top_k_accuracy"], 1.0);  // k = 5 > 3 classes
  // confusion [true][pred]: 0->0; 1->1, 1->0; 2->1, 2->2
  EXPECT_EQ(m.confusion(), (std::vector<std::vector<int64_t>>{{1, 0, 0}, {1, 1, 0}, {0, 1, 1}}));
  // precision per class: 1/2, 1/2, 1/1; recall: 1/1, 1/2, 1/2; f1: 2/3, 1/2, 2/3
  ClassScores s = class_scores(m.confusion());
  EXPECT_EQ(s.support, (std::vector<int64_t>{1, 2, 2}));
  EXPECT_DOUBLE_EQ(v["precision"], (0.5 + 0.5 + 1.0) / 3);
  EXPECT_DOUBLE_EQ(v["recall"], (1.0 + 0.5 + 0.5) / 3);
  EXPECT_NEAR(v["f1"], (2.0 / 3 + 0.5 + 2.0 / 3) / 3, 1e-15);
}

TEST(Metrics, TopKCountsTiesForTheLabel) {
  // label 2 of outputs (3, 3, 3, 1): none strictly larger -> in the top 1 (as tf.math.in_top_k); label 3: three
  // larger -> only in the top 4
  Tensor z = Tensor::from<double>({3, 3, 3, 1, 3, 3, 3, 1}, Shape{2, 4});
  Metrics m({"top1_accuracy", "top3_accuracy", "top4_accuracy"}, TargetKind::labels, false);
  m.add(z, labels_batch({2, 3}));
  auto v = m.values();
  EXPECT_DOUBLE_EQ(v["top1_accuracy"], 0.5);
  EXPECT_DOUBLE_EQ(v["top3_accuracy"], 0.5);
  EXPECT_DOUBLE_EQ(v["top4_accuracy"], 1.0);
}

TEST(Metrics, CategoricalBinaryAndRegression) {
  Tensor z = Tensor::from<double>({0.1, 0.7, 0.2, 0.5, 0.3, 0.2}, Shape{2, 3});
  Tensor onehot = Tensor::from<double>({0, 1, 0, 0, 0, 1}, Shape{2, 3});
  Metrics cat({"accuracy", "categorical_accuracy"}, TargetKind::values, false);
  cat.add(z, values_batch(onehot));
  EXPECT_DOUBLE_EQ(cat.values()["categorical_accuracy"], 0.5);
  EXPECT_EQ(cat.confusion()[2][0], 1);
  // binary on logits (threshold 0): (1.5 > 0) == 1, (-2 > 0) == 0, (0.5 > 0) != 0, (-0.1 > 0) != 1 -> 2 of 4
  Tensor logits = Tensor::from<double>({1.5, -2.0, 0.5, -0.1}, Shape{2, 2});
  Tensor bits = Tensor::from<double>({1, 0, 0, 1}, Shape{2, 2});
  Metrics bin({"accuracy", "binary_accuracy"}, TargetKind::values, true, 0.0);
  bin.add(logits, values_batch(bits));
  EXPECT_DOUBLE_EQ(bin.values()["accuracy"], 0.5);
  EXPECT_DOUBLE_EQ(bin.values()["binary_accuracy"], 0.5);
  // on probabilities (threshold 0.5): 0.7 -> 1 right, 0.2 -> 0 right, 0.6 -> 1 wrong, 0.4 -> 0 wrong
  Metrics prob({"binary_accuracy"}, TargetKind::values, true, 0.5);
  prob.add(Tensor::from<double>({0.7, 0.2, 0.6, 0.4}, Shape{2, 2}), values_batch(bits));
  EXPECT_DOUBLE_EQ(prob.values()["binary_accuracy"], 0.5);
  // errors 1, -2, 0, 3 over two batches: MAE 6/4, RMSE sqrt(14/4)
  Metrics reg({"mae", "root_mean_squared_error"}, TargetKind::values, false);
  reg.add(Tensor::from<double>({2, 0}, Shape{2, 1}), values_batch(Tensor::from<double>({1, 2}, Shape{2, 1})));
  reg.add(Tensor::from<double>({5, 3}, Shape{2, 1}), values_batch(Tensor::from<double>({5, 0}, Shape{2, 1})));
  EXPECT_DOUBLE_EQ(reg.values()["mae"], 1.5);
  EXPECT_DOUBLE_EQ(reg.values()["root_mean_squared_error"], std::sqrt(3.5));
}

TEST(Metrics, DirectionAndErrors) {
  EXPECT_TRUE(lower_is_better("loss"));
  EXPECT_TRUE(lower_is_better("val_mae"));
  EXPECT_TRUE(lower_is_better("rmse"));
  EXPECT_FALSE(lower_is_better("val_accuracy"));
  EXPECT_FALSE(lower_is_better("f1"));
  EXPECT_THROW_MSG(Metrics({"auc"}, TargetKind::labels, false), ConfigError,
                   "metrics: unknown metric 'auc'; expected one of: accuracy,");
  EXPECT_THROW_MSG(Metrics({"top0_accuracy"}, TargetKind::labels, false), ConfigError,
                   "unknown metric 'top0_accuracy'");
  EXPECT_THROW_MSG(Metrics({"mae"}, TargetKind::labels, false), ConfigError,
                   "metrics: mae needs float targets, got class labels");
  EXPECT_THROW_MSG(Metrics({"sparse_categorical_accuracy"}, TargetKind::values, false), ConfigError,
                   "needs class labels, got float targets");
}
