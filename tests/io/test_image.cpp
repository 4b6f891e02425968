// PNG/JPEG decoding (io/image.hpp) on synthetic files written here with libpng and libjpeg: exact pixels for PNG
// (gray, RGB, opaque alpha dropped), JPEG within the codec's loss, and FormatError for truncated, unknown,
// transparent and oversized images.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "expect_error.hpp"
#include "io/image_files.hpp"
#include "locnet/core/error.hpp"
#include "locnet/core/limits.hpp"
#include "locnet/io/file.hpp"
#include "locnet/io/image.hpp"

using namespace locnet;
namespace fs = std::filesystem;

namespace {

class ImageIo : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("locnet_image_{}_{}", getpid(),
                                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    set_max_tensor_bytes(0);
    fs::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void truncate(const std::string& from, const std::string& to, size_t keep) {
    std::vector<std::byte> b = read_file(path(from));
    std::ofstream(path(to), std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(keep));
  }
  fs::path dir_;
};

std::vector<uint8_t> ramp(size_t n, int step) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t((i * size_t(step)) % 256);
  return v;
}

}  // namespace

TEST_F(ImageIo, PngPixelsAreExact) {
  const std::vector<uint8_t> gray = ramp(5 * 3, 17), rgb = ramp(5 * 3 * 3, 7);
  test_images::write_png(path("g.png"), 5, 3, 1, gray);
  test_images::write_png(path("c.png"), 5, 3, 3, rgb);
  Image g = read_image(path("g.png")), c = read_image(path("c.png"));
  EXPECT_EQ(g.height, 3);
  EXPECT_EQ(g.width, 5);
  EXPECT_EQ(g.channels, 1);
  EXPECT_EQ(g.pixels, gray);
  EXPECT_EQ(c.channels, 3);
  EXPECT_EQ(c.pixels, rgb);
}

TEST_F(ImageIo, OpaqueAlphaIsDroppedTransparentIsAnError) {
  std::vector<uint8_t> rgba, rgb = ramp(4 * 2 * 3, 11);
  for (size_t i = 0; i < rgb.size(); i += 3) rgba.insert(rgba.end(), {rgb[i], rgb[i + 1], rgb[i + 2], 255});
  test_images::write_png(path("a.png"), 4, 2, 4, rgba);
  Image a = read_image(path("a.png"));
  EXPECT_EQ(a.channels, 3);
  EXPECT_EQ(a.pixels, rgb);
  rgba[4 * 5 + 3] = 128;  // row 1, column 1
  test_images::write_png(path("t.png"), 4, 2, 4, rgba);
  EXPECT_THROW_MSG(read_image(path("t.png")), FormatError,
                   "alpha must be 255 (opaque) at every pixel, got 128 at row 1, column 1");
}

TEST_F(ImageIo, JpegDecodesWithinTheCodecLoss) {
  // A smooth gradient at quality 100: libjpeg-turbo's round trip stays within a few levels.
  std::vector<uint8_t> gray(16 * 8), rgb(16 * 8 * 3);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 16; ++x) {
      gray[size_t(y * 16 + x)] = uint8_t(40 + 8 * x + 4 * y);
      for (int k = 0; k < 3; ++k) rgb[size_t((y * 16 + x) * 3 + k)] = uint8_t(30 + 6 * x + 5 * y + 20 * k);
    }
  test_images::write_jpeg(path("g.jpg"), 16, 8, 1, gray, 100);
  test_images::write_jpeg(path("c.jpg"), 16, 8, 3, rgb, 100);
  Image g = read_image(path("g.jpg")), c = read_image(path("c.jpg"));
  ASSERT_EQ(g.height, 8);
  ASSERT_EQ(g.width, 16);
  ASSERT_EQ(g.channels, 1);
  ASSERT_EQ(c.channels, 3);
  for (size_t i = 0; i < gray.size(); ++i) EXPECT_NEAR(int(g.pixels[i]), int(gray[i]), 3) << i;
  for (size_t i = 0; i < rgb.size(); ++i) EXPECT_NEAR(int(c.pixels[i]), int(rgb[i]), 6) << i;
}

TEST_F(ImageIo, CorruptFilesAreFormatErrors) {
  test_images::write_png(path("g.png"), 16, 16, 1, ramp(256, 3));
  test_images::write_jpeg(path("g.jpg"), 16, 16, 1, ramp(256, 3));
  truncate("g.png", "cut.png", fs::file_size(path("g.png")) - 20);
  truncate("g.jpg", "cut.jpg", fs::file_size(path("g.jpg")) / 2);
  truncate("g.jpg", "head.jpg", 3);
  EXPECT_THROW_MSG(read_image(path("cut.png")), FormatError, "corrupt PNG");
  EXPECT_THROW_MSG(read_image(path("cut.jpg")), FormatError, "corrupt JPEG");
  EXPECT_THROW_MSG(read_image(path("head.jpg")), FormatError, "corrupt JPEG");
  std::ofstream(path("text.png")) << "not an image at all";
  EXPECT_THROW_MSG(read_image(path("text.png")), FormatError, "must be PNG or JPEG");
  EXPECT_THROW_MSG(read_image(path("missing.png")), FormatError, "missing.png");
}

TEST_F(ImageIo, HeaderLargerThanTheTensorLimitIsRefusedBeforeDecoding) {
  // A flat image: both files are far smaller than their 12288 pixel bytes (the limit bounds the file too).
  const std::vector<uint8_t> flat(64 * 64 * 3, 100);
  test_images::write_png(path("c.png"), 64, 64, 3, flat);
  test_images::write_jpeg(path("c.jpg"), 64, 64, 3, flat);
  ASSERT_LT(fs::file_size(path("c.jpg")), 12287u);
  ASSERT_LT(fs::file_size(path("c.png")), 12287u);
  set_max_tensor_bytes(12287);
  EXPECT_THROW_MSG(read_image(path("c.png")), FormatError, "at most 12287 bytes of pixels, got 64x64x3");
  EXPECT_THROW_MSG(read_image(path("c.jpg")), FormatError, "at most 12287 bytes of pixels, got 64x64x3");
  set_max_tensor_bytes(12288);
  EXPECT_EQ(read_image(path("c.png")).pixels.size(), 12288u);
  EXPECT_EQ(read_image(path("c.jpg")).pixels.size(), 12288u);
}
