// WeightedBody (include/locnet/layers/weighted.hpp), the body of Dense, Conv2D and LocallyConnected, driven
// with a toy kernel-registry entry: z[i] = x[i] * w[0] + b[0] (f64), so every step can be worked out by hand.
#include <memory>

#include "expect_error.hpp"
#include "locnet/layers/weighted.hpp"
#include "locnet/params/initializers.hpp"

using namespace locnet;

namespace {

struct ToyProblem {
  int64_t size;
};

// forward and backward with the registry's signatures (static, called as impl.forward(...)).
struct Scale {
  static void forward(const ToyProblem& p, const void* xv, const void* wv, const void* bv, void* yv) {
    auto x = static_cast<const double*>(xv);
    auto w = static_cast<const double*>(wv);
    auto b = static_cast<const double*>(bv);
    auto y = static_cast<double*>(yv);
    for (int64_t i = 0; i < p.size; ++i) y[i] = x[i] * w[0] + (b ? b[0] : 0.0);
  }
  static void backward(const ToyProblem& p, const void* dyv, const void* xv, const void* wv, void* dxv, void* dwv,
                       void* dbv) {
    auto dy = static_cast<const double*>(dyv);
    auto x = static_cast<const double*>(xv);
    auto w = static_cast<const double*>(wv);
    auto dx = static_cast<double*>(dxv);
    auto dw = static_cast<double*>(dwv);
    auto db = static_cast<double*>(dbv);
    for (int64_t i = 0; i < p.size; ++i) {
      dx[i] = dy[i] * w[0];
      dw[0] += dy[i] * x[i];
      if (db) db[0] += dy[i];
    }
  }
};

WeightedBody relu_body(bool use_bias) {
  WeightedBody body;
  body.use_bias = use_bias;
  body.act = ActivationFn::by_name("relu");
  Rng rng(0);
  body.build(Shape{1}, Shape{1}, "ones", "ones", DType::f64, rng, "toy");
  body.kernel.value.fill(2.0);
  return body;
}

}  // namespace

TEST(WeightedBody, BuildAllocatesInitializesAndChecksConstraints) {
  WeightedBody body = relu_body(true);
  ASSERT_EQ(body.params().size(), 2u);
  EXPECT_EQ(body.params()[1], &body.bias);
  EXPECT_EQ(body.bias.value.item(0), 1.0);  // "ones"
  EXPECT_EQ(body.kernel.grad.item(0), 0.0);
  EXPECT_EQ(body.kernel.value.dtype(), DType::f64);

  WeightedBody no_bias = relu_body(false);
  EXPECT_EQ(no_bias.params().size(), 1u);
  EXPECT_FALSE(no_bias.bias.value.defined());

  // init_kernel replaces the kernel initializer; the bias still gets its own.
  WeightedBody custom;
  Rng rng(0);
  custom.build(Shape{2}, Shape{1}, "zeros", "ones", DType::f32, rng, "toy",
               [](Tensor& k, Rng&) { k.fill(7.0); });
  EXPECT_EQ(custom.kernel.value.item(1), 7.0);
  EXPECT_EQ(custom.bias.value.item(0), 1.0);

  WeightedBody constrained;
  constrained.kernel.constraint = std::make_shared<MaxNorm>(2.0, std::vector<int64_t>{3});
  EXPECT_THROW_MSG(constrained.build(Shape{2, 2}, Shape{2}, "zeros", "zeros", DType::f32, rng, "toy (Toy)"),
                   ShapeError, "toy (Toy) kernel_constraint");
}

TEST(WeightedBody, ForwardActivatesAndCachesOnlyInTraining) {
  WeightedBody body = relu_body(true);
  Tensor x = Tensor::from(std::vector<double>{1.0, -3.0}, Shape{2, 1});
  Tensor y = body.forward(Scale{}, ToyProblem{2}, false, x, Shape{2, 1}, Mode::Inference);
  EXPECT_EQ(y.item(0), 3.0);  // relu(1 * 2 + 1)
  EXPECT_EQ(y.item(1), 0.0);  // relu(-3 * 2 + 1)
  EXPECT_THROW_MSG(body.require_forward("toy (Toy)"), ConfigError,
                   "toy (Toy): backward must follow a training-mode forward");

  body.forward(Scale{}, ToyProblem{2}, false, x, Shape{2, 1}, Mode::Training);
  EXPECT_NO_THROW(body.require_forward("toy"));
  EXPECT_EQ(body.z.item(1), -5.0);
  EXPECT_EQ(body.y.item(0), 3.0);
  EXPECT_EQ(body.x.item(1), -3.0);

  // `empty` skips the kernel (a batch of 0).
  Tensor none = body.forward(Scale{}, ToyProblem{0}, true, Tensor(Shape{0, 1}, DType::f64), Shape{0, 1},
                             Mode::Inference);
  EXPECT_EQ(none.numel(), 0);
}

TEST(WeightedBody, BackwardThroughActivationAndActivityRegularizer) {
  WeightedBody body = relu_body(true);
  body.activity.reg = std::make_shared<L2>(0.5);  // grad(y) = 2 * 0.5 * y = y, divided by the batch (2)
  Tensor x = Tensor::from(std::vector<double>{1.0, -3.0}, Shape{2, 1});
  body.forward(Scale{}, ToyProblem{2}, false, x, Shape{2, 1}, Mode::Training);
  EXPECT_DOUBLE_EQ(body.activity.loss, 0.5 * 9.0 / 2.0);
  Tensor dy = Tensor::from(std::vector<double>{1.0, 1.0}, Shape{2, 1});
  Tensor dx = body.backward(Scale{}, ToyProblem{2}, false, dy);
  // dy' = dy + y / 2 = (2.5, 1); dz = dy' * relu'(z) = (2.5, 0); dx = dz * w = (5, 0).
  EXPECT_EQ(dx.item(0), 5.0);
  EXPECT_EQ(dx.item(1), 0.0);
  EXPECT_EQ(body.kernel.grad.item(0), 2.5);  // sum dz * x
  EXPECT_EQ(body.bias.grad.item(0), 2.5);    // sum dz
}
