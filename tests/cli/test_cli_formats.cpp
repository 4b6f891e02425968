// The commands on every model file format (include/locnet/formats.hpp): real Keras files
// (tests/interop/keras_h5/, written by Keras; their _y.npy is Keras's output), a small ONNX file with a NumPy
// reference (tests/cli/formats/generate.py: synthetic) and a real PyTorch state_dict with PyTorch's outputs
// (tests/interop/state_dict/generate.py); convert to ONNX and back against Keras's outputs. Training from an imported model: tests/cli/test_cli_train.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "cli/cli_run.hpp"
#include "gradcheck.hpp"
#include "locnet/interop/onnx.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/train/checkpoint.hpp"
#include "temp_dir.hpp"

using namespace locnet;

namespace {
const std::string kSrc = std::string(LOCNET_SOURCE_DIR) + "/tests/";
const std::string kKeras = kSrc + "interop/keras_h5/", kOnnx = kSrc + "cli/formats/",
                  kTorch = kSrc + "interop/state_dict/";

// Row-wise softmax in double: what predict gives for a model that ends in logits.
Tensor softmax(const Tensor& z) {
  Tensor p(z.shape(), DType::f64);
  for (int64_t r = 0; r < z.dim(0); ++r) {
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < z.dim(1); ++j) mx = std::max(mx, z.item(r * z.dim(1) + j));
    for (int64_t j = 0; j < z.dim(1); ++j) sum += std::exp(z.item(r * z.dim(1) + j) - mx);
    for (int64_t j = 0; j < z.dim(1); ++j) p.set(r * z.dim(1) + j, std::exp(z.item(r * z.dim(1) + j) - mx) / sum);
  }
  return p;
}

class CliFormats : public locnet::testing::TempDirTest {
 protected:
  void expect_predicts(const std::string& model, const std::string& x, const Tensor& want) {
    CliRun r = run({"predict", model, "--input", x, "--output", path("p.npy")});
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_LE(max_scaled_error(read_npy(path("p.npy")), want, 1e-5, 1e-6), 1.0) << model;
  }
};
}  // namespace

TEST_F(CliFormats, InfoFormatsListsEveryFormatAndVersion) {
  CliRun r = run({"info", "--formats"});
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* s : {"locnet model", "Keras .h5", "Keras 2.0-2.3", "tf.keras", "Keras 3", ".keras", "ONNX",
                        "opsets 7-18", "PyTorch state_dict"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
}

TEST_F(CliFormats, SummaryAndPredictReadKerasAndOnnxDirectly) {
  CliRun s = run({"summary", kOnnx + "dense_8x8.onnx"});
  ASSERT_EQ(s.status, 0) << s.out;
  EXPECT_NE(s.out.find("(Dense)"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("Total params: 195"), std::string::npos) << s.out;  // 64 * 3 + 3
  // An imported model's outputs are written as they are (logits here), as Keras's and ONNX runtimes' predict do.
  expect_predicts(kOnnx + "dense_8x8.onnx", kOnnx + "x.npy", read_npy(kOnnx + "logits.npy"));
  expect_predicts(kKeras + "cnn2d_92.h5", kKeras + "cnn2d_92_x.npy", read_npy(kKeras + "cnn2d_92_y.npy"));
}

TEST_F(CliFormats, ConvertKerasOnnxAndStateDictToLocnetFiles) {
  for (const char* name : {"cnn2d_32", "dl4j_cnn_batch_norm"}) {
    CliRun c = run({"convert", kKeras + name + ".h5", path("k.safetensors")});
    ASSERT_EQ(c.status, 0) << c.out;
    Tensor y = read_npy(kKeras + name + "_y.npy");
    // dl4j's single output: softmax over one class is 1
    expect_predicts(path("k.safetensors"), kKeras + name + "_x.npy", softmax(y));
  }
  ASSERT_EQ(run({"convert", kOnnx + "dense_8x8.onnx", path("o.safetensors")}).status, 0);
  std::optional<locnet::InputScaling> scaling;
  locnet::load_model(path("o.safetensors"), scaling);
  ASSERT_TRUE(scaling.has_value());  // an imported model takes its input unscaled, after conversion too
  EXPECT_EQ(scaling->scale, 1.0);
  expect_predicts(path("o.safetensors"), kOnnx + "x.npy", read_npy(kOnnx + "probs.npy"));
  // and to ONNX: Keras (Conv2D, BatchNormalization, Dense) -> ONNX -> read back gives Keras's outputs
  CliRun k = run({"convert", kKeras + "dl4j_cnn_batch_norm.h5", path("k.onnx")});
  ASSERT_EQ(k.status, 0) << k.out;
  Model back = read_onnx(path("k.onnx"));
  Tensor y = back.forward(read_npy(kKeras + "dl4j_cnn_batch_norm_x.npy").to(DType::f32), Mode::Inference);
  EXPECT_LE(max_scaled_error(y, read_npy(kKeras + "dl4j_cnn_batch_norm_y.npy"), 1e-5, 1e-5), 1.0);

  std::ifstream cases(kTorch + "cases.txt");
  std::string line;
  std::getline(cases, line);  // convnet_f64|<spec>
  const std::string spec = line.substr(line.find('|') + 1);
  CliRun t = run({"convert", kTorch + "convnet_f64.safetensors", path("t.safetensors"), "--spec", spec});
  ASSERT_EQ(t.status, 0) << t.out;
  expect_predicts(path("t.safetensors"), kTorch + "convnet_f64_x.npy", softmax(read_npy(kTorch + "convnet_f64_y.npy")));
  // by name: the module map pairs the same modules; a pair naming no layer is a usage error
  CliRun named = run({"convert", kTorch + "convnet_f64.safetensors", path("n.safetensors"), "--spec", spec, "--module",
                      "conv=conv", "bn=bn", "fc=fc"});
  ASSERT_EQ(named.status, 0) << named.out;
  expect_predicts(path("n.safetensors"), kTorch + "convnet_f64_x.npy", softmax(read_npy(kTorch + "convnet_f64_y.npy")));
  CliRun bad_map = run({"convert", kTorch + "convnet_f64.safetensors", path("n.safetensors"), "--spec", spec,
                        "--module", "conv"});
  EXPECT_EQ(bad_map.status, 2) << bad_map.out;
  EXPECT_NE(bad_map.out.find("--module must be MODULE=LAYER"), std::string::npos) << bad_map.out;
  // a state_dict where a locnet model file is expected: the hint names the command that reads it
  CliRun hint = run({"summary", kTorch + "convnet_f64.safetensors"});
  EXPECT_EQ(hint.status, 3) << hint.out;
  EXPECT_NE(hint.out.find("'format' must be 'locnet', got 'pt'; a safetensors file without locnet's metadata"),
            std::string::npos)
      << hint.out;
  CliRun wrong = run({"convert", kTorch + "sequential_f32.safetensors", path("w.safetensors"), "--spec", spec});
  EXPECT_EQ(wrong.status, 3) << wrong.out;
  EXPECT_NE(wrong.out.find("by order, the 4 modules with weights (0, 1, 4, 5) must pair"), std::string::npos)
      << wrong.out;
}

TEST_F(CliFormats, UnknownCorruptAndUnsupportedFilesHaveTheirExitStatus) {
  std::ofstream(path("notes.txt")) << "not a model";
  for (const char* cmd : {"convert", "summary", "predict", "evaluate"}) {
    std::vector<std::string> args = {cmd, path("notes.txt")};
    if (std::string(cmd) == "convert") args.push_back(path("out.safetensors"));
    if (std::string(cmd) == "predict") args.insert(args.end(), {"--input", kOnnx + "x.npy", "--output", path("p.npy")});
    CliRun r = run(args);
    EXPECT_EQ(r.status, 3) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("notes.txt: safetensors:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("; not a model file locnet reads: tried by its first bytes and extension"), std::string::npos)
        << r.out;
  }
  std::ofstream(path("cut.onnx")) << std::string("\x08\x08\x12\x0c", 4);  // a truncated ModelProto
  CliRun cut = run({"convert", path("cut.onnx"), path("out.safetensors")});
  EXPECT_EQ(cut.status, 3) << cut.out;
  CliRun missing = run({"convert", path("absent.h5"), path("out.safetensors")});
  EXPECT_EQ(missing.status, 3) << missing.out;
  EXPECT_NE(missing.out.find("absent.h5: cannot open"), std::string::npos) << missing.out;
  // LocallyConnected has no ONNX operator: the export refuses it
  CliRun lc = run({"convert", kKeras + "cnn2d_32.h5", path("lc.onnx")});
  EXPECT_EQ(lc.status, 2) << lc.out;
  EXPECT_NE(lc.out.find("LocallyConnected"), std::string::npos) << lc.out;
}
