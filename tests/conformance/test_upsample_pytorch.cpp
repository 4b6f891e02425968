// ZeroPadding1D/2D, Cropping1D/2D and UpSampling1D/2D (nearest and bilinear) against real PyTorch output
// (tests/conformance/upsample_pytorch/generate.py: F.pad, slicing, F.interpolate nearest and bilinear with
// align_corners=False): forward y and dx for L = sum(y * dy), both data formats (ZeroPadding1D's too), a crop to
// 1x1, a 1x1 input, a size-1 axis and the clamped edge rows of bilinear, in f64 and f32.
#include <gtest/gtest.h>

#include "conformance/cases.hpp"
#include "gradcheck.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/registry.hpp"

using namespace locnet;

TEST(UpsamplePyTorchConformance, ForwardAndBackward) {
  const std::string dir = locnet::testing::conformance_dir("upsample_pytorch");
  const std::vector<std::string> cases = locnet::testing::conformance_cases(dir);
  for (const std::string& line : cases) {
    const size_t bar = line.find('|');
    ASSERT_NE(bar, std::string::npos) << line;
    const std::string name = line.substr(0, bar), spec = line.substr(bar + 1);
    SCOPED_TRACE(name + ": " + spec);
    auto load = [&](const char* tag) { return read_npy(dir + name + "_" + tag + ".npy"); };
    Tensor x = load("x"), dy = load("dy"), y_torch = load("y"), dx_torch = load("dx");
    for (DType dt : {DType::f64, DType::f32}) {
      SCOPED_TRACE(dtype_name(dt));
      auto layer = make_layer(parse_chain(spec)[0]);
      Rng rng(0);
      layer->build(x.shape().with_dim(0, Shape::kUnknown), rng, dt);
      const double tol = dt == DType::f64 ? 1e-12 : 2e-6;
      Tensor y = layer->forward(x.to(dt), Mode::Training);
      ASSERT_EQ(y.shape(), y_torch.shape());
      EXPECT_LE(max_scaled_error(y, y_torch, tol, tol), 1.0);
      Tensor dx = layer->backward(dy.to(dt));
      EXPECT_LE(max_scaled_error(dx, dx_torch, tol, tol), 1.0);
    }
  }
  EXPECT_EQ(cases.size(), 15u);
}
