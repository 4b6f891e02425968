// End-to-end tests of the `locnet` binary: output, files written and exit statuses.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/cli_run.hpp"
#include "gradcheck.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/io/safetensors.hpp"

using namespace locnet;
namespace fs = std::filesystem;

namespace {

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("locnet_cli_{}_{}", getpid(),
                                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

}  // namespace

TEST_F(Cli, SummaryOfTheIssueExample) {
  CliRun r = run({"summary", "Input((10, 10, 12)) >> Flatten() >> Dense(10)"});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("(None, 1200)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(None, 10)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Total params: 12,010"), std::string::npos) << r.out;
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
  EXPECT_NE(bad.out.find("unknown layer type 'Dence'"), std::string::npos) << bad.out;
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
  setenv("LOCNET_MAX_TENSOR_BYTES", "100", 1);
  CliRun small = apply();
  for (const char* bad : {"12abc", "-5", "0", "", "99999999999999999999999"}) {
    setenv("LOCNET_MAX_TENSOR_BYTES", bad, 1);
    CliRun r = apply();
    EXPECT_EQ(r.status, 2) << bad << ": " << r.out;
    EXPECT_NE(r.out.find(fmt::format("LOCNET_MAX_TENSOR_BYTES must be a positive whole number of bytes, got '{}'",
                                     bad)),
              std::string::npos)
        << r.out;
  }
  setenv("LOCNET_MAX_TENSOR_BYTES", "1000000", 1);
  CliRun ok = apply();
  unsetenv("LOCNET_MAX_TENSOR_BYTES");
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
    setenv("LOCNET_IMPL", "lrn:ref", 1);
    CliRun ref = run({"apply", spec, "--input", path("x.npy"), "--output", path("yr.npy"), "--grad-output",
                      path("dy.npy"), "--grad-input", path("dxr.npy")});
    unsetenv("LOCNET_IMPL");
    ASSERT_EQ(ref.status, 0) << ref.out;
    EXPECT_LE(max_scaled_error(y, read_npy(path("yr.npy")), 1e-5, 1e-6), 1.0);
    EXPECT_LE(max_scaled_error(dx, read_npy(path("dxr.npy")), 1e-4, 1e-5), 1.0);
  }
  CliRun info = run({"info", "LocalResponseNorm"});
  EXPECT_EQ(info.status, 0);
  for (const char* s : {"alpha", "0.0001", "beta", "0.75", "k", "2.0", "depth_radius", "5", "data_format"})
    EXPECT_NE(info.out.find(s), std::string::npos) << s << "\n" << info.out;
}
