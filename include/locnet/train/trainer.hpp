// Mini-batch training and evaluation of a classifier model (a chain or a graph with one input and one output) on integer labels (the core that `locnet train`
// and `locnet evaluate` can drive; a proposal: no files, progress bar or checkpoints here).
// Loss: softmax cross-entropy on the model's logits (train/losses.hpp) plus Model::regularization_loss().
// A model that ends in softmax (ends_in_softmax: an Activation('softmax'), a Softmax() along the classes or a
// fused activation='softmax' as its last layer) outputs probabilities, so its loss is cross_entropy, the
// probability form (Keras from_logits=False), and no second softmax is applied; the other models' outputs are
// taken as logits.
// Each epoch visits the training samples in a fresh random order drawn from Rng(seed) (Fisher-Yates), in batches
// of batch_size (the last one smaller), each step: zero_grad, forward(Training), loss, backward,
// add_regularization_grads, optimizer.step(model). Same seed and thread count -> the same weights, bit for bit.
// Epochs initial_epoch + 1 .. epochs run; the earlier ones only draw their shuffle, so resuming a checkpoint
// taken after epoch e with initial_epoch = e continues the same sequence of batches.
// A loss that is not finite stops training at once: FitResult::stopped names the epoch and batch (1-based).
// Early stopping (patience > 0): stops after `patience` epochs without improvement of `monitor` ("loss",
// "accuracy", "val_loss", "val_accuracy"; losses must fall, accuracies rise by more than min_delta).
// Profiling (model/profile.hpp): with a profiler, the steps profile_warmup + 1 .. profile_warmup + profile_steps
// (counted from the first step this call runs) are timed per layer into it, each step's wall time included
// (batch copy, loss and optimizer step too), and then fit stops: FitResult::stopped says so, on_epoch is not called.
// evaluate() runs Inference batches: mean loss (without regularization), accuracy and the confusion matrix
// (row = true class, column = predicted; the prediction is the first largest output).
// Errors: ShapeError when x has no samples, labels and samples differ in number, or the output is not (N, K);
// ConfigError for batch_size < 1, epochs < 0, an unknown monitor or a val_* monitor without validation data.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "locnet/model/profile.hpp"
#include "locnet/model/sequential.hpp"
#include "locnet/train/optimizers.hpp"

namespace locnet {

class BatchTransform;  // train/dataset.hpp

struct EvalResult {
  double loss = 0.0, accuracy = 0.0;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
};

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  double loss = 0.0, accuracy = 0.0;  // training batches, in Training mode (as Keras reports them)
  std::optional<EvalResult> validation;
  double seconds = 0.0;
};

struct FitOptions {
  int64_t epochs = 1;          // the last epoch to run (Keras's meaning, with initial_epoch)
  int64_t initial_epoch = 0;   // epochs already done (resume): their shuffles are replayed so the order matches
  int64_t batch_size = 32;
  uint64_t seed = 0;
  std::string monitor = "val_loss";
  int64_t patience = 0;  // 0: no early stopping
  double min_delta = 0.0;
  std::function<void(int64_t batch, int64_t batches, double loss)> on_batch;  // after each step
  std::function<void(const EpochMetrics&)> on_epoch;
  Profiler* profiler = nullptr;
  int64_t profile_warmup = 2, profile_steps = 10;
  // Applied to each training batch (train/augment.hpp). Placeholder: the loader of issue 32 applies it.
  std::shared_ptr<const BatchTransform> augment;
};

struct FitResult {
  std::vector<EpochMetrics> history;
  std::string stopped;  // empty when every epoch ran; otherwise why training stopped early
};

struct LabeledData {
  Tensor x;                    // (N, ...) samples
  std::vector<int64_t> y;      // (N,) class indices
};

bool ends_in_softmax(const Model& model);
FitResult fit(Model& model, Optimizer& optimizer, const LabeledData& train, const LabeledData* validation,
              const FitOptions& options);
EvalResult evaluate(Model& model, const LabeledData& data, int64_t batch_size = 256);

}  // namespace locnet
