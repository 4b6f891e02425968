// `locnet train` on a user's data (train/sources.hpp, docs/data.md), end to end on small synthetic sets written
// here: --x/--y .npy pairs with validation, a CSV with a categorical target (its names stored as class names), an
// .npz, and the errors for data the model does not fit.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>

#include "cli/cli_run.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/train/checkpoint.hpp"
#include "temp_dir.hpp"

using namespace locnet;

namespace {

class CliTrainData : public locnet::testing::TempDirTest {
 protected:
  // Two classes of 4 features, the sign of the features telling them apart; labels as float64 0/1 and int64.
  void write_pair(const std::string& x_path, const std::string& y_path, int64_t n) {
    Tensor x(Shape{n, 4}, DType::f64);
    std::string y;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < 4; ++j) x.data<double>()[i * 4 + j] = (i % 2 ? 1.0 : -1.0) * double(j + 1 + i % 3);
      y += char(i % 2);
    }
    write_npy(x_path, x);
    std::string h = "{'descr': '|u1', 'fortran_order': False, 'shape': (" + std::to_string(n) + ",), }";
    h.append(64 - (10 + h.size() + 1) % 64, ' ');
    h += '\n';
    std::string f = std::string("\x93NUMPY\x01\x00", 8) + char(h.size()) + char(0) + h + y;
    std::ofstream(y_path, std::ios::binary) << f;
  }
};

}  // namespace

TEST_F(CliTrainData, NpyPairsTrainWithValidation) {
  write_pair(path("x.npy"), path("y.npy"), 64);
  write_pair(path("vx.npy"), path("vy.npy"), 16);
  CliRun r = run({"train", "--x", path("x.npy"), "--y", path("y.npy"), "--val-x", path("vx.npy"), "--val-y",
                  path("vy.npy"), "--model", "Input((4,)) >> Dense(2)", "--epochs", "3", "--batch-size", "8",
                  "--save", path("m.safetensors"), "--threads", "1"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("training on 64 samples, testing on 16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("test accuracy 1.0000"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(path("m.safetensors")));
}

TEST_F(CliTrainData, CsvWithACategoricalTargetStoresItsClassNames) {
  std::string csv = "size,colour,kind\n";
  for (int i = 0; i < 40; ++i) csv += fmt::format("{},{},{}\n", i % 2 ? 2.5 : -2.5, i % 4 < 2 ? "red" : "blue",
                                                   i % 2 ? "pear" : "apple");
  std::ofstream(path("t.csv")) << csv;
  CliRun r = run({"train", "--data", path("t.csv"), "--target", "kind", "--model", "Input((3,)) >> Dense(2)",
                  "--epochs", "2", "--batch-size", "8", "--save", path("m.safetensors"), "--threads", "1"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("training on 40 samples, testing on 0"), std::string::npos) << r.out;
  EXPECT_EQ(load_checkpoint(path("m.safetensors")).state.class_names, (std::vector<std::string>{"apple", "pear"}));
}

TEST_F(CliTrainData, DataTheModelDoesNotFitIsAUsageError) {
  write_pair(path("x.npy"), path("y.npy"), 8);
  CliRun r = run({"train", "--x", path("x.npy"), "--y", path("y.npy"), "--save", path("m.safetensors")});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("samples of shape (4,) do not fit the model's input (28, 28, 1); give --model"),
            std::string::npos) << r.out;
  r = run({"train", "--x", path("x.npy"), "--save", path("m.safetensors")});
  EXPECT_NE(r.out.find("--x and --y go together"), std::string::npos) << r.out;
  r = run({"train", "--data", path("x.npy"), "--y", path("y.npy"), "--save", path("m.safetensors")});
  EXPECT_NE(r.out.find("--data and --x/--y: give one, got both"), std::string::npos) << r.out;
  r = run({"train", "--x", path("x.npy"), "--y", path("y.npy"), "--model", "Input((4,)) >> Dense(1)", "--save",
           path("m.safetensors")});
  EXPECT_NE(r.out.find("the labels need 2 classes, the model has 1 outputs"), std::string::npos) << r.out;
}
