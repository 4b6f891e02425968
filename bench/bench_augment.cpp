// Augmentation cost (issue 32's acceptance: with augmentation on, an epoch of the default network takes at most
// 10% longer than without). BM_augment/<spec>/<B>: one make_augmentation(spec) pass over a batch of B
// Fashion-MNIST training images (28x28x1, f32, in place). BM_step/<B>: one training step of `locnet train`'s
// default network on the same batch (training forward, backward, Adam step). BM_share/<spec>/<B>: both, timed
// alternately in the same run; the counter augment_share = transform time / step time is the fraction an epoch
// grows by when the transform runs in line with the steps (a loader thread that prepares batches would hide it).
#include <benchmark/benchmark.h>

#include <chrono>

#include "locnet/locnet.hpp"

namespace {

using namespace locnet;

// `locnet train`'s default network (tools/locnet/train.cpp).
const char* const kDefaultNetwork =
    "Input((28, 28, 1))"
    " >> Conv2D(32, 3, padding='same', use_bias=False) >> BatchNorm2D() >> Activation('relu') >> MaxPooling2D(2)"
    " >> Conv2D(32, 3, padding='same', use_bias=False) >> BatchNorm2D() >> Activation('relu')"
    " >> LocalResponseNorm() >> MaxPooling2D(2) >> LocallyConnected2D(32, 3) >> BatchNorm2D() >> Activation('relu')"
    " >> Flatten() >> Dense(10)";
const char* const kSpecs[] = {"crop=4,flip", "crop=4,flip,translate=0.1"};

Batch images(int64_t n) {
  static const LabeledImages all =
      load_idx_images(std::string(kFashionMnistDir) + "/train-images-idx3-ubyte.gz",
                      std::string(kFashionMnistDir) + "/train-labels-idx1-ubyte.gz");
  Batch b;
  b.x = Tensor(Shape{n, 28, 28, 1});
  std::copy_n(all.images.data<float>(), n * 28 * 28, b.x.data<float>());
  b.labels.assign(all.labels.begin(), all.labels.begin() + n);
  return b;
}

struct Step {
  Model model = parse_model(kDefaultNetwork);
  std::unique_ptr<Optimizer> adam = make_optimizer(Value(std::string("Adam(learning_rate=0.002)")), "bench");
  Tensor dy;
  explicit Step(int64_t n) {
    model.build(*model.input_shape(), uint64_t(0));
    dy = Tensor(Shape{n, 10});
    for (int64_t i = 0; i < dy.numel(); ++i) dy.data<float>()[i] = float(i % 7) * 0.01f;
  }
  void run(const Tensor& x) {
    model.zero_grad();
    benchmark::DoNotOptimize(model.forward(x, Mode::Training));
    model.backward(dy);
    adam->step(model);
  }
};

void BM_augment(benchmark::State& state) {
  const int64_t n = state.range(1);
  auto t = make_augmentation(kSpecs[state.range(0)]);
  Batch b = images(n);
  Rng rng(1);
  for (auto _ : state) {
    t->apply(b, rng);
    benchmark::ClobberMemory();
  }
  state.SetLabel(kSpecs[state.range(0)]);
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_step(benchmark::State& state) {
  const int64_t n = state.range(0);
  Batch b = images(n);
  Step s(n);
  for (auto _ : state) s.run(b.x);
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_share(benchmark::State& state) {
  const int64_t n = state.range(1);
  auto t = make_augmentation(kSpecs[state.range(0)]);
  Batch b = images(n);
  Step s(n);
  Rng rng(1);
  double augment = 0, step = 0;
  using clock = std::chrono::steady_clock;
  for (auto _ : state) {
    const auto t0 = clock::now();
    t->apply(b, rng);
    const auto t1 = clock::now();
    s.run(b.x);
    augment += std::chrono::duration<double>(t1 - t0).count();
    step += std::chrono::duration<double>(clock::now() - t1).count();
  }
  state.SetLabel(kSpecs[state.range(0)]);
  state.counters["augment_share"] = augment / step;
  state.counters["augment_us"] = 1e6 * augment / double(state.iterations());
  state.counters["step_ms"] = 1e3 * step / double(state.iterations());
}

BENCHMARK(BM_augment)->ArgsProduct({{0, 1}, {32, 128}})->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_step)->Arg(32)->Arg(128)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_share)->ArgsProduct({{0, 1}, {32, 128}})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
