// Issue 32's image-folder acceptance run. The first 6000 training and 1000 test images of Fashion-MNIST (Debian's
// dataset-fashion-mnist; skipped without it) are written as PNG files in class folders (<dir>/train/<k>_<name>/
// and <dir>/test/...), and the same samples in the same order (grouped by class, as the folders are listed) as
// IDX files. `locnet train --data` on each trains a small network for one epoch (a few seconds) to the same test accuracy
// (identical pixels and order: identical runs), the model file stores the folders' class names, and `locnet
// predict` on one PNG prints the most probable class's name.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "cli/cli_run.hpp"
#include "fashion_mnist.hpp"
#include "io/image_files.hpp"
#include "io/write_idx.hpp"
#include "locnet/core/rng.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/train/checkpoint.hpp"
#include "temp_dir.hpp"

using namespace locnet;
namespace fs = std::filesystem;

namespace {

const char* const kSpec = "Input((28, 28, 1)) >> Conv2D(8, 3, strides=2) >> Activation('relu') >> Flatten() >> "
                          "Dense(10)";

std::string folder_name(int64_t k) {
  std::string name = kFashionMnistClasses[k];
  std::replace(name.begin(), name.end(), '/', '-');  // "T-shirt/top" cannot be a folder name
  return fmt::format("{}_{}", k, name);
}

// The first n samples of one split, as PNG class folders under png_dir and as IDX files (ordered by class) in
// idx_dir/<prefix>-{images-idx3,labels-idx1}-ubyte.
void write_split(const std::string& src, const std::string& prefix, int64_t n, const std::string& png_dir,
                 const std::string& idx_dir) {
  const IdxArray images = read_idx(src + "/" + prefix + "-images-idx3-ubyte.gz"),
                 labels = read_idx(src + "/" + prefix + "-labels-idx1-ubyte.gz");
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return labels.data[a] < labels.data[b]; });
  IdxArray x{0x08, {n, 28, 28}, {}}, y{0x08, {n}, {}};
  for (int64_t i : order) {
    const auto* px = images.data.data() + i * 784;
    x.data.insert(x.data.end(), px, px + 784);
    y.data.push_back(labels.data[size_t(i)]);
    const std::string dir = png_dir + "/" + folder_name(labels.data[size_t(i)]);
    fs::create_directories(dir);
    test_images::write_png(fmt::format("{}/{:05d}.png", dir, i), 28, 28, 1, std::vector<uint8_t>(px, px + 784));
  }
  write_idx(idx_dir + "/" + prefix + "-images-idx3-ubyte", x);
  write_idx(idx_dir + "/" + prefix + "-labels-idx1-ubyte", y);
}

std::string test_accuracy(const std::string& out) {
  const size_t at = out.find("test accuracy ");
  return at == std::string::npos ? "" : out.substr(at + 14, 6);
}

class CliImageFolder : public locnet::testing::TempDirTest {};

TEST_F(CliImageFolder, TrainsLikeIdxAndPredictPrintsTheClassName) {
  const std::string src = locnet::testing::fashion_mnist_dir();
  if (!locnet::testing::has_fashion_mnist(src)) GTEST_SKIP() << "no Fashion-MNIST in " << src;
  fs::create_directories(path("idx"));
  write_split(src, "train", 6000, path("png/train"), path("idx"));
  write_split(src, "t10k", 1000, path("png/test"), path("idx"));
  auto train = [&](const std::string& data, const std::string& model) {
    return run({"train", "--data", path(data), "--model", kSpec, "--epochs", "1", "--threads", "1", "--save",
                path(model)});
  };
  const CliRun idx = train("idx", "idx.safetensors"), png = train("png", "png.safetensors");
  ASSERT_EQ(idx.status, 0) << idx.out;
  ASSERT_EQ(png.status, 0) << png.out;
  EXPECT_NE(png.out.find("training on 6000 samples, testing on 1000"), std::string::npos) << png.out;
  const std::string a = test_accuracy(idx.out), b = test_accuracy(png.out);
  ASSERT_FALSE(a.empty()) << idx.out;
  EXPECT_GT(std::stod(a), 0.6) << idx.out;       // one epoch on 6000 samples learns
  EXPECT_NEAR(std::stod(b), std::stod(a), 0.01);  // the bound
  RecordProperty("test_accuracy_idx", a);
  RecordProperty("test_accuracy_png", b);
  EXPECT_EQ(b, a) << "identical pixels and order should give identical runs";

  std::vector<std::string> names = load_class_names(path("png.safetensors"));
  ASSERT_EQ(names.size(), 10u);
  EXPECT_EQ(names[0], "0_T-shirt-top");
  EXPECT_EQ(names[9], "9_Ankle boot");

  const std::string image = path("png/test/" + folder_name(9) + "/00000.png");  // test sample 0: an ankle boot
  CliRun p = run({"predict", path("png.safetensors"), "--input", image, "--output", path("p.npy")});
  ASSERT_EQ(p.status, 0) << p.out;
  Tensor probs = read_npy(path("p.npy"));
  ASSERT_EQ(probs.shape(), (Shape{1, 10}));
  int64_t best = 0;
  for (int64_t j = 1; j < 10; ++j)
    if (probs.item(j) > probs.item(best)) best = j;
  EXPECT_EQ(p.out, fmt::format("{}: {} ({:.4f})\n", image, names[size_t(best)], probs.item(best)));
}

// Small synthetic folders (8x8 gray PNGs, a bright row per class): train and evaluate on DIR/{train,test}, a model
// of another input size and RGB (the images resized and replicated), and the CLI's errors.
TEST_F(CliImageFolder, TrainEvaluateAndErrorsOnSyntheticFolders) {
  Rng rng(3);
  auto write = [&](const std::string& split, const std::vector<std::string>& classes, int per_class) {
    for (size_t k = 0; k < classes.size(); ++k)
      for (int i = 0; i < per_class; ++i) {
        std::vector<uint8_t> px(64);
        for (size_t j = 0; j < px.size(); ++j) px[j] = uint8_t((j / 8 == 2 * k ? 180 : 0) + rng.below(60));
        fs::create_directories(path(split + "/" + classes[k]));
        test_images::write_png(path(fmt::format("{}/{}/{}.png", split, classes[k], i)), 8, 8, 1, px);
      }
  };
  write("d/train", {"a", "b", "c"}, 8);
  write("d/test", {"a", "b", "c"}, 2);
  auto train = [&](const std::string& data, const std::string& spec) {
    return run({"train", "--data", path(data), "--model", spec, "--epochs", "1", "--batch-size", "8", "--save",
                path("m.safetensors")});
  };
  CliRun ok = train("d", "Input((8, 8, 1)) >> Flatten() >> Dense(3)");
  ASSERT_EQ(ok.status, 0) << ok.out;
  EXPECT_NE(ok.out.find("training on 24 samples, testing on 6"), std::string::npos) << ok.out;
  EXPECT_EQ(load_class_names(path("m.safetensors")), (std::vector<std::string>{"a", "b", "c"}));
  CliRun ev = run({"evaluate", path("m.safetensors"), "--data", path("d")});
  ASSERT_EQ(ev.status, 0) << ev.out;
  EXPECT_NE(ev.out.find(" 2 c "), std::string::npos) << ev.out;
  CliRun rgb = train("d", "Input((6, 5, 3)) >> Flatten() >> Dense(3)");
  EXPECT_EQ(rgb.status, 0) << rgb.out;

  CliRun plain = train("d/train", "Input((8, 8, 1)) >> Flatten() >> Dense(3)");  // <class>/ folders themselves
  EXPECT_EQ(plain.status, 0) << plain.out;
  EXPECT_NE(plain.out.find("training on 24 samples, testing on 0"), std::string::npos) << plain.out;
  CliRun outputs = train("d", "Input((8, 8, 1)) >> Flatten() >> Dense(4)");
  EXPECT_EQ(outputs.status, 2) << outputs.out;
  EXPECT_NE(outputs.out.find("the model's outputs must be 3 (one per class), got 4"), std::string::npos)
      << outputs.out;
  CliRun channels = train("d", "Input((8, 8, 2)) >> Flatten() >> Dense(3)");
  EXPECT_EQ(channels.status, 2) << channels.out;
  EXPECT_NE(channels.out.find("(height, width, 1 or 3)"), std::string::npos) << channels.out;
  write("d/test", {"z"}, 1);
  CliRun classes = train("d", "Input((8, 8, 1)) >> Flatten() >> Dense(3)");
  EXPECT_EQ(classes.status, 3) << classes.out;
  EXPECT_NE(classes.out.find(path("d") + "/test: the class folders must be those of " + path("d") +
                             "/train (a, b, c), got a, b, c, z"),
            std::string::npos)
      << classes.out;
}

}  // namespace
