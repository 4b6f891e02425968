// LocalResponseNorm.pytorch against values computed by PyTorch itself (tests/conformance/lrn_pytorch/generate.py),
// forward and backward, odd and even sizes, ranks 3 to 5, in f64 and f32.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "conformance/cases.hpp"
#include "gradcheck.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/layers/lrn.hpp"

using namespace locnet;

TEST(LrnPyTorchConformance, ForwardAndBackward) {
  const std::string dir = locnet::testing::conformance_dir("lrn_pytorch");
  const std::vector<std::string> cases = locnet::testing::conformance_cases(dir);
  for (const std::string& line : cases) {
    std::istringstream in(line);
    std::string name;
    PyTorchLrnConfig cfg;
    in >> name >> cfg.size >> cfg.alpha >> cfg.beta >> cfg.k;
    SCOPED_TRACE(name);
    Tensor x = read_npy(dir + name + "_x.npy"), dy = read_npy(dir + name + "_dy.npy");
    Tensor y_torch = read_npy(dir + name + "_y.npy"), dx_torch = read_npy(dir + name + "_dx.npy");
    for (DType dt : {DType::f64, DType::f32}) {
      double rtol = dt == DType::f64 ? 1e-12 : 2e-5;
      PyTorchLocalResponseNorm lrn(cfg);
      Rng rng(0);
      lrn.build(x.shape().with_dim(0, Shape::kUnknown), rng, dt);
      Tensor y = lrn.forward(x.to(dt), Mode::Training);
      EXPECT_LE(max_scaled_error(y, y_torch, rtol, rtol), 1.0) << dtype_name(dt);
      Tensor dx = lrn.backward(dy.to(dt));
      EXPECT_LE(max_scaled_error(dx, dx_torch, rtol, rtol), 1.0) << dtype_name(dt);
    }
  }
  EXPECT_EQ(cases.size(), 8u);
}
