// The C++ example of the README, compiled with the project so that it stays true.
#include <cstdio>
#include <locnet/locnet.hpp>
using namespace locnet;

int main() {
  // Ends in logits (no final softmax): training takes the softmax cross-entropy of logits directly, and
  // `locnet predict` turns them into class probabilities.
  Sequential model = Input({10, 10, 12}) >> Flatten() >> Dense({.units = 10});
  std::puts(model.summary().c_str());              // Keras-like table, 12,010 parameters

  model.build(Shape{Shape::kUnknown, 10, 10, 12}, /*seed=*/42);
  Tensor x(Shape{8, 10, 10, 12});                   // zero-filled f32, 64-byte aligned
  Tensor y = model.forward(x, Mode::Training);      // (8, 10) logits
  model.zero_grad();
  Tensor dx = model.backward(Tensor(y.shape()));    // parameter gradients accumulate
  save_model(model, "model.safetensors");           // the weights and the spec
  std::printf("y %s, dx %s\n", y.shape().str().c_str(), dx.shape().str().c_str());
}
