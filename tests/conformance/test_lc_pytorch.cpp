// LocallyConnected1D/2D against an F.unfold + einsum computation in PyTorch (tests/conformance/lc_pytorch/
// generate.py), with the weights in Keras implementation-1 layout: forward, dx, dkernel and dbias, both formats,
// valid / same (odd and even kernels) / causal / explicit padding, strides and dilation, in f64 and f32, for the
// chosen kernel and the reference.
#include <gtest/gtest.h>

#include <fstream>

#include "conformance/cases.hpp"
#include "gradcheck.hpp"
#include "kernels/harness.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/registry.hpp"
#include "scoped_env.hpp"

using namespace locnet;

TEST(LcPyTorchConformance, ForwardAndBackward) {
  const std::string dir = locnet::testing::conformance_dir("lc_pytorch");
  const std::vector<std::string> cases = locnet::testing::conformance_cases(dir);
  locnet::testing::KernelCount chosen({"hwy", "blas"});  // the optimized kernels the default choice must reach
  for (const std::string& line : cases) {
    size_t bar = line.find('|');
    ASSERT_NE(bar, std::string::npos) << line;
    const std::string name = line.substr(0, bar), spec = line.substr(bar + 1);
    SCOPED_TRACE(name + ": " + spec);
    auto load = [&](const char* tag) { return read_npy(dir + name + "_" + tag + ".npy"); };
    Tensor x = load("x"), dy = load("dy"), kernel = load("kernel"), bias = load("bias");
    Tensor y_torch = load("y"), dx_torch = load("dx"), dk_torch = load("dkernel"), db_torch = load("dbias");
    for (const char* impl : {static_cast<const char*>(nullptr), "locally_connected:ref"})
      for (DType dt : {DType::f64, DType::f32}) {
        SCOPED_TRACE(fmt::format("{} {}", impl ? impl : "chosen", dtype_name(dt)));
        auto layer = make_layer(parse_chain(spec)[0]);
        {
          locnet::testing::ScopedEnv force("LOCNET_IMPL", impl);  // nullptr: the registry's own choice
          Rng rng(0);
          layer->build(x.shape().with_dim(0, Shape::kUnknown), rng, dt);
        }
        if (!impl) chosen.add(layer->kernel());
        auto ps = layer->params();
        ASSERT_EQ(ps.size(), 2u);
        ASSERT_EQ(ps[0]->value.shape(), kernel.shape());
        ASSERT_EQ(ps[1]->value.shape(), bias.shape());
        ps[0]->value = kernel.to(dt);
        ps[1]->value = bias.to(dt);
        const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
        Tensor y = layer->forward(x.to(dt), Mode::Training);
        EXPECT_LE(max_scaled_error(y, y_torch, tol, tol), 1.0);
        layer->zero_grad();
        Tensor dx = layer->backward(dy.to(dt));
        EXPECT_LE(max_scaled_error(dx, dx_torch, tol, tol), 1.0);
        EXPECT_LE(max_scaled_error(ps[0]->grad, dk_torch, tol, tol), 1.0);
        EXPECT_LE(max_scaled_error(ps[1]->grad, db_torch, tol, tol), 1.0);
      }
  }
  EXPECT_EQ(cases.size(), 8u);
}
