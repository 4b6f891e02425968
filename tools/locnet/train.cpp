// locnet train / evaluate / predict: the Fashion-MNIST main job (train/trainer.hpp, train/checkpoint.hpp).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "locnet/core/parallel.hpp"
#include "locnet/dist/mpi.hpp"
#include "locnet/dist/sync_batch_norm.hpp"
#include "locnet/formats.hpp"
#include "locnet/interop/keras_h5.hpp"
#include "locnet/io/file.hpp"
#include "locnet/io/idx.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/profile.hpp"
#include "locnet/train/augment.hpp"
#include "locnet/train/checkpoint.hpp"
#include "locnet/train/history.hpp"
#include "locnet/train/image_folder.hpp"
#include "locnet/train/metrics.hpp"
#include "locnet/train/trainer.hpp"
#include "locnet/train/samples.hpp"
#include "locnet/train/sources.hpp"

namespace locnet::cli {

// The default network: Conv2D + BatchNormalization blocks, LocalResponseNorm across channels, a
// LocallyConnected2D on the 7x7 feature map (unshared weights per position), then a Dense classifier. The ReLUs are
// fused into the BatchNorms: the function of BatchNorm2D() >> Activation('relu') with one pass less over the
// largest tensors in a training step.
const char* const kDefaultModel =
    "Input((28, 28, 1))"
    " >> Conv2D(32, 3, padding='same', use_bias=False) >> BatchNorm2D(activation='relu')"
    " >> MaxPooling2D(2)"
    " >> Conv2D(32, 3, padding='same', use_bias=False) >> BatchNorm2D(activation='relu')"
    " >> LocalResponseNorm() >> MaxPooling2D(2)"
    " >> LocallyConnected2D(32, 3) >> BatchNorm2D(activation='relu')"
    " >> Flatten() >> Dense(10)";

namespace {

struct TrainArgs {
  std::string model, model_file, data = kFashionMnistDir, optimizer = "Adam(learning_rate=0.002)", save = "model.safetensors",
              plot, log, resume, class_names;
  int64_t epochs = 4, batch_size = 64, patience = 0;
  uint64_t seed = 0;
  int threads = 0;
  bool batch_size_given = false, optimizer_given = false, seed_given = false;  // on the command line
  bool profile = false;
  int64_t profile_steps = 10;
  std::string loss, metrics, monitor = "val_loss", class_weight, save_best;  // issue 32's flags
  double validation_split = 0;
  DataOptions source;       // --x/--y, --val-x/--val-y, --x-key/--y-key, --target (docs/data.md)
  bool data_given = false;  // --data on the command line
  bool normalize = false;
  std::string augment;
  double bucket_mb = 1.0;   // gradient all-reduce bucket size (MB) of a data-parallel run
  bool no_sync_bn = false;
  bool check_replicas = false;  // after each epoch, every rank's parameters must hash alike  // a data-parallel run keeps each rank's BatchNorm statistics local
};

// "a,b" -> {"a", "b"} (empty items dropped).
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// --class-weight: "0=1,1=5", or a JSON file {"0": 1, "1": 5} (Keras's class_weight dict).
std::map<int64_t, double> parse_class_weight(const std::string& arg) {
  std::map<int64_t, double> w;
  // entry: the text shown in the message
  auto add = [&](const std::string& cls, double weight, const std::string& where, const std::string& entry) {
    size_t used = 0;
    int64_t c = -1;
    try {
      c = std::stoll(cls, &used);
    } catch (const std::exception&) {
    }
    if (used != cls.size() || c < 0 || !(weight >= 0) || !std::isfinite(weight))
      raise<ConfigError>("--class-weight {}: each entry must be class=weight with a class >= 0 and a weight >= 0, got "
                         "{}", where, entry);
    w[c] = weight;
  };
  if (arg.ends_with(".json")) {
    std::vector<std::byte> bytes = read_file(arg, kMaxTextFileBytes);
    nlohmann::json j = nlohmann::json::parse(reinterpret_cast<const char*>(bytes.data()),
                                             reinterpret_cast<const char*>(bytes.data()) + bytes.size(), nullptr,
                                             false);
    if (!j.is_object()) raise<FormatError>("{}: class weights must be a JSON object {{\"class\": weight, ...}}", arg);
    for (const auto& [k, v] : j.items()) {
      if (!v.is_number()) raise<FormatError>("{}: the weight of class {} must be a number, got {}", arg, k, v.dump());
      add(k, v.get<double>(), arg, fmt::format("\"{}\": {}", k, v.dump()));
    }
    return w;
  }
  for (const std::string& item : split_list(arg)) {
    const size_t eq = item.find('=');
    double weight = -1;
    try {
      if (eq != std::string::npos) weight = std::stod(item.substr(eq + 1));
    } catch (const std::exception&) {
    }
    add(item.substr(0, std::min(eq, item.size())), weight, "'" + arg + "'", item);
  }
  return w;
}

// Class names from a text file, one a line.
std::vector<std::string> read_class_names(const std::string& path) {
  std::vector<std::byte> bytes = read_file(path, kMaxTextFileBytes);
  std::istringstream in(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line);) {
    if (line.ends_with('\r')) line.pop_back();
    if (line.empty())
      raise<FormatError>("{}: line {} must hold a class name, got an empty line", path, names.size() + 1);
    names.push_back(line);
  }
  return names;
}

// Names must match the model's classes (the last axis of its output) in number. from_file: --class-names
// (a usage error), else the model file's metadata (a file error).
void check_class_names(const std::vector<std::string>& names, Model& model, bool from_file,
                       const std::string& source) {
  const int64_t classes = model.output_shape().dim(-1);
  if (names.empty() || int64_t(names.size()) == classes) return;
  if (from_file)
    raise<ConfigError>("--class-names {}: the number of names must be {} (the model's classes), got {}", source,
                       classes, names.size());
  raise<FormatError>("{}: the number of class names must be {} (the model's classes), got {}", source, classes,
                     names.size());
}

// --resume continues the checkpoint's run: options that would change it must match it or be left out.
void check_resume_options(const TrainArgs& a, const Checkpoint& c) {
  if (a.batch_size_given && a.batch_size != c.state.batch_size)
    raise<ConfigError>("--resume: --batch-size must be the checkpoint's {} (or left out), got {}", c.state.batch_size,
                       a.batch_size);
  if (a.seed_given && a.seed != c.state.seed)
    raise<ConfigError>("--resume: --seed must be the checkpoint's {} (or left out), got {}", c.state.seed, a.seed);
  if (a.optimizer_given) {
    const std::string want = c.optimizer->config().repr(),
                      got = make_optimizer(a.optimizer, "--optimizer")->config().repr();
    if (got != want)
      raise<ConfigError>("--resume: --optimizer must be the checkpoint's {} (or left out), got {}", want, got);
  }
}

// "<dir>/<name>" or "<dir>/<name>.gz", whichever exists (the plain name when neither does, for the error).
std::string idx_path(const std::string& dir, const std::string& name) {
  std::string p = dir + "/" + name;
  return std::filesystem::exists(p) || !std::filesystem::exists(p + ".gz") ? p : p + ".gz";
}

LabeledData test_data(const std::string& dir) {
  LabeledImages t = load_idx_images(idx_path(dir, "t10k-images-idx3-ubyte"), idx_path(dir, "t10k-labels-idx1-ubyte"));
  return {t.images, t.labels};
}

// The training data: Fashion-MNIST's IDX directory as before, or any source of train/sources.hpp (image folders
// decoded at the model's input size and channels). The samples are seen in the model's input shape when the
// element counts agree ((N, 28, 28) arrays for the (28, 28, 1) default network).
struct TrainData {
  std::shared_ptr<const Dataset> train, test;  // test: null when the source has no validation data
  std::vector<std::string> class_names;
};
// A data set whose samples hold as many values as the model's input, seen in the input's shape.
class Reshaped : public DatasetView {
 public:
  Reshaped(std::shared_ptr<const Dataset> d, Shape sample) : DatasetView(std::move(d)), sample_(std::move(sample)) {}
  Shape sample_shape() const override { return sample_; }
  void gather(std::span<const int64_t> idx, Batch& out) const override {
    inner_->gather(idx, out);
    std::vector<int64_t> dims{int64_t(idx.size())};
    dims.insert(dims.end(), sample_.dims().begin(), sample_.dims().end());
    out.x = out.x.reshape(Shape(std::move(dims)));
  }

 private:
  Shape sample_;
};
// The data set as the model takes it, without a copy (a memory-mapped source keeps streaming); ConfigError when
// the samples do not fit the input or the labels need more classes than the model has outputs.
std::shared_ptr<const Dataset> fit_to_model(std::shared_ptr<const Dataset> d, const Model& model) {
  const Shape want = model.input_shape()->without_batch();
  if (d->sample_shape().numel() != want.numel())
    raise<ConfigError>("{}: samples of shape {} do not fit the model's input {}; give --model or --model-file with "
                       "Input({})", d->name(), d->sample_shape().str(), want.str(), d->sample_shape().str());
  const int64_t outputs = model.output_shape().dim(-1);
  if (!d->class_names().empty() && d->classes() != outputs)  // named classes (image folders, CSV): exactly these
    raise<ConfigError>("{}: the model's outputs must be {} (one per class), got {}", d->name(), d->classes(), outputs);
  if (d->target_kind() == TargetKind::labels && d->classes() > model.output_shape().dim(-1))
    raise<ConfigError>("{}: the labels need {} classes, the model has {} outputs", d->name(), d->classes(),
                       model.output_shape().dim(-1));
  if (d->sample_shape() == want) return d;
  return std::make_shared<Reshaped>(std::move(d), want);
}
TrainData load_train_data(const TrainArgs& a, const Model& model) {
  DataOptions o = a.source;
  if (a.data_given || is_image_folder(a.data + "/train") || is_image_folder(a.data)) o.data = a.data;
  namespace fs = std::filesystem;
  const bool idx_dir = !fs::exists(a.data) || fs::exists(a.data + "/train-images-idx3-ubyte") ||
                       fs::exists(a.data + "/train-images-idx3-ubyte.gz");
  const bool folders = is_image_folder(a.data + "/train") || is_image_folder(a.data);
  if (folders) o.images = image_options_for(model.input_shape()->without_batch());
  if (o.x.empty() && o.y.empty() && o.val_x.empty() && o.val_y.empty() && idx_dir && !folders) {
    MnistData data = load_mnist(a.data);  // the default run and IDX directories, as before
    return {tensor_dataset(data.train.images, data.train.labels), tensor_dataset(data.test.images, data.test.labels),
            {}};
  }
  const DataSets s = open_dataset(o);
  TrainData t{fit_to_model(s.train, model), nullptr, s.train->class_names()};
  if (s.validation) t.test = fit_to_model(s.validation, model);
  return t;
}

std::string duration(double s) {
  int64_t t = int64_t(std::lround(s));
  return fmt::format("{}:{:02d}", t / 60, t % 60);
}

// Writes text through a temporary file and rename, like the model files.
void write_text(const std::string& path, const std::string& text) {
  write_file_atomic(path, std::as_bytes(std::span(text.data(), text.size())));
}

// The CSV log, rewritten after each epoch (temporary file + rename); a resumed run keeps the rows it finds.
struct FileLog {
  std::string path;
  bool resuming;
  std::string text;
  void append(const EpochMetrics& m) {
    if (path.empty()) return;
    if (text.empty()) {
      if (resuming && std::filesystem::exists(path)) {
        std::vector<std::byte> old = read_file(path, kMaxTextFileBytes);
        text.assign(reinterpret_cast<const char*>(old.data()), old.size());
      }
      if (text.empty()) text = csv_header();
    }
    text += csv_row(m);
    write_text(path, text);
  }
};

int run_train(TrainArgs a) {
  if (!a.model.empty() && !a.model_file.empty()) raise<ConfigError>("--model and --model-file: give one, got both");
  if (!a.resume.empty() && (!a.model.empty() || !a.model_file.empty()))
    raise<ConfigError>("--resume continues the checkpoint's model; --model/--model-file cannot change it");
  if (a.threads < 0) raise<ConfigError>("--threads must be >= 0, got {}", a.threads);
  if (a.epochs < 1) raise<ConfigError>("--epochs must be >= 1, got {}", a.epochs);
  set_num_threads(a.threads);
  // Under mpirun every rank trains its share of each global batch; rank 0 alone writes files (and prints: main).
  const std::shared_ptr<Collective> group = dist::launched_by_mpi() ? dist::world() : nullptr;
  const int ranks = group ? group->size() : 1;
  const bool writer = !group || group->rank() == 0;

  Model model;
  std::unique_ptr<Optimizer> optimizer;
  std::vector<std::string> class_names;
  int64_t initial_epoch = 0;
  Checkpoint c = a.resume.empty() ? Checkpoint{} : load_any_checkpoint(a.resume);
  if (!a.resume.empty() && !c.optimizer) {
    // Not a checkpoint (an imported or locnet model file): a new run from its weights, fresh optimizer, epoch 0.
    model = std::move(c.model);
    class_names = std::move(c.state.class_names);
    optimizer = make_optimizer(a.optimizer, "--optimizer");
    std::printf("starting from the weights of %s (no optimizer state in it: a fresh %s, epoch 1)\n",
                a.resume.c_str(), optimizer->config().repr().c_str());
  } else if (!a.resume.empty()) {
    check_resume_options(a, c);
    if (a.epochs <= c.state.epoch) {
      std::printf("nothing to do: the checkpoint already has %lld epoch%s (--epochs counts them all; give more than "
                  "%lld to continue); no file written\n",
                  static_cast<long long>(c.state.epoch), c.state.epoch == 1 ? "" : "s",
                  static_cast<long long>(c.state.epoch));
      return 0;
    }
    model = std::move(c.model);
    class_names = std::move(c.state.class_names);
    optimizer = std::move(c.optimizer);
    initial_epoch = c.state.epoch;
    a.seed = c.state.seed;  // the run's shuffle sequence continues
    a.batch_size = c.state.batch_size;
    std::printf("resuming %s after epoch %lld\n", a.resume.c_str(), static_cast<long long>(initial_epoch));
  } else {
    std::string spec = a.model.empty() ? kDefaultModel : a.model;
    if (!a.model_file.empty()) {
      std::vector<std::byte> bytes = read_file(a.model_file, kMaxTextFileBytes);
      spec.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
    model = parse_model(spec);
    if (!model.input_shape()) raise<ConfigError>("the model needs an Input(shape) first, got '{}'", spec);
    model.build(*model.input_shape(), a.seed);
    optimizer = make_optimizer(a.optimizer, "--optimizer");
  }
  if (!a.class_names.empty()) {
    class_names = read_class_names(a.class_names);
    check_class_names(class_names, model, true, a.class_names);
  }

  TrainData data = load_train_data(a, model);
  std::error_code ec;  // a 10-class model trained on Fashion-MNIST itself gets its class names
  if (class_names.empty() && model.output_shape().dim(-1) == 10 && a.source.x.empty() &&
      std::filesystem::equivalent(a.data, kFashionMnistDir, ec))
    class_names.assign(std::begin(kFashionMnistClasses), std::end(kFashionMnistClasses));
  if (class_names.empty() && int64_t(data.class_names.size()) == model.output_shape().dim(-1))
    class_names = data.class_names;  // a CSV's categorical target
  // --validation-split: validate on the last fraction of the training data (before shuffling), not the test set
  std::shared_ptr<const Dataset> train_set = data.train, val_set = data.test;
  if (a.validation_split > 0) {
    Split split = validation_split(train_set, a.validation_split);
    train_set = split.train, val_set = split.validation;
  }
  const char* val_name = a.validation_split > 0 ? "val" : "test";
  if (a.normalize) {  // adapted to what trains, after any validation split
    if (!a.resume.empty()) raise<ConfigError>("--normalize adds a layer to a new model, got --resume");
    model = prepend_normalization(model, *train_set, a.seed);
  }
  if (ranks > 1 && !a.no_sync_bn) dist::convert_sync_batchnorm(model);  // the single-process result for any N
  std::printf("%s", model.summary().c_str());
  std::printf("training on %lld samples, %s on %lld, batch size %lld, %s, %d threads%s\n",
              static_cast<long long>(train_set->size()), a.validation_split > 0 ? "validating" : "testing",
              static_cast<long long>(val_set ? val_set->size() : 0),
              static_cast<long long>(a.batch_size), optimizer->config().repr().c_str(), num_threads(),
              ranks > 1 ? fmt::format(" per rank, {} ranks{}", ranks, a.no_sync_bn ? " (local BatchNorm statistics)"
                                                                                    : "").c_str()
                        : "");
  if (ends_in_softmax(model))
    std::printf("the model ends in softmax: the loss is the cross-entropy of its probabilities (from_logits=False)\n");
  std::fflush(stdout);

  // Open MPI hands rank 0 a pseudo-terminal even when mpirun's output goes to a file: no progress bar under it.
  const bool tty = ::isatty(::fileno(stdout)) && ranks == 1;
  const std::string title = fmt::format("locnet train: {} parameters, batch size {}, {}", model.param_count(),
                                        a.batch_size, optimizer->config().repr());
  FileLog log{a.log, initial_epoch > 0};
  std::vector<EpochMetrics> history;
  int64_t saved_epoch = initial_epoch;
  auto epoch_start = std::chrono::steady_clock::now();
  int64_t current_epoch = initial_epoch + 1;
  FitOptions o;
  o.epochs = a.epochs;
  o.initial_epoch = initial_epoch;
  o.batch_size = a.batch_size;
  o.seed = a.seed;
  o.patience = a.patience;
  o.loss = a.loss;
  o.metrics = split_list(a.metrics);
  o.monitor = a.monitor;
  o.class_weight = parse_class_weight(a.class_weight);
  if (!a.augment.empty()) o.augment = make_augmentation(a.augment);
  o.on_batch = [&](int64_t b, int64_t batches, double loss) {
    if (b == 1) epoch_start = std::chrono::steady_clock::now();
    if (!tty || (b % 8 != 0 && b != batches)) return;
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    double rate = double(std::min<int64_t>(b * a.batch_size, train_set->size())) / std::max(s, 1e-9);
    const int width = 30, done = int(width * b / batches);
    std::printf("\repoch %lld/%lld [%s%s] %lld/%lld loss %.4f %.0f samples/s ETA %s  ",
                static_cast<long long>(current_epoch), static_cast<long long>(a.epochs),
                std::string(size_t(done), '=').c_str(), std::string(size_t(width - done), ' ').c_str(),
                static_cast<long long>(b), static_cast<long long>(batches), loss, rate,
                duration(s / double(b) * double(batches - b)).c_str());
    std::fflush(stdout);
  };
  o.on_epoch = [&](const EpochMetrics& m) {
    if (tty) std::printf("\r%120s\r", "");
    std::string extra;  // --metrics, training then validation
    for (const std::string& name : o.metrics) {
      extra += fmt::format(" {} {:.4f}", name, m.metrics.at(name));
      if (m.validation) extra += fmt::format(" {}_{} {:.4f}", val_name, name, m.validation->metrics.at(name));
    }
    const std::string val = m.validation ? fmt::format(" - {} loss {:.4f} accuracy {:.4f}", val_name,
                                                       m.validation->loss, m.validation->accuracy)
                                         : "";
    std::printf("epoch %lld/%lld: loss %.4f accuracy %.4f%s -%s %.1f s (%.0f samples/s)\n",
                static_cast<long long>(m.epoch), static_cast<long long>(a.epochs), m.loss, m.accuracy, val.c_str(),
                extra.empty() ? "" : (extra + " -").c_str(), m.seconds, double(train_set->size()) / m.seconds);
    std::fflush(stdout);
    history.push_back(m);
    saved_epoch = m.epoch;
    current_epoch = m.epoch + 1;
    if (!writer) return;
    for (const std::string& file : {a.save, m.best ? a.save_best : std::string()})
      if (!file.empty())
        save_checkpoint(model, *optimizer,
                        {.epoch = m.epoch, .seed = a.seed, .batch_size = a.batch_size, .class_names = class_names},
                        file, InputScaling{"uint8", kIdxImageScale});
    log.append(m);
    if (!a.plot.empty()) write_text(a.plot, learning_curves_svg(history, title));
  };
  Profiler profiler;
  MachineLimits limits;
  if (a.profile) {
    limits = measure_machine_limits();
    o.profiler = &profiler;
    o.profile_steps = a.profile_steps;
  }
  o.collective = group;
  o.bucket_bytes = std::max<int64_t>(1, int64_t(a.bucket_mb * 1e6));
  o.check_replicas = a.check_replicas;
  FitResult r = fit(model, *optimizer, *train_set, val_set.get(), o);
  if (a.profile && profiler.steps() > 0) std::printf("%s", profile_table(profiler, limits).c_str());
  if (tty) std::printf("\r%120s\r", "");
  if (r.stopped.starts_with("the loss is")) {
    std::fprintf(stderr, "locnet: training stopped: %s; %s\n", r.stopped.c_str(),
                 saved_epoch > initial_epoch
                     ? fmt::format("the last good checkpoint is {} (epoch {})", a.save, saved_epoch).c_str()
                     : "no checkpoint was written");
    return 4;
  }
  if (!r.stopped.empty()) std::printf("%s\n", r.stopped.c_str());
  if (ranks > 1 && !history.empty()) {
    double seconds = 0;
    for (const EpochMetrics& m : history) seconds += m.seconds;
    std::printf("data-parallel: %d ranks, %.0f samples/s\n", ranks,
                double(train_set->size()) * double(history.size()) / std::max(seconds, 1e-9));
    const Communication& c = r.communication;
    const double steps = double(std::max<int64_t>(c.steps, 1));
    std::printf("gradient all-reduce: %lld buckets, %.2f MB per step; %.2f ms per step waited for after backward "
                "(the rest ran during it); backward with that wait %.2f ms per step\n",
                (long long)c.buckets, double(c.bytes_per_step) / 1e6, 1e3 * c.wait_seconds / steps,
                1e3 * c.backward_seconds / steps);
  }
  if (!history.empty() && history.back().validation)
    std::printf("%s accuracy %.4f; saved %s\n", val_name, history.back().validation->accuracy, a.save.c_str());
  else if (!history.empty())
    std::printf("saved %s\n", a.save.c_str());
  return 0;
}

int run_evaluate(const std::string& model_path, const std::string& dir, int64_t batch_size,
                 const std::string& class_names_file, const std::string& loss, const std::string& metrics) {
  Model model = load_any_model(model_path);
  const bool from_file = !class_names_file.empty();
  std::vector<std::string> names = from_file ? read_class_names(class_names_file) : load_any_class_names(model_path);
  check_class_names(names, model, from_file, from_file ? class_names_file : model_path);
  const bool folders = is_image_folder(dir + "/test");  // image folders test/<class>/ (train/image_folder.hpp)
  const std::shared_ptr<const Dataset> test =
      folders ? image_folder_dataset(dir + "/test", image_options_for(model.input_shape()->without_batch()))
              : [&] {
                  const LabeledData t = test_data(dir);
                  return tensor_dataset(t.x, t.y);
                }();
  // under mpirun each rank evaluates its share; every rank gets the totals (rank 0 prints them)
  EvalResult r = evaluate(model, *test, batch_size, loss, split_list(metrics),
                          dist::launched_by_mpi() ? dist::world() : nullptr);
  const size_t k = r.confusion.size();
  int width = 0;  // of the name column; none when the classes are only numbered
  for (const std::string& n : names) width = std::max(width, int(n.size()));
  std::printf("test loss %.4f, accuracy %.4f\n", r.loss, r.accuracy);
  for (const auto& [name, value] : r.metrics)
    if (name != "loss" && name != "accuracy") std::printf("%s %.4f\n", name.c_str(), value);
  const ClassScores scores = class_scores(r.confusion);
  std::printf("\nper-class accuracy:\n");
  for (size_t c = 0; c < k; ++c) {
    int64_t total = 0;
    for (int64_t v : r.confusion[c]) total += v;
    std::printf("  %2zu %-*s %6.4f  (%lld)  precision %6.4f recall %6.4f f1 %6.4f\n", c, width,
                names.empty() ? "" : names[c].c_str(), total ? double(r.confusion[c][c]) / double(total) : 0.0,
                static_cast<long long>(total), scores.precision[c], scores.recall[c], scores.f1[c]);
  }
  std::printf("\nconfusion matrix (rows: true class, columns: predicted):\n    ");
  for (size_t c = 0; c < k; ++c) std::printf("%6zu", c);
  std::printf("\n");
  for (size_t t = 0; t < k; ++t) {
    std::printf("%4zu", t);
    for (int64_t v : r.confusion[t]) std::printf("%6lld", static_cast<long long>(v));
    std::printf("\n");
  }
  return 0;
}

// Class probabilities: softmax of the logits, row by row (in double, shifted by the row's max).
Tensor softmax_rows(const Tensor& z) {
  Tensor p = Tensor::empty(z.shape(), z.dtype());
  const int64_t n = z.dim(0), k = z.dim(1);
  for (int64_t r = 0; r < n; ++r) {
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < k; ++j) mx = std::max(mx, z.item(r * k + j));
    for (int64_t j = 0; j < k; ++j) sum += std::exp(z.item(r * k + j) - mx);
    for (int64_t j = 0; j < k; ++j) p.set(r * k + j, std::exp(z.item(r * k + j) - mx) / sum);
  }
  return p;
}

// With class names known (the model file's), one line per sample: its input (an image file, or the row of a .npy),
// the most probable class's name and its probability.
void print_top_classes(const Tensor& p, const std::vector<std::string>& names, const std::vector<std::string>& inputs) {
  if (names.empty() || int64_t(names.size()) != p.dim(1)) return;
  for (int64_t r = 0; r < p.dim(0); ++r) {
    int64_t best = 0;
    for (int64_t j = 1; j < p.dim(1); ++j)
      if (p.item(r * p.dim(1) + j) > p.item(r * p.dim(1) + best)) best = j;
    const std::string input = int64_t(inputs.size()) == p.dim(0) ? inputs[size_t(r)] : fmt::format("{}[{}]", inputs[0], r);
    std::printf("%s: %s (%.4f)\n", input.c_str(), names[size_t(best)].c_str(), p.item(r * p.dim(1) + best));
  }
}

// The model file for predict, by its name: a Keras 2 .h5 model, a Keras architecture .json with its weights .h5,
// else a locnet model file. Keras models take their input unscaled (uint8 and images too: scale 1) and give their
// outputs as they are (Keras's model.predict).
struct PredictModel {
  Model model;
  std::optional<InputScaling> scaling;
  bool imported = false;
};
PredictModel load_predict_model(const std::string& path, const std::string& weights) {
  if (path.ends_with(".json")) {
    if (weights.empty()) raise<ConfigError>("predict: a Keras architecture .json needs --weights FILE.h5");
    return {load_keras_json(path, weights).model, InputScaling{"uint8", 1.0}, true};
  }
  if (!weights.empty()) raise<ConfigError>("predict: --weights is for a Keras architecture .json, got {}", path);
  PredictModel m;
  m.imported = model_file_kind(path) != "locnet";
  m.model = load_any_model(path, m.scaling);  // an imported model's scaling: uint8 at scale 1
  return m;
}

int run_predict(const std::string& model_path, const std::string& weights, const std::vector<std::string>& inputs,
                const std::string& output, bool to_gray) {
  auto [model, scaling, imported] = load_predict_model(model_path, weights);
  const Shape want = *model.input_shape();
  Tensor x = read_samples(inputs, want.without_batch(), scaling.value_or(InputScaling{}), to_gray);
  if (x.rank() < 1) raise<ShapeError>("--input: x must have a batch axis, got shape {}", x.shape().str());
  const int64_t per_sample = want.without_batch().numel();
  if (x.dim(0) > 0 && x.numel() / x.dim(0) == per_sample && x.shape().without_batch() != want.without_batch())
    x = x.reshape(want.with_dim(0, x.dim(0)));  // e.g. (N, 28, 28) images for a (28, 28, 1) input
  DType dt = model.named_params().empty() ? DType::f32 : model.named_params().front().second->value.dtype();
  Tensor z = model.forward(x.to(dt), Mode::Inference);
  if (imported) {
    write_npy(output, z.to(compute_dtype(x.dtype())));
    return 0;
  }
  if (z.rank() != 2) raise<ShapeError>("predict: the model output must be (batch, classes), got {}", z.shape().str());
  Tensor p = ends_in_softmax(model) ? z : softmax_rows(z);  // never a second softmax
  write_npy(output, p.to(compute_dtype(x.dtype())));
  print_top_classes(p, load_any_class_names(model_path), inputs);
  return 0;
}

// The data-source flags besides --data (train/sources.hpp, docs/data.md).
void add_data_source_options(CLI::App* cmd, DataOptions& o) {
  cmd->add_option("--x", o.x, "Training samples: an .npy (N, ...) of any numeric dtype, memory-mapped, or an IDX file");
  cmd->add_option("--y", o.y, "Training labels (integer .npy (N,)) or float targets, or an IDX file");
  cmd->add_option("--val-x", o.val_x, "Validation samples, as --x");
  cmd->add_option("--val-y", o.val_y, "Validation labels, as --y");
  cmd->add_option("--x-key", o.x_key, "The samples' array in an .npz (default: x, else x_train, else the first)");
  cmd->add_option("--y-key", o.y_key, "The labels' array in an .npz (default: y, else y_train, else the second)");
  cmd->add_option("--target", o.targets, "A .csv's target column (repeat for several; default: the last column)");
}

}  // namespace

void add_train(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("train", "Train a classifier on Fashion-MNIST (or any MNIST-format data), "
                                          "writing a checkpoint after each epoch");
  auto a = std::make_shared<TrainArgs>();
  auto* m = cmd->add_option("--model", a->model, "Network spec starting with Input(shape) (default: the README's network)");
  cmd->add_option("--model-file", a->model_file, "A text file holding the network spec")->excludes(m);
  auto* data = cmd->add_option("--data", a->data, "Directory of {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz], "
                                                  "image folders (<class>/ or train/<class>/ and test/<class>/), an "
                                                  ".npz or a .csv (docs/data.md)")
                   ->default_str(kFashionMnistDir);
  add_data_source_options(cmd, a->source);
  cmd->add_option("--epochs", a->epochs, "Epochs to train (in all, counting those of a resumed checkpoint; with "
                                         "--resume, at most the checkpoint's: nothing to do, exit 0)")
      ->default_val(a->epochs);
  auto* batch_size =
      cmd->add_option("--batch-size", a->batch_size, "Samples per step (with --resume: the checkpoint's)")
          ->default_val(a->batch_size);
  auto* optimizer = cmd->add_option("--optimizer", a->optimizer, "Optimizer spec, e.g. 'SGD(0.1, momentum=0.9)' "
                                                                 "(with --resume: the checkpoint's)")
                        ->default_str(a->optimizer);
  auto* seed = cmd->add_option("--seed", a->seed, "Seed of the initializers and the shuffling (with --resume: the "
                                                  "checkpoint's; an integer >= 0)")
                   ->default_val(0)
                   ->check(non_negative_integer());
  cmd->add_option("--save", a->save, "Model file, rewritten after each epoch as a checkpoint (weights, spec, "
                                     "optimizer state)")->default_str(a->save);
  cmd->add_option("--plot", a->plot, "SVG of the learning curves, rewritten after each epoch");
  cmd->add_option("--log", a->log, "CSV of the per-epoch metrics");
  cmd->add_option("--threads", a->threads, "Threads (0: OMP_NUM_THREADS or the core count)")->default_val(0);
  cmd->add_option("--resume", a->resume, "Continue from a checkpoint written by --save; or start from the weights "
                                         "of any model file (.safetensors, .h5, .keras, .onnx) with a fresh "
                                         "--optimizer at epoch 1");
  cmd->add_option("--patience", a->patience, "Stop after this many epochs without improvement of --monitor (0: never)")
      ->default_val(0);
  cmd->add_flag("--profile", a->profile,
                "Time --profile-steps training steps per layer after 2 warm-up steps, print the table and stop "
                "(no checkpoint is written; docs/profiling.md)");
  cmd->add_option("--profile-steps", a->profile_steps, "Profiled steps")
      ->default_val(a->profile_steps)
      ->check(CLI::PositiveNumber);
  cmd->add_option("--class-names", a->class_names, "Text file of the class names, one a line, stored in the model "
                                                   "file (default: Fashion-MNIST's when training on it)");
  cmd->add_flag("--normalize", a->normalize, "Prepend a Normalization layer adapted to the training set's mean and "
                                             "variance per channel, saved with the model (docs/augmentation.md)");
  cmd->add_option("--augment", a->augment, "Augment the training images, e.g. 'crop=4,flip,translate=0.1' "
                                           "(docs/augmentation.md)");
  cmd->add_option("--loss", a->loss, "Loss spec: sparse_categorical_crossentropy (default for classes), mse, mae, "
                                     "huber(delta=1.0), binary_crossentropy, ... (docs/training.md)");
  cmd->add_option("--metrics", a->metrics, "Metrics to report, comma-separated: accuracy, top_k_accuracy, "
                                           "precision, recall, f1, mae, rmse, ... (docs/training.md)");
  cmd->add_option("--validation-split", a->validation_split, "Validate on this last fraction of the training data "
                                                             "(taken before shuffling) instead of the test set")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--monitor", a->monitor, "What --patience watches: loss, accuracy or a --metrics name, val_ for "
                                           "the validation data")
      ->default_str(a->monitor);
  cmd->add_option("--save-best", a->save_best, "Also save the model here after each epoch that improves --monitor");
  cmd->add_option("--class-weight", a->class_weight, "Loss weight per class: 0=1,1=5 or a JSON file {\"0\": 1, ...}");
  cmd->add_option("--bucket-mb", a->bucket_mb, "Under mpirun, the gradient all-reduce bucket size in MB: smaller "
                                               "buckets start during backward, larger ones pay less latency")
      ->default_str("1")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--check-replicas", a->check_replicas, "Under mpirun, compare a hash of every rank's parameters "
                                                       "after each epoch (a debug check: an error names the ranks)");
  cmd->add_flag("--no-sync-bn", a->no_sync_bn, "Under mpirun, keep each rank's BatchNorm statistics local "
                                               "(default: synchronized over the global batch, docs/distributed.md)");
  cmd->callback([&action, a, batch_size, optimizer, seed, data] {
    a->data_given = data->count() > 0;
    a->batch_size_given = batch_size->count() > 0;
    a->optimizer_given = optimizer->count() > 0;
    a->seed_given = seed->count() > 0;
    action = [a] { return run_train(*a); };
  });
}

void add_evaluate(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("evaluate", "Accuracy, per-class accuracy and confusion matrix of a model file");
  auto model = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>(kFashionMnistDir);
  auto batch = std::make_shared<int64_t>(256);
  auto names = std::make_shared<std::string>();
  auto loss = std::make_shared<std::string>(), metrics = std::make_shared<std::string>();
  cmd->add_option("model", *model, "Model file: locnet train's, Keras .h5/.keras or ONNX")->required();
  cmd->add_option("--loss", *loss, "Loss spec (default: the cross-entropy of the model's classes)");
  cmd->add_option("--metrics", *metrics, "More metrics, comma-separated (docs/training.md)");
  cmd->add_option("--data", *data, "Directory of t10k-{images-idx3,labels-idx1}-ubyte[.gz], or of an image folder "
                                   "test/<class>/")->default_str(*data);
  cmd->add_option("--batch-size", *batch, "Samples per forward pass")->default_val(256);
  cmd->add_option("--class-names", *names, "Text file of the class names, one a line (default: those in the model "
                                           "file, else the classes are numbered)");
  cmd->callback([&action, model, data, batch, names, loss, metrics] {
    action = [=] { return run_evaluate(*model, *data, *batch, *names, *loss, *metrics); };
  });
}

void add_predict(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("predict", "Class probabilities of a model on .npy input or PNG/JPEG images: its "
                                            "output when it ends in softmax, else the softmax of its logits");
  auto model = std::make_shared<std::string>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto output = std::make_shared<std::string>();
  auto to_gray = std::make_shared<bool>(false);
  auto weights = std::make_shared<std::string>();
  cmd->add_option("model", *model, "Model file: locnet train's, a Keras .h5/.keras, an ONNX file, or a Keras "
                                   "architecture .json (with --weights); imported models write their outputs as they are")
      ->required();
  cmd->add_option("--weights", *weights, "The save_weights .h5 of a Keras architecture .json");
  cmd->add_option("--input", *inputs,
                  "Samples: one .npy (axis 0 the batch; uint8 is scaled as in training) or PNG/JPEG images, one "
                  "sample each (docs/predict.md)")
      ->required();
  cmd->add_option("--output", *output, "Probabilities (batch, classes) (.npy)")->required();
  cmd->add_flag("--to-gray", *to_gray, "Convert RGB images to grayscale for a one-channel model");
  cmd->callback([&action, model, weights, inputs, output, to_gray] {
    action = [=] { return run_predict(*model, *weights, *inputs, *output, *to_gray); };
  });
}

}  // namespace locnet::cli
