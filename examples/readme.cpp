// The C++ example of the README, compiled with the project so that it stays true.
#include <cstdio>
#include <locnet/locnet.hpp>
using namespace locnet;

int main() {
  Sequential model = Input({10, 10, 12}) >> Flatten() >> Dense({.units = 10, .activation = "softmax"});
  std::puts(model.summary().c_str());  // Keras-like table, 12,010 parameters

  model.build(Shape{Shape::kUnknown, 10, 10, 12}, /*seed=*/42);
  Tensor x(Shape{8, 10, 10, 12});                 // zero-filled f32, 64-byte aligned
  Tensor y = model.forward(x, Mode::Training);    // (8, 10)
  model.zero_grad();
  Tensor dx = model.backward(Tensor(y.shape()));  // parameter gradients accumulate
  save_weights(model, "model.safetensors");       // keys "dense_1.kernel", "dense_1.bias"
  std::printf("y %s, dx %s\n", y.shape().str().c_str(), dx.shape().str().c_str());
}
