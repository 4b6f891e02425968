// Image folders (train/image_folder.hpp): the layout rules (sorting, hidden and other files, nested folders),
// grayscale/RGB, scaling, resize against real PyTorch output (tests/conformance/image_resize_pytorch/generate.py),
// shuffling, on-demand decoding, and every bad-data and bad-option error. The images are synthetic, written here
// with libpng/libjpeg (tests/io/image_files.hpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <thread>

#include "conformance/cases.hpp"
#include "expect_error.hpp"
#include "io/image_files.hpp"
#include "locnet/core/limits.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/train/image_folder.hpp"
#include "temp_dir.hpp"

using namespace locnet;
namespace fs = std::filesystem;

namespace {

class ImageFolderTest : public locnet::testing::TempDirTest {
 protected:
  // A w x h gray PNG at root/rel, every pixel v.
  std::string gray(const std::string& rel, uint8_t v, int w = 2, int h = 3) {
    const std::string p = path(rel);
    fs::create_directories(fs::path(p).parent_path());
    test_images::write_png(p, w, h, 1, std::vector<uint8_t>(size_t(w * h), v));
    return p;
  }
  void text(const std::string& rel, const std::string& content = "x") {
    fs::create_directories(fs::path(path(rel)).parent_path());
    std::ofstream(path(rel)) << content;
  }
  static Batch all(const Dataset& d) {
    std::vector<int64_t> idx(size_t(d.size()));
    std::iota(idx.begin(), idx.end(), int64_t{0});
    Batch b;
    d.gather(idx, b);
    return b;
  }
  // The first pixel of each sample, times 255: which file each sample came from.
  static std::vector<int> firsts(const Batch& b) {
    std::vector<int> v;
    const int64_t row = b.x.numel() / b.x.dim(0);
    for (int64_t i = 0; i < b.x.dim(0); ++i) v.push_back(int(std::lround(b.x.item(i * row) * 255)));
    return v;
  }
  static ImageFolderOptions grayscale() {
    ImageFolderOptions o;
    o.color_mode = "grayscale";
    return o;
  }
};

// Class folders sorted by code point ("B" < "a" < "b" < "é"), files by (folder, name); hidden entries, files at the
// root and other extensions ignored; .JPG in capitals is an image.
TEST_F(ImageFolderTest, LayoutAndSorting) {
  gray("r/b/2.png", 20);
  gray("r/b/10.png", 10);  // "10.png" < "2.png" (names, not numbers)
  gray("r/B/x.png", 1);
  gray("r/a/z.png", 33);
  gray("r/a/sub/a.png", 34);  // folder r/a/sub after r/a
  gray("r/a/sub/.hidden.png", 99);
  gray("r/a/.cache/y.png", 99);
  gray("r/.ipynb_checkpoints/c.png", 99);
  gray("r/\xc3\xa9t\xc3\xa9/e.png", 50);
  gray("r/root.png", 99);
  text("r/a/readme.txt");
  text("r/a/labels.csv");
  std::vector<uint8_t> px(6, 31);
  test_images::write_jpeg(path("r/a/m.JPG"), 2, 3, 1, px, 100);
  auto d = image_folder_dataset(path("r"), grayscale());
  EXPECT_EQ(d->class_names(), (std::vector<std::string>{"B", "a", "b", "\xc3\xa9t\xc3\xa9"}));
  EXPECT_EQ(d->classes(), 4);
  EXPECT_EQ(d->target_kind(), TargetKind::labels);
  EXPECT_EQ(d->sample_shape(), (Shape{3, 2, 1}));
  EXPECT_EQ(d->name(), path("r"));
  Batch b = all(*d);
  EXPECT_EQ(b.labels, (std::vector<int64_t>{0, 1, 1, 1, 2, 2, 3}));
  std::vector<int> f = firsts(b);
  f[1] = f[1] >= 29 && f[1] <= 33 ? 31 : f[1];  // the JPEG's gray level, within its compression error
  EXPECT_EQ(f, (std::vector<int>{1, 31, 33, 34, 10, 20, 50}));
}

// Values are the pixels times 1/255 computed as the IDX reader does (float(double(v) * kIdxImageScale)), exactly;
// another scale is used as given.
TEST_F(ImageFolderTest, ScalesAsIdxImages) {
  std::vector<uint8_t> px(256);
  std::iota(px.begin(), px.end(), 0);
  fs::create_directories(path("r/c"));
  test_images::write_png(path("r/c/all.png"), 16, 16, 1, px);
  Batch b = all(*image_folder_dataset(path("r"), grayscale()));
  ASSERT_EQ(b.x.shape(), (Shape{1, 16, 16, 1}));
  for (int v = 0; v < 256; ++v) EXPECT_EQ(b.x.data<float>()[v], float(double(v) * kIdxImageScale)) << v;
  ImageFolderOptions o = grayscale();
  o.scale = 1.0;
  EXPECT_EQ(all(*image_folder_dataset(path("r"), o)).x.data<float>()[200], 200.0f);
}

// grayscale: RGB by the luma rule of train/samples.hpp; rgb: gray replicated, RGB as it is.
TEST_F(ImageFolderTest, GrayscaleAndRgb) {
  fs::create_directories(path("r/c"));
  test_images::write_png(path("r/c/a.png"), 1, 1, 3, {200, 100, 50});
  test_images::write_png(path("r/c/b.png"), 1, 1, 1, {77});
  ImageFolderOptions o = grayscale();
  o.scale = 1.0;
  Batch g = all(*image_folder_dataset(path("r"), o));
  ASSERT_EQ(g.x.shape(), (Shape{2, 1, 1, 1}));
  EXPECT_EQ(g.x.item(0), double((19595u * 200 + 38470u * 100 + 7471u * 50 + 32768u) >> 16));
  EXPECT_EQ(g.x.item(1), 77.0);
  o.color_mode = "rgb";
  Batch c = all(*image_folder_dataset(path("r"), o));
  ASSERT_EQ(c.x.shape(), (Shape{2, 1, 1, 3}));
  EXPECT_EQ(std::vector<double>({c.x.item(0), c.x.item(1), c.x.item(2), c.x.item(3), c.x.item(4), c.x.item(5)}),
            (std::vector<double>{200, 100, 50, 77, 77, 77}));
}

// Resize to a target size, bilinear and nearest, against F.interpolate (real PyTorch output); a target equal to the
// image's size leaves the pixels as they are.
TEST_F(ImageFolderTest, ResizeMatchesPyTorch) {
  const std::string dir = locnet::testing::conformance_dir("image_resize_pytorch");
  const std::vector<std::string> cases = locnet::testing::conformance_cases(dir);
  for (const std::string& line : cases) {
    std::vector<std::string> f;
    for (size_t start = 0, bar; start <= line.size(); start = bar + 1) {
      bar = std::min(line.find('|', start), line.size());
      f.push_back(line.substr(start, bar - start));
    }
    ASSERT_EQ(f.size(), 4u) << line;
    SCOPED_TRACE(line);
    Tensor x = read_npy(dir + f[0] + "_x.npy"), y = read_npy(dir + f[0] + "_y.npy");
    const int64_t h = x.dim(0), w = x.dim(1), c = x.dim(2);
    std::vector<uint8_t> px;
    for (int64_t i = 0; i < x.numel(); ++i) px.push_back(uint8_t(x.item(i)));
    fs::remove_all(path(f[0]));
    fs::create_directories(path(f[0] + "/k"));
    test_images::write_png(path(f[0] + "/k/i.png"), int(w), int(h), int(c), px);
    ImageFolderOptions o;
    o.color_mode = c == 1 ? "grayscale" : "rgb";
    o.interpolation = f[1];
    o.height = std::stoll(f[2]), o.width = std::stoll(f[3]);
    o.scale = 1.0;
    Batch b = all(*image_folder_dataset(path(f[0]), o));
    ASSERT_EQ(b.x.shape(), y.shape().with_batch(1));
    for (int64_t i = 0; i < y.numel(); ++i) EXPECT_NEAR(b.x.item(i), y.item(i), 1e-4) << i;
    o.height = h, o.width = w;  // the image's own size: no resize
    Batch same = all(*image_folder_dataset(path(f[0]), o));
    for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(same.x.item(i), x.item(i)) << i;
  }
  EXPECT_EQ(cases.size(), 6u);
}

// shuffle_seed: one seeded permutation of the sorted order, labels following their files; decoding on demand
// (cache = false) gives what the cache gives, from several threads at once.
TEST_F(ImageFolderTest, ShuffleAndOnDemandDecoding) {
  for (int i = 0; i < 12; ++i) gray(fmt::format("r/c{}/{:02d}.png", i % 3, i), uint8_t(10 * i));
  Batch sorted = all(*image_folder_dataset(path("r"), grayscale()));
  ImageFolderOptions o = grayscale();
  o.shuffle_seed = 5;
  Batch s1 = all(*image_folder_dataset(path("r"), o)), s2 = all(*image_folder_dataset(path("r"), o));
  EXPECT_EQ(firsts(s1), firsts(s2));
  EXPECT_NE(firsts(s1), firsts(sorted));
  std::vector<int> a = firsts(s1), b = firsts(sorted);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);  // the same samples
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(s1.labels[i], firsts(s1)[i] / 10 % 3);
  o.cache = false;
  auto lazy = image_folder_dataset(path("r"), o);
  std::vector<Batch> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got) threads.emplace_back([&lazy, &g] { g = all(*lazy); });
  for (auto& t : threads) t.join();
  for (const Batch& g : got) {
    EXPECT_EQ(firsts(g), firsts(s1));
    EXPECT_EQ(g.labels, s1.labels);
  }
}

TEST_F(ImageFolderTest, IsImageFolder) {
  gray("r/c/a.png", 1);
  text("idx/train-images-idx3-ubyte");
  text("empty/c/readme.txt");
  text("bmp/c/a.bmp");
  EXPECT_TRUE(is_image_folder(path("r")));
  EXPECT_FALSE(is_image_folder(path("r/c")));  // images, but no class folders
  EXPECT_FALSE(is_image_folder(path("idx")));
  EXPECT_FALSE(is_image_folder(path("empty")));
  EXPECT_FALSE(is_image_folder(path("nowhere")));
  EXPECT_TRUE(is_image_folder(path("bmp")));  // an image folder image_folder_dataset refuses, saying why
  EXPECT_EQ(image_options_for(Shape{28, 28, 1}).color_mode, "grayscale");
  EXPECT_EQ(image_options_for(Shape{32, 24, 3}).color_mode, "rgb");
  EXPECT_EQ(image_options_for(Shape{32, 24}).width, 24);
  EXPECT_THROW_MSG(image_options_for(Shape{8, 8, 2}), ShapeError,
                   "image folder: the model's per-sample input must be (height, width, 1 or 3) or (height, width), "
                   "got (8, 8, 2)");
}

TEST_F(ImageFolderTest, BadLayoutErrors) {
  fs::create_directories(path("empty"));
  EXPECT_THROW_MSG(image_folder_dataset(path("empty")), FormatError,
                   path("empty") + ": an image folder must hold class folders (root/<class>/<image>), got none");
  EXPECT_THROW_MSG(image_folder_dataset(path("nowhere")), FormatError,
                   path("nowhere") + ": an image folder must be a directory of class folders (root/<class>/<image>), "
                                     "got nothing (no such directory)");
  text("file");
  EXPECT_THROW_MSG(image_folder_dataset(path("file")), FormatError, "got a file");
  gray("r/a/1.png", 1);
  text("r/b/notes.txt");
  gray("r/b/.hidden.png", 1);
  EXPECT_THROW_MSG(image_folder_dataset(path("r")), FormatError,
                   path("r/b") + ": a class folder must hold at least one .png, .jpg or .jpeg image, got none");
  gray("s/a/1.png", 1);
  text("s/a/2.gif");
  EXPECT_THROW_MSG(image_folder_dataset(path("s")), FormatError,
                   path("s/a/2.gif") + ": images must be PNG or JPEG (.png, .jpg, .jpeg), got a .gif file");
}

TEST_F(ImageFolderTest, BadImageErrors) {
  gray("size/a/1.png", 1, 2, 3);
  gray("size/a/2.png", 1, 3, 3);
  EXPECT_THROW_MSG(image_folder_dataset(path("size"), grayscale()), FormatError,
                   path("size/a/2.png") + ": image size must be 3x2 (the first image's, " + path("size/a/1.png") +
                       "; give a target size to resize), got 3x3");
  ImageFolderOptions resize = grayscale();
  resize.height = 4, resize.width = 4;
  EXPECT_EQ(all(*image_folder_dataset(path("size"), resize)).x.shape(), (Shape{2, 4, 4, 1}));

  gray("cut/a/1.png", 1);
  const std::string bad = gray("cut/a/2.png", 1, 16, 16);
  fs::resize_file(bad, fs::file_size(bad) - 20);
  EXPECT_THROW_MSG(image_folder_dataset(path("cut"), grayscale()), FormatError, bad + ": corrupt PNG");

  gray("fake/a/1.png", 1);
  text("fake/a/2.png", "not an image at all");
  EXPECT_THROW_MSG(image_folder_dataset(path("fake"), grayscale()), FormatError,
                   path("fake/a/2.png") + ": image must be PNG or JPEG (by its first bytes), got neither");

  fs::create_directories(path("alpha/a"));
  test_images::write_png(path("alpha/a/1.png"), 1, 1, 2, {9, 128});
  EXPECT_THROW_MSG(image_folder_dataset(path("alpha"), grayscale()), FormatError,
                   path("alpha/a/1.png") + ": alpha must be 255 (opaque) at every pixel, got 128");

  // Decoding on demand finds the bad file when its batch is gathered.
  ImageFolderOptions lazy = grayscale();
  lazy.cache = false;
  auto d = image_folder_dataset(path("fake"), lazy);
  Batch b;
  std::vector<int64_t> first{0}, second{1}, out{2};
  d->gather(first, b);
  EXPECT_THROW_MSG(d->gather(second, b), FormatError, path("fake/a/2.png") + ": image must be PNG or JPEG");
  EXPECT_THROW_MSG(d->gather(out, b), ShapeError, path("fake") + ": sample index must be in [0, 2), got 2");
}

TEST_F(ImageFolderTest, BadOptionErrors) {
  gray("r/a/1.png", 1);
  auto with = [&](auto change) {
    ImageFolderOptions o;
    change(o);
    return image_folder_dataset(path("r"), o);
  };
  EXPECT_THROW_MSG(with([](ImageFolderOptions& o) { o.color_mode = "rgba"; }), ConfigError,
                   "image_folder_dataset: color_mode must be 'grayscale' or 'rgb', got 'rgba'");
  EXPECT_THROW_MSG(with([](ImageFolderOptions& o) { o.interpolation = "bicubic"; }), ConfigError,
                   "image_folder_dataset: interpolation must be 'bilinear' or 'nearest', got 'bicubic'");
  EXPECT_THROW_MSG(with([](ImageFolderOptions& o) { o.height = 4; }), ConfigError,
                   "image_folder_dataset: height and width must both be > 0 (resize) or both 0 (keep the images' "
                   "size), got 4 and 0");
  EXPECT_THROW_MSG(with([](ImageFolderOptions& o) { o.height = o.width = -1; }), ConfigError, "got -1 and -1");
  EXPECT_THROW_MSG(with([](ImageFolderOptions& o) { o.height = o.width = int64_t(1) << 31; }), ConfigError,
                   "image_folder_dataset: a 2147483648x2147483648 sample is more than the tensor byte limit");
  EXPECT_THROW_MSG(with([](ImageFolderOptions& o) { o.scale = 0; }), ConfigError,
                   "image_folder_dataset: scale must be a finite number > 0, got 0");
  gray("big/a/1.png", 1, 8, 8);
  const uint64_t before = max_tensor_bytes();
  set_max_tensor_bytes(400);  // more than the file, less than its 8 * 8 * 3 floats
  EXPECT_THROW_MSG(image_folder_dataset(path("big")), ConfigError,
                   path("big") + ": decoding 1 images of (8, 8, 3) into memory needs 768 bytes, more than the tensor "
                                 "byte limit 400 (core/limits.hpp); decode on demand (cache = false)");
  ImageFolderOptions lazy;
  lazy.cache = false;
  EXPECT_EQ(image_folder_dataset(path("big"), lazy)->size(), 1);
  set_max_tensor_bytes(before);
}

}  // namespace
