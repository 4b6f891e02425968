// A graph with Concatenate and Add against values computed by PyTorch itself (real data:
// tests/conformance/graph_pytorch/generate.py, F.conv2d, torch.cat and + of torch 1.13 with autograd, moved to
// Keras's layouts by numpy): the same graph from Keras functional spec text, PyTorch's weights loaded, forward y,
// dx and every parameter gradient compared, in f64 and f32.
#include <gtest/gtest.h>

#include <map>

#include "conformance/cases.hpp"
#include "gradcheck.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/model/from_spec.hpp"

using namespace locnet;

namespace {
const char* const kGraph = R"(x = Input((5, 4, 3))
a = Conv2D(2, 1, name="a")(x)
b = Conv2D(3, 3, padding="same", name="b")(x)
c = Concatenate()([a, b])
d = Conv2D(3, 3, padding="same", name="d")(c)
s = Conv2D(3, 1, name="s")(x)
y = Add()([d, s])
Model(inputs=x, outputs=y))";
}  // namespace

TEST(GraphPyTorchConformance, ConcatenateAndAddForwardAndBackward) {
  const std::string dir = locnet::testing::conformance_dir("graph_pytorch");
  const std::vector<std::string> convs = locnet::testing::conformance_cases(dir);
  ASSERT_EQ(convs.size(), 4u);
  const Tensor x = read_npy(dir + "x.npy"), dy = read_npy(dir + "dy.npy");
  const Tensor y_torch = read_npy(dir + "y.npy"), dx_torch = read_npy(dir + "dx.npy");
  for (DType dt : {DType::f64, DType::f32}) {
    SCOPED_TRACE(dtype_name(dt));
    const double rtol = dt == DType::f64 ? 1e-12 : 1e-5;
    Model m = parse_model(kGraph);
    m.build_from_inputs(0, dt);
    const auto named = m.named_params(false);
    const std::map<std::string, Param*> params(named.begin(), named.end());
    ASSERT_EQ(params.size(), 2 * convs.size());
    for (const std::string& conv : convs)
      for (const char* p : {"kernel", "bias"}) {
        Tensor& value = params.at(conv + "." + p)->value;
        const Tensor torch = read_npy(dir + conv + "_" + p + ".npy");
        ASSERT_EQ(value.shape(), torch.shape()) << conv << " " << p;
        value = torch.to(dt);
      }
    m.zero_grad();
    Tensor y = m.forward(x.to(dt), Mode::Training);
    EXPECT_LE(max_scaled_error(y, y_torch, rtol, rtol), 1.0);
    Tensor dx = m.backward(dy.to(dt));
    EXPECT_LE(max_scaled_error(dx, dx_torch, rtol, rtol), 1.0);
    for (const std::string& conv : convs)
      for (const char* p : {"kernel", "bias"}) {
        EXPECT_LE(max_scaled_error(params.at(conv + "." + p)->grad, read_npy(dir + conv + "_d" + p + ".npy"), rtol, rtol), 1.0) << conv << " d" << p;
      }
  }
}
