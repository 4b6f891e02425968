// Replays every committed fuzz input through its target: the seed corpora (tests/fuzz/corpus/<target>/) and
// the inputs that once crashed or hung a target (tests/fuzz/regressions/<target>/, kept after the fix).
// A target may answer with a locnet::Error; any other exception fails here, and under scripts/sanitize a memory
// error or undefined behaviour aborts the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "fuzz/targets.hpp"
#include "locnet/core/limits.hpp"
#include "locnet/core/parallel.hpp"
#include "locnet/io/file.hpp"
#include "locnet/model/from_spec.hpp"

namespace locnet {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> inputs(const fs::path& dir) {
  std::vector<fs::path> files;
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

class FuzzInputs : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    threads_ = num_threads();
    limit_ = max_tensor_bytes();
    fuzz::init();
  }
  void TearDown() override {
    set_num_threads(threads_);
    set_max_tensor_bytes(limit_);
  }
  int threads_ = 0;
  uint64_t limit_ = 0;
};

TEST_P(FuzzInputs, EveryCommittedInputEndsInAnswerOrTypedError) {
  const fs::path root = fs::path(LOCNET_SOURCE_DIR) / "tests" / "fuzz";
  const fuzz::Target& target = fuzz::target(GetParam());
  const auto seeds = inputs(root / "corpus" / GetParam());
  ASSERT_GE(seeds.size(), 3u) << "the seed corpus of " << GetParam() << " must not be empty";
  auto all = seeds;
  for (const auto& f : inputs(root / "regressions" / GetParam())) all.push_back(f);
  for (const auto& f : all) {
    const std::vector<std::byte> bytes = read_file(f.string());
    if (f.filename().string().starts_with("ok-"))  // valid seeds must be accepted: they lead the fuzzer deep
      EXPECT_NO_THROW(target.strict(bytes)) << f;
    else
      EXPECT_NO_THROW(target.run(bytes)) << f;
  }
}

// The work bound of the harness: multiply-adds counted by hand, at the harness's batch of 2.
TEST(FuzzHarness, EstimatesEachLayersMultiplyAdds) {
  const auto macs = [](const char* spec) {
    Model m = parse_model(spec);
    m.build(*m.input_shape(), uint64_t(1));
    return fuzz::forward_macs(m, {m.input_shape()->with_dim(0, 2)});
  };
  // Conv2D: 2048 taps at each of 2 x 2048 x 12 outputs; input 4096, output 49152 values.
  EXPECT_DOUBLE_EQ(macs("Input((1, 2048, 1)) >> Conv2D(12, (1, 2048), padding='same')"),
                   49152.0 * 2048 + 4096 + 49152);
  // Conv1D counts the same way (its taps were once missed): 5 taps x 3 channels at each of 2 x 6 x 4 outputs.
  EXPECT_DOUBLE_EQ(macs("Input((10, 3)) >> Conv1D(4, 5)"), 48.0 * 15 + 60 + 48);
  // Dense on (2, 3, 5): 5 x 7 multiply-adds for each of 6 rows; then ReLU (42 values in and out).
  EXPECT_DOUBLE_EQ(macs("Input((3, 5)) >> Dense(7) >> Activation('relu')"), 210.0 + 30 + 42 + 42 + 42);
  // LocallyConnected1D, 5 positions of 2 x 2 x 3 weights and 3 biases (Keras's layout), once per sample.
  EXPECT_DOUBLE_EQ(macs("Input((6, 2)) >> LocallyConnected1D(3, 2)"), (5.0 * 12 + 5 * 3) * 2 + 24 + 30);
  // A graph: both branches and the merge count (each Dense's 15 weights once per sample outweigh its 2 x 4 x 3
  // multiply-adds); the merge reads its first input's shape.
  EXPECT_DOUBLE_EQ(macs("Input((4,)) >> [Dense(3), Dense(3)] >> Add()"), 2 * (30.0 + 8 + 6) + 6 + 6);
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzInputs,
                         ::testing::Values("npy", "safetensors", "idx", "spec", "model", "onnx", "hdf5", "keras"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace locnet
