// End-to-end tests of the `locnet` binary: output, files written and exit statuses.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"
#include "cli/cli_run.hpp"
#include "gradcheck.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/io/safetensors.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/train/checkpoint.hpp"
#include "scoped_env.hpp"

using namespace locnet;
using locnet::testing::ScopedEnv;
namespace fs = std::filesystem;

namespace {

class Cli : public locnet::testing::TempDirTest {};

}  // namespace

TEST_F(Cli, SummaryOfTheIssueExample) {
  CliRun r = run({"summary", "Input((10, 10, 12)) >> Flatten() >> Dense(10)"});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("(None, 1200)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(None, 10)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Total params: 12,010"), std::string::npos) << r.out;
}

// --input-shape as a Keras user types it; "(32, 32, 3)" used to be rejected by the option parser.
TEST_F(Cli, SummaryInputShapeInEitherSpelling) {
  const char* spec = "LocallyConnected2D(4, (3, 3)) >> Flatten()";
  for (std::vector<std::string> shape : {std::vector<std::string>{"(8, 8, 3)"}, {"8", "8", "3"}, {"[8, 8, 3]"},
                                         {"(8,", "8,", "3)"}}) {
    std::vector<std::string> args{"summary", spec, "--input-shape"};
    args.insert(args.end(), shape.begin(), shape.end());
    CliRun r = run(args);
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("(None, 6, 6, 4)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("(None, 144)"), std::string::npos) << r.out;
  }
  // Keras's input_shape= in the spec does the same.
  CliRun k = run({"summary", "LocallyConnected2D(4, (3, 3), input_shape=(8, 8, 3)) >> Flatten()"});
  EXPECT_EQ(k.status, 0) << k.out;
  EXPECT_NE(k.out.find("(None, 144)"), std::string::npos) << k.out;
  for (const char* bad : {"(8, 0, 3)", "(8, x)", "8.5"}) {
    CliRun r = run({"summary", spec, "--input-shape", bad});
    EXPECT_EQ(r.status, 2) << bad << "\n" << r.out;
    EXPECT_NE(r.out.find("--input-shape must be positive ints, as 32 32 3 or \"(32, 32, 3)\", got"), std::string::npos)
        << r.out;
  }
}

// CLI11 read --seed -1 as 2^64 - 1 and went on.
TEST_F(Cli, NegativeSeedIsRefused) {
  Tensor x = locnet::testing::random_tensor(Shape{2, 3}, DType::f32, 1);
  write_npy(path("x.npy"), x);
  CliRun r = run({"apply", "Dense(2)", "--input", path("x.npy"), "--output", path("y.npy"), "--seed", "-1"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--seed: must be an integer >= 0, got -1"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(path("y.npy")));
  r = run({"train", "--seed", "-1", "--epochs", "1"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--seed"), std::string::npos) << r.out;
  r = run({"apply", "Dense(2)", "--input", path("x.npy"), "--output", path("y.npy"), "--seed", "7"});
  EXPECT_EQ(r.status, 0) << r.out;
}

TEST_F(Cli, InfoListsOptionsAndDefaults) {
  CliRun r = run({"info", "Dense"});
  EXPECT_EQ(r.status, 0) << r.out;
  for (const char* s : {"units", "required", "activation", "use_bias", "True", "\"glorot_uniform\"", "\"zeros\""})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  CliRun list = run({"info"});
  EXPECT_EQ(list.status, 0);
  EXPECT_NE(list.out.find("Dense"), std::string::npos);
  CliRun bad = run({"info", "Dence"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.out.find("info: 'Dence' must be the name of a layer type, optimizer"), std::string::npos) << bad.out;
}

// `locnet info` covers optimizers, schedules, losses, regularizers, constraints and initializers as well as layers;
// each name (or alias) gets its one-line description and its options with defaults.
TEST_F(Cli, InfoExplainsEveryKind) {
  CliRun all = run({"info"});
  ASSERT_EQ(all.status, 0) << all.out;
  for (const char* s : {"Layers:", "Optimizers:", "Schedules:", "Losses:", "Regularizers:", "Constraints:",
                        "Initializers:", "Dense", "SGD", "CosineDecay", "softmax_cross_entropy", "L1L2", "MaxNorm",
                        "glorot_uniform", "U(-l, l), l = sqrt(6 / (fan_in + fan_out))"})
    EXPECT_NE(all.out.find(s), std::string::npos) << s << "\n" << all.out;
  CliRun sgd = run({"info", "SGD"});
  ASSERT_EQ(sgd.status, 0) << sgd.out;
  for (const char* s : {"SGD: Stochastic gradient descent", "Also called: sgd", "learning_rate", "0.01", "momentum",
                        "0.0", "nesterov", "False", "Momentum in [0, 1].", "lr", "Another name of learning_rate"})
    EXPECT_NE(sgd.out.find(s), std::string::npos) << s << "\n" << sgd.out;
  EXPECT_EQ(run({"info", "adam"}).out.find("Adam: "), 0u) << "an alias finds the type";
  CliRun glorot = run({"info", "glorot_uniform"});
  ASSERT_EQ(glorot.status, 0) << glorot.out;
  EXPECT_NE(glorot.out.find("glorot_uniform: U(-l, l)"), std::string::npos) << glorot.out;
  EXPECT_NE(glorot.out.find("seed"), std::string::npos) << glorot.out;  // GlorotUniform(seed=None)
  CliRun normal = run({"info", "RandomNormal"});
  for (const char* s : {"random_normal: N(mean, stddev)", "mean", "stddev", "0.05", "seed"})
    EXPECT_NE(normal.out.find(s), std::string::npos) << s << "\n" << normal.out;
  CliRun max_norm = run({"info", "max_norm"});
  for (const char* s : {"MaxNorm: ", "max_value", "2.0", "axis", "Largest norm allowed."})
    EXPECT_NE(max_norm.out.find(s), std::string::npos) << s << "\n" << max_norm.out;
  CliRun l2 = run({"info", "L2"});
  EXPECT_NE(l2.out.find("l2      float  0.01"), std::string::npos) << l2.out;
  CliRun optimizers = run({"info", "optimizers"});
  ASSERT_EQ(optimizers.status, 0);
  EXPECT_EQ(optimizers.out.find("Optimizers:"), 0u) << optimizers.out;
  EXPECT_EQ(optimizers.out.find("Dense"), std::string::npos) << "one kind only\n" << optimizers.out;
  // Layers list the options every layer takes, trainable among them.
  EXPECT_NE(run({"info", "Dense"}).out.find("trainable"), std::string::npos);
}

// Every kind answers from the catalog with the same option table as layers (issue 28): SGD, glorot_uniform and L2,
// a schedule with required options, and a loss without any.
TEST_F(Cli, InfoPrintsOptionTablesForEveryKind) {
  const char* header = "  option";
  for (const char* name : {"Dense", "SGD", "glorot_uniform", "L2", "ExponentialDecay", "MaxNorm"}) {
    CliRun r = run({"info", name});
    ASSERT_EQ(r.status, 0) << name << "\n" << r.out;
    EXPECT_NE(r.out.find("\nOptions:\n"), std::string::npos) << name << "\n" << r.out;
    EXPECT_NE(r.out.find(header), std::string::npos) << name << "\n" << r.out;
    EXPECT_NE(r.out.find("default"), std::string::npos) << name << "\n" << r.out;
  }
  CliRun glorot = run({"info", "glorot_uniform"});
  EXPECT_NE(glorot.out.find("Also called: GlorotUniform"), std::string::npos) << glorot.out;
  EXPECT_NE(glorot.out.find("seed"), std::string::npos) << glorot.out;
  CliRun l2 = run({"info", "l2"});
  EXPECT_EQ(l2.out.find("L2: Penalty l2 * sum w^2"), 0u) << l2.out;
  CliRun decay = run({"info", "ExponentialDecay"});
  for (const char* s : {"initial_learning_rate", "decay_steps", "decay_rate", "required", "staircase", "False"})
    EXPECT_NE(decay.out.find(s), std::string::npos) << s << "\n" << decay.out;
  CliRun mse = run({"info", "mse"});
  ASSERT_EQ(mse.status, 0) << mse.out;
  EXPECT_EQ(mse.out.find("mean_squared_error: "), 0u) << mse.out;
  EXPECT_NE(mse.out.find("No options."), std::string::npos) << mse.out;
}

// `locnet summary FILE`: the model file's own spec (from its metadata), checked against its tensors.
TEST_F(Cli, SummaryOfAModelFile) {
  const std::string spec = "Input((10, 10, 12)) >> Flatten() >> Dense(10, name='fc', trainable=False)";
  Sequential model = parse_model(spec);
  model.build(*model.input_shape(), uint64_t(1));
  save_model(model, path("model.safetensors"));
  CliRun r = run({"summary", path("model.safetensors")});
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* s : {"fc (Dense)", "(None, 1200)", "(None, 10)", "Total params: 12,010", "Trainable params: 0",
                        "Non-trainable params: 12,010"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  EXPECT_EQ(r.out, run({"summary", spec}).out) << "the same table as for the spec";
  // A file whose tensors do not fit its spec is a file error.
  TensorFile f = read_safetensors(path("model.safetensors"));
  f.tensors.pop_back();
  write_safetensors(path("broken.safetensors"), f);
  CliRun broken = run({"summary", path("broken.safetensors")});
  EXPECT_EQ(broken.status, 3) << broken.out;
  EXPECT_NE(broken.out.find("weights: key 'fc.bias' is missing"), std::string::npos) << broken.out;
  std::ofstream(path("not_a_model.txt")) << "Dense(3)";
  EXPECT_EQ(run({"summary", path("not_a_model.txt")}).status, 3);
}

// The acceptance example: y must equal x @ kernel + bias computed here by a plain loop.
TEST_F(Cli, ApplyDenseWithWeightsMatchesIndependentLoop) {
  const int64_t n = 4, in = 5, units = 3;
  Tensor x = locnet::testing::random_tensor(Shape{n, in}, DType::f32, 1);
  Tensor k = locnet::testing::random_tensor(Shape{in, units}, DType::f32, 2);
  Tensor b = locnet::testing::random_tensor(Shape{units}, DType::f32, 3);
  write_npy(path("x.npy"), x);
  write_safetensors(path("w.safetensors"), TensorFile{{{"d.kernel", k}, {"d.bias", b}}, {}});
  CliRun r = run({"apply", "Dense(3, name=\"d\")", "--input", path("x.npy"), "--weights", path("w.safetensors"),
               "--output", path("y.npy")});
  ASSERT_EQ(r.status, 0) << r.out;
  Tensor y = read_npy(path("y.npy"));
  ASSERT_EQ(y.shape(), (Shape{n, units}));
  EXPECT_EQ(y.dtype(), DType::f32);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < units; ++j) {
      double acc = b.item(j);
      for (int64_t q = 0; q < in; ++q) acc += x.item(i * in + q) * k.item(q * units + j);
      EXPECT_NEAR(y.item(i * units + j), acc, 1e-5);
    }
}

TEST_F(Cli, ApplyBackwardWritesGradients) {
  Tensor x = locnet::testing::random_tensor(Shape{3, 4}, DType::f64, 1);
  Tensor dy = locnet::testing::random_tensor(Shape{3, 2}, DType::f64, 2);
  write_npy(path("x.npy"), x);
  write_npy(path("dy.npy"), dy);
  CliRun r = run({"apply", "Dense(2, name='d')", "--input", path("x.npy"), "--output", path("y.npy"), "--save-weights",
               path("w.safetensors"), "--grad-output", path("dy.npy"), "--grad-input", path("dx.npy"),
               "--grad-params", path("g.safetensors"), "--seed", "5"});
  ASSERT_EQ(r.status, 0) << r.out;
  TensorFile w = read_safetensors(path("w.safetensors"));
  const Tensor* k = w.find("d.kernel");
  ASSERT_NE(k, nullptr);
  Tensor dx = read_npy(path("dx.npy"));
  TensorFile g = read_safetensors(path("g.safetensors"));
  ASSERT_NE(g.find("d.kernel"), nullptr);
  ASSERT_NE(g.find("d.bias"), nullptr);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t q = 0; q < 4; ++q) {
      double acc = 0;
      for (int64_t j = 0; j < 2; ++j) acc += dy.item(i * 2 + j) * k->item(q * 2 + j);
      EXPECT_NEAR(dx.item(i * 4 + q), acc, 1e-12);
    }
  for (int64_t q = 0; q < 4; ++q)
    for (int64_t j = 0; j < 2; ++j) {
      double acc = 0;
      for (int64_t i = 0; i < 3; ++i) acc += x.item(i * 4 + q) * dy.item(i * 2 + j);
      EXPECT_NEAR(g.find("d.kernel")->item(q * 2 + j), acc, 1e-12);
    }
}

TEST_F(Cli, ApplyHalfPrecisionInputWritesSameDtype) {
  Tensor x = locnet::testing::random_tensor(Shape{2, 3}, DType::f32, 1).to(DType::bf16);
  write_npy(path("x.npy"), x);
  CliRun r = run({"apply", "Activation('relu')", "--input", path("x.npy"), "--output", path("y.npy")});
  ASSERT_EQ(r.status, 0) << r.out;
  Tensor y = read_npy(path("y.npy"));
  EXPECT_EQ(y.dtype(), DType::bf16);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(y.item(i), std::max(0.0, x.item(i)));
}

TEST_F(Cli, ErrorsAreOneLineWithStatus) {
  Tensor x = locnet::testing::random_tensor(Shape{2, 5}, DType::f32, 1);
  write_npy(path("x.npy"), x);
  // Usage and configuration errors: 2.
  CliRun r = run({"apply", "Dense(3)", "--input", path("x.npy")});
  EXPECT_EQ(r.status, 2) << r.out;
  r = run({"apply", "Dense(3, activation='nope')", "--input", path("x.npy"), "--output", path("y.npy")});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("activation must be one of"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  r = run({"apply", "Input((4,)) >> Dense(3)", "--input", path("x.npy"), "--output", path("y.npy")});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("input shape must be (None, 4)"), std::string::npos) << r.out;
  r = run({"summary", "Dense(3"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("spec column"), std::string::npos) << r.out;
  r = run({"bogus"});
  EXPECT_EQ(r.status, 2) << r.out;
  // File errors: 3.
  r = run({"apply", "Dense(3)", "--input", path("missing.npy"), "--output", path("y.npy")});
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("missing.npy"), std::string::npos) << r.out;
  write_safetensors(path("w.safetensors"), TensorFile{{{"d.kernel", Tensor(Shape{5, 3})}}, {}});
  r = run({"apply", "Dense(3, name='d')", "--input", path("x.npy"), "--output", path("y.npy"), "--weights",
           path("w.safetensors")});
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("'d.bias' is missing"), std::string::npos) << r.out;
  write_safetensors(path("w2.safetensors"),
                    TensorFile{{{"d.kernel", Tensor(Shape{4, 3})}, {"d.bias", Tensor(Shape{3})}}, {}});
  r = run({"apply", "Dense(3, name='d')", "--input", path("x.npy"), "--output", path("y.npy"), "--weights",
           path("w2.safetensors")});
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("'d.kernel' must have shape (5, 3), got (4, 3)"), std::string::npos) << r.out;
  write_safetensors(path("w3.safetensors"), TensorFile{{{"d.kernel", Tensor(Shape{5, 3})},
                                                        {"d.bias", Tensor(Shape{3})},
                                                        {"e.bias", Tensor(Shape{3})}},
                                                       {}});
  r = run({"apply", "Dense(3, name='d')", "--input", path("x.npy"), "--output", path("y.npy"), "--weights",
           path("w3.safetensors")});
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("'e.bias' matches no parameter"), std::string::npos) << r.out;
  std::ofstream(path("bad.npy")) << "not an npy file";
  r = run({"apply", "Dense(3)", "--input", path("bad.npy"), "--output", path("y.npy")});
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_FALSE(fs::exists(path("y.npy"))) << "no output is written after an error";
}

// The tensor size limit from the environment: honoured when it is a number of bytes, an error when it is not.
TEST_F(Cli, MaxTensorBytesFromEnvironment) {
  write_npy(path("x.npy"), locnet::testing::random_tensor(Shape{2, 50}, DType::f32, 1));
  auto apply = [&] { return run({"apply", "Dense(3)", "--input", path("x.npy"), "--output", path("y.npy")}); };
  CliRun small = [&] {
    ScopedEnv limit("LOCNET_MAX_TENSOR_BYTES", "100");
    return apply();
  }();
  for (const char* bad : {"12abc", "-5", "0", "", "99999999999999999999999"}) {
    ScopedEnv limit("LOCNET_MAX_TENSOR_BYTES", bad);
    CliRun r = apply();
    EXPECT_EQ(r.status, 2) << bad << ": " << r.out;
    EXPECT_NE(r.out.find(fmt::format("LOCNET_MAX_TENSOR_BYTES must be a positive whole number of bytes, got '{}'",
                                     bad)),
              std::string::npos)
        << r.out;
  }
  CliRun ok = [&] {
    ScopedEnv limit("LOCNET_MAX_TENSOR_BYTES", "1000000");
    return apply();
  }();
  EXPECT_EQ(small.status, 2) << small.out;
  EXPECT_NE(small.out.find("max_tensor_bytes = 100 bytes"), std::string::npos) << small.out;
  EXPECT_EQ(ok.status, 0) << ok.out;
}

// Every LRN convention through the CLI, forward and backward, against the library's reference kernel.
TEST_F(Cli, ApplyLrnEveryConvention) {
  Tensor x = locnet::testing::random_tensor(Shape{2, 6, 3, 4}, DType::f32, 1);
  Tensor dy = locnet::testing::random_tensor(Shape{2, 6, 3, 4}, DType::f32, 2);
  write_npy(path("x.npy"), x);
  write_npy(path("dy.npy"), dy);
  for (const char* spec :
       {"LocalResponseNorm()", "LocalResponseNorm.tensorflow(depth_radius=2)", "LocalResponseNorm.pytorch(size=4)",
        "LocalResponseNorm.caffe()", "LocalResponseNorm.caffe(norm_region='WITHIN_CHANNEL')",
        "LocalResponseNorm.wolfram(ChannelWindowSize=1)", "LocalResponseNorm.onnx(size=2)",
        "LocalResponseNorm.onednn(local_size=4)", "LocalResponseNorm.onednn(alg_kind='lrn_within_channel')",
        "LocalResponseNorm.mxnet(nsize=3)"}) {
    SCOPED_TRACE(spec);
    CliRun r = run({"apply", spec, "--input", path("x.npy"), "--output", path("y.npy")});
    ASSERT_EQ(r.status, 0) << r.out;
    CliRun g = run({"apply", spec, "--input", path("x.npy"), "--output", path("y2.npy"), "--grad-output",
                    path("dy.npy"), "--grad-input", path("dx.npy")});
    ASSERT_EQ(g.status, 0) << g.out;
    Tensor y = read_npy(path("y.npy")), y2 = read_npy(path("y2.npy")), dx = read_npy(path("dx.npy"));
    EXPECT_TRUE(y.equal(y2)) << "training and inference forward agree for LRN";
    EXPECT_EQ(dx.shape(), x.shape());
    // Same numbers as the library's reference kernel.
    CliRun ref = [&] {
      ScopedEnv force("LOCNET_IMPL", "lrn:ref");
      return run({"apply", spec, "--input", path("x.npy"), "--output", path("yr.npy"), "--grad-output",
                  path("dy.npy"), "--grad-input", path("dxr.npy")});
    }();
    ASSERT_EQ(ref.status, 0) << ref.out;
    EXPECT_LE(max_scaled_error(y, read_npy(path("yr.npy")), 1e-5, 1e-6), 1.0);
    EXPECT_LE(max_scaled_error(dx, read_npy(path("dxr.npy")), 1e-4, 1e-5), 1.0);
  }
  CliRun info = run({"info", "LocalResponseNorm"});
  EXPECT_EQ(info.status, 0);
  for (const char* s : {"alpha", "0.0001", "beta", "0.75", "k", "2.0", "depth_radius", "5", "data_format"})
    EXPECT_NE(info.out.find(s), std::string::npos) << s << "\n" << info.out;
}

// `locnet summary --graph`: the Connected-to table on stdout and an SVG that an XML parser (Python's) accepts.
TEST_F(Cli, SummaryOfAFunctionalSpecDrawsTheGraph) {
  const std::string spec = "x = Input((4,), name=\"img\")\nh = Dense(3)(x)\na = Dense(2)(h)\nb = Dense(2)(h)\n"
                           "Model(inputs=x, outputs=[a, b])";
  CliRun r = run({"summary", spec, "--graph", path("g.svg")});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("dense_2 (Dense)   (None, 2)           8  ['dense_1[0][0]']"), std::string::npos) << r.out;
  const std::string check = "python3 -c \"import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
                            "sys.exit(0 if r.tag == '{http://www.w3.org/2000/svg}svg' and len(r.findall("
                            "'{http://www.w3.org/2000/svg}g')) == 4 else 1)\" " + path("g.svg");
  EXPECT_EQ(std::system(check.c_str()), 0) << "not a well-formed SVG with one box per node";
  CliRun bad = run({"summary", spec, "--graph", path("no/such/dir/g.svg")});
  EXPECT_NE(bad.status, 0);
  EXPECT_FALSE(fs::exists(path("no/such/dir/g.svg")));
}
