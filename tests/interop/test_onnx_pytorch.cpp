// ONNX files written by PyTorch itself (real data: tests/interop/onnx_pytorch/generate.py, torch.onnx.export of
// torch 1.13 at opsets 9, 11, 13 and 17, batch 2, batch 1 and a dynamic batch axis): an AlexNet-style net (grouped
// Conv, LRN, MaxPool, Gemm, Softmax), a GoogLeNet-style inception block (Concat, LRN, Pad + AveragePool with
// ceil_mode), a ResNet basic block (BatchNorm folded or kept, Add skip, GlobalAveragePool) and two resampling nets
// (per-channel Mul/Add constants, F.pad as a chain of operators on constants, a broadcast Mul, Div by 2, nearest
// and bilinear nn.Upsample as Upsample or Resize). Each file is
// imported and run on the input PyTorch ran; the outputs must match PyTorch's float32 outputs to 1e-5 relative
// (plus 1e-6 absolute: float32 sums in another order).
#include <gtest/gtest.h>

#include "conformance/cases.hpp"
#include "gradcheck.hpp"
#include "locnet/interop/onnx.hpp"

using namespace locnet;

TEST(OnnxPyTorch, ExportedNetsMatchPyTorch) {
  const std::string dir = std::string(LOCNET_SOURCE_DIR) + "/tests/interop/onnx_pytorch/";
  const std::vector<std::string> cases = locnet::testing::conformance_cases(dir);
  EXPECT_EQ(cases.size(), 30u);
  for (const std::string& name : cases) {
    SCOPED_TRACE(name);
    Model model = read_onnx(dir + name + ".onnx");
    const Tensor x = read_npy(dir + name + "_x.npy"), want = read_npy(dir + name + "_y.npy");
    const Tensor y = model.forward(x, Mode::Inference);
    ASSERT_EQ(y.shape(), want.shape());
    EXPECT_LE(max_scaled_error(y, want, 1e-5, 1e-6), 1.0);
  }
}

// A file with a dynamic batch axis runs at any batch; a file exported at batch 1 still runs at batch 2 (the batch
// is not fixed in the model; Flatten and Gemm keep it).
TEST(OnnxPyTorch, DynamicAndFixedBatchFilesRunAtOtherBatches) {
  const std::string dir = std::string(LOCNET_SOURCE_DIR) + "/tests/interop/onnx_pytorch/";
  for (const char* net : {"alexnet", "inception", "resnet"}) {
    SCOPED_TRACE(net);
    const Tensor x = read_npy(dir + net + "_op13_b2_x.npy"), want = read_npy(dir + net + "_op13_b2_y.npy");
    for (const char* file : {"_op13_dyn", "_op13_b1"}) {
      const Tensor y = read_onnx(dir + net + file + ".onnx").forward(x, Mode::Inference);
      EXPECT_LE(max_scaled_error(y, want, 1e-5, 1e-6), 1.0) << file;
    }
  }
}
