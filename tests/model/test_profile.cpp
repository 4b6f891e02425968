// Per-layer profiling (model/profile.hpp): Layer::work against counts made by hand, Layer::kernel against the
// registry's choice, the Profiler filled by Sequential's passes only while attached, the table, and fit's
// profiled steps.
#include <gtest/gtest.h>

#include "expect_error.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/profile.hpp"
#include "locnet/train/optimizers.hpp"
#include "locnet/train/trainer.hpp"
#include "scoped_env.hpp"

using namespace locnet;

namespace {

Tensor random(const Shape& shape, uint64_t seed) {
  Tensor t(shape, DType::f32);
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, rng.uniform(-1, 1));
  return t;
}

// The built model's layer i and its input shape at batch n.
struct Built {
  Sequential model;
  Shape in;
  explicit Built(const std::string& spec, int64_t n = 2) : model(parse_model(spec)) {
    model.build(*model.input_shape(), uint64_t(1));
    in = model.input_shape()->with_dim(0, n);
  }
  LayerWork work(size_t i) const {
    Shape s = in;
    for (size_t j = 0; j < i; ++j) s = model.layer(j).output_shape(s);
    return model.layer(i).work(s);
  }
};

}  // namespace

TEST(LayerWork, DenseConvLocallyConnectedCountMultiplyAddsByHand) {
  // Dense: 4 rows x 5 inputs x 3 units = 60 multiply-adds; 18 weights (15 + 3 bias); x 20, y 12 floats.
  Built d("Input((5,)) >> Dense(3)", 4);
  LayerWork w = d.work(0);
  EXPECT_EQ(w.forward.flops, 120);
  EXPECT_EQ(w.backward.flops, 240);
  EXPECT_EQ(w.forward.bytes, (20 + 18 + 12) * 4);
  EXPECT_EQ(w.backward.bytes, (2 * 20 + 12 + 2 * 18) * 4);
  // Conv2D 3x3, 3 -> 4 channels, valid, 5x5 -> 3x3: 2 images x 9 positions x 4 filters x 27 taps = 1944.
  Built c("Input((5, 5, 3)) >> Conv2D(4, 3, use_bias=False)");
  EXPECT_EQ(c.work(0).forward.flops, 2 * 1944);
  EXPECT_EQ(c.work(0).backward.flops, 4 * 1944);
  EXPECT_EQ(c.work(0).forward.bytes, (150 + 108 + 72) * 4);
  // LocallyConnected2D 2x2 stride 2 on 4x4x3 -> 2x2 positions x 12 inputs x 2 filters = 96 weights per sample.
  Built l("Input((4, 4, 3)) >> LocallyConnected2D(2, 2, strides=2, use_bias=False)");
  EXPECT_EQ(l.work(0).forward.flops, 2 * 2 * 96);
  // f64 counts 8 bytes a value.
  Sequential d64 = parse_model("Input((5,)) >> Dense(3)");
  d64.build(*d64.input_shape(), uint64_t(1), DType::f64);
  EXPECT_EQ(d64.layer(0).work(Shape{4, 5}).forward.bytes, (20 + 18 + 12) * 8);
}

TEST(LayerWork, MemoryBoundLayersCountTheirTensorsOnce) {
  // 2 x 3 x 3 x 8 = 144 values in and out: forward reads x and writes y, backward reads x and dy and writes dx.
  Built m("Input((3, 3, 8)) >> LocalResponseNorm() >> BatchNorm2D() >> Activation('relu') >> MaxPooling2D(3)");
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(m.work(i).forward.flops, 0) << i;
    EXPECT_EQ(m.work(i).forward.bytes, (144 + 144) * 4) << i;
    EXPECT_EQ(m.work(i).backward.bytes, (2 * 144 + 144) * 4) << i;
  }
  EXPECT_EQ(m.work(3).forward.bytes, (144 + 2 * 8) * 4);  // pooled to 1x1
}

TEST(LayerKernel, NamesTheRegistrysChoice) {
  Built m("Input((8, 8, 4)) >> Conv2D(4, 3) >> BatchNorm2D() >> LocalResponseNorm() >> MaxPooling2D(2) >> "
          "AveragePooling2D(1) >> LocallyConnected2D(2, 3) >> Flatten() >> Dense(3)");
  for (size_t i = 0; i < m.model.size(); ++i) EXPECT_FALSE(m.model.layer(i).kernel().empty()) << i;
  EXPECT_EQ(m.model.layer(3).kernel(), "max_pool_hwy");  // f32, channels_last, every window inside
  EXPECT_EQ(m.model.layer(4).kernel(), "ref");
  EXPECT_EQ(m.model.layer(6).kernel(), "ref");  // Flatten
  // A forced implementation is what kernel() reports.
  Built r = [] {
    locnet::testing::ScopedEnv force("LOCNET_IMPL", "ref");
    return Built("Input((8, 8, 4)) >> Conv2D(4, 3) >> BatchNorm2D() >> LocalResponseNorm() >> Flatten() >> Dense(3)");
  }();
  for (size_t i : {0, 1, 2, 4}) EXPECT_EQ(r.model.layer(i).kernel(), "ref") << i;
  EXPECT_NE(m.model.layer(0).kernel(), "ref");  // the default choice for this Conv2D is an optimized kernel
}

TEST(Profiler, SequentialFillsItOnlyWhileAttached) {
  Built m("Input((6, 6, 2)) >> Conv2D(3, 3) >> Activation('relu') >> Flatten() >> Dense(2)", 4);
  Tensor x = random(m.in, 1), dy = random(Shape{4, 2}, 2);
  Profiler p;
  m.model.set_profiler(&p);
  for (int r = 0; r < 3; ++r) {
    m.model.forward(x, Mode::Training);
    m.model.backward(dy);
  }
  m.model.forward(x, Mode::Inference);
  m.model.set_profiler(nullptr);
  m.model.forward(x, Mode::Training);
  m.model.backward(dy);
  ASSERT_EQ(p.layers().size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const LayerProfile& l = p.layers()[i];
    EXPECT_EQ(l.name, m.model.layer(i).name());
    EXPECT_EQ(l.type, m.model.layer(i).type());
    EXPECT_EQ(l.kernel, m.model.layer(i).kernel());
    EXPECT_EQ(l.forwards, 4);
    EXPECT_EQ(l.backwards, 3);
    EXPECT_GE(l.forward_seconds, 0);
    EXPECT_GE(l.backward_seconds, 0);
    const LayerWork w = m.work(i);
    EXPECT_DOUBLE_EQ(l.forward_work.bytes, 4 * w.forward.bytes) << i;
    EXPECT_DOUBLE_EQ(l.backward_work.flops, 3 * w.backward.flops) << i;
  }
  EXPECT_EQ(p.steps(), 0);
  Sequential copy(m.model);  // a copy does not inherit the profiler
  copy.forward(x, Mode::Inference);
  EXPECT_EQ(p.layers()[0].forwards, 4);
}

TEST(Profiler, TableListsEveryLayerAndNeedsAStep) {
  Built m("Input((6, 6, 2)) >> Conv2D(3, 3, name='c') >> Flatten(name='f') >> Dense(2, name='d')", 4);
  Profiler p;
  EXPECT_THROW_MSG(profile_table(p, {1e10, 1e10}), ConfigError, "at least one profiled step");
  profile_steps(m.model, random(m.in, 1), Mode::Training, random(Shape{4, 2}, 2), 3, p);
  EXPECT_EQ(p.steps(), 3);
  EXPECT_EQ(p.layers()[0].forwards, 3);  // the warm-up step is not counted
  EXPECT_GE(p.step_seconds(), p.layers()[0].forward_seconds + p.layers()[0].backward_seconds);
  std::string t = profile_table(p, {1e10, 1e11});
  for (const char* s : {"layer", "kernel", "fwd ms", "bwd ms", "% step", "roofline", "(other)", "total", "GFLOP/s",
                        "GB/s", "memcpy 10.00 GB/s, sgemm 100.00 GFLOP/s"})
    EXPECT_NE(t.find(s), std::string::npos) << s << "\n" << t;
  for (size_t i = 0; i < 3; ++i) EXPECT_NE(t.find(m.model.layer(i).kernel()), std::string::npos) << t;
  EXPECT_THROW_MSG(profile_steps(m.model, random(m.in, 1), Mode::Inference, random(Shape{4, 2}, 2), 1, p),
                   ConfigError, "mode inference");
}

TEST(Profiler, MachineLimitsArePositive) {
  MachineLimits l = measure_machine_limits();
  EXPECT_GT(l.bytes_per_second, 1e8);
  EXPECT_GT(l.flops_per_second, 1e8);
}

TEST(Profiler, FitProfilesStepsAfterTheWarmUpThenStops) {
  Sequential model = parse_model("Input((4,)) >> Dense(5, activation='relu') >> Dense(3)");
  model.build(*model.input_shape(), uint64_t(1));
  LabeledData data{random(Shape{40, 4}, 3), {}};
  for (int64_t i = 0; i < 40; ++i) data.y.push_back(i % 3);
  auto opt = make_optimizer("SGD(0.1)", "test");
  Profiler p;
  FitOptions o;
  o.epochs = 5;
  o.batch_size = 4;  // 10 steps an epoch: the profile spans the first two epochs
  o.profiler = &p;
  o.profile_warmup = 7;
  o.profile_steps = 5;
  int64_t steps = 0, epochs = 0;
  o.on_batch = [&](int64_t, int64_t, double) { ++steps; };
  o.on_epoch = [&](const EpochMetrics&) { ++epochs; };
  FitResult r = fit(model, *opt, data, nullptr, o);
  EXPECT_EQ(r.stopped, "stopped after profiling 5 steps (following 7 warm-up steps)");
  EXPECT_EQ(steps, 12);
  EXPECT_EQ(epochs, 1);
  EXPECT_EQ(p.steps(), 5);
  ASSERT_EQ(p.layers().size(), 2u);
  EXPECT_EQ(p.layers()[1].forwards, 5);
  EXPECT_EQ(p.layers()[1].backwards, 5);
  model.forward(data.x, Mode::Inference);  // detached when fit returned
  EXPECT_EQ(p.layers()[1].forwards, 5);
  o.profile_steps = 0;
  EXPECT_THROW_MSG(fit(model, *opt, data, nullptr, o), ConfigError, "profile_steps >= 1");
}
