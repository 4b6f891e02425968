// A project outside locnet's tree that uses an installed locnet (tests/install/run builds it with CMake and with
// pkg-config): a network with an optimized kernel (LRN), a model file round trip and a typed error.
#include <cstdio>
#include <locnet/locnet.hpp>
using namespace locnet;

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "consumer.safetensors";
  Sequential model = Input({4, 4, 6}) >> LocalResponseNorm() >> Flatten() >> Dense({.units = 3});
  model.build(Shape{Shape::kUnknown, 4, 4, 6}, /*seed=*/7);
  Tensor x(Shape{2, 4, 4, 6});
  for (int64_t i = 0; i < x.numel(); ++i) x.set(i, 0.01 * double(i % 37) - 0.2);
  Tensor y = model.forward(x, Mode::Inference);
  save_model(model, path);
  Tensor y2 = load_model(path).forward(x, Mode::Inference);
  for (int64_t i = 0; i < y.numel(); ++i)
    if (y.item(i) != y2.item(i)) {
      std::printf("output %lld differs after load_model: %g vs %g\n", static_cast<long long>(i), y.item(i), y2.item(i));
      return 1;
    }
  try {
    Dense({.units = 0});
    std::puts("Dense(units=0) was accepted");
    return 1;
  } catch (const ConfigError&) {
  }
  std::printf("consumer ok: y %s\n", y.shape().str().c_str());
}
