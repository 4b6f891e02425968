// Inference from several threads on one model (include/locnet/layers/layer.hpp, "Threads"): every layer type,
// concurrent forward(x, Mode::Inference) calls give exactly the outputs of serial calls. Self-contained, so that
// scripts/sanitize thread builds only this file and runs it under ThreadSanitizer, which reports any data race.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "locnet/locnet.hpp"
#include "locnet/model/from_spec.hpp"

namespace locnet {
namespace {

Tensor input(const Shape& s, int seed) {
  Tensor x(s, DType::f32);
  for (int64_t i = 0; i < x.numel(); ++i) x.set(i, double((i * 37 + seed * 11) % 23) / 7.0 - 1.5);
  return x;
}

bool same(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LOCNET_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define LOCNET_TSAN 1
#endif

TEST(ThreadSafety, ConcurrentInferenceMatchesSerial) {
#ifdef LOCNET_TSAN
  // ThreadSanitizer cannot see the OpenMP runtime's barriers (it is not instrumented): one OpenMP thread per call,
  // so what it checks is exactly the sharing of the layers between the std::threads below.
  set_num_threads(1);
#endif
  Sequential model = parse_model(
      "Input((8, 8, 6)) >> Conv2D(6, 3, padding='same', activation='relu') >> BatchNorm2D() >> "
      "LocalResponseNorm(depth_radius=3) >> LocalResponseNorm.pytorch(size=4, data_format='channels_last') >> "
      "MaxPooling2D(2) >> LocallyConnected2D(4, 2, activation='tanh') >> BatchNorm2D.pytorch(4, "
      "data_format='channels_last') >> AveragePooling2D(1) >> Dropout(0.3) >> Reshape((-1,)) >> "
      "Dense(10, activation='softmax')");
  model.build(Shape{Shape::kUnknown, 8, 8, 6}, uint64_t(3));
  // A few training steps first, so that the running statistics and caches hold real values.
  for (int s = 0; s < 2; ++s) {
    Tensor y = model.forward(input(Shape{4, 8, 8, 6}, s), Mode::Training);
    (void)model.backward(y);
  }

  constexpr int kThreads = 4, kRepeats = 3;
  std::vector<Tensor> inputs, expected;
  for (int t = 0; t < kThreads; ++t) {
    inputs.push_back(input(Shape{t + 1, 8, 8, 6}, 100 + t));  // different batch sizes per thread
    expected.push_back(model.forward(inputs.back(), Mode::Inference));
  }
  std::vector<int> matches(kThreads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t)
    pool.emplace_back([&, t] {
      for (int r = 0; r < kRepeats; ++r) matches[size_t(t)] += same(model.forward(inputs[size_t(t)], Mode::Inference),
                                                                     expected[size_t(t)]);
    });
  for (auto& th : pool) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(matches[size_t(t)], kRepeats) << "thread " << t;

  // Inference in between left the training caches alone: backward still follows the last training forward.
  Tensor x = input(Shape{2, 8, 8, 6}, 7);
  Tensor y = model.forward(x, Mode::Training);
  (void)model.forward(inputs[0], Mode::Inference);
  EXPECT_EQ(model.backward(y).shape(), x.shape());
}

}  // namespace
}  // namespace locnet
