// `locnet summary MODEL.onnx` on a real PyTorch export (tests/interop/onnx_pytorch/generate.py), and the exit
// status 3 of a truncated ONNX file.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "cli/cli_run.hpp"
#include "temp_dir.hpp"

namespace {

const std::string kDir = std::string(LOCNET_SOURCE_DIR) + "/tests/interop/onnx_pytorch/";

class CliOnnx : public locnet::testing::TempDirTest {};

TEST_F(CliOnnx, SummaryOfAPyTorchExportAndATruncatedFile) {
  CliRun r = run({"summary", kDir + "alexnet_op13_b2.onnx"});
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* s : {"(LocalResponseNorm.onnx)", "(Conv2D)", "(Dense)", "(Softmax)"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  std::ifstream in(kDir + "alexnet_op13_b2.onnx", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(path("cut.onnx"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  CliRun cut = run({"summary", path("cut.onnx")});
  EXPECT_EQ(cut.status, 3) << cut.out;
  EXPECT_NE(cut.out.find("cut.onnx: not an ONNX model (truncated or corrupt protobuf"), std::string::npos) << cut.out;
}

}  // namespace
