// `locnet train / evaluate / predict` end to end on a tiny MNIST-format data set written here (3 classes of 8x8
// images: a bright row at the top, in the middle or at the bottom, plus noise; synthetic): plain per-epoch lines,
// model, CSV log and SVG plot written; evaluate and predict agree with the model file loaded in-process; a model
// ending in softmax is not softmaxed twice; class names come from the model file or --class-names, else classes
// are numbered; resuming a checkpoint gives the weights of an uninterrupted run and refuses options that would
// change it; corrupt model -> exit 3; a diverging run -> exit 4.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/cli_run.hpp"
#include "gradcheck.hpp"
#include "io/write_idx.hpp"
#include "locnet/core/rng.hpp"
#include "locnet/interop/onnx.hpp"
#include "locnet/io/file.hpp"
#include "locnet/io/idx.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/train/checkpoint.hpp"
#include "locnet/train/trainer.hpp"

using namespace locnet;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kSide = 8, kTrain = 48, kTest = 24;
const char* kSpec =
    "Input((8, 8, 1)) >> Conv2D(4, 3, padding='same') >> BatchNorm2D() >> LocalResponseNorm(depth_radius=3) >> "
    "MaxPooling2D(2) >> LocallyConnected2D(2, 2, strides=2) >> Flatten() >> Dense(3)";

void write_set(const std::string& dir, const std::string& prefix, int64_t n, uint64_t seed, int64_t classes = 3) {
  Rng rng(seed);
  IdxArray images{0x08, {n, kSide, kSide}, {}}, labels{0x08, {n}, {}};
  for (int64_t i = 0; i < n; ++i) {
    const int64_t cls = i % classes, bright_row = (1 + 3 * cls) % kSide;
    labels.data.push_back(static_cast<unsigned char>(cls));
    for (int64_t r = 0; r < kSide; ++r)
      for (int64_t c = 0; c < kSide; ++c)
        images.data.push_back(static_cast<unsigned char>((r == bright_row ? 180 : 0) + rng.below(60)));
  }
  write_idx(dir + "/" + prefix + "-images-idx3-ubyte.gz", images, true);
  write_idx(dir + "/" + prefix + "-labels-idx1-ubyte", labels);
}

class CliTrain : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("locnet_cli_train_{}_{}", getpid(),
                                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "data");
    write_set(path("data"), "train", kTrain, 1);
    write_set(path("data"), "t10k", kTest, 2);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write_text(const std::string& name, const std::string& text) const { std::ofstream(path(name)) << text; }
  std::string slurp(const std::string& name) const {
    std::vector<std::byte> b = read_file(path(name));
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  CliRun train(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"train", "--data", path("data"), "--batch-size", "8", "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  }
  fs::path dir_;
};

}  // namespace

TEST_F(CliTrain, TrainsAndWritesModelLogAndPlot) {
  CliRun r = train({"--model", kSpec, "--epochs", "3", "--optimizer", "Adam(0.01)", "--save", path("m.safetensors"),
                    "--log", path("log.csv"), "--plot", path("curves.svg")});
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* s : {"epoch 1/3: loss", "epoch 3/3: loss", "samples/s", "test accuracy", "Total params"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << "no progress bar when stdout is not a terminal";

  std::string csv = slurp("log.csv");
  EXPECT_TRUE(csv.starts_with("epoch,loss,accuracy,val_loss,val_accuracy,seconds\n1,")) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4) << csv;
  std::string svg = slurp("curves.svg");
  EXPECT_TRUE(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"")) << svg.substr(0, 80);
  for (const char* s : {">loss</text>", ">accuracy</text>", "<polyline", "stroke-dasharray", ">test</text>"})
    EXPECT_NE(svg.find(s), std::string::npos) << s;
  EXPECT_TRUE(svg.ends_with("</svg>\n"));

  // The model is usable: well above chance (1/3) on the test images after 3 epochs of this easy task.
  Sequential model = load_model(path("m.safetensors"));
  LabeledImages test = load_idx_images(path("data/t10k-images-idx3-ubyte.gz"), path("data/t10k-labels-idx1-ubyte"));
  EvalResult e = evaluate(model, {test.images, test.labels});
  EXPECT_GT(e.accuracy, 0.6);

  CliRun ev = run({"evaluate", path("m.safetensors"), "--data", path("data")});
  ASSERT_EQ(ev.status, 0) << ev.out;
  EXPECT_NE(ev.out.find(fmt::format("accuracy {:.4f}", e.accuracy)), std::string::npos) << ev.out;
  EXPECT_NE(ev.out.find("per-class accuracy"), std::string::npos) << ev.out;
  std::string row0 = fmt::format("   0{:6}{:6}{:6}", e.confusion[0][0], e.confusion[0][1], e.confusion[0][2]);
  EXPECT_NE(ev.out.find(row0), std::string::npos) << row0 << "\n" << ev.out;

  // predict on (N, 8, 8) images: probabilities whose rows sum to 1 and whose argmax is the model's.
  Tensor x = test.images.reshape(Shape{kTest, kSide, kSide});
  write_npy(path("x.npy"), x);
  CliRun pr = run({"predict", path("m.safetensors"), "--input", path("x.npy"), "--output", path("p.npy")});
  ASSERT_EQ(pr.status, 0) << pr.out;
  Tensor p = read_npy(path("p.npy"));
  ASSERT_EQ(p.shape(), (Shape{kTest, 3}));
  Tensor z = model.forward(test.images, Mode::Inference);
  for (int64_t i = 0; i < kTest; ++i) {
    double sum = 0;
    int64_t best_p = 0, best_z = 0;
    for (int64_t k = 0; k < 3; ++k) {
      sum += p.item(i * 3 + k);
      if (p.item(i * 3 + k) > p.item(i * 3 + best_p)) best_p = k;
      if (z.item(i * 3 + k) > z.item(i * 3 + best_z)) best_z = k;
    }
    EXPECT_NEAR(sum, 1.0, 1e-5) << i;
    EXPECT_EQ(best_p, best_z) << i;
  }
}

TEST_F(CliTrain, ResumeContinuesTheSameRun) {
  ASSERT_EQ(train({"--model", kSpec, "--epochs", "2", "--seed", "3", "--save", path("full.safetensors")}).status, 0);
  ASSERT_EQ(train({"--model", kSpec, "--epochs", "1", "--seed", "3", "--save", path("half.safetensors")}).status, 0);
  CliRun r = train({"--resume", path("half.safetensors"), "--epochs", "2", "--save", path("resumed.safetensors"),
                    "--log", path("log.csv")});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("after epoch 1"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("epoch 1/2:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epoch 2/2:"), std::string::npos) << r.out;
  Checkpoint full = load_checkpoint(path("full.safetensors")), resumed = load_checkpoint(path("resumed.safetensors"));
  EXPECT_EQ(resumed.state.epoch, 2);
  EXPECT_EQ(resumed.optimizer->iterations(), full.optimizer->iterations());
  auto pf = full.model.named_params(), pr = resumed.model.named_params();
  ASSERT_EQ(pf.size(), pr.size());
  for (size_t i = 0; i < pf.size(); ++i) EXPECT_TRUE(pf[i].second->value.equal(pr[i].second->value)) << pf[i].first;
}

// --resume from a file without optimizer state (an ONNX file, tests/cli/formats/generate.py: Flatten + Gemm for
// these 8x8 images, 3 classes) starts a new run from its weights with a fresh optimizer; evaluate reads it too.
TEST_F(CliTrain, ResumeFromAnImportedModelStartsFromItsWeights) {
  const std::string onnx = std::string(LOCNET_SOURCE_DIR) + "/tests/cli/formats/dense_8x8.onnx";
  CliRun ev = run({"evaluate", onnx, "--data", path("data")});
  ASSERT_EQ(ev.status, 0) << ev.out;
  EXPECT_NE(ev.out.find("per-class accuracy"), std::string::npos) << ev.out;
  CliRun r = train({"--resume", onnx, "--epochs", "1", "--optimizer", "SGD(0.0)", "--save", path("o.safetensors")});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("starting from the weights of"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("epoch 1/1:"), std::string::npos) << r.out;
  // A learning rate of 0 keeps the imported weights: the checkpoint holds the ONNX file's initializers.
  Checkpoint c = load_checkpoint(path("o.safetensors"));
  EXPECT_EQ(c.state.epoch, 1);
  Model imported = read_onnx(onnx);
  auto pi = imported.named_params(), pc = c.model.named_params();
  ASSERT_EQ(pi.size(), pc.size());
  for (size_t i = 0; i < pi.size(); ++i) EXPECT_TRUE(pi[i].second->value.equal(pc[i].second->value)) << pi[i].first;
  CliRun again = train({"--resume", path("o.safetensors"), "--epochs", "2", "--save", path("o2.safetensors")});
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("after epoch 1"), std::string::npos) << again.out;
}

TEST_F(CliTrain, ErrorsHaveTheirExitStatus) {
  ASSERT_EQ(train({"--model", kSpec, "--epochs", "1", "--save", path("m.safetensors")}).status, 0);
  std::vector<std::byte> bytes = read_file(path("m.safetensors"));
  std::ofstream(path("cut.safetensors"), std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size() - 16));
  CliRun cut = run({"evaluate", path("cut.safetensors"), "--data", path("data")});
  EXPECT_EQ(cut.status, 3) << cut.out;
  EXPECT_NE(cut.out.find(path("cut.safetensors")), std::string::npos) << cut.out;
  EXPECT_EQ(run({"predict", path("missing.safetensors"), "--input", path("x.npy"), "--output", path("p.npy")}).status,
            3);
  EXPECT_EQ(run({"train", "--data", path("nowhere"), "--model", kSpec}).status, 3);

  CliRun both = train({"--model", kSpec, "--model-file", path("m.txt")});
  EXPECT_EQ(both.status, 2) << both.out;
  CliRun no_input = train({"--model", "Dense(3)"});
  EXPECT_EQ(no_input.status, 2) << no_input.out;
  EXPECT_NE(no_input.out.find("Input(shape)"), std::string::npos) << no_input.out;
  CliRun no_bucket = train({"--model", kSpec, "--bucket-mb", "0"});  // a usage error, with or without mpirun
  EXPECT_EQ(no_bucket.status, 2) << no_bucket.out;
  EXPECT_NE(no_bucket.out.find("--bucket-mb"), std::string::npos) << no_bucket.out;

  CliRun diverged = train({"--model", "Input((8, 8, 1)) >> Flatten() >> Dense(8, activation='tanh') >> Dense(3)",
                           "--epochs", "2", "--optimizer", "SGD(1e200)", "--save", path("d.safetensors")});
  EXPECT_EQ(diverged.status, 4) << diverged.out;
  EXPECT_NE(diverged.out.find("training stopped: the loss is"), std::string::npos) << diverged.out;
  EXPECT_NE(diverged.out.find(" at epoch "), std::string::npos) << diverged.out;
  EXPECT_NE(diverged.out.find(", batch "), std::string::npos) << diverged.out;
}

// A model ending in softmax outputs probabilities: predict writes them as they are (no second softmax), and
// training reports the cross-entropy of those probabilities (the CSV's val_loss is -log p[y] of the saved model).
TEST_F(CliTrain, ModelEndingInSoftmaxIsNotSoftmaxedTwice) {
  const char* spec = "Input((8, 8, 1)) >> Flatten() >> Dense(3, activation='softmax')";
  CliRun r = train({"--model", spec, "--epochs", "2", "--optimizer", "Adam(0.05)", "--save", path("m.safetensors"),
                    "--log", path("log.csv")});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("ends in softmax"), std::string::npos) << r.out;
  Sequential model = load_model(path("m.safetensors"));
  LabeledImages test = load_idx_images(path("data/t10k-images-idx3-ubyte.gz"), path("data/t10k-labels-idx1-ubyte"));
  Tensor want = model.forward(test.images, Mode::Inference);
  double loss = 0;
  for (int64_t i = 0; i < kTest; ++i) loss -= std::log(want.item(i * 3 + test.labels[size_t(i)])) / kTest;
  std::string csv = slurp("log.csv");
  size_t row2 = csv.find("\n2,");
  ASSERT_NE(row2, std::string::npos) << csv;
  std::vector<std::string> cells;
  for (size_t at = row2 + 1, end; (end = csv.find_first_of(",\n", at)) != std::string::npos; at = end + 1)
    cells.push_back(csv.substr(at, end - at));
  ASSERT_GE(cells.size(), 4u) << csv;
  EXPECT_NEAR(std::stod(cells[3]), loss, 1e-4) << csv;  // val_loss

  write_npy(path("x.npy"), test.images);
  CliRun pr = run({"predict", path("m.safetensors"), "--input", path("x.npy"), "--output", path("p.npy")});
  ASSERT_EQ(pr.status, 0) << pr.out;
  Tensor p = read_npy(path("p.npy"));
  ASSERT_EQ(p.shape(), want.shape());
  EXPECT_LE(max_scaled_error(p, want, 1e-6, 1e-7), 1.0);
}

// Class names: numbered when the model file has none (whatever the class count: here 10), from --class-names
// (their number checked), or stored in the model file by `train --class-names` and shown by evaluate.
TEST_F(CliTrain, ClassNamesComeFromTheModelFileOrAFile) {
  write_set(path("data"), "t10k", 20, 5, 10);
  Sequential ten = parse_model("Input((8, 8, 1)) >> Flatten() >> Dense(10)");
  ten.build(*ten.input_shape(), 1);
  save_model(ten, path("ten.safetensors"));
  CliRun numbered = run({"evaluate", path("ten.safetensors"), "--data", path("data")});
  ASSERT_EQ(numbered.status, 0) << numbered.out;
  EXPECT_EQ(numbered.out.find("T-shirt"), std::string::npos) << numbered.out;
  EXPECT_EQ(numbered.out.find("Ankle boot"), std::string::npos) << numbered.out;
  EXPECT_NE(numbered.out.find("\n   9  "), std::string::npos) << numbered.out;

  std::string digits;
  for (int d = 0; d < 10; ++d) digits += fmt::format("digit {}\n", d);
  write_text("digits.txt", digits);
  CliRun named =
      run({"evaluate", path("ten.safetensors"), "--data", path("data"), "--class-names", path("digits.txt")});
  ASSERT_EQ(named.status, 0) << named.out;
  EXPECT_NE(named.out.find("\n   9 digit 9 "), std::string::npos) << named.out;
  write_text("three.txt", "a\nb\nc\n");
  CliRun wrong = run({"evaluate", path("ten.safetensors"), "--data", path("data"), "--class-names", path("three.txt")});
  EXPECT_EQ(wrong.status, 2) << wrong.out;
  EXPECT_NE(wrong.out.find("the number of names must be 10 (the model's classes), got 3"), std::string::npos)
      << wrong.out;

  write_set(path("data"), "t10k", kTest, 2);  // back to 3 classes
  write_text("rows.txt", "top\nmiddle\nbottom\n");
  ASSERT_EQ(train({"--model", kSpec, "--epochs", "1", "--save", path("m.safetensors"), "--class-names",
                   path("rows.txt")}).status, 0);
  EXPECT_EQ(load_class_names(path("m.safetensors")), (std::vector<std::string>{"top", "middle", "bottom"}));
  CliRun stored = run({"evaluate", path("m.safetensors"), "--data", path("data")});
  ASSERT_EQ(stored.status, 0) << stored.out;
  EXPECT_NE(stored.out.find("\n   2 bottom "), std::string::npos) << stored.out;
  CliRun bad = train({"--model", kSpec, "--epochs", "1", "--save", path("x.safetensors"), "--class-names",
                      path("digits.txt")});
  EXPECT_EQ(bad.status, 2) << bad.out;
  EXPECT_FALSE(fs::exists(path("x.safetensors")));
}

// The default run on Fashion-MNIST itself stores the data set's class names (a one-layer model, one epoch).
// Needs the data set (Debian's dataset-fashion-mnist); skipped without it.
TEST_F(CliTrain, FashionMnistRunStoresItsClassNames) {
  if (!fs::exists(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "no Fashion-MNIST in " << kFashionMnistDir;
  CliRun r = run({"train", "--model", "Input((28, 28, 1)) >> Flatten() >> Dense(10)", "--epochs", "1", "--batch-size",
                  "1000", "--save", path("f.safetensors")});
  ASSERT_EQ(r.status, 0) << r.out;
  std::vector<std::string> names = load_class_names(path("f.safetensors"));
  ASSERT_EQ(names.size(), 10u);
  EXPECT_EQ(names[0], "T-shirt/top");
  EXPECT_EQ(names[9], "Ankle boot");
}

// --resume continues the checkpoint's run: a different --batch-size, --optimizer or --seed is refused (exit 2,
// naming both values), the same ones are accepted; --epochs at or below the checkpoint's says so and writes nothing.
TEST_F(CliTrain, ResumeRefusesOptionsThatWouldChangeTheRun) {
  ASSERT_EQ(train({"--model", kSpec, "--epochs", "1", "--optimizer", "SGD(0.05)", "--save", path("half.safetensors")})
                .status, 0);
  auto resume = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"train", "--data", path("data"), "--resume", path("half.safetensors"),
                                     "--save", path("out.safetensors")};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  };
  CliRun batch = resume({"--epochs", "2", "--batch-size", "16"});
  EXPECT_EQ(batch.status, 2) << batch.out;
  EXPECT_NE(batch.out.find("--batch-size must be the checkpoint's 8 (or left out), got 16"), std::string::npos)
      << batch.out;
  CliRun opt = resume({"--epochs", "2", "--optimizer", "Adam(0.05)"});
  EXPECT_EQ(opt.status, 2) << opt.out;
  EXPECT_NE(opt.out.find("--optimizer must be the checkpoint's SGD("), std::string::npos) << opt.out;
  EXPECT_NE(opt.out.find("got Adam("), std::string::npos) << opt.out;
  CliRun seed = resume({"--epochs", "2", "--seed", "9"});
  EXPECT_EQ(seed.status, 2) << seed.out;
  EXPECT_FALSE(fs::exists(path("out.safetensors")));

  CliRun done = resume({"--epochs", "1"});
  EXPECT_EQ(done.status, 0) << done.out;
  EXPECT_NE(done.out.find("nothing to do: the checkpoint already has 1 epoch "), std::string::npos) << done.out;
  EXPECT_EQ(resume({"--epochs", "0"}).status, 2);
  EXPECT_FALSE(fs::exists(path("out.safetensors")));

  CliRun same = resume({"--epochs", "2", "--batch-size", "8", "--optimizer", "SGD(learning_rate=0.05)", "--seed", "0"});
  EXPECT_EQ(same.status, 0) << same.out;
  EXPECT_EQ(load_checkpoint(path("out.safetensors")).state.epoch, 2);
}

// Issue 32's flags: --metrics (training and validation columns), --validation-split (the last fraction of the
// training set, not the test set), --monitor on a metric, --class-weight inline and as JSON; evaluate --metrics
// and the per-class precision/recall/F1; the usage errors.
TEST_F(CliTrain, LossMetricsValidationSplitAndClassWeights) {
  write_text("cw.json", R"({"0": 1, "2": 3.5})");
  CliRun r = train({"--model", kSpec, "--epochs", "2", "--save", path("m.safetensors"), "--metrics",
                    "top2_accuracy,f1", "--validation-split", "0.25", "--monitor", "val_f1", "--patience", "5",
                    "--class-weight", path("cw.json"), "--save-best", path("best.safetensors")});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(path("best.safetensors")));  // the first epoch always improves
  for (const char* s : {"training on 36 samples, validating on 12", "- val loss ", " top2_accuracy ",
                        " val_top2_accuracy ", " val_f1 ", "val accuracy "})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  CliRun ev = run({"evaluate", path("m.safetensors"), "--data", path("data"), "--metrics", "recall,top2_accuracy"});
  ASSERT_EQ(ev.status, 0) << ev.out;
  for (const char* s : {"\nrecall ", "\ntop2_accuracy ", " precision ", " f1 ", "confusion matrix"})
    EXPECT_NE(ev.out.find(s), std::string::npos) << s << "\n" << ev.out;
  const std::pair<std::vector<std::string>, const char*> bad[] = {
      {{"--loss", "mse"}, "fit: loss mean_squared_error needs float targets of the output's shape, got class labels"},
      {{"--loss", "msle"}, "fit: loss must be one of"},
      {{"--metrics", "auc"}, "metrics: unknown metric 'auc'"},
      {{"--monitor", "val_auc"}, "monitor must be loss, accuracy, val_loss or val_accuracy, got 'val_auc'"},
      {{"--class-weight", "0=1,x=2"}, "--class-weight '0=1,x=2': each entry must be class=weight with a class >= 0 "
                                      "and a weight >= 0, got x=2"},
      {{"--class-weight", "1=-3"}, "got 1=-3"}};
  for (const auto& [args, message] : bad) {
    std::vector<std::string> a = {"--model", kSpec, "--epochs", "1", "--save", path("bad.safetensors")};
    a.insert(a.end(), args.begin(), args.end());
    CliRun e = train(a);
    EXPECT_EQ(e.status, 2) << e.out;
    EXPECT_NE(e.out.find(message), std::string::npos) << message << "\n" << e.out;
  }
}

// --normalize prepends a Normalization layer adapted to the training images (its mean and variance are those of
// the IDX images scaled to [0, 1]), saved in the model file, so predict applies it; --augment takes a spec and a
// bad one is a usage error.
TEST_F(CliTrain, NormalizeAndAugment) {
  CliRun r = train({"--model", kSpec, "--epochs", "1", "--normalize", "--augment", "crop=1,flip", "--save",
                    path("n.safetensors")});
  ASSERT_EQ(r.status, 0) << r.out;
  Sequential model = load_model(path("n.safetensors"));
  ASSERT_EQ(model.layer(0).type(), "Normalization");
  LabeledImages train_set =
      load_idx_images(path("data/train-images-idx3-ubyte.gz"), path("data/train-labels-idx1-ubyte"));
  double sum = 0, sq = 0;
  const auto n = double(train_set.images.numel());
  for (int64_t i = 0; i < train_set.images.numel(); ++i) sum += train_set.images.item(i);
  for (int64_t i = 0; i < train_set.images.numel(); ++i) sq += std::pow(train_set.images.item(i) - sum / n, 2);
  EXPECT_NEAR(model.layer(0).buffers()[0]->value.item(0), sum / n, 1e-6);
  EXPECT_NEAR(model.layer(0).buffers()[1]->value.item(0), sq / n, 1e-6);

  LabeledImages test = load_idx_images(path("data/t10k-images-idx3-ubyte.gz"), path("data/t10k-labels-idx1-ubyte"));
  write_npy(path("x.npy"), test.images);
  CliRun pr = run({"predict", path("n.safetensors"), "--input", path("x.npy"), "--output", path("p.npy")});
  ASSERT_EQ(pr.status, 0) << pr.out;
  Tensor p = read_npy(path("p.npy")), z = model.forward(test.images, Mode::Inference);
  for (int64_t i = 0; i < kTest; ++i) {
    int64_t best_p = 0, best_z = 0;
    for (int64_t k = 1; k < 3; ++k) {
      if (p.item(i * 3 + k) > p.item(i * 3 + best_p)) best_p = k;
      if (z.item(i * 3 + k) > z.item(i * 3 + best_z)) best_z = k;
    }
    EXPECT_EQ(best_p, best_z) << i;
  }
  CliRun bad = train({"--model", kSpec, "--augment", "rotate=5"});
  EXPECT_EQ(bad.status, 2) << bad.out;
  EXPECT_NE(bad.out.find("--augment: item must be"), std::string::npos) << bad.out;
}
