// `locnet apply` with BatchNorm: training mode saves the UPDATED running statistics, inference mode uses and keeps
// them, and --grad-output gives dx, dgamma and dbeta; every expected value is computed here from the formulas.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cli/cli_run.hpp"
#include "gradcheck.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/io/safetensors.hpp"

using namespace locnet;
namespace fs = std::filesystem;

namespace {

class CliBn : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("locnet_cli_bn_{}_{}", getpid(),
                                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    x_ = locnet::testing::random_tensor(Shape{4, 2, 3, kC}, DType::f64, 1, 2.0);
    write_npy(path("x.npy"), x_);
    TensorFile w;
    w.tensors = {{"bn.gamma", Tensor::from<double>({1.5, 0.5}, Shape{kC})},
                 {"bn.beta", Tensor::from<double>({0.25, -1.0}, Shape{kC})},
                 {"bn.moving_mean", Tensor::from<double>({0.1, -0.2}, Shape{kC})},
                 {"bn.moving_variance", Tensor::from<double>({2.0, 0.5}, Shape{kC})}};
    write_safetensors(path("w.safetensors"), w);
    for (int64_t c = 0; c < kC; ++c) {
      double s = 0, q = 0;
      for (int64_t i = c; i < x_.numel(); i += kC) s += x_.item(i);
      mean_[c] = s / kM;
      for (int64_t i = c; i < x_.numel(); i += kC) q += (x_.item(i) - mean_[c]) * (x_.item(i) - mean_[c]);
      var_[c] = q / kM;
    }
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static Tensor get(const TensorFile& f, const std::string& key) {
    for (const auto& [k, t] : f.tensors)
      if (k == key) return t;
    ADD_FAILURE() << "missing " << key;
    return Tensor(Shape{kC}, DType::f64);
  }
  static constexpr int64_t kC = 2;
  static constexpr double kM = 24, kEps = 1e-5;
  const double gamma_[2] = {1.5, 0.5}, beta_[2] = {0.25, -1.0}, rm_[2] = {0.1, -0.2}, rv_[2] = {2.0, 0.5};
  double mean_[2], var_[2];
  Tensor x_;
  fs::path dir_;
};

const char* kSpec = "BatchNorm2D(momentum=0.75, name='bn')";

}  // namespace

TEST_F(CliBn, TrainingSavesUpdatedRunningStatistics) {
  CliRun r = run({"apply", kSpec, "--mode", "training", "--input", path("x.npy"), "--output", path("y.npy"),
                  "--weights", path("w.safetensors"), "--save-weights", path("out.safetensors")});
  ASSERT_EQ(r.status, 0) << r.out;
  Tensor y = read_npy(path("y.npy"));
  for (int64_t i = 0; i < x_.numel(); ++i) {
    int64_t c = i % kC;
    EXPECT_NEAR(y.item(i), gamma_[c] * (x_.item(i) - mean_[c]) / std::sqrt(var_[c] + kEps) + beta_[c], 1e-12);
  }
  TensorFile out = read_safetensors(path("out.safetensors"));
  for (int64_t c = 0; c < kC; ++c) {
    EXPECT_NEAR(get(out, "bn.moving_mean").item(c), 0.75 * rm_[c] + 0.25 * mean_[c], 1e-14);
    EXPECT_NEAR(get(out, "bn.moving_variance").item(c), 0.75 * rv_[c] + 0.25 * var_[c], 1e-14);
    EXPECT_EQ(get(out, "bn.gamma").item(c), gamma_[c]);
  }
}

TEST_F(CliBn, InferenceUsesAndKeepsRunningStatistics) {
  CliRun r = run({"apply", kSpec, "--mode", "inference", "--input", path("x.npy"), "--output", path("y.npy"),
                  "--weights", path("w.safetensors"), "--save-weights", path("out.safetensors")});
  ASSERT_EQ(r.status, 0) << r.out;
  Tensor y = read_npy(path("y.npy"));
  for (int64_t i = 0; i < x_.numel(); ++i) {
    int64_t c = i % kC;
    EXPECT_NEAR(y.item(i), gamma_[c] * (x_.item(i) - rm_[c]) / std::sqrt(rv_[c] + kEps) + beta_[c], 1e-12);
  }
  TensorFile out = read_safetensors(path("out.safetensors"));
  for (int64_t c = 0; c < kC; ++c) {
    EXPECT_EQ(get(out, "bn.moving_mean").item(c), rm_[c]);
    EXPECT_EQ(get(out, "bn.moving_variance").item(c), rv_[c]);
  }
}

TEST_F(CliBn, GradOutputGivesDxAndParameterGradients) {
  Tensor dy = locnet::testing::random_tensor(x_.shape(), DType::f64, 2);
  write_npy(path("dy.npy"), dy);
  CliRun r =
      run({"apply", kSpec, "--input", path("x.npy"), "--output", path("y.npy"), "--weights", path("w.safetensors"),
           "--grad-output", path("dy.npy"), "--grad-input", path("dx.npy"), "--grad-params", path("g.safetensors")});
  ASSERT_EQ(r.status, 0) << r.out;
  Tensor dx = read_npy(path("dx.npy"));
  TensorFile g = read_safetensors(path("g.safetensors"));
  for (int64_t c = 0; c < kC; ++c) {
    double inv = 1 / std::sqrt(var_[c] + kEps), sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t i = c; i < x_.numel(); i += kC) {
      sum_dy += dy.item(i);
      sum_dy_xhat += dy.item(i) * (x_.item(i) - mean_[c]) * inv;
    }
    EXPECT_NEAR(get(g, "bn.beta").item(c), sum_dy, 1e-12);
    EXPECT_NEAR(get(g, "bn.gamma").item(c), sum_dy_xhat, 1e-12);
    for (int64_t i = c; i < x_.numel(); i += kC) {
      double xhat = (x_.item(i) - mean_[c]) * inv;
      EXPECT_NEAR(dx.item(i), gamma_[c] * inv * (dy.item(i) - sum_dy / kM - xhat * sum_dy_xhat / kM), 1e-12);
    }
  }
  // Inference with --grad-output is refused (backward needs a training forward).
  CliRun bad = run({"apply", kSpec, "--mode", "inference", "--input", path("x.npy"), "--output", path("y.npy"),
                    "--grad-output", path("dy.npy"), "--grad-input", path("dx.npy")});
  EXPECT_EQ(bad.status, 2) << bad.out;
}
