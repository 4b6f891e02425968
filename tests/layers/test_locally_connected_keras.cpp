// LocallyConnected with Keras's implementation 2 and 3 kernel layouts (include/locnet/layers/locally_connected_keras.hpp):
// the index formulas on hand-built kernels, 'same' clipping, round trips in every mode of tests/layers/lc_cases.hpp,
// and the errors (whole Keras weight files: tests/interop/test_keras.cpp).
#include <cmath>
#include <cstdlib>
#include <set>
#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "kernels/harness.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/layers/locally_connected.hpp"
#include "locnet/layers/locally_connected_keras.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/model/sequential.hpp"
#include "scoped_env.hpp"
#include "lc_cases.hpp"

using namespace locnet;
using namespace lc_cases;

// ---- Keras implementation 2 and 3 layouts ----

namespace {
LocallyConnectedGeometry geometry_of(const Case& t) {
  auto l = t.make();
  Rng rng(0);
  l->build(t.in_shape(), rng, DType::f64);
  return static_cast<LocallyConnectedBase&>(*l).geometry();
}
}  // namespace

// Hand-built: 2D channels_last, H = W = 3, C = 2, F = 2, kernel 2x2, valid -> OH = OW = 2. Impl. 2:
// W2[r*sh+dy, c*sw+dx, ch, r, c, f] == W1[r*OW+c, (dy*kw+dx)*C+ch, f]; impl. 3: w3 in order [p][f][dy][dx][ch].
TEST(LocallyConnectedKeras, IndexFormulasChannelsLast) {
  Case t;
  t.h = t.w = 3;
  t.c = t.f = 2;
  t.kh = t.kw = 2;
  LocallyConnectedGeometry g = geometry_of(t);
  EXPECT_EQ(keras_kernel_shape(g, 2), (Shape{3, 3, 2, 2, 2, 2}));
  EXPECT_EQ(keras_kernel_shape(g, 3), (Shape{4 * 8 * 2}));
  Tensor w1 = random_tensor(Shape{4, 8, 2}, DType::f64, 1);
  Tensor w2 = keras_impl1_to_impl2(g, w1), w3 = keras_impl1_to_impl3(g, w1);
  int64_t nonzero = 0;
  for (int64_t i = 0; i < w2.numel(); ++i) nonzero += w2.item(i) != 0;
  EXPECT_EQ(nonzero, 4 * 8 * 2);
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t dy = 0; dy < 2; ++dy)
        for (int64_t dx = 0; dx < 2; ++dx)
          for (int64_t ch = 0; ch < 2; ++ch)
            for (int64_t f = 0; f < 2; ++f) {
              double v = w1.item(((r * 2 + c) * 8 + (dy * 2 + dx) * 2 + ch) * 2 + f);
              int64_t i2 = (((((r + dy) * 3 + (c + dx)) * 2 + ch) * 2 + r) * 2 + c) * 2 + f;
              EXPECT_EQ(w2.item(i2), v);
              int64_t p = r * 2 + c;
              EXPECT_EQ(w3.item((((p * 2 + f) * 2 + dy) * 2 + dx) * 2 + ch), v);
            }
}

// Hand-built channels_first: impl. 2 (C, H, W, F, OH, OW), impl. 3 order [f][p][ch][dy][dx]; 1D (C, L, F, OL).
TEST(LocallyConnectedKeras, IndexFormulasChannelsFirstAnd1D) {
  Case t;
  t.last = false;
  t.h = 3;
  t.w = 4;
  t.c = 2;
  t.f = 3;
  t.kh = 2;
  t.kw = 3;  // OH = 2, OW = 2, K = 12
  LocallyConnectedGeometry g = geometry_of(t);
  EXPECT_EQ(keras_kernel_shape(g, 2), (Shape{2, 3, 4, 3, 2, 2}));
  Tensor w1 = random_tensor(Shape{4, 12, 3}, DType::f64, 2);
  Tensor w2 = keras_impl1_to_impl2(g, w1), w3 = keras_impl1_to_impl3(g, w1);
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t ch = 0; ch < 2; ++ch)
        for (int64_t dy = 0; dy < 2; ++dy)
          for (int64_t dx = 0; dx < 3; ++dx)
            for (int64_t f = 0; f < 3; ++f) {
              int64_t p = r * 2 + c;
              double v = w1.item((p * 12 + (ch * 2 + dy) * 3 + dx) * 3 + f);
              EXPECT_EQ(w2.item((((((ch * 3 + r + dy) * 4 + c + dx) * 3 + f) * 2 + r) * 2 + c)), v);
              EXPECT_EQ(w3.item((((f * 4 + p) * 2 + ch) * 2 + dy) * 3 + dx), v);
            }
  Case t1;
  t1.rank = 1;
  t1.last = false;
  t1.h = t1.kh = 1;
  t1.w = 5;
  t1.kw = 2;
  t1.c = 2;
  t1.f = 3;  // OL = 4
  LocallyConnectedGeometry g1 = geometry_of(t1);
  EXPECT_EQ(keras_kernel_shape(g1, 2), (Shape{2, 5, 3, 4}));
  Tensor v1 = random_tensor(Shape{4, 4, 3}, DType::f64, 3);
  Tensor v2 = keras_impl1_to_impl2(g1, v1);
  for (int64_t o = 0; o < 4; ++o)
    for (int64_t ch = 0; ch < 2; ++ch)
      for (int64_t dk = 0; dk < 2; ++dk)
        for (int64_t f = 0; f < 3; ++f)
          EXPECT_EQ(v2.item(((ch * 5 + o + dk) * 3 + f) * 4 + o), v1.item((o * 4 + ch * 2 + dk) * 3 + f));
}

// 'same' clips windows: 5x5 input, k = 3, C = F = 1 -> nnz 169, not 225.
TEST(LocallyConnectedKeras, SameClipsImplementation3) {
  Case t;
  t.h = t.w = 5;
  t.c = t.f = 1;
  t.kh = t.kw = 3;
  t.padding = "same";
  EXPECT_EQ(keras_kernel_shape(geometry_of(t), 3), (Shape{169}));
}

// impl1 -> impl2 -> impl1 and impl1 -> impl3 -> impl1 in every mode; weights of taps outside the input come back
// as zeros, and converted weights give the same outputs.
TEST(LocallyConnectedKeras, RoundTripsEveryMode) {
  for (const Case& t : all_cases()) {
    SCOPED_TRACE(t.str());
    auto l = t.make();
    Tensor x = random_tensor(t.in_shape(), DType::f64, 4);
    Tensor y = run(*l, x);
    const LocallyConnectedGeometry& g = static_cast<LocallyConnectedBase&>(*l).geometry();
    Tensor w1 = l->params()[0]->value.clone();
    for (int impl : {2, 3}) {
      Tensor there = impl == 2 ? keras_impl1_to_impl2(g, w1) : keras_impl1_to_impl3(g, w1);
      EXPECT_EQ(there.shape(), keras_kernel_shape(g, impl));
      Tensor back = impl == 2 ? keras_impl2_to_impl1(g, there) : keras_impl3_to_impl1(g, there);
      ASSERT_EQ(back.shape(), w1.shape());
      int64_t kept = 0;
      for (int64_t i = 0; i < w1.numel(); ++i) {
        double b = back.item(i);
        EXPECT_TRUE(b == w1.item(i) || b == 0.0) << i;
        kept += b == w1.item(i);
      }
      if (t.padding == "valid") {
        EXPECT_EQ(kept, w1.numel());
      }
      l->params()[0]->value = back;
      Tensor y2 = l->forward(x, Mode::Inference);
      EXPECT_LE(max_scaled_error(y2, y, 1e-12, 1e-12), 1.0) << "implementation " << impl;
      l->params()[0]->value = w1.clone();
    }
    // f32 stays f32.
    EXPECT_EQ(keras_impl1_to_impl3(g, w1.to(DType::f32)).dtype(), DType::f32);
  }
}

TEST(LocallyConnectedKeras, Errors) {
  Case t;
  LocallyConnectedGeometry g = geometry_of(t);
  EXPECT_THROW_MSG(keras_kernel_shape(g, 4), ConfigError, "implementation must be 1, 2 or 3, got 4");
  EXPECT_THROW_MSG(keras_impl2_to_impl1(g, Tensor(Shape{7, 8, 3, 5, 7, 5})), ShapeError,
                   "LocallyConnected2D: a Keras implementation-2 kernel must have shape (7, 8, 3, 5, 7, 4), got "
                   "(7, 8, 3, 5, 7, 5)");
  EXPECT_THROW_MSG(keras_impl3_to_impl1(g, Tensor(Shape{10})), ShapeError,
                   "a Keras implementation-3 kernel must have shape (2520,), got (10,)");
  EXPECT_THROW_MSG(keras_impl1_to_impl2(g, Tensor(Shape{35, 18})), ShapeError,
                   "implementation-1 kernel must have shape (35, 18, 4), got (35, 18)");
}
