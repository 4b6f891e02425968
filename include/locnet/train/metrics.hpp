// Metrics of a model's outputs against a Dataset's targets (train/dataset.hpp), accumulated batch by batch (fit's
// training and validation epochs, evaluate; docs/training.md). Names (Keras's where it has one):
//   accuracy            labels: sparse categorical accuracy; one-hot/probability targets: categorical accuracy;
//                       multi-label (binary) targets: binary accuracy
//   sparse_categorical_accuracy, categorical_accuracy: the first largest output is the label (the target's
//                       first largest entry)
//   binary_accuracy     per element, output > threshold (0.5 on probabilities, 0 on logits) equals target > 0.5
//   top_k_accuracy      the label is among the k largest outputs (k = 5; top<k>_accuracy, e.g. top3_accuracy,
//                       picks k); ties count for the label (fewer than k outputs strictly larger, as
//                       tf.math.in_top_k)
//   precision, recall, f1   macro averages over the classes of the confusion matrix (a class without
//                       predictions or without samples counts 0); class_scores() gives them per class
//   mae, rmse           (aliases mean_absolute_error, root_mean_squared_error) over all target elements
// The confusion matrix (row = true class, column = predicted) is kept for labels and one-hot targets. Metrics are
// unweighted (sample weights change the loss only). Errors: ConfigError naming an unknown metric (with the known
// names) or one that does not fit the targets (mae on labels, binary_accuracy on labels).
// reduce(group): every rank's counters summed (data-parallel training: each rank added its own samples); every rank
// of the group must call it, and afterwards every rank holds the totals.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "locnet/core/collective.hpp"
#include "locnet/train/dataset.hpp"

namespace locnet {

struct ClassScores {
  std::vector<double> precision, recall, f1;
  std::vector<int64_t> support;  // samples of each class
};
ClassScores class_scores(const std::vector<std::vector<int64_t>>& confusion);

// Losses and errors fall, the other metrics rise (early stopping and the best checkpoint); "val_" is ignored.
bool lower_is_better(std::string_view metric);
// The names metrics accepts (top<k>_accuracy stands for any k).
std::vector<std::string> metric_names();

class Metrics {
 public:
  // binary: multi-label targets (binary cross-entropy); threshold: of binary accuracy on the outputs.
  Metrics(std::vector<std::string> names, TargetKind kind, bool binary, double threshold = 0.0);
  void add(const Tensor& out, const Batch& batch);  // out: (n, ...) the model's outputs for batch
  std::map<std::string, double> values() const;      // each name -> its value over the batches added
  double accuracy() const;                           // the "accuracy" rule, whether asked for or not
  const std::vector<std::vector<int64_t>>& confusion() const { return confusion_; }
  void reduce(Collective& group);

 private:
  std::vector<std::string> names_;
  TargetKind kind_;
  bool binary_;
  double threshold_;
  int64_t samples_ = 0, elements_ = 0, correct_ = 0, binary_correct_ = 0;
  std::map<int64_t, int64_t> top_k_correct_;
  double abs_sum_ = 0, sq_sum_ = 0;
  std::vector<std::vector<int64_t>> confusion_;
};

}  // namespace locnet
