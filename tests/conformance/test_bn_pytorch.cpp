// BatchNorm{1,2,3}D.pytorch against torch.nn.BatchNorm1d/2d/3d itself (tests/conformance/bn_pytorch/generate.py):
// outputs, running statistics after three training steps (momentum 0.1, 0.3 and None), the eval-mode output, and
// dx, dgamma, dbeta for a random upstream gradient; channels_first; in f64 and f32.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "conformance/cases.hpp"
#include "gradcheck.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/batch_norm.hpp"
#include "locnet/layers/registry.hpp"

using namespace locnet;

namespace {
Tensor& named(std::vector<Param*> ps, const std::string& name) {
  for (Param* p : ps)
    if (p->name == name) return p->value;
  throw std::logic_error("no " + name);
}
Tensor& grad(std::vector<Param*> ps, const std::string& name) {
  for (Param* p : ps)
    if (p->name == name) return p->grad;
  throw std::logic_error("no " + name);
}
}  // namespace

TEST(BnPyTorchConformance, TrainingStepsEvalAndGradients) {
  const std::string dir = locnet::testing::conformance_dir("bn_pytorch");
  const std::vector<std::string> cases = locnet::testing::conformance_cases(dir);
  for (const std::string& line : cases) {
    std::istringstream in(line);
    std::string name, momentum, eps;
    int spatial = 0;
    int64_t c = 0;
    in >> name >> spatial >> c >> momentum >> eps;
    SCOPED_TRACE(name);
    auto load = [&](const std::string& tag) { return read_npy(fmt::format("{}{}_{}.npy", dir, name, tag)); };
    std::string spec =
        fmt::format("BatchNorm{}D.pytorch({}, eps={}, momentum={})", std::max(spatial, 1), c, eps, momentum);
    for (DType dt : {DType::f64, DType::f32}) {
      SCOPED_TRACE(dtype_name(dt));
      const double tol = dt == DType::f64 ? 1e-10 : 2e-5;
      auto layer = make_layer(parse_chain(spec).at(0));
      Tensor x0 = load("x0");
      Rng rng(0);
      layer->build(x0.shape().with_dim(0, Shape::kUnknown), rng, dt);
      named(layer->params(), "gamma") = load("weight").to(dt);
      named(layer->params(), "beta") = load("bias").to(dt);
      Tensor y;
      for (int step = 0; step < 3; ++step) y = layer->forward(load(fmt::format("x{}", step)).to(dt), Mode::Training);
      EXPECT_LE(max_scaled_error(y, load("y"), tol, tol), 1.0) << "y";
      layer->zero_grad();
      Tensor dx = layer->backward(load("dy").to(dt));
      EXPECT_LE(max_scaled_error(dx, load("dx"), tol, tol), 1.0) << "dx";
      EXPECT_LE(max_scaled_error(grad(layer->params(), "gamma"), load("dweight"), tol, tol), 1.0) << "dgamma";
      EXPECT_LE(max_scaled_error(grad(layer->params(), "beta"), load("dbias"), tol, tol), 1.0) << "dbeta";
      EXPECT_LE(max_scaled_error(named(layer->buffers(), "moving_mean"), load("running_mean"), tol, tol), 1.0);
      EXPECT_LE(max_scaled_error(named(layer->buffers(), "moving_variance"), load("running_var"), tol, tol), 1.0);
      EXPECT_EQ(named(layer->buffers(), "num_batches_tracked").item(0), 3.0);
      EXPECT_LE(max_scaled_error(layer->forward(x0.to(dt), Mode::Inference), load("y_eval"), tol, tol), 1.0) << "eval";
    }
  }
  EXPECT_EQ(cases.size(), 6u);
}
