#include "locnet/train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

#include "locnet/dist/data_parallel.hpp"
#include "locnet/train/loader.hpp"
#include "locnet/train/losses.hpp"
#include "locnet/train/metrics.hpp"

namespace locnet {
namespace {

// LabeledData as a Dataset that keeps x's dtype (an f64 run stays f64, as before Dataset existed).
class LabeledDataset : public Dataset {
 public:
  LabeledDataset(const LabeledData& d, const char* what) : d_(d) {
    if (!d.x.defined() || d.x.rank() < 1 || d.x.dim(0) <= 0)
      raise<ShapeError>("{}: x must hold at least one sample, got {}", what,
                        d.x.defined() ? d.x.shape().str() : std::string("an empty tensor"));
    if (int64_t(d.y.size()) != d.x.dim(0))
      raise<ShapeError>("{}: the number of labels must be {} (one per sample), got {}", what, d.x.dim(0), d.y.size());
    labels_ = tensor_dataset(d.x, d.y);  // checks the labels, counts the classes
  }
  int64_t size() const override { return d_.x.dim(0); }
  Shape sample_shape() const override { return labels_->sample_shape(); }
  TargetKind target_kind() const override { return TargetKind::labels; }
  int64_t classes() const override { return labels_->classes(); }
  std::string name() const override { return labels_->name(); }
  void gather(std::span<const int64_t> idx, Batch& out) const override {
    const int64_t n = int64_t(idx.size()), row = int64_t(d_.x.nbytes()) / d_.x.dim(0);
    out.x = Tensor::empty(d_.x.shape().with_dim(0, n), d_.x.dtype());
    out.labels.resize(size_t(n));
    out.targets = out.weights = Tensor();
    auto src = static_cast<const char*>(d_.x.raw());
    auto dst = static_cast<char*>(out.x.raw());
    for (int64_t i = 0; i < n; ++i) {
      std::memcpy(dst + i * row, src + idx[size_t(i)] * row, size_t(row));
      out.labels[size_t(i)] = d_.y[size_t(idx[size_t(i)])];
    }
  }

 private:
  const LabeledData& d_;
  std::shared_ptr<Dataset> labels_;
};

void check_logits(const Tensor& z, int64_t n) {
  if (z.rank() != 2 || z.dim(0) != n)
    raise<ShapeError>("trainer: the model output must be logits (batch, classes) = ({}, K), got {}", n, z.shape().str());
}

bool ends_in(const Model& model, const char* activation) {
  const std::vector<NodeId> outs = model.outputs();
  const Layer* last = outs.size() == 1 ? model.node_layer(outs[0]) : nullptr;
  if (!last) return false;
  const Call c = last->config();  // kwarg() points into it: keep it alive while reading
  const Value* a = c.kwarg("activation");
  return a && a->kind() == Value::Kind::Str && a->as_str() == activation;
}

// The loss of fit/evaluate: the spec resolved against the model and the data (see trainer.hpp).
struct TaskLoss {
  std::unique_ptr<Loss> loss;
  TargetKind kind;
  bool binary = false;     // multi-label: binary cross-entropy
  bool classes = true;     // a classification loss: "accuracy" is reported
  double threshold = 0.0;  // of binary accuracy: 0 on logits, 0.5 on probabilities

  TaskLoss(const std::string& spec, const Model& model, const Dataset& data, const char* where)
      : kind(data.target_kind()) {
    const bool probabilities = ends_in_softmax(model);
    loss = make_loss(Value(spec.empty() ? "softmax_cross_entropy" : spec), fmt::format("{}: loss", where));
    const std::string type = loss->type();
    if (type == "softmax_cross_entropy" || type == "cross_entropy")
      loss = make_loss(Value(probabilities ? "cross_entropy" : "softmax_cross_entropy"));
    binary = type == "binary_cross_entropy";
    classes = binary || type == "softmax_cross_entropy" || type == "cross_entropy";
    if (binary && (probabilities || ends_in(model, "sigmoid")))
      raise<ConfigError>("{}: loss binary_cross_entropy takes logits; the model must not end in sigmoid or softmax",
                         where);
    threshold = probabilities || ends_in(model, "sigmoid") ? 0.5 : 0.0;
    const bool labels = kind == TargetKind::labels;
    if (labels ? !loss->takes_labels() : !loss->takes_targets())
      raise<ConfigError>("{}: loss {} needs {}, got {} from {}", where, type,
                         labels ? "float targets of the output's shape" : "class labels",
                         labels ? "class labels" : "float targets", data.name());
  }
  LossResult operator()(const Tensor& z, const Batch& b) const {
    if (kind == TargetKind::labels) check_logits(z, b.size());
    return kind == TargetKind::labels ? (*loss)(z, b.labels) : (*loss)(z, b.targets);
  }
  Metrics metrics(const std::vector<std::string>& names) const { return Metrics(names, kind, binary, threshold); }
};

// Each sample's weight: Batch::weights times class_weight[its class]; empty when every weight is 1.
std::vector<double> sample_weights(const Batch& b, const std::map<int64_t, double>& class_weight) {
  if (!b.weights.defined() && class_weight.empty()) return {};
  const int64_t n = b.size();
  std::vector<double> w(size_t(n), 1.0);
  if (b.weights.defined()) {
    if (b.weights.numel() != n)
      raise<ShapeError>("fit: the sample weights must be {} (one per sample), got {}", n, b.weights.numel());
    for (int64_t i = 0; i < n; ++i) w[size_t(i)] = b.weights.item(i);
  }
  if (class_weight.empty()) return w;
  const int64_t k = b.targets.defined() ? b.targets.numel() / n : 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t c = 0;
    if (!b.labels.empty()) c = b.labels[size_t(i)];
    else if (k == 1) c = std::lround(b.targets.item(i));
    else
      for (int64_t j = 1; j < k; ++j) c = b.targets.item(i * k + j) > b.targets.item(i * k + c) ? j : c;
    if (auto it = class_weight.find(c); it != class_weight.end()) w[size_t(i)] *= it->second;
  }
  return w;
}

LossResult weigh(LossResult r, const Batch& b, const std::map<int64_t, double>& class_weight) {
  std::vector<double> w = sample_weights(b, class_weight);
  return w.empty() ? r : weighted(std::move(r), w);
}

void check_monitor(const FitOptions& o, const TaskLoss& task, bool validation) {
  const bool val = o.monitor.starts_with("val_");
  const std::string base = val ? o.monitor.substr(4) : o.monitor;
  const bool known = base == "loss" || (base == "accuracy" && task.classes) ||
                     std::find(o.metrics.begin(), o.metrics.end(), base) != o.metrics.end();
  if (!known)
    raise<ConfigError>("fit: monitor must be loss, accuracy, val_loss or val_accuracy, got '{}' (or a name of "
                       "FitOptions::metrics, with val_ for validation: {})",
                       o.monitor, fmt::join(o.metrics, ", "));
  if (o.patience > 0 && val && !validation)
    raise<ConfigError>("fit: monitor '{}' needs validation data, got none", o.monitor);
}

// Loss, accuracy and the metrics of a pass as EvalResult fields.
EvalResult summary(double loss, const Metrics& m, const TaskLoss& task) {
  EvalResult r{loss, task.classes ? m.accuracy() : 0.0, task.classes ? m.confusion() : EvalResult{}.confusion,
               m.values()};
  r.metrics["loss"] = loss;
  if (task.classes) r.metrics["accuracy"] = r.accuracy;
  return r;
}

// The group of a run: null or a single rank is the single process (and takes the code paths of before).
std::shared_ptr<Collective> group_of(const std::shared_ptr<Collective>& c) {
  return c && c->size() > 1 ? c : nullptr;
}

// The reducer's figures into the result (every way out of fit).
FitResult& with_stats(FitResult& r, const std::optional<dist::GradientReducer>& reducer) {
  if (reducer) {
    const dist::GradientReducer::Stats st = reducer->stats();
    r.communication.buckets = st.buckets, r.communication.bytes_per_step = st.bytes_per_step;
    r.communication.wait_seconds = st.wait_seconds;
  }
  return r;
}

Tensor scaled(const Tensor& t, double factor) {
  Tensor out = t.clone();
  if (out.dtype() == DType::f64)
    for (double& v : out.span<double>()) v *= factor;
  else
    for (float& v : out.span<float>()) v = float(double(v) * factor);
  return out;
}

// sum over ranks of v (each element), every rank gets the total.
double sum_over(Collective& group, double v) {
  std::vector<double> x{v};
  group.all_reduce_sum(x);
  return x[0];
}

// The optimizer's state (a resumed run) from rank 0, so that every replica steps alike.
void broadcast_optimizer(Optimizer& optimizer, Model& model, Collective& group) {
  std::vector<std::pair<std::string, Tensor>> state = optimizer.state();
  std::vector<double> any{double(state.size()), double(optimizer.iterations())};
  group.all_reduce_max(any);  // every rank takes the same branch
  if (any[0] <= 1 && any[1] == 0) return;  // nothing beyond a zero step counter anywhere
  for (auto& [key, t] : state) {
    t = t.clone();
    group.broadcast(std::span<std::byte>(static_cast<std::byte*>(t.raw()), t.nbytes()), 0);
  }
  optimizer.load_state(model, state);
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

double monitored(const EpochMetrics& m, const std::string& monitor) {
  const bool val = monitor.starts_with("val_");
  const std::map<std::string, double>* values = val ? (m.validation ? &m.validation->metrics : nullptr) : &m.metrics;
  auto it = values ? values->find(val ? monitor.substr(4) : monitor) : std::map<std::string, double>::const_iterator{};
  if (!values || it == values->end())
    raise<ConfigError>("fit: monitor '{}' is not among the epoch's metrics", monitor);
  return it->second;
}

namespace {

// The model's layers belong to `group` (when not null) until the scope ends (Model::set_collective).
class GroupScope {
 public:
  GroupScope(Model& m, const std::shared_ptr<Collective>& group) : m_(m), set_(group != nullptr) {
    if (set_) m_.set_collective(group);
  }
  ~GroupScope() {
    if (set_) m_.set_collective(nullptr);
  }
  GroupScope(const GroupScope&) = delete;
  GroupScope& operator=(const GroupScope&) = delete;

 private:
  Model& m_;
  bool set_;
};

// evaluate(); fit_group: the group fit already set on the model (left in place).
EvalResult evaluate_pass(Model& model, const Dataset& data, int64_t batch_size, const std::string& loss,
                         const std::vector<std::string>& metric_names, const std::shared_ptr<Collective>& collective,
                         const std::shared_ptr<Collective>& fit_group) {
  if (batch_size < 1) raise<ConfigError>("evaluate: batch_size must be >= 1, got {}", batch_size);
  const int64_t n = data.size();
  if (n <= 0) raise<ShapeError>("evaluate: {} must hold at least one sample, got none", data.name());
  const TaskLoss task(loss, model, data, "evaluate");
  Metrics metrics = task.metrics(metric_names);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const std::shared_ptr<Collective> group = group_of(collective);
  // Layers that use the group (SyncBatchNorm) get it for this pass; fit's own group stays.
  const GroupScope scope(model, group && group != fit_group ? group : nullptr);
  // Several ranks: each takes its shard of every batch (the same batches as one process, so layers that use batch
  // statistics in inference see the same ones) and forwards even an empty shard (its collectives).
  Loader loader(data, std::move(order), batch_size, nullptr, 0, 0, false, group ? group->rank() : 0,
                group ? group->size() : 1);
  double loss_sum = 0;
  for (Batch b; loader.next(b);) {
    Tensor z = model.forward(b.x, Mode::Inference);
    if (b.size() == 0) continue;
    loss_sum += weigh(task(z, b), b, {}).loss * double(b.size());
    metrics.add(z, b);
  }
  if (group) {
    loss_sum = sum_over(*group, loss_sum);
    metrics.reduce(*group);
  }
  return summary(loss_sum / double(n), metrics, task);
}

}  // namespace

EvalResult evaluate(Model& model, const Dataset& data, int64_t batch_size, const std::string& loss,
                    const std::vector<std::string>& metric_names, const std::shared_ptr<Collective>& collective) {
  return evaluate_pass(model, data, batch_size, loss, metric_names, collective, nullptr);
}

EvalResult evaluate(Model& model, const LabeledData& data, int64_t batch_size) {
  return evaluate(model, LabeledDataset(data, "evaluate"), batch_size);
}

FitResult fit(Model& model, Optimizer& optimizer, const LabeledData& train, const LabeledData* validation,
              const FitOptions& options) {
  const LabeledDataset t(train, "fit");
  std::optional<LabeledDataset> v;
  if (validation) v.emplace(*validation, "fit (validation)");
  return fit(model, optimizer, t, v ? &*v : nullptr, options);
}

FitResult fit(Model& model, Optimizer& optimizer, const Dataset& train, const Dataset* validation,
              const FitOptions& o) {
  const int64_t n = train.size();
  if (n <= 0) raise<ShapeError>("fit: {} must hold at least one sample, got none", train.name());
  if (o.batch_size < 1) raise<ConfigError>("fit: batch_size must be >= 1, got {}", o.batch_size);
  if (o.epochs < 0) raise<ConfigError>("fit: epochs must be >= 0, got {}", o.epochs);
  if (o.initial_epoch < 0) raise<ConfigError>("fit: initial_epoch must be >= 0, got {}", o.initial_epoch);
  for (const auto& [c, w] : o.class_weight)
    if (c < 0 || !(w >= 0))
      raise<ConfigError>("fit: class_weight must map classes >= 0 to weights >= 0, got {}: {}", c, w);
  const TaskLoss task(o.loss, model, train, "fit");
  check_monitor(o, task, validation != nullptr);
  task.metrics(o.metrics);  // unknown names fail before training

  if (o.bucket_bytes < 1) raise<ConfigError>("fit: bucket_bytes must be >= 1, got {}", o.bucket_bytes);
  const std::shared_ptr<Collective> group = group_of(o.collective);
  const int rank = group ? group->rank() : 0, ranks = group ? group->size() : 1;
  std::optional<dist::GradientReducer> reducer;
  std::optional<GroupScope> scope;  // the caller's model must not keep the group after fit
  if (group) {
    if (!model.built()) {  // the replicas must have parameters to share: build from the data's sample shape
      Batch probe;
      const int64_t first = 0;
      train.gather(std::span<const int64_t>(&first, 1), probe);
      model.build(probe.x.shape().with_dim(0, Shape::kUnknown), uint64_t(0), probe.x.dtype());  // as forward
    }
    scope.emplace(model, group);
    dist::broadcast_parameters(model, *group);
    broadcast_optimizer(optimizer, model, *group);
    reducer.emplace(model, group, o.bucket_bytes);
  }

  FitResult result;
  Rng rng(o.seed);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  const int64_t batches = (n + o.batch_size - 1) / o.batch_size;
  double best = 0;
  int64_t since_best = 0;
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
    Metrics metrics = task.metrics(o.metrics);
    Loader loader(train, order, o.batch_size, o.augment.get(), o.seed, epoch, o.prefetch, rank, ranks);
    for (int64_t b = 0; b < batches; ++b) {
      const bool profiling =
          o.profiler && step >= o.profile_warmup && step < o.profile_warmup + o.profile_steps;
      if (o.profiler) model.set_profiler(profiling ? o.profiler : nullptr);
      const auto step_start = std::chrono::steady_clock::now();
      Batch batch;
      loader.next(batch);
      model.zero_grad();
      Tensor z = model.forward(batch.x, Mode::Training);
      const int64_t global = std::min(o.batch_size, n - b * o.batch_size);
      LossResult lr;
      if (batch.size() > 0) lr = weigh(task(z, batch), batch, o.class_weight);
      else lr.grad = Tensor(z.shape(), z.dtype());  // no samples: zero loss and gradient, still every collective
      double loss = lr.loss + model.regularization_loss();
      if (group) {
        // The global batch's loss; each rank's gradient becomes that of the global loss over its samples.
        const double share = double(batch.size()) / double(global);
        loss = sum_over(*group, lr.loss * share) + model.regularization_loss();
        if (batch.size() > 0) lr.grad = scaled(lr.grad, share);
      }
      if (!std::isfinite(loss)) {
        result.stopped = fmt::format("the loss is {} at epoch {}, batch {} of {}", loss, epoch, b + 1, batches);
        return with_stats(result, reducer);
      }
      if (batch.size() > 0) metrics.add(z, batch);
      const auto backward_start = std::chrono::steady_clock::now();
      model.backward(lr.grad, /*input_grads=*/false);  // nobody uses the input gradient: skip it
      if (reducer) reducer->finish();
      result.communication.backward_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - backward_start).count();
      ++result.communication.steps;
      model.add_regularization_grads();
      optimizer.step(model);
      loss_sum += loss * double(global);
      if (profiling)
        o.profiler->add_step(std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count());
      if (o.on_batch) o.on_batch(b + 1, batches, loss);
      if (++step == o.profile_warmup + o.profile_steps && profiling) {
        result.stopped = fmt::format("stopped after profiling {} steps (following {} warm-up steps)", o.profile_steps,
                                     o.profile_warmup);
        return with_stats(result, reducer);
      }
    }
    if (group) metrics.reduce(*group);
    if (group && o.check_replicas) dist::check_replicas(model, *group);
    EpochMetrics m;
    m.epoch = epoch;
    m.loss = loss_sum / double(n);
    const EvalResult train_summary = summary(m.loss, metrics, task);
    m.accuracy = train_summary.accuracy;
    m.metrics = train_summary.metrics;
    if (validation) m.validation = evaluate_pass(model, *validation, 256, o.loss, o.metrics, group, group);
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const bool can_monitor = validation || !o.monitor.starts_with("val_");
    if (can_monitor) {
      const double value = monitored(m, o.monitor);
      const double gain = lower_is_better(o.monitor) ? best - value : value - best;
      m.best = epoch == o.initial_epoch + 1 || gain > o.min_delta;
      if (m.best) best = value, since_best = 0;
      else ++since_best;
    }
    result.history.push_back(m);
    if (o.on_epoch) o.on_epoch(m);
    if (o.patience > 0 && since_best >= o.patience) {
      result.stopped = fmt::format("early stopping: {} did not improve for {} epochs (best {})", o.monitor,
                                   o.patience, best);
      break;
    }
  }
  return with_stats(result, reducer);
}

}  // namespace locnet
