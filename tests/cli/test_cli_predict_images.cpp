// `locnet predict` on PNG/JPEG images and uint8 .npy: the model file's input scaling is applied, and predict on
// images (several files = one batch) writes exactly what predict on the equivalent .npy writes. Synthetic images
// written here with libpng/libjpeg; models with seeded random weights (the weights do not matter for equality).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "temp_dir.hpp"
#include "cli/cli_run.hpp"
#include "io/image_files.hpp"
#include "locnet/core/rng.hpp"
#include "locnet/io/image.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/io/safetensors.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/train/checkpoint.hpp"

using namespace locnet;
namespace fs = std::filesystem;

namespace {

// numpy's own header for a uint8 array ('|u1'), then the bytes.
void write_u8_npy(const std::string& path, const std::vector<int64_t>& shape, const std::vector<uint8_t>& data) {
  std::string dims;
  for (int64_t d : shape) dims += std::to_string(d) + ", ";
  if (shape.size() > 1) dims.resize(dims.size() - 2);
  std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (" + dims + "), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const char len[2] = {char(header.size() & 0xff), char(header.size() >> 8)};
  f.write(len, 2);
  f << header;
  f.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
}

std::vector<uint8_t> pixels(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& p : v) p = uint8_t(rng.below(256));
  return v;
}

class CliPredictImages : public locnet::testing::TempDirTest {
 protected:
  // A model file for (8, 8, channels) inputs, with or without the input scaling metadata.
  void model(const std::string& name, int64_t channels, bool with_scaling = true) {
    Sequential m = parse_model(fmt::format("Input((8, 8, {})) >> Conv2D(2, 3) >> Flatten() >> Dense(3)", channels));
    m.build(*m.input_shape(), uint64_t(7));
    save_model(m, path(name), with_scaling ? std::optional<InputScaling>(InputScaling{}) : std::nullopt);
  }
  CliRun predict(const std::string& model, const std::vector<std::string>& inputs, const std::string& out,
                 const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"predict", path(model), "--input"};
    for (const auto& i : inputs) args.push_back(path(i));
    args.insert(args.end(), {"--output", path(out)});
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  }
  Tensor result(const std::string& name) { return read_npy(path(name)); }
  fs::path dir_;
};

}  // namespace

TEST_F(CliPredictImages, ModelFilesRecordTheInputScaling) {
  model("m.safetensors", 1);
  TensorFile f = read_safetensors(path("m.safetensors"));
  EXPECT_EQ(f.metadata.at("input_dtype"), "uint8");
  EXPECT_EQ(f.metadata.at("input_scale"), "0.00392156862745098");
  std::optional<InputScaling> s;
  (void)load_model(path("m.safetensors"), s);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->scale, 1.0 / 255.0);
  model("old.safetensors", 1, false);
  (void)load_model(path("old.safetensors"), s);
  EXPECT_FALSE(s.has_value());
}

TEST_F(CliPredictImages, Uint8NpyIsScaledAsInTraining) {
  model("m.safetensors", 1);
  model("old.safetensors", 1, false);
  const std::vector<uint8_t> px = pixels(3 * 64, 1);
  write_u8_npy(path("u8.npy"), {3, 8, 8}, px);
  Tensor f(Shape{3, 8, 8}, DType::f32);
  for (size_t i = 0; i < px.size(); ++i) f.set(int64_t(i), float(px[i]) / 255.0f);  // load_idx_images' scaling
  write_npy(path("f.npy"), f);
  ASSERT_EQ(predict("m.safetensors", {"f.npy"}, "pf.npy").status, 0);
  CliRun r = predict("m.safetensors", {"u8.npy"}, "pu.npy");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(result("pu.npy").equal(result("pf.npy")));
  ASSERT_EQ(predict("old.safetensors", {"u8.npy"}, "po.npy").status, 0);  // no metadata: 1/255 all the same
  EXPECT_TRUE(result("po.npy").equal(result("pf.npy")));
}

TEST_F(CliPredictImages, ImagesEqualTheEquivalentNpy) {
  model("gray.safetensors", 1);
  model("rgb.safetensors", 3);
  const std::vector<uint8_t> g1 = pixels(64, 2), g2 = pixels(64, 3), c1 = pixels(192, 4);
  test_images::write_png(path("g1.png"), 8, 8, 1, g1);
  test_images::write_png(path("g2.png"), 8, 8, 1, g2);
  test_images::write_png(path("c1.png"), 8, 8, 3, c1);
  test_images::write_jpeg(path("j.jpg"), 8, 8, 1, g2);
  const std::vector<uint8_t> j = read_image(path("j.jpg")).pixels;  // what the lossy codec gives back

  // Two PNGs and a JPEG as one batch, in order.
  std::vector<uint8_t> batch = g1;
  batch.insert(batch.end(), g2.begin(), g2.end());
  batch.insert(batch.end(), j.begin(), j.end());
  write_u8_npy(path("batch.npy"), {3, 8, 8, 1}, batch);
  CliRun r = predict("gray.safetensors", {"g1.png", "g2.png", "j.jpg"}, "p_img.npy");
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_EQ(predict("gray.safetensors", {"batch.npy"}, "p_npy.npy").status, 0);
  EXPECT_EQ(result("p_img.npy").shape(), (Shape{3, 3}));
  EXPECT_TRUE(result("p_img.npy").equal(result("p_npy.npy")));

  // RGB image for an RGB model; a gray image for an RGB model is replicated to R = G = B.
  std::vector<uint8_t> rgb = c1;
  for (uint8_t v : g1) rgb.insert(rgb.end(), {v, v, v});
  write_u8_npy(path("rgb.npy"), {2, 8, 8, 3}, rgb);
  ASSERT_EQ(predict("rgb.safetensors", {"c1.png", "g1.png"}, "p_img3.npy").status, 0);
  ASSERT_EQ(predict("rgb.safetensors", {"rgb.npy"}, "p_npy3.npy").status, 0);
  EXPECT_TRUE(result("p_img3.npy").equal(result("p_npy3.npy")));

  // RGB for a gray model: an error naming both shapes, unless --to-gray (BT.601 luma in Pillow's fixed point).
  CliRun mismatch = predict("gray.safetensors", {"c1.png"}, "p.npy");
  EXPECT_EQ(mismatch.status, 2) << mismatch.out;
  EXPECT_NE(mismatch.out.find("(8, 8, 1)"), std::string::npos) << mismatch.out;
  EXPECT_NE(mismatch.out.find("(8, 8, 3)"), std::string::npos) << mismatch.out;
  EXPECT_NE(mismatch.out.find("--to-gray"), std::string::npos) << mismatch.out;
  std::vector<uint8_t> luma;
  for (size_t i = 0; i < c1.size(); i += 3)
    luma.push_back(uint8_t((19595 * c1[i] + 38470 * c1[i + 1] + 7471 * c1[i + 2] + 32768) >> 16));
  write_u8_npy(path("luma.npy"), {1, 8, 8, 1}, luma);
  ASSERT_EQ(predict("gray.safetensors", {"c1.png"}, "p_gray.npy", {"--to-gray"}).status, 0);
  ASSERT_EQ(predict("gray.safetensors", {"luma.npy"}, "p_luma.npy").status, 0);
  Tensor a = result("p_gray.npy"), b = result("p_luma.npy");
  EXPECT_TRUE(a.equal(b));
}

TEST_F(CliPredictImages, MismatchesAndCorruptFilesAreClearErrors) {
  model("gray.safetensors", 1);
  test_images::write_png(path("big.png"), 8, 9, 1, pixels(72, 5));
  CliRun size = predict("gray.safetensors", {"big.png"}, "p.npy");
  EXPECT_EQ(size.status, 2) << size.out;
  EXPECT_NE(size.out.find("image shape must be (8, 8, 1) (the model's input; images are not resized), got (9, 8, 1)"),
            std::string::npos)
      << size.out;
  std::ofstream(path("bad.png"), std::ios::binary).write("\x89PNG\r\n\x1a\n garbage", 17);
  CliRun bad = predict("gray.safetensors", {"bad.png"}, "p.npy");
  EXPECT_EQ(bad.status, 3) << bad.out;
  EXPECT_NE(bad.out.find("corrupt PNG"), std::string::npos) << bad.out;
  test_images::write_png(path("ok.png"), 8, 8, 1, pixels(64, 6));
  write_u8_npy(path("u8.npy"), {1, 8, 8}, pixels(64, 6));
  CliRun mixed = predict("gray.safetensors", {"ok.png", "u8.npy"}, "p.npy");
  EXPECT_EQ(mixed.status, 3) << mixed.out;
  EXPECT_NE(mixed.out.find("must be PNG or JPEG"), std::string::npos) << mixed.out;
  CliRun two_npy = predict("gray.safetensors", {"u8.npy", "u8.npy"}, "p.npy");
  EXPECT_EQ(two_npy.status, 3) << two_npy.out;
}
