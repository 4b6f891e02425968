// Conv1D, grouped / explicitly padded Conv2D and DepthwiseConv2D against real PyTorch output
// (tests/conformance/conv_pytorch/generate.py: F.conv1d / F.conv2d and autograd, weights in Keras layout): forward,
// dx, dkernel and dbias, both formats, valid / same (odd and even kernels) / causal / explicit padding, strides,
// dilation and groups, in f64 and f32, for the chosen kernel and the reference.
#include "conformance/weighted_cases.hpp"
#include "kernels/harness.hpp"

TEST(ConvPyTorchConformance, ForwardAndBackward) {
  locnet::testing::KernelCount chosen({"direct_hwy", "im2col", "depthwise"});
  EXPECT_EQ(locnet::testing::check_weighted_cases("conv_pytorch", "conv2d:ref",
                                                  [&](const std::string& k) { chosen.add(k); }),
            13u);
}
