// Model::backward(dy, input_grads=false) (model/model.hpp, Layer::set_need_input_grad): the layers fed only by
// the model input may skip dx. Synthetic data (random_tensor); every expected value comes from the same model run
// with input_grads = true, which existing gradient checks cover.
#include <gtest/gtest.h>

#include "gradcheck.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/model.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

namespace {

// The training network of `locnet train` (tools/locnet/train.cpp), smaller: Conv2D first (direct_hwy in f32).
const char* const kNet =
    "Input((12, 12, 1)) >> Conv2D(4, 3, padding='same', use_bias=False) >> BatchNorm2D() >> Activation('relu')"
    " >> MaxPooling2D(2) >> LocallyConnected2D(3, 3) >> Flatten() >> Dense(5)";

struct StepResult {
  Tensor dx;
  std::vector<std::pair<std::string, Tensor>> grads;
};

StepResult step(const std::string& spec, DType dt, bool input_grads) {
  Model m = parse_model(spec);
  m.build_from_inputs(7, dt);
  Tensor x = random_tensor(Shape{3, 12, 12, 1}, dt, 1);
  Tensor y = m.forward(x, Mode::Training);
  StepResult r;
  r.dx = m.backward(random_tensor(y.shape(), dt, 2), input_grads);
  for (auto& [name, p] : m.named_params(false)) r.grads.emplace_back(name, p->grad.clone());
  for (size_t i = 0; i < m.size(); ++i) EXPECT_TRUE(m.layer(i).need_input_grad()) << "flag restored";
  return r;
}

void expect_same_grads(const StepResult& a, const StepResult& b) {
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (size_t i = 0; i < a.grads.size(); ++i) {
    const Tensor &ga = a.grads[i].second, &gb = b.grads[i].second;
    ASSERT_EQ(ga.shape(), gb.shape()) << a.grads[i].first;
    for (int64_t k = 0; k < ga.numel(); ++k) ASSERT_EQ(ga.item(k), gb.item(k)) << a.grads[i].first << " [" << k << "]";
  }
}

}  // namespace

TEST(InputGrad, SkippedByTheFirstConvParameterGradientsBitIdentical) {
  for (DType dt : {DType::f32, DType::f64}) {
    const StepResult with = step(kNet, dt, true), without = step(kNet, dt, false);
    expect_same_grads(with, without);
    ASSERT_TRUE(with.dx.defined());
    EXPECT_EQ(with.dx.shape(), (Shape{3, 12, 12, 1}));
    // f32 picks direct_hwy, which skips dx; the f64 reference computes it anyway (the flag is a permission).
    if (dt == DType::f32) {
      EXPECT_FALSE(without.dx.defined());
    }
  }
}

TEST(InputGrad, DenseFirstSkipsAndDxIsUnchangedWhenAsked) {
  const std::string spec = "Input((12, 12, 1)) >> Flatten() >> Dense(6, activation='tanh') >> Dense(3)";
  // Flatten comes first, so nothing is skipped: dx must equal the one of a plain backward.
  for (DType dt : {DType::f32, DType::f64}) {
    const StepResult with = step(spec, dt, true), without = step(spec, dt, false);
    expect_same_grads(with, without);
    ASSERT_TRUE(without.dx.defined());
    for (int64_t k = 0; k < with.dx.numel(); ++k) ASSERT_EQ(with.dx.item(k), without.dx.item(k));
  }
  for (DType dt : {DType::f32, DType::f64}) {  // Dense fed by the input: blas (f32) and ref (f64) both skip
    Model a = parse_model("Input((144,)) >> Dense(6, activation='tanh') >> Dense(3)"), b = a;
    a.build_from_inputs(3, dt);
    b.build_from_inputs(3, dt);
    Tensor x = random_tensor(Shape{4, 144}, dt, 1), dy = random_tensor(Shape{4, 3}, dt, 2);
    a.forward(x, Mode::Training);
    b.forward(x, Mode::Training);
    Tensor dxa = a.backward(dy), dxb = b.backward(dy, false);
    EXPECT_TRUE(dxa.defined());
    EXPECT_FALSE(dxb.defined());
    for (size_t i = 0; i < a.size(); ++i) {
      auto pa = a.layer(i).params(), pb = b.layer(i).params();
      for (size_t j = 0; j < pa.size(); ++j)
        for (int64_t k = 0; k < pa[j]->grad.numel(); ++k) ASSERT_EQ(pa[j]->grad.item(k), pb[j]->grad.item(k));
    }
  }
}

// The default `locnet train` network fuses its ReLUs into the BatchNorms (tools/locnet/train.cpp): the training
// step's output and parameter gradients must be those of BatchNorm2D() >> Activation('relu') (same weights, f64,
// up to rounding).
TEST(InputGrad, FusedBatchNormReluTrainsAsTheSeparateLayers) {
  const std::string tail = " >> MaxPooling2D(2) >> LocallyConnected2D(3, 3) >> Flatten() >> Dense(5)";
  const std::string head = "Input((12, 12, 1)) >> Conv2D(4, 3, padding='same', use_bias=False)";
  const StepResult a = step(head + " >> BatchNorm2D() >> Activation('relu')" + tail, DType::f64, false);
  const StepResult b = step(head + " >> BatchNorm2D(activation='relu')" + tail, DType::f64, false);
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (size_t i = 0; i < a.grads.size(); ++i) {
    const Tensor &ga = a.grads[i].second, &gb = b.grads[i].second;
    ASSERT_EQ(ga.numel(), gb.numel());
    for (int64_t k = 0; k < ga.numel(); ++k)
      ASSERT_NEAR(ga.item(k), gb.item(k), 1e-10 * (1 + std::abs(ga.item(k)))) << a.grads[i].first << " " << k;
  }
}
