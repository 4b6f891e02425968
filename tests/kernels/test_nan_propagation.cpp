// NaN propagation. TensorFlow, PyTorch and Keras map a NaN input of relu, leaky_relu, elu, max pooling and the
// other activations to a NaN output; locnet's ReLU turned NaN into 0 ([nan, -1, 2, inf] -> [0, 0, 2, inf]), so an
// all-NaN image could yield plausible probabilities. Checked here: every activation kernel, the fused ReLU of
// every BatchNorm kernel under every Highway target, and the layers built on them (Activation, Dense, Conv2D,
// BatchNorm2D, MaxPooling2D, a small classifier).
// Backward, at a NaN input: a NaN output gradient gives a NaN input gradient (TensorFlow and PyTorch agree); a
// finite output gradient passes through ReLU unchanged, as PyTorch's threshold_backward (TensorFlow's ReluGrad
// multiplies it by [x > 0] = 0 instead).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include "kernels/activation/problem.hpp"
#include "kernels/batch_norm/problem.hpp"
#include "kernels/dense/problem.hpp"
#include "kernels/harness.hpp"
#include "kernels/targets.hpp"
#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/layers/activations.hpp"
#include "locnet/layers/batch_norm.hpp"
#include "locnet/layers/conv.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/layers/pooling.hpp"
#include "locnet/model/sequential.hpp"
#include "scoped_env.hpp"

using namespace locnet;
using namespace locnet::kernels;
using locnet::testing::ScopedEnv;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// 37 values (vector bodies and a tail) cycling through NaN, -NaN (x86's default NaN has the sign bit set),
// negatives, zeros, positives and infinities.
std::vector<double> mixed_values() {
  const double pattern[] = {kNaN, -1, 2, kInf, -kInf, 0, -0.0, -kNaN, 0.5, -3};
  std::vector<double> v(37);
  for (size_t i = 0; i < v.size(); ++i) v[i] = pattern[i % 10] * (i < 10 ? 1 : 1 + double(i) / 64);
  return v;
}

template <class T>
void relu_kernel_keeps_nan(const ActivationKernel& k) {
  SCOPED_TRACE(k.name);
  const std::vector<double> src = mixed_values();
  const ActivationProblem p{ActivationId::relu, int64_t(src.size()), int64_t(src.size()), dtype_v<T>};
  std::vector<T> z(src.begin(), src.end()), y(z.size()), ones(z.size(), T(1)), dy(z.size()), dz(z.size());
  k.forward(p, z.data(), y.data());
  for (size_t i = 0; i < z.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "z[" << i << "] = " << z[i]);
    if (std::isnan(z[i])) {
      EXPECT_TRUE(std::isnan(y[i])) << y[i];
    } else {
      EXPECT_EQ(y[i], z[i] > 0 ? z[i] : T(0));
    }
  }
  k.backward(p, z.data(), y.data(), ones.data(), dz.data());
  for (size_t i = 0; i < z.size(); ++i) EXPECT_EQ(dz[i], z[i] <= 0 ? T(0) : T(1)) << "z = " << z[i];
  for (size_t i = 0; i < z.size(); ++i) dy[i] = std::isnan(z[i]) ? T(kNaN) : T(1);
  k.backward(p, z.data(), y.data(), dy.data(), dz.data());
  for (size_t i = 0; i < z.size(); ++i) {
    if (std::isnan(z[i])) {
      EXPECT_TRUE(std::isnan(dz[i])) << "i = " << i;
    }
  }
}

}  // namespace

TEST(NanPropagation, ReluKernelForwardAndBackward) {
  locnet::testing::KernelSweep<ActivationKernel> sweep(activation_kernels(), {"relu"});
  const int kernels = sweep.each(ActivationProblem{ActivationId::relu, 1, 1}, [](const ActivationKernel& k) {
    relu_kernel_keeps_nan<float>(k);  // the reference and the relu loops
    relu_kernel_keeps_nan<double>(k);
  });
  EXPECT_EQ(kernels, 2);
}

TEST(NanPropagation, EveryActivationKernel) {
  for (const std::string& name : activation_names()) {
    SCOPED_TRACE(name);
    const ActivationId kind = ActivationId(ActivationFn::by_name(name).kind);
    const std::vector<double> z = {kNaN, -1, 0.5, -kNaN, 3, -2};  // two rows of 3 (softmax normalises rows)
    const ActivationProblem p{kind, 6, 3};
    std::vector<double> y(6), dy(6), dz(6);
    activation_forward_ref<double>(p, z.data(), y.data());
    EXPECT_TRUE(std::isnan(y[0]) && std::isnan(y[3])) << y[0] << " " << y[3];
    for (size_t i = 0; i < 6; ++i) dy[i] = std::isnan(z[i]) ? kNaN : 1.0;
    activation_backward_ref<double>(p, z.data(), y.data(), dy.data(), dz.data());
    EXPECT_TRUE(std::isnan(dz[0]) && std::isnan(dz[3])) << dz[0] << " " << dz[3];
  }
}

// Every BatchNorm kernel with fused ReLU, under every Highway target, f32 and f64, both layouts, shapes with SIMD
// bodies and tails: inference maps exactly the NaN inputs to NaN; training makes the NaN's channel NaN (its
// statistics are NaN) and leaves the others finite; backward gives NaN at the NaN inputs for a NaN dy.
TEST(NanPropagation, BatchNormKernelsFusedRelu) {
  struct S {
    int64_t n, c, s;
  };
  locnet::testing::for_each_target([&] {
    locnet::testing::KernelSweep<BatchNormKernel> sweep(batch_norm_kernels(), {"hwy"});
    for (DType dt : {DType::f32, DType::f64})
      for (bool last : {true, false})
        for (S sh : {S{2, 17, 5}, S{1, 3, 37}, S{3, 64, 9}}) {
          BatchNormProblem p{.n = sh.n, .c = sh.c, .s = sh.s, .channels_last = last, .relu = true, .dtype = dt};
          sweep.each(p, [&](const BatchNormKernel& k) {
            SCOPED_TRACE(::testing::Message() << k.name << " " << dtype_name(dt) << (last ? " NSC " : " NCS ")
                                              << sh.n << "x" << sh.c << "x" << sh.s);
            const int64_t count = p.n * p.c * p.s;
            auto channel = [&](int64_t i) { return last ? i % p.c : (i / p.s) % p.c; };
            Tensor x = locnet::testing::random_tensor(Shape{count}, DType::f64, 5);
            for (int64_t i = 0; i < count; i += 7) x.set(i, i % 2 ? kNaN : -kNaN);
            x = x.to(dt);
            std::vector<double> gamma(size_t(p.c), 1.5), beta(size_t(p.c), -0.25), mean(size_t(p.c), 0.1),
                invstd(size_t(p.c), 2.0), var(size_t(p.c)), dgamma(size_t(p.c)), dbeta(size_t(p.c));
            Tensor y(Shape{count}, dt), dy(Shape{count}, dt), dx(Shape{count}, dt);
            k.forward_inference(p, x.raw(), mean.data(), invstd.data(), gamma.data(), beta.data(), y.raw());
            for (int64_t i = 0; i < count; ++i) {
              const bool in_nan = std::isnan(x.item(i)), out_nan = std::isnan(y.item(i));
              ASSERT_EQ(in_nan, out_nan) << "inference i = " << i << " x = " << x.item(i) << " y = " << y.item(i);
            }
            for (int64_t i = 0; i < count; ++i) dy.set(i, std::isnan(x.item(i)) ? kNaN : 1.0);
            k.backward(p, x.raw(), dy.raw(), mean.data(), invstd.data(), gamma.data(), beta.data(), false, dx.raw(),
                       dgamma.data(), dbeta.data());
            for (int64_t i = 0; i < count; ++i) {
              if (std::isnan(x.item(i))) {
                ASSERT_TRUE(std::isnan(dx.item(i))) << "backward i = " << i;
              }
            }

            Tensor xt = locnet::testing::random_tensor(Shape{count}, DType::f64, 6);
            xt.set(last ? p.c * (p.n * p.s - 1) : p.s - 1, kNaN);  // channel 0 only
            xt = xt.to(dt);
            k.forward_training(p, xt.raw(), gamma.data(), beta.data(), 1e-3, y.raw(), mean.data(), var.data());
            for (int64_t i = 0; i < count; ++i)
              ASSERT_EQ(std::isnan(y.item(i)), channel(i) == 0) << "training i = " << i << " y = " << y.item(i);
          });
        }
  });
}

TEST(NanPropagation, ActivationLayerRelu) {
  Activation relu("relu");
  Rng rng(0);
  relu.build(Shape{Shape::kUnknown, 4}, rng);
  Tensor x = Tensor::from(std::vector<float>{NAN, -1, 2, INFINITY}, Shape{1, 4});
  Tensor y = relu.forward(x, Mode::Training);
  EXPECT_TRUE(std::isnan(y.item(0)));
  EXPECT_EQ(y.item(1), 0);
  EXPECT_EQ(y.item(2), 2);
  EXPECT_EQ(y.item(3), INFINITY);
  Tensor dx = relu.backward(Tensor::from(std::vector<float>{NAN, NAN, 1, 1}, Shape{1, 4}));
  EXPECT_TRUE(std::isnan(dx.item(0)));
  EXPECT_EQ(dx.item(1), 0);  // NaN dy at x < 0: 0, as PyTorch (TensorFlow: NaN * 0 = NaN)
  EXPECT_EQ(dx.item(2), 1);
  EXPECT_EQ(dx.item(3), 1);
  dx = relu.backward(Tensor::from(std::vector<float>{1, 1, 1, 1}, Shape{1, 4}));
  EXPECT_EQ(dx.item(0), 1);  // finite dy at a NaN input passes, as PyTorch
}

TEST(NanPropagation, DenseReluEveryKernel) {
  for (const DenseKernel& k : dense_kernels()) {
    SCOPED_TRACE(k.name);
    ScopedEnv force("LOCNET_IMPL", std::string("dense:") + k.name);
    Dense d(2, "relu");
    Rng rng(3);
    d.build(Shape{Shape::kUnknown, 3}, rng);
    Tensor x = Tensor::from(std::vector<float>{NAN, 1, -1, 0.5f, 0.25f, -2}, Shape{2, 3});
    Tensor y = d.forward(x, Mode::Training);
    EXPECT_TRUE(std::isnan(y.item(0)) && std::isnan(y.item(1))) << y.item(0) << " " << y.item(1);
    EXPECT_FALSE(std::isnan(y.item(2)) || std::isnan(y.item(3)));
    Tensor dx = d.backward(Tensor::from(std::vector<float>{NAN, NAN, 1, 1}, Shape{2, 2}));
    for (int64_t i = 0; i < 3; ++i) EXPECT_TRUE(std::isnan(dx.item(i))) << i;
  }
}

// The layer: inference maps exactly the NaN input to NaN. Training with a NaN input is refused (its batch
// statistics are not finite, a ConfigError), so the backward with NaN inputs is checked on the kernels above.
TEST(NanPropagation, BatchNorm2DReluEveryKernel) {
  for (const BatchNormKernel& k : batch_norm_kernels())
    for (const char* fmt : {"channels_last", "channels_first"}) {
      SCOPED_TRACE(::testing::Message() << k.name << " " << fmt);
      ScopedEnv force("LOCNET_IMPL", std::string("batch_norm:") + k.name);
      BatchNorm2D bn({.activation = "relu", .data_format = fmt});
      Rng rng(1);
      bn.build(Shape{Shape::kUnknown, 4, 5, 16}, rng);
      Tensor x = locnet::testing::random_tensor(Shape{2, 4, 5, 16}, DType::f32, 2);
      x.set(37, kNaN);
      Tensor y = bn.forward(x, Mode::Inference);  // running statistics 0 and 1: finite scales
      for (int64_t i = 0; i < y.numel(); ++i) ASSERT_EQ(std::isnan(y.item(i)), i == 37) << i;
      EXPECT_THROW_MSG(bn.forward(x, Mode::Training), ConfigError, "batch statistics must be finite");
    }
}

// Max pooling already propagated NaN (the reference and the SIMD kernel, see test_pooling_kernels.cpp); checked
// here at the layer, with the backward: the gradient goes to the NaN (the window's argmax), as in PyTorch.
TEST(NanPropagation, MaxPooling2DLayer) {
  MaxPooling2D pool;
  Rng rng(0);
  pool.build(Shape{Shape::kUnknown, 4, 4, 8}, rng);
  Tensor x = locnet::testing::random_tensor(Shape{1, 4, 4, 8}, DType::f32, 3);
  x.set(8 * 5 + 3, kNaN);  // row 1, column 1, channel 3: window (0, 0)
  Tensor y = pool.forward(x, Mode::Training);
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(std::isnan(y.item(i)), i == 3) << i;
  Tensor dy(y.shape());
  dy.fill(1);
  dy.set(3, kNaN);
  Tensor dx = pool.backward(dy);
  EXPECT_TRUE(std::isnan(dx.item(8 * 5 + 3)));
  for (int64_t i : {3, 8 + 3, 8 * 4 + 3}) EXPECT_EQ(dx.item(i), 0) << i;
}

// An all-NaN image must not yield plausible probabilities.
TEST(NanPropagation, AllNanImageGivesNanProbabilities) {
  for (const char* impl : {"", "ref"}) {
    SCOPED_TRACE(impl);
    ScopedEnv force("LOCNET_IMPL", impl);
    Sequential m = Input({8, 8, 1}) >> Conv2D({.filters = 4, .kernel_size = {3, 3}, .activation = "relu"}) >>
                   MaxPooling2D() >> BatchNorm2D({.activation = "relu"}) >> Flatten() >> Dense(10, "relu") >>
                   Dense(3, "softmax");
    m.build(Shape{Shape::kUnknown, 8, 8, 1}, 7);
    Tensor x(Shape{2, 8, 8, 1});
    x.fill(kNaN);
    Tensor p = m.forward(x, Mode::Inference);
    for (int64_t i = 0; i < p.numel(); ++i) EXPECT_TRUE(std::isnan(p.item(i))) << i << ": " << p.item(i);
  }
}
