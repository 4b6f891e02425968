// `locnet apply --profile` and `locnet train --profile`: the table names every layer and its kernel (as the
// same model built in-process chooses it), times are non-negative and the shares, "(other)" included, add up
// to 100%. Training data: a tiny synthetic MNIST-format set written here.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "temp_dir.hpp"
#include "cli/cli_run.hpp"
#include "io/write_idx.hpp"
#include "locnet/core/rng.hpp"
#include "locnet/io/idx.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/sequential.hpp"

using namespace locnet;
namespace fs = std::filesystem;

namespace {

const char* kSpec =
    "Input((8, 8, 1)) >> Conv2D(4, 3, padding='same') >> BatchNorm2D() >> LocalResponseNorm(depth_radius=3) >> "
    "MaxPooling2D(2) >> LocallyConnected2D(2, 2, strides=2) >> Flatten() >> Dense(3)";

struct Row {
  std::string name, type, kernel;
  double fwd = 0, bwd = 0, share = 0;
};

double number(const std::string& s) { return s == "-" ? 0.0 : std::stod(s); }

// The rows between the header line and "total".
std::vector<Row> table_rows(const std::string& out) {
  std::vector<Row> rows;
  std::istringstream in(out);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.starts_with("layer ")) {
      inside = true;
      continue;
    }
    if (!inside) continue;
    if (line.starts_with("total")) break;
    std::istringstream cells(line);
    Row r;
    std::string fwd, bwd, share;
    cells >> r.name >> r.type >> r.kernel >> fwd >> bwd >> share;
    r.fwd = number(fwd), r.bwd = number(bwd), r.share = number(share);
    rows.push_back(r);
  }
  return rows;
}

void expect_table(const std::string& out, bool backward) {
  Sequential m = parse_model(kSpec);
  m.build(*m.input_shape(), uint64_t(0));
  std::vector<Row> rows = table_rows(out);
  ASSERT_EQ(rows.size(), m.size() + 1) << out;
  double shares = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(rows[i].name, m.layer(i).name()) << out;
    EXPECT_EQ(rows[i].type, m.layer(i).type()) << out;
    EXPECT_EQ(rows[i].kernel, m.layer(i).kernel()) << out;
    EXPECT_GE(rows[i].fwd, 0);
    EXPECT_GE(rows[i].bwd, 0);
    if (!backward) {
      EXPECT_EQ(rows[i].bwd, 0);
    }
  }
  EXPECT_EQ(rows.back().name, "(other)");
  for (const Row& r : rows) {
    EXPECT_GE(r.share, 0) << r.name;
    shares += r.share;
  }
  EXPECT_NEAR(shares, 100.0, 0.1 * double(rows.size())) << out;  // each share is rounded to 0.1
  EXPECT_NE(out.find("roofline: memcpy"), std::string::npos) << out;
}

class CliProfile : public locnet::testing::TempDirTest {};

}  // namespace

TEST_F(CliProfile, ApplyPrintsOneRowPerLayer) {
  Tensor x(Shape{4, 8, 8, 1}, DType::f32), dy(Shape{4, 3}, DType::f32);
  Rng rng(1);
  for (int64_t i = 0; i < x.numel(); ++i) x.set(i, rng.uniform());
  for (int64_t i = 0; i < dy.numel(); ++i) dy.set(i, rng.uniform(-1, 1));
  write_npy(path("x.npy"), x);
  write_npy(path("dy.npy"), dy);
  CliRun inference = run({"apply", kSpec, "--input", path("x.npy"), "--output", path("y.npy"), "--profile"});
  ASSERT_EQ(inference.status, 0) << inference.out;
  expect_table(inference.out, false);
  EXPECT_NE(inference.out.find("profile: 10 step(s)"), std::string::npos) << inference.out;
  CliRun training = run({"apply", kSpec, "--input", path("x.npy"), "--output", path("y.npy"), "--grad-output",
                         path("dy.npy"), "--grad-input", path("dx.npy"), "--profile", "--profile-steps", "3"});
  ASSERT_EQ(training.status, 0) << training.out;
  expect_table(training.out, true);
  EXPECT_NE(training.out.find("profile: 3 step(s)"), std::string::npos) << training.out;
  EXPECT_TRUE(fs::exists(path("dx.npy")));
  // Without --profile, nothing is printed.
  CliRun plain = run({"apply", kSpec, "--input", path("x.npy"), "--output", path("y.npy")});
  EXPECT_EQ(plain.out, "");
  EXPECT_EQ(run({"apply", kSpec, "--input", path("x.npy"), "--output", path("y.npy"), "--profile-steps", "0"}).status,
            2);
}

TEST_F(CliProfile, TrainProfilesAfterTheWarmUpAndStops) {
  fs::create_directories(dir_ / "data");
  for (auto [prefix, n] : {std::pair<const char*, int64_t>{"train", 40}, {"t10k", 8}}) {
    Rng rng{uint64_t(n)};
    IdxArray images{0x08, {n, 8, 8}, {}}, labels{0x08, {n}, {}};
    for (int64_t i = 0; i < n; ++i) labels.data.push_back(static_cast<unsigned char>(i % 3));
    for (int64_t i = 0; i < n * 64; ++i) images.data.push_back(static_cast<unsigned char>(rng.below(256)));
    write_idx(path("data") + "/" + prefix + "-images-idx3-ubyte", images);
    write_idx(path("data") + "/" + prefix + "-labels-idx1-ubyte", labels);
  }
  CliRun r = run({"train", "--data", path("data"), "--model", kSpec, "--batch-size", "4", "--threads", "1",
                  "--save", path("m.safetensors"), "--profile", "--profile-steps", "4"});
  ASSERT_EQ(r.status, 0) << r.out;
  expect_table(r.out, true);
  EXPECT_NE(r.out.find("profile: 4 step(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stopped after profiling 4 steps (following 2 warm-up steps)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("epoch 1/"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(path("m.safetensors")));
}
