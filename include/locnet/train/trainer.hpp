// Mini-batch training and evaluation of a model (a chain or a graph with one input and one output) on a Dataset
// (train/dataset.hpp: class labels or float targets; the core that `locnet train` and `locnet evaluate` drive; no
// files, progress bar or checkpoints here). LabeledData (x and integer labels) is the older form: the same run.
// Loss: FitOptions::loss (a catalog loss spec, train/losses.hpp), default the class rule below, plus
// Model::regularization_loss(). The cross-entropies (softmax_cross_entropy, its aliases sparse_/
// categorical_crossentropy, and cross_entropy) take the form the model needs: on probabilities when it ends in
// softmax, else on logits. binary_cross_entropy takes logits (a model ending in sigmoid or softmax is a
// ConfigError). A loss that does not fit the targets (mse given class labels) is a ConfigError naming both.
// Sample weights (Batch::weights) times class_weight[class] (labels; for float targets the class is the first
// largest target entry, or the rounded target of a one-column target; classes missing from the map weigh 1)
// multiply each sample's loss and gradient: the batch loss is sum_i w_i loss_i / n (Keras's reduction).
// Metrics (train/metrics.hpp): FitOptions::metrics by name; EpochMetrics::metrics and EvalResult::metrics hold
// "loss" and each of them (and "accuracy" for classes, always).
// A model that ends in softmax (ends_in_softmax: an Activation('softmax'), a Softmax() along the classes or a
// fused activation='softmax' as its last layer) outputs probabilities, so its loss is cross_entropy, the
// probability form (Keras from_logits=False), and no second softmax is applied; the other models' outputs are
// taken as logits.
// Each epoch visits the training samples in a fresh random order drawn from Rng(seed) (Fisher-Yates), in batches
// of batch_size (the last one smaller) from a Loader (train/loader.hpp: FitOptions::augment, prefetch), each
// step: zero_grad, forward(Training), loss, backward, add_regularization_grads, optimizer.step(model).
// Same seed and thread count -> the same weights, bit for bit.
// Epochs initial_epoch + 1 .. epochs run; the earlier ones only draw their shuffle, so resuming a checkpoint
// taken after epoch e with initial_epoch = e continues the same sequence of batches.
// A loss that is not finite stops training at once: FitResult::stopped names the epoch and batch (1-based).
// Early stopping (patience > 0): stops after `patience` epochs without improvement of `monitor` ("loss",
// "accuracy" or a name of FitOptions::metrics; "val_" + one of them for the validation data) by more than
// min_delta: losses and errors must fall, the others rise (lower_is_better, train/metrics.hpp).
// EpochMetrics::best marks an epoch that improved the monitored value (the best-checkpoint rule).
// Profiling (model/profile.hpp): with a profiler, the steps profile_warmup + 1 .. profile_warmup + profile_steps
// (counted from the first step this call runs) are timed per layer into it, each step's wall time included
// (batch copy, loss and optimizer step too), and then fit stops: FitResult::stopped says so, on_epoch is not called.
// evaluate() runs Inference batches: mean loss (without regularization, with sample weights), accuracy, the
// metrics and the confusion matrix (row = true class, column = predicted; the prediction is the first largest
// output; empty for multi-label targets).
// Data-parallel (FitOptions::collective of N > 1 ranks; docs/training.md, dist/data_parallel.hpp): batch_size is
// the global batch, rank r trains on dist::shard(batch count, r, N) of each one (possibly none) with its loss
// gradient scaled by its share, the gradients summed over the ranks (GradientReducer) before regularization and the
// step; parameters, buffers and optimizer state start from rank 0's; losses and metrics are global (every rank
// stops, early-stops and reports alike); check_replicas hashes the replicas after each epoch (DistError). evaluate
// with a collective splits each batch the same way and returns the totals on every rank. Layers get the group
// (Model::set_collective) during fit/evaluate only. N ranks equal one process up to the order of float sums; a
// null collective or one rank is the single-process run, bit for bit.
// Errors: ShapeError when x has no samples, labels and samples differ in number, or the output is not (N, K);
// ConfigError for batch_size < 1, epochs < 0, an unknown monitor, loss or metric, a val_* monitor without validation
// data, a negative class weight, bucket_bytes < 1.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "locnet/core/collective.hpp"
#include "locnet/model/profile.hpp"
#include "locnet/model/sequential.hpp"
#include "locnet/train/dataset.hpp"
#include "locnet/train/optimizers.hpp"

namespace locnet {

class BatchTransform;  // train/dataset.hpp

struct EvalResult {
  double loss = 0.0, accuracy = 0.0;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  std::map<std::string, double> metrics;         // "loss", "accuracy" (classes) and FitOptions::metrics
};

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  double loss = 0.0, accuracy = 0.0;  // training batches, in Training mode (as Keras reports them)
  std::optional<EvalResult> validation;
  double seconds = 0.0;
  std::map<std::string, double> metrics;  // training: "loss", "accuracy" (classes) and FitOptions::metrics
  bool best = false;                      // the monitored value improved (the first epoch always does)
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
  std::string loss;                         // a loss spec ("mse", "huber(delta=2.0)"); empty: the class rule
  std::vector<std::string> metrics;         // train/metrics.hpp names
  std::map<int64_t, double> class_weight;   // class -> weight (Keras's class_weight)
  std::shared_ptr<const BatchTransform> augment;  // applied to training batches only
  bool prefetch = true;                     // prepare the next batch on another thread
  // Data-parallel training (docs/distributed.md, dist/data_parallel.hpp): every rank of `collective` calls fit
  // with the same model, data, options and seed; batch_size is the global batch, split between the ranks.
  // Null or a group of size 1: a single process, exactly as without it.
  std::shared_ptr<Collective> collective;
  int64_t bucket_bytes = 1 << 20;  // gradients all-reduced per bucket of about this many bytes
  bool check_replicas = false;     // after each epoch, a hash of every rank's parameters must agree (DistError)
};

// Data-parallel steps' costs (zero for a single process, except steps and backward_seconds).
struct Communication {
  int64_t buckets = 0, bytes_per_step = 0;  // gradient buckets all-reduced per step and their bytes
  int64_t steps = 0;
  double wait_seconds = 0;      // waiting for gradient sums after backward (communication not hidden)
  double backward_seconds = 0;  // backward plus that wait, over the steps
};

struct FitResult {
  std::vector<EpochMetrics> history;
  Communication communication;
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
FitResult fit(Model& model, Optimizer& optimizer, const Dataset& train, const Dataset* validation,
              const FitOptions& options);
// loss and metrics as fit's (an empty loss: the class rule).
// With a collective of several ranks, each rank evaluates its share of `data` and every rank returns the totals.
EvalResult evaluate(Model& model, const Dataset& data, int64_t batch_size = 256, const std::string& loss = "",
                    const std::vector<std::string>& metrics = {}, const std::shared_ptr<Collective>& collective = {});
// The monitored value of an epoch ("val_accuracy" -> validation->metrics["accuracy"]); ConfigError when absent.
double monitored(const EpochMetrics& m, const std::string& monitor);

}  // namespace locnet
