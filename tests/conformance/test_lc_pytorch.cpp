// LocallyConnected1D/2D against an F.unfold + einsum computation in PyTorch (tests/conformance/lc_pytorch/
// generate.py), with the weights in Keras implementation-1 layout: forward, dx, dkernel and dbias, both formats,
// valid / same (odd and even kernels) / causal / explicit padding, strides and dilation, in f64 and f32, for the
// chosen kernel and the reference.
#include "conformance/weighted_cases.hpp"
#include "kernels/harness.hpp"

TEST(LcPyTorchConformance, ForwardAndBackward) {
  locnet::testing::KernelCount chosen({"hwy", "blas"});  // the optimized kernels the default choice must reach
  EXPECT_EQ(locnet::testing::check_weighted_cases("lc_pytorch", "locally_connected:ref",
                                                  [&](const std::string& k) { chosen.add(k); }),
            8u);
}
