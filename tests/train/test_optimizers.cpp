// Optimizers: two update steps of each against arithmetic written out here from Keras's update rules, f32 against
// f64, schedules, the spec forms and their errors, per-layer overrides, constraints, and the state round trip.
#include <cmath>

#include "expect_error.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/model/sequential.hpp"
#include "locnet/params/constraints.hpp"
#include "locnet/train/optimizers.hpp"

using namespace locnet;

namespace {

// w0 = (1, -2); step 1 with g1 = (0.5, -1), step 2 with g2 = (0.1, 0.2). Returns w after each step.
std::vector<std::vector<double>> two_steps(const std::string& spec, DType dt = DType::f64) {
  auto opt = make_optimizer(spec);
  Param p{"w", Tensor::from<double>({1.0, -2.0}, Shape{2}).to(dt), Tensor(Shape{2}, dt)};
  std::vector<std::pair<std::string, Param*>> params{{"layer.w", &p}};
  std::vector<std::vector<double>> out;
  for (auto g : {std::vector<double>{0.5, -1.0}, std::vector<double>{0.1, 0.2}}) {
    p.grad.set(0, g[0]);
    p.grad.set(1, g[1]);
    opt->step(params);
    out.push_back(p.value.to_vector());
  }
  return out;
}

void expect_steps(const std::string& spec, const std::vector<std::vector<double>>& want) {
  SCOPED_TRACE(spec);
  auto got = two_steps(spec);
  for (size_t s = 0; s < 2; ++s)
    for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(got[s][i], want[s][i], 1e-12) << "step " << s + 1 << " element " << i;
  auto f32 = two_steps(spec, DType::f32);
  for (size_t s = 0; s < 2; ++s)
    for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(f32[s][i], want[s][i], 2e-6) << "f32 step " << s + 1;
}

}  // namespace

TEST(Optimizers, SgdByHand) {
  expect_steps("SGD(0.1)", {{0.95, -1.9}, {0.94, -1.92}});
  // m1 = -0.1 g1 = (-0.05, 0.1); m2 = 0.9 m1 - 0.1 g2 = (-0.055, 0.07); w += m.
  expect_steps("SGD(learning_rate=0.1, momentum=0.9)", {{0.95, -1.9}, {0.895, -1.83}});
  // Nesterov: w += 0.9 m - 0.1 g.
  expect_steps("SGD(0.1, momentum=0.9, nesterov=True)",
               {{1 - 0.045 - 0.05, -2 + 0.09 + 0.1}, {0.905 - 0.0495 - 0.01, -1.81 + 0.063 - 0.02}});
}

TEST(Optimizers, AdamByHand) {
  // Step 1: m = 0.1 g1 = (0.05, -0.1), v = 0.001 g1^2 = (0.00025, 0.001), alpha = 0.1 sqrt(0.001) / 0.1.
  double a1 = 0.1 * std::sqrt(1 - 0.999) / (1 - 0.9);
  double w10 = 1 - a1 * 0.05 / (std::sqrt(0.00025) + 1e-7), w11 = -2 - a1 * -0.1 / (std::sqrt(0.001) + 1e-7);
  // Step 2: m = (0.055, -0.07), v = (0.00025975, 0.001039), alpha = 0.1 sqrt(1 - 0.999^2) / (1 - 0.9^2).
  double a2 = 0.1 * std::sqrt(1 - 0.999 * 0.999) / (1 - 0.9 * 0.9);
  double w20 = w10 - a2 * 0.055 / (std::sqrt(0.00025975) + 1e-7), w21 = w11 - a2 * -0.07 / (std::sqrt(0.001039) + 1e-7);
  expect_steps("Adam(learning_rate=0.1)", {{w10, w11}, {w20, w21}});
  // AdamW: w -= 0.1 * 0.5 w first.
  double d10 = 0.95 - a1 * 0.05 / (std::sqrt(0.00025) + 1e-7), d11 = -1.9 - a1 * -0.1 / (std::sqrt(0.001) + 1e-7);
  double d20 = 0.95 * d10 - a2 * 0.055 / (std::sqrt(0.00025975) + 1e-7),
         d21 = 0.95 * d11 - a2 * -0.07 / (std::sqrt(0.001039) + 1e-7);
  expect_steps("AdamW(learning_rate=0.1, weight_decay=0.5)", {{d10, d11}, {d20, d21}});
}

TEST(Optimizers, RmspropByHand) {
  // v1 = 0.1 g1^2 = (0.025, 0.1); v2 = 0.9 v1 + 0.1 g2^2 = (0.0235, 0.094).
  double s10 = 0.1 * 0.5 / std::sqrt(0.025 + 1e-7), s11 = 0.1 * -1.0 / std::sqrt(0.1 + 1e-7);
  double s20 = 0.1 * 0.1 / std::sqrt(0.0235 + 1e-7), s21 = 0.1 * 0.2 / std::sqrt(0.094 + 1e-7);
  expect_steps("RMSprop(0.1)", {{1 - s10, -2 - s11}, {1 - s10 - s20, -2 - s11 - s21}});
  // momentum 0.5: m1 = s1, m2 = 0.5 s1 + s2.
  expect_steps("RMSprop(0.1, momentum=0.5)",
               {{1 - s10, -2 - s11}, {1 - s10 - (0.5 * s10 + s20), -2 - s11 - (0.5 * s11 + s21)}});
}

TEST(Optimizers, AdagradByHand) {
  // a starts at 0.1: a1 = (0.35, 1.1), a2 = (0.36, 1.14).
  double w10 = 1 - 0.1 * 0.5 / std::sqrt(0.35 + 1e-7), w11 = -2 - 0.1 * -1.0 / std::sqrt(1.1 + 1e-7);
  expect_steps("Adagrad(0.1)", {{w10, w11}, {w10 - 0.1 * 0.1 / std::sqrt(0.36 + 1e-7), w11 - 0.1 * 0.2 / std::sqrt(1.14 + 1e-7)}});
}

TEST(Optimizers, Schedules) {
  auto lr_after = [](const std::string& spec, int steps) {
    auto opt = make_optimizer(spec);
    for (int i = 0; i < steps; ++i) opt->step(std::vector<std::pair<std::string, Param*>>{});
    return opt->learning_rate();
  };
  EXPECT_DOUBLE_EQ(lr_after("SGD(ExponentialDecay(0.1, 10, 0.5))", 0), 0.1);
  EXPECT_DOUBLE_EQ(lr_after("SGD(ExponentialDecay(0.1, 10, 0.5))", 5), 0.1 * std::sqrt(0.5));
  EXPECT_DOUBLE_EQ(lr_after("SGD(ExponentialDecay(0.1, 10, 0.5, staircase=True))", 5), 0.1);
  EXPECT_DOUBLE_EQ(lr_after("SGD(ExponentialDecay(0.1, 10, 0.5, staircase=True))", 25), 0.025);
  EXPECT_NEAR(lr_after("Adam(learning_rate=CosineDecay(0.1, 10, alpha=0.2))", 5), 0.1 * (0.8 * 0.5 + 0.2), 1e-15);
  EXPECT_DOUBLE_EQ(lr_after("Adam(learning_rate=CosineDecay(0.1, 10, alpha=0.2))", 30), 0.1 * 0.2);
  EXPECT_DOUBLE_EQ(lr_after("Adam(learning_rate=CosineDecay(0.1, 10))", 0), 0.1);
  // The first step uses the rate at iteration 0: w -= 0.1 * 1.
  auto opt = make_optimizer("SGD(CosineDecay(0.1, 2))");
  Param p{"w", Tensor::from<double>({0.0}, Shape{1}), Tensor::from<double>({1.0}, Shape{1})};
  std::vector<std::pair<std::string, Param*>> params{{"w", &p}};
  opt->step(params);
  opt->step(params);  // rate 0.05 at iteration 1
  EXPECT_NEAR(p.value.item(0), -0.15, 1e-15);
}

TEST(Optimizers, SpecFormsAndErrors) {
  EXPECT_EQ(make_optimizer("adam")->config().repr(),
            "Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07)");
  EXPECT_EQ(make_optimizer("SGD")->config().repr(), "SGD(learning_rate=0.01, momentum=0.0, nesterov=False)");
  EXPECT_EQ(make_optimizer("AdamW()")->config().repr(),
            "AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-07)");
  EXPECT_EQ(make_optimizer("rmsprop")->config().repr(),
            "RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-07)");
  EXPECT_EQ(make_optimizer("Adagrad")->config().repr(),
            "Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-07)");
  EXPECT_EQ(make_optimizer("SGD(learning_rate=CosineDecay(0.1, 100))")->config().repr(),
            "SGD(learning_rate=CosineDecay(0.1, 100), momentum=0.0, nesterov=False)");
  EXPECT_THROW_MSG(make_optimizer("Adamax()"), ConfigError,
                   "optimizer must be one of SGD, Adam, AdamW, RMSprop, Adagrad (a call or a name), got Adamax()");
  EXPECT_THROW_MSG(make_optimizer("SGD(momentum=1.5)"), ConfigError, "SGD: momentum must be in [0, 1], got 1.5");
  EXPECT_THROW_MSG(make_optimizer("Adam(beta_1=1.0)"), ConfigError, "Adam: beta_1 must be in [0, 1), got 1");
  EXPECT_THROW_MSG(make_optimizer("Adam(-0.1)"), ConfigError, "learning_rate must be a finite number >= 0, got -0.1");
  EXPECT_THROW_MSG(make_optimizer("SGD('fast')"), ConfigError,
                   "learning_rate must be a float, ExponentialDecay(...) or CosineDecay(...), got \"fast\"");
  EXPECT_THROW_MSG(make_optimizer("SGD(CosineDecay(0.1, 0))"), ConfigError, "CosineDecay: decay_steps must be in [1,");
  EXPECT_THROW_MSG(make_optimizer("Adagrad(initial_accumulator_value=-1)"), ConfigError,
                   "initial_accumulator_value must be in [0, inf]");
}

TEST(Optimizers, ConstraintAppliedAfterTheStep) {
  Param p{"w", Tensor::from<double>({0.05, 1.0}, Shape{2}), Tensor::from<double>({1.0, 1.0}, Shape{2})};
  p.constraint = std::make_shared<NonNeg>();
  auto opt = make_optimizer("SGD(0.1)");
  opt->step({{"w", &p}});
  EXPECT_EQ(p.value.to_vector(), (std::vector<double>{0.0, 0.9}));
  EXPECT_EQ(p.grad.to_vector(), (std::vector<double>{1.0, 1.0})) << "gradients are left alone";
}

TEST(Optimizers, PerLayerOverride) {
  Sequential m = parse_model("Input((3,)) >> Dense(2, name='a') >> Dense(1, name='b', optimizer='SGD(1.0)')");
  m.build(Shape{-1, 3}, 1, DType::f64);
  EXPECT_NE(m.layer(1).config().repr().find("optimizer=\"SGD(1.0)\""), std::string::npos);
  for (auto& [key, p] : m.named_params(false)) p->grad.fill(1.0);
  Tensor a0 = m.layer(0).params()[0]->value.clone(), b0 = m.layer(1).params()[0]->value.clone();
  auto opt = make_optimizer("SGD(0.0)");
  opt->step(m);
  EXPECT_TRUE(m.layer(0).params()[0]->value.equal(a0)) << "the model's optimizer (rate 0)";
  for (int64_t i = 0; i < b0.numel(); ++i) EXPECT_DOUBLE_EQ(m.layer(1).params()[0]->value.item(i), b0.item(i) - 1.0);
  auto st = opt->state();
  bool has_b = false;
  for (auto& [k, t] : st) has_b |= k == "b.iterations" && t.item(0) == 1.0;
  EXPECT_TRUE(has_b);
  EXPECT_THROW_MSG(parse_model("Dense(2, optimizer='Nope(1)')"), ConfigError, "optimizer must be one of");
}

TEST(Optimizers, StateRoundTrip) {
  const char* spec = "Input((3,)) >> Dense(4, name='a') >> Dense(2, name='b', optimizer='RMSprop(0.01, momentum=0.5)')";
  Sequential m1 = parse_model(spec);
  m1.build(Shape{-1, 3}, 7, DType::f64);
  Sequential m2 = m1;  // same weights
  auto set_grads = [](Sequential& m, double s) {
    int k = 0;
    for (auto& [key, p] : m.named_params(false))
      for (int64_t i = 0; i < p->grad.numel(); ++i) p->grad.set(i, s * std::sin(double(++k)));
  };
  auto o1 = make_optimizer("Adam(0.01)");
  for (double s : {1.0, -0.5}) {
    set_grads(m1, s);
    o1->step(m1);
    set_grads(m2, s);
  }
  auto state = o1->state();
  EXPECT_EQ(state.size(), size_t(1 + 2 * 2 + 1 + 2 * 2));  // iterations, a.{kernel,bias}.{momentum,velocity}, b...
  // m2 gets m1's weights and o1's state, then both take the same step.
  auto src = m1.named_params(false), dst = m2.named_params(false);
  for (size_t i = 0; i < src.size(); ++i) dst[i].second->value = src[i].second->value.clone();
  auto o2 = make_optimizer("Adam(0.01)");
  o2->load_state(m2, state);
  EXPECT_EQ(o2->iterations(), 2);
  set_grads(m1, 0.25);
  set_grads(m2, 0.25);
  o1->step(m1);
  o2->step(m2);
  auto p1 = m1.named_params(false), p2 = m2.named_params(false);
  for (size_t i = 0; i < p1.size(); ++i) EXPECT_TRUE(p1[i].second->value.equal(p2[i].second->value)) << p1[i].first;

  auto o3 = make_optimizer("Adam(0.01)");
  auto missing = state;
  missing.pop_back();
  EXPECT_THROW_MSG(o3->load_state(m2, missing), FormatError, "must be present, got none");
  auto unknown = state;
  unknown.emplace_back("c.kernel.momentum", Tensor(Shape{1}));
  EXPECT_THROW_MSG(make_optimizer("Adam(0.01)")->load_state(m2, unknown), FormatError,
                   "unknown key 'c.kernel.momentum'");
  auto wrong = state;
  for (auto& [k, t] : wrong)
    if (k == "a.kernel.momentum") t = Tensor(Shape{4, 3}, DType::f64);
  EXPECT_THROW_MSG(make_optimizer("Adam(0.01)")->load_state(m2, wrong), FormatError,
                   "'a.kernel.momentum' must have shape (3, 4), got (4, 3)");
}

// numpy-ml's optimizer='SGD(lr=0.01)' (and old Keras's lr): lr is learning_rate for every optimizer; both is an error.
TEST(Optimizers, LrIsAnAliasOfLearningRate) {
  for (const char* type : {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad"}) {
    SCOPED_TRACE(type);
    EXPECT_EQ(make_optimizer(fmt::format("{}(lr=0.25)", type))->config().repr(),
              make_optimizer(fmt::format("{}(learning_rate=0.25)", type))->config().repr());
    EXPECT_EQ(make_optimizer(fmt::format("{}(lr=0.25)", type))->learning_rate(), 0.25);
    EXPECT_THROW_MSG(make_optimizer(fmt::format("{}(0.1, lr=0.2)", type)), ConfigError,
                     "learning_rate must be given once (lr is its alias), got both");
    EXPECT_THROW_MSG(make_optimizer(fmt::format("{}(learning_rate=0.1, lr=0.2)", type)), ConfigError,
                     "got both");
  }
  EXPECT_EQ(two_steps("SGD(lr=0.1, momentum=0.9)"), two_steps("SGD(0.1, momentum=0.9)"));
  // The per-layer form numpy-ml writes.
  Sequential m = parse_model("Input((3,)) >> Dense(2, optimizer='SGD(lr=0.01)')");
  EXPECT_EQ(make_optimizer(m.layer(0).optimizer())->learning_rate(), 0.01);
}

// trainable=False (numpy-ml, Keras) on any layer: the optimizer leaves its parameters alone, its own optimizer
// included, and its constraints do not move them; they count as non-trainable and stay in the spec.
TEST(Optimizers, NonTrainableLayerGetsNoUpdates) {
  Sequential m = parse_model(
      "Input((3,)) >> Dense(2, name='a', trainable=False, kernel_constraint='non_neg') >> "
      "Dense(1, name='b') >> Dense(1, name='c', trainable=False, optimizer='SGD(1.0)')");
  m.build(Shape{-1, 3}, 1, DType::f64);
  for (auto& [key, p] : m.named_params(false)) p->grad.fill(1.0);
  Sequential before = m;
  auto opt = make_optimizer("Adam(0.1)");
  opt->step(m);
  m.apply_constraints();
  for (size_t l : {0u, 2u})
    for (size_t i = 0; i < m.layer(l).params().size(); ++i)
      EXPECT_TRUE(m.layer(l).params()[i]->value.equal(before.layer(l).params()[i]->value)) << l << " " << i;
  EXPECT_FALSE(m.layer(1).params()[0]->value.equal(before.layer(1).params()[0]->value));
  EXPECT_EQ(m.param_count(), 3);   // b: 2 + 1
  EXPECT_EQ(m.buffer_count(), 10);  // a: 3 * 2 + 2; c: 1 + 1
  for (auto& [k, t] : opt->state()) EXPECT_TRUE(k == "iterations" || k == "c.iterations" || k.starts_with("b.")) << k;
  Sequential again = parse_model(m.spec());
  EXPECT_FALSE(again.layer(0).trainable());
  EXPECT_TRUE(again.layer(1).trainable());
  EXPECT_FALSE(again.layer(2).trainable());
  // Unfreezing makes the parameters trainable again.
  m.layer(0).set_trainable(true);
  EXPECT_EQ(m.param_count(), 11);
  opt->step(m);
  EXPECT_FALSE(m.layer(0).params()[0]->value.equal(before.layer(0).params()[0]->value));
}
