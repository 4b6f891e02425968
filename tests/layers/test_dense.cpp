#include <cmath>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "kernels/dense/problem.hpp"
#include "kernels/harness.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/layers/registry.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

TEST(Dense, KerasParameterLayoutAndShapes) {
  Dense d(7);
  Rng rng(0);
  d.build(Shape{Shape::kUnknown, 5}, rng);
  auto ps = d.params();
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0]->name, "kernel");
  EXPECT_EQ(ps[0]->value.shape(), (Shape{5, 7}));
  EXPECT_EQ(ps[1]->name, "bias");
  EXPECT_EQ(ps[1]->value.shape(), (Shape{7}));
  EXPECT_EQ(d.param_count(), 5 * 7 + 7);
  EXPECT_EQ(d.output_shape(Shape{Shape::kUnknown, 4, 5}).str(), "(None, 4, 7)");
  for (int64_t i = 0; i < 7; ++i) EXPECT_EQ(ps[1]->value.item(i), 0.0) << "bias_initializer zeros";
  // glorot_uniform limit sqrt(6 / (5 + 7))
  double limit = std::sqrt(6.0 / 12.0);
  double maxabs = 0;
  for (int64_t i = 0; i < 35; ++i) maxabs = std::max(maxabs, std::abs(ps[0]->value.item(i)));
  EXPECT_LE(maxabs, limit);
  EXPECT_GT(maxabs, limit / 4);
}

TEST(Dense, NoBiasHasOnlyKernel) {
  Dense d(DenseConfig{.units = 3, .use_bias = false});
  Rng rng(0);
  d.build(Shape{2, 4}, rng);
  ASSERT_EQ(d.params().size(), 1u);
  EXPECT_EQ(d.param_count(), 12);
}

// Forward equals x @ kernel + bias computed by an independent loop, for rank 2 and rank 3 inputs.
TEST(Dense, ForwardMatchesIndependentLoop) {
  for (Shape in : {Shape{3, 5}, Shape{2, 4, 5}, Shape{1, 5}}) {
    Dense d(4);
    Rng rng(3);
    d.build(in.with_dim(0, Shape::kUnknown), rng);
    Tensor& k = d.params()[0]->value;
    Tensor& b = d.params()[1]->value;
    b = random_tensor(b.shape(), DType::f32, 9);
    Tensor x = random_tensor(in, DType::f32, 4);
    Tensor y = d.forward(x, Mode::Inference);
    int64_t rows = x.numel() / 5;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < 4; ++j) {
        double acc = b.item(j);
        for (int64_t q = 0; q < 5; ++q) acc += x.item(r * 5 + q) * k.item(q * 4 + j);
        EXPECT_NEAR(y.item(r * 4 + j), acc, 1e-5);
      }
  }
}

TEST(Dense, GradientsForEveryActivation) {
  for (const std::string& act : activation_names()) {
    SCOPED_TRACE(act);
    Dense d(DenseConfig{.units = 4, .activation = act, .bias_initializer = "random_normal"});
    locnet::testing::check_layer(d, Shape{3, 5});
    Dense no_bias(DenseConfig{.units = 3, .activation = act, .use_bias = false});
    locnet::testing::check_layer(no_bias, Shape{2, 2, 4});
  }
}

TEST(Dense, ConfigErrors) {
  EXPECT_THROW_MSG(Dense(0), ConfigError, "units must be a positive integer, got 0");
  EXPECT_THROW_MSG(Dense(3, "relux"), ConfigError, "activation must be one of");
  EXPECT_THROW_MSG(Dense(DenseConfig{.units = 3, .kernel_initializer = "glorot"}), ConfigError,
                   "kernel_initializer must be one of");
}

TEST(Dense, ShapeErrors) {
  Dense d(3, std::nullopt, "fc");
  d.set_name("fc");
  EXPECT_THROW_MSG(d.output_shape(Shape{5}), ShapeError, "input rank must be >= 2");
  Rng rng(0);
  d.build(Shape{Shape::kUnknown, 4}, rng);
  EXPECT_THROW_MSG(d.forward(Tensor(Shape{2, 5}), Mode::Inference), ShapeError,
                   "fc (Dense): input shape must be (None, 4) (as built), got (2, 5)");
  EXPECT_THROW_MSG(d.forward(Tensor(Shape{2, 4}, DType::f64), Mode::Inference), ShapeError, "dtype must be f32");
  d.forward(Tensor(Shape{2, 4}), Mode::Inference);
  EXPECT_THROW_MSG(d.backward(Tensor(Shape{2, 3})), ConfigError, "backward must follow a training-mode forward");
  d.forward(Tensor(Shape{2, 4}), Mode::Training);
  EXPECT_THROW_MSG(d.backward(Tensor(Shape{2, 4})), ShapeError, "output gradient shape must be (2, 3), got (2, 4)");
}

TEST(Dense, ConfigRoundTripsThroughRegistry) {
  Dense d(DenseConfig{.units = 6, .activation = "tanh", .use_bias = false, .kernel_initializer = "he_normal"}, "fc");
  d.set_name("fc");
  Call c = d.config();
  EXPECT_EQ(c.repr(),
            "Dense(units=6, activation=\"tanh\", use_bias=False, kernel_initializer=\"he_normal\", "
            "bias_initializer=\"zeros\", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, "
            "kernel_constraint=None, bias_constraint=None, name=\"fc\")");
  auto again = make_layer(c);
  again->set_name(again->name_pattern());
  EXPECT_EQ(again->config(), c);
}

TEST(Dense, CloneOwnsItsParameters) {
  Dense d(2);
  Rng rng(0);
  d.build(Shape{1, 3}, rng);
  auto c = d.clone();
  c->params()[0]->value.fill(5.0);
  EXPECT_NE(d.params()[0]->value.item(0), 5.0);
}

// Every dense kernel against the reference over edge shapes, with guard elements around the outputs.
TEST(DenseKernels, MatchReferenceWithGuards) {
  using namespace locnet::kernels;
  auto list = dense_kernels();
  ASSERT_EQ(std::string(list.back().name), "ref");
  locnet::testing::KernelSweep<DenseKernel> sweep(list, {"blas"});
  const int64_t G = 16;  // guard elements each side
  for (DType dt : {DType::f32, DType::f64})
    for (const auto& mkn : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {1, 17, 3}, {7, 33, 65}, {64, 15, 16}, {3, 0, 4}})
      for (bool bias : {true, false}) {
        const int64_t m = mkn[0], k = mkn[1], n = mkn[2];  // not a structured binding: clang 14 cannot capture one
        DenseProblem p{m, k, n, dt, bias};
        sweep.compare(p, [&](const DenseKernel& impl, const DenseKernel& ref) {
          SCOPED_TRACE(fmt::format("{} {}x{}x{} {} bias={}", impl.name, m, k, n, dtype_name(dt), bias));
          Tensor x = random_tensor(Shape{m, k}, dt, 1), w = random_tensor(Shape{k, n}, dt, 2),
                 b = random_tensor(Shape{n}, dt, 3), dy = random_tensor(Shape{m, n}, dt, 4);
          auto guarded = [&](int64_t count) {
            Tensor t(Shape{count + 2 * G}, dt);
            t.fill(1234.5);
            return t;
          };
          auto inner = [&](Tensor& t) { return static_cast<char*>(t.raw()) + G * dtype_size(dt); };
          Tensor y1 = guarded(m * n), y2 = guarded(m * n);
          impl.forward(p, x.raw(), w.raw(), b.raw(), inner(y1));
          ref.forward(p, x.raw(), w.raw(), b.raw(), inner(y2));
          EXPECT_LE(max_scaled_error(y1, y2, dt == DType::f32 ? 1e-5 : 1e-12, 1e-5), 1.0);
          Tensor dx1 = guarded(m * k), dx2 = guarded(m * k), dw1 = guarded(k * n), dw2 = guarded(k * n),
                 db1 = guarded(n), db2 = guarded(n);
          impl.backward(p, dy.raw(), x.raw(), w.raw(), inner(dx1), inner(dw1), inner(db1));
          ref.backward(p, dy.raw(), x.raw(), w.raw(), inner(dx2), inner(dw2), inner(db2));
          double tol = dt == DType::f32 ? 1e-4 : 1e-10;
          EXPECT_LE(max_scaled_error(dx1, dx2, tol, 1e-4), 1.0);
          EXPECT_LE(max_scaled_error(dw1, dw2, tol, 1e-3), 1.0);  // accumulated onto 1234.5
          EXPECT_LE(max_scaled_error(db1, db2, tol, 1e-3), 1.0);
          for (Tensor* t : {&y1, &dx1, &dw1, &db1, &y2, &dx2, &dw2, &db2})  // the reference's outputs too
            for (int64_t g = 0; g < G; ++g) {
              EXPECT_EQ(t->item(g), 1234.5) << "write before the output";
              EXPECT_EQ(t->item(t->numel() - 1 - g), 1234.5) << "write past the output";
            }
        });
      }
}
