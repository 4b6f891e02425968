// load_any_model and model_file_kind (include/locnet/formats.hpp) on one file of each format: the real Keras file
// tests/interop/keras_h5/cnn2d_32.h5, the ONNX file of tests/cli/formats/generate.py (whose name is then changed,
// since ONNX is recognized by its first bytes too), a locnet model file written here, a zip (Keras 3's container).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "expect_error.hpp"
#include "locnet/formats.hpp"
#include "temp_dir.hpp"

using namespace locnet;

namespace {
const std::string kSrc = std::string(LOCNET_SOURCE_DIR) + "/tests/";
class Formats : public locnet::testing::TempDirTest {};
}  // namespace

TEST_F(Formats, EachFileIsRecognizedByItsBytesAndLoads) {
  EXPECT_EQ(model_file_kind(kSrc + "interop/keras_h5/cnn2d_32.h5"), "Keras .h5");
  EXPECT_EQ(load_any_model(kSrc + "interop/keras_h5/cnn2d_32.h5").param_count(), 64 * 27 * 4 + 256 + 66 * 81 * 4 + 264);
  std::filesystem::copy_file(kSrc + "cli/formats/dense_8x8.onnx", path("model.bin"));
  EXPECT_EQ(model_file_kind(path("model.bin")), "ONNX");
  Model onnx = load_any_model(path("model.bin"));
  EXPECT_EQ(onnx.param_count(), 64 * 3 + 3);
  save_model(onnx, path("m.safetensors"));
  EXPECT_EQ(model_file_kind(path("m.safetensors")), "locnet");
  EXPECT_EQ(load_any_model(path("m.safetensors")).spec(), onnx.spec());
  EXPECT_EQ(load_any_checkpoint(path("m.safetensors")).optimizer, nullptr);  // a model file: no optimizer state

  std::ofstream(path("m.keras")) << std::string("PK\x03\x04\x14\x00\x00\x00", 8);
  EXPECT_EQ(model_file_kind(path("m.keras")), "Keras .keras");
  EXPECT_THROW_MSG(load_any_model(path("m.keras")), FormatError, "m.keras: not a readable zip archive");
  std::ofstream(path("x.npy")) << "\x93NUMPY\x01\x00";
  EXPECT_EQ(model_file_kind(path("x.npy")), "");
  EXPECT_THROW_MSG(load_any_model(path("x.npy")), FormatError,
                   "not a model file locnet reads (it starts with the npy magic): tried by its first bytes");
}

TEST_F(Formats, TheTableNamesEveryFormatWithItsVersions) {
  std::string all;
  for (const FormatSupport& f : supported_formats()) all += f.format + " " + f.versions + "\n";
  for (const char* s : {"Keras 2.0-2.3", "opsets 7-18", "state_dict", "locnet"})
    EXPECT_NE(all.find(s), std::string::npos) << s << "\n" << all;
}
