#include "locnet/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

#include "locnet/train/losses.hpp"

namespace locnet {
namespace {

int64_t check_data(const LabeledData& d, const char* what) {
  if (!d.x.defined() || d.x.rank() < 1 || d.x.dim(0) <= 0)
    raise<ShapeError>("{}: x must hold at least one sample, got {}", what,
                      d.x.defined() ? d.x.shape().str() : std::string("an empty tensor"));
  if (int64_t(d.y.size()) != d.x.dim(0))
    raise<ShapeError>("{}: the number of labels must be {} (one per sample), got {}", what, d.x.dim(0), d.y.size());
  return d.x.dim(0);
}

// The samples idx[lo, hi) of d as one batch: x rows copied, labels gathered.
void gather(const LabeledData& d, std::span<const int64_t> idx, Tensor& xb, std::vector<int64_t>& yb) {
  const int64_t n = int64_t(idx.size()), row = d.x.nbytes() / size_t(d.x.dim(0));
  xb = Tensor::empty(d.x.shape().with_dim(0, n), d.x.dtype());
  yb.resize(size_t(n));
  auto src = static_cast<const char*>(d.x.raw());
  auto dst = static_cast<char*>(xb.raw());
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(dst + i * row, src + idx[size_t(i)] * row, size_t(row));
    yb[size_t(i)] = d.y[size_t(idx[size_t(i)])];
  }
}

int64_t argmax_row(const Tensor& z, int64_t r, int64_t k) {
  int64_t best = 0;
  for (int64_t j = 1; j < k; ++j)
    if (z.item(r * k + j) > z.item(r * k + best)) best = j;
  return best;
}

void check_logits(const Tensor& z, int64_t n) {
  if (z.rank() != 2 || z.dim(0) != n)
    raise<ShapeError>("trainer: the model output must be logits (batch, classes) = ({}, K), got {}", n, z.shape().str());
}

// The cross-entropy of a model's output: on probabilities when the model ends in softmax, else on logits.
LossResult class_loss(bool probabilities, const Tensor& out, std::span<const int64_t> labels) {
  return probabilities ? cross_entropy(out, labels) : softmax_cross_entropy(out, labels);
}

}  // namespace

bool ends_in_softmax(const Model& model) {
  const std::vector<NodeId> outs = model.outputs();
  const Layer* last = outs.size() == 1 ? model.node_layer(outs[0]) : nullptr;
  if (!last) return false;
  const Call c = last->config();
  const Value* a = c.kwarg("activation");
  if (c.type == "Softmax") {  // the layer (docs/activations.md), along the classes: the last axis of (N, K)
    const int64_t axis = c.kwarg("axis")->as_int();
    if (axis != 1) return axis == -1;
    if (last->built()) return last->input_shape().rank() == 2;
    return model.inputs().size() == 1 && model.input_shape() && model.output_shape().rank() == 2;
  }
  return a && a->kind() == Value::Kind::Str && a->as_str() == "softmax";
}

EvalResult evaluate(Model& model, const LabeledData& data, int64_t batch_size) {
  const int64_t n = check_data(data, "evaluate");
  if (batch_size < 1) raise<ConfigError>("evaluate: batch_size must be >= 1, got {}", batch_size);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const bool probabilities = ends_in_softmax(model);
  EvalResult r;
  double loss_sum = 0;
  int64_t correct = 0;
  Tensor xb;
  std::vector<int64_t> yb;
  for (int64_t lo = 0; lo < n; lo += batch_size) {
    const int64_t hi = std::min(n, lo + batch_size);
    gather(data, std::span<const int64_t>(order).subspan(size_t(lo), size_t(hi - lo)), xb, yb);
    Tensor z = model.forward(xb, Mode::Inference);
    check_logits(z, hi - lo);
    const int64_t k = z.dim(1);
    if (r.confusion.empty()) r.confusion.assign(size_t(k), std::vector<int64_t>(size_t(k), 0));
    loss_sum += class_loss(probabilities, z, yb).loss * double(hi - lo);
    for (int64_t i = 0; i < hi - lo; ++i) {
      int64_t pred = argmax_row(z, i, k);
      correct += pred == yb[size_t(i)];
      ++r.confusion[size_t(yb[size_t(i)])][size_t(pred)];
    }
  }
  r.loss = loss_sum / double(n);
  r.accuracy = double(correct) / double(n);
  return r;
}

FitResult fit(Model& model, Optimizer& optimizer, const LabeledData& train, const LabeledData* validation,
              const FitOptions& o) {
  const int64_t n = check_data(train, "fit");
  if (validation) check_data(*validation, "fit (validation)");
  if (o.batch_size < 1) raise<ConfigError>("fit: batch_size must be >= 1, got {}", o.batch_size);
  if (o.epochs < 0) raise<ConfigError>("fit: epochs must be >= 0, got {}", o.epochs);
  if (o.initial_epoch < 0) raise<ConfigError>("fit: initial_epoch must be >= 0, got {}", o.initial_epoch);
  const bool val_monitor = o.monitor.starts_with("val_");
  const std::string base = val_monitor ? o.monitor.substr(4) : o.monitor;
  if (base != "loss" && base != "accuracy")
    raise<ConfigError>("fit: monitor must be loss, accuracy, val_loss or val_accuracy, got '{}'", o.monitor);
  if (o.patience > 0 && val_monitor && !validation)
    raise<ConfigError>("fit: monitor '{}' needs validation data, got none", o.monitor);

  const bool probabilities = ends_in_softmax(model);
  FitResult result;
  Rng rng(o.seed);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const int64_t batches = (n + o.batch_size - 1) / o.batch_size;
  double best = 0;
  int64_t since_best = 0;
  Tensor xb;
  std::vector<int64_t> yb;
  if (o.profiler && (o.profile_warmup < 0 || o.profile_steps < 1))
    raise<ConfigError>("fit: profile_warmup must be >= 0 and profile_steps >= 1, got {} and {}", o.profile_warmup,
                       o.profile_steps);
  struct Detach {  // o.profiler is the caller's: never leave it attached
    Model& m;
    bool attached;
    ~Detach() {
      if (attached) m.set_profiler(nullptr);
    }
  } detach{model, o.profiler != nullptr};
  int64_t step = 0;
  for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    auto start = std::chrono::steady_clock::now();
    for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(rng.below(uint64_t(i + 1)))]);
    if (epoch <= o.initial_epoch) continue;
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t b = 0; b < batches; ++b) {
      const bool profiling =
          o.profiler && step >= o.profile_warmup && step < o.profile_warmup + o.profile_steps;
      if (o.profiler) model.set_profiler(profiling ? o.profiler : nullptr);
      const auto step_start = std::chrono::steady_clock::now();
      const int64_t lo = b * o.batch_size, hi = std::min(n, lo + o.batch_size);
      gather(train, std::span<const int64_t>(order).subspan(size_t(lo), size_t(hi - lo)), xb, yb);
      model.zero_grad();
      Tensor z = model.forward(xb, Mode::Training);
      check_logits(z, hi - lo);
      LossResult lr = class_loss(probabilities, z, yb);
      const double loss = lr.loss + model.regularization_loss();
      if (!std::isfinite(loss)) {
        result.stopped = fmt::format("the loss is {} at epoch {}, batch {} of {}", loss, epoch, b + 1, batches);
        return result;
      }
      for (int64_t i = 0; i < hi - lo; ++i) correct += argmax_row(z, i, z.dim(1)) == yb[size_t(i)];
      model.backward(lr.grad);
      model.add_regularization_grads();
      optimizer.step(model);
      loss_sum += loss * double(hi - lo);
      if (profiling)
        o.profiler->add_step(std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count());
      if (o.on_batch) o.on_batch(b + 1, batches, loss);
      if (++step == o.profile_warmup + o.profile_steps && profiling) {
        result.stopped = fmt::format("stopped after profiling {} steps (following {} warm-up steps)", o.profile_steps,
                                     o.profile_warmup);
        return result;
      }
    }
    EpochMetrics m;
    m.epoch = epoch;
    m.loss = loss_sum / double(n);
    m.accuracy = double(correct) / double(n);
    if (validation) m.validation = evaluate(model, *validation);
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.history.push_back(m);
    if (o.on_epoch) o.on_epoch(m);
    if (o.patience > 0) {
      double v = val_monitor ? (base == "loss" ? m.validation->loss : m.validation->accuracy)
                             : (base == "loss" ? m.loss : m.accuracy);
      double gain = base == "loss" ? best - v : v - best;
      if (epoch == o.initial_epoch + 1 || gain > o.min_delta) {
        best = v;
        since_best = 0;
      } else if (++since_best >= o.patience) {
        result.stopped = fmt::format("early stopping: {} did not improve for {} epochs (best {})", o.monitor,
                                     o.patience, best);
        break;
      }
    }
  }
  return result;
}

}  // namespace locnet
