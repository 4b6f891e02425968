// locnet train / evaluate / predict: the Fashion-MNIST main job (train/trainer.hpp, train/checkpoint.hpp).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "commands.hpp"
#include "locnet/core/parallel.hpp"
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
#include "locnet/train/trainer.hpp"
#include "locnet/train/samples.hpp"

namespace locnet::cli {

// The default network: Conv2D + BatchNormalization blocks, LocalResponseNorm across channels, a
// LocallyConnected2D on the 7x7 feature map (unshared weights per position), then a Dense classifier.
const char* const kDefaultModel =
    "Input((28, 28, 1))"
    " >> Conv2D(32, 3, padding='same', use_bias=False) >> BatchNorm2D() >> Activation('relu')"
    " >> MaxPooling2D(2)"
    " >> Conv2D(32, 3, padding='same', use_bias=False) >> BatchNorm2D() >> Activation('relu')"
    " >> LocalResponseNorm() >> MaxPooling2D(2)"
    " >> LocallyConnected2D(32, 3) >> BatchNorm2D() >> Activation('relu')"
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
  bool normalize = false;
  std::string augment;
};

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

  MnistData data = load_mnist(a.data);
  std::error_code ec;  // a 10-class model trained on Fashion-MNIST itself gets its class names
  if (class_names.empty() && model.output_shape().dim(-1) == 10 &&
      std::filesystem::equivalent(a.data, kFashionMnistDir, ec))
    class_names.assign(std::begin(kFashionMnistClasses), std::end(kFashionMnistClasses));
  LabeledData train{data.train.images, data.train.labels}, test{data.test.images, data.test.labels};
  if (a.normalize) {
    if (!a.resume.empty()) raise<ConfigError>("--normalize adds a layer to a new model, got --resume");
    model = prepend_normalization(model, *tensor_dataset(train.x, train.y), a.seed);
  }
  std::printf("%s", model.summary().c_str());
  std::printf("training on %lld samples, testing on %lld, batch size %lld, %s, %d threads\n",
              static_cast<long long>(train.y.size()), static_cast<long long>(test.y.size()),
              static_cast<long long>(a.batch_size), optimizer->config().repr().c_str(), num_threads());
  if (ends_in_softmax(model))
    std::printf("the model ends in softmax: the loss is the cross-entropy of its probabilities (from_logits=False)\n");
  std::fflush(stdout);

  const bool tty = ::isatty(::fileno(stdout));
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
  if (!a.augment.empty()) o.augment = make_augmentation(a.augment);
  o.on_batch = [&](int64_t b, int64_t batches, double loss) {
    if (b == 1) epoch_start = std::chrono::steady_clock::now();
    if (!tty || (b % 8 != 0 && b != batches)) return;
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    double rate = double(std::min<int64_t>(b * a.batch_size, int64_t(train.y.size()))) / std::max(s, 1e-9);
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
    std::printf("epoch %lld/%lld: loss %.4f accuracy %.4f - test loss %.4f accuracy %.4f - %.1f s (%.0f samples/s)\n",
                static_cast<long long>(m.epoch), static_cast<long long>(a.epochs), m.loss, m.accuracy,
                m.validation->loss, m.validation->accuracy, m.seconds, double(train.y.size()) / m.seconds);
    std::fflush(stdout);
    history.push_back(m);
    save_checkpoint(model, *optimizer,
                    {.epoch = m.epoch, .seed = a.seed, .batch_size = a.batch_size, .class_names = class_names}, a.save,
                    InputScaling{"uint8", kIdxImageScale});
    saved_epoch = m.epoch;
    log.append(m);
    if (!a.plot.empty()) write_text(a.plot, learning_curves_svg(history, title));
    current_epoch = m.epoch + 1;
  };
  Profiler profiler;
  MachineLimits limits;
  if (a.profile) {
    limits = measure_machine_limits();
    o.profiler = &profiler;
    o.profile_steps = a.profile_steps;
  }
  FitResult r = fit(model, *optimizer, train, &test, o);
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
  if (!history.empty())
    std::printf("test accuracy %.4f; saved %s\n", history.back().validation->accuracy, a.save.c_str());
  return 0;
}

int run_evaluate(const std::string& model_path, const std::string& dir, int64_t batch_size,
                 const std::string& class_names_file) {
  Model model = load_any_model(model_path);
  const bool from_file = !class_names_file.empty();
  std::vector<std::string> names = from_file ? read_class_names(class_names_file) : load_any_class_names(model_path);
  check_class_names(names, model, from_file, from_file ? class_names_file : model_path);
  EvalResult r = evaluate(model, test_data(dir), batch_size);
  const size_t k = r.confusion.size();
  int width = 0;  // of the name column; none when the classes are only numbered
  for (const std::string& n : names) width = std::max(width, int(n.size()));
  std::printf("test loss %.4f, accuracy %.4f\n\nper-class accuracy:\n", r.loss, r.accuracy);
  for (size_t c = 0; c < k; ++c) {
    int64_t total = 0;
    for (int64_t v : r.confusion[c]) total += v;
    std::printf("  %2zu %-*s %6.4f  (%lld)\n", c, width, names.empty() ? "" : names[c].c_str(),
                total ? double(r.confusion[c][c]) / double(total) : 0.0, static_cast<long long>(total));
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
  return 0;
}

}  // namespace

void add_train(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("train", "Train a classifier on Fashion-MNIST (or any MNIST-format data), "
                                          "writing a checkpoint after each epoch");
  auto a = std::make_shared<TrainArgs>();
  auto* m = cmd->add_option("--model", a->model, "Network spec starting with Input(shape) (default: the README's network)");
  cmd->add_option("--model-file", a->model_file, "A text file holding the network spec")->excludes(m);
  cmd->add_option("--data", a->data, "Directory of {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]")
      ->default_str(kFashionMnistDir);
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
  cmd->add_option("--patience", a->patience, "Stop after this many epochs without a lower test loss (0: never)")
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
  cmd->callback([&action, a, batch_size, optimizer, seed] {
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
  cmd->add_option("model", *model, "Model file: locnet train's, Keras .h5/.keras or ONNX")->required();
  cmd->add_option("--data", *data, "Directory of t10k-{images-idx3,labels-idx1}-ubyte[.gz]")->default_str(*data);
  cmd->add_option("--batch-size", *batch, "Samples per forward pass")->default_val(256);
  cmd->add_option("--class-names", *names, "Text file of the class names, one a line (default: those in the model "
                                           "file, else the classes are numbered)");
  cmd->callback([&action, model, data, batch, names] {
    action = [=] { return run_evaluate(*model, *data, *batch, *names); };
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
