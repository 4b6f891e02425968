// Model files and checkpoints: save -> load gives identical predictions; a checkpoint restores the optimizer state
// and a resumed run ends with the weights of an uninterrupted one; a failed or interrupted write leaves the previous
// checkpoint readable; files that are not locnet models are FormatErrors naming the path.
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"
#include "expect_error.hpp"
#include "locnet/io/file.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/weights.hpp"
#include "locnet/train/checkpoint.hpp"
#include "locnet/train/trainer.hpp"

using namespace locnet;
namespace fs = std::filesystem;

namespace {

class CheckpointTest : public locnet::testing::TempDirTest {};

LabeledData toy_data() {
  Tensor x = Tensor::empty(Shape{12, 4, 4, 1});
  std::vector<int64_t> y;
  for (int64_t i = 0; i < x.numel(); ++i) x.set(i, std::sin(0.37 * double(i)));
  for (int64_t i = 0; i < 12; ++i) y.push_back(i % 3);
  return {x, y};
}

const char* kSpec =
    "Input((4, 4, 1)) >> Conv2D(2, 3, padding='same') >> BatchNorm2D() >> LocalResponseNorm(depth_radius=3) >> "
    "LocallyConnected2D(2, 2, strides=2) >> Flatten() >> Dense(3)";

Sequential toy_model() {
  Sequential m = parse_model(kSpec);
  m.build(*m.input_shape(), uint64_t(7));
  return m;
}

void expect_same_params(Sequential& a, Sequential& b) {
  auto pa = a.named_params(), pb = b.named_params();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].first, pb[i].first);
    EXPECT_TRUE(pa[i].second->value.equal(pb[i].second->value)) << pa[i].first;
  }
}

}  // namespace

TEST_F(CheckpointTest, SavedModelPredictsIdentically) {
  Sequential m = toy_model();
  auto opt = make_optimizer("Adam(0.01)");
  LabeledData d = toy_data();
  fit(m, *opt, d, nullptr, {.epochs = 2, .batch_size = 4});  // moves BatchNorm's running statistics off 0/1
  save_model(m, path("m.safetensors"));

  TensorFile f = read_safetensors(path("m.safetensors"));
  EXPECT_EQ(f.metadata.at("spec"), m.spec());
  EXPECT_EQ(f.metadata.at("locnet_version"), LOCNET_VERSION);
  Sequential back = load_model(path("m.safetensors"));
  expect_same_params(m, back);
  EXPECT_TRUE(back.forward(d.x, Mode::Inference).equal(m.forward(d.x, Mode::Inference)));
}

TEST_F(CheckpointTest, ResumeMatchesUninterruptedRun) {
  LabeledData d = toy_data();
  Sequential full = toy_model();
  auto full_opt = make_optimizer("Adam(0.01)");
  fit(full, *full_opt, d, nullptr, {.epochs = 3, .batch_size = 5, .seed = 9});

  Sequential first = toy_model();
  auto opt = make_optimizer("Adam(0.01)");
  fit(first, *opt, d, nullptr, {.epochs = 1, .batch_size = 5, .seed = 9});
  save_checkpoint(first, *opt, {.epoch = 1, .seed = 9, .batch_size = 5}, path("c.safetensors"));

  Checkpoint c = load_checkpoint(path("c.safetensors"));
  EXPECT_EQ(c.state.epoch, 1);
  EXPECT_EQ(c.state.seed, 9u);
  EXPECT_EQ(c.state.batch_size, 5);
  EXPECT_EQ(c.optimizer->type(), "Adam");
  EXPECT_EQ(c.optimizer->iterations(), 3);  // ceil(12 / 5) steps
  fit(c.model, *c.optimizer, d, nullptr, {.epochs = 3, .initial_epoch = 1, .batch_size = 5, .seed = 9});
  expect_same_params(c.model, full);
  EXPECT_EQ(c.optimizer->iterations(), full_opt->iterations());
  // A checkpoint is also a model file.
  Sequential as_model = load_model(path("c.safetensors"));
  expect_same_params(as_model, first);
}

TEST_F(CheckpointTest, FailedWriteKeepsPreviousCheckpoint) {
  Sequential m = toy_model();
  auto opt = make_optimizer("SGD(0.1)");
  const std::string p = path("c.safetensors");
  save_checkpoint(m, *opt, {.epoch = 1}, p);

  // The process dies after writing the temporary file and before the rename: what it leaves behind.
  Sequential newer = toy_model();
  newer.named_params().front().second->value.fill(5.0);
  save_checkpoint(newer, *opt, {.epoch = 2}, path("newer.safetensors"));
  std::vector<std::byte> bytes = read_file(path("newer.safetensors"));
  std::ofstream(fmt::format("{}.tmp.{}", p, ::getpid() + 1), std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size() / 2));
  EXPECT_EQ(load_checkpoint(p).state.epoch, 1);

  // The write itself fails (file size limit, EFBIG): an error, and the old checkpoint is untouched.
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 256;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  EXPECT_THROW_MSG(save_checkpoint(newer, *opt, {.epoch = 2}, p), FormatError, p + ": write failed");
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  Checkpoint c = load_checkpoint(p);
  EXPECT_EQ(c.state.epoch, 1);
  expect_same_params(c.model, m);
}

TEST_F(CheckpointTest, RejectsFilesThatAreNotModels) {
  Sequential m = toy_model();
  save_weights(m, path("w.safetensors"));  // weights without a spec
  EXPECT_THROW_MSG(load_model(path("w.safetensors")), FormatError,
                   path("w.safetensors") + ": not a locnet model file: metadata 'spec' is missing");
  save_model(m, path("m.safetensors"));
  EXPECT_THROW_MSG(load_checkpoint(path("m.safetensors")), FormatError, "metadata 'optimizer' is missing");
  std::ofstream(path("junk.safetensors")) << "not a safetensors file at all";
  EXPECT_THROW_MSG(load_model(path("junk.safetensors")), FormatError, path("junk.safetensors"));

  TensorFile f = read_safetensors(path("m.safetensors"));
  f.metadata["spec"] = "Input((4, 4, 1)) >> Flatten() >> Dense(3)";  // weights no longer fit
  write_safetensors(path("other.safetensors"), f);
  EXPECT_THROW_MSG(load_model(path("other.safetensors")), FormatError, path("other.safetensors") + ": weights: key");
  Sequential no_input = parse_model("Dense(3)");
  EXPECT_THROW_MSG(save_model(no_input, path("x.safetensors")), ConfigError, "needs an Input(shape)");
}

// A graph model (branches, Concatenate, a skip Add) trains, saves, loads and resumes exactly like a chain.
TEST_F(CheckpointTest, GraphModelTrainsSavesAndResumes) {
  const char* spec = R"(x = Input((4, 4, 1))
a = Conv2D(2, 1)(x)
b = Conv2D(2, 3, padding="same") (x) >> BatchNorm2D()
c = Concatenate()([a, b])
s = Add()([Conv2D(4, 3, padding="same")(c), c])
y = s >> Flatten() >> Dense(3)
Model(inputs=x, outputs=y))";
  LabeledData d = toy_data();
  auto make = [&] {
    Model m = parse_model(spec);
    m.build_from_inputs(7);
    return m;
  };
  Model full = make();
  auto full_opt = make_optimizer("Adam(0.01)");
  FitResult r = fit(full, *full_opt, d, nullptr, {.epochs = 3, .batch_size = 5, .seed = 9});
  EXPECT_LT(r.history.back().loss, r.history.front().loss);

  Model first = make();
  auto opt = make_optimizer("Adam(0.01)");
  fit(first, *opt, d, nullptr, {.epochs = 1, .batch_size = 5, .seed = 9});
  save_checkpoint(first, *opt, {.epoch = 1, .seed = 9, .batch_size = 5}, path("g.safetensors"));
  Checkpoint c = load_checkpoint(path("g.safetensors"));
  EXPECT_FALSE(c.model.is_chain());
  EXPECT_EQ(c.model.spec(), first.spec());
  fit(c.model, *c.optimizer, d, nullptr, {.epochs = 3, .initial_epoch = 1, .batch_size = 5, .seed = 9});
  expect_same_params(c.model, full);

  save_model(full, path("m.safetensors"));
  Model back = load_model(path("m.safetensors"));
  EXPECT_TRUE(back.forward(d.x, Mode::Inference).equal(full.forward(d.x, Mode::Inference)));
  EXPECT_EQ(evaluate(back, d).accuracy, evaluate(full, d).accuracy);
}
