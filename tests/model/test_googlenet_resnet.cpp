// The acceptance network of graph models: a GoogLeNet stem (Conv, MaxPool, LRN, Conv 1x1, Conv 3x3, LRN, MaxPool),
// one Inception block (1x1; 1x1 -> 3x3; 1x1 -> 5x5; 3x3 max pool stride 1 -> 1x1; Concatenate on channels) and a
// ResNet basic block (Conv-BN-ReLU-Conv-BN + skip Add, ReLU), then global average pooling and Dense(10) softmax,
// written as Keras functional spec text. It
//   - matches PyTorch 1.13 for the same weights: the reference is real PyTorch output (torch.nn modules, float64),
//     written by tests/conformance/googlenet_pytorch/generate.py: forward and backward (dx and three parameter
//     gradients) in eval mode (BatchNorm's running statistics) and train mode (batch statistics), in f64 and f32;
//   - trains on a Fashion-MNIST subset (3000 images, 2 epochs, batch 16) to well above chance on 500 test images
//     (skipped when the dataset is not installed: tests/fashion_mnist.hpp).
#include <gtest/gtest.h>

#include <string>

#include "conformance/cases.hpp"
#include "fashion_mnist.hpp"
#include "gradcheck.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/weights.hpp"
#include "locnet/train/trainer.hpp"
#include "model/googlenet_resnet_spec.hpp"

using namespace locnet;

namespace {

constexpr const char* kSpec = locnet::testing::kGoogLeNetResNetSpec;

Tensor grad_of(Model& m, const std::string& key) {
  for (auto& [name, p] : m.named_params(false))
    if (name == key) return p->grad;
  throw std::logic_error("no parameter " + key);
}

}  // namespace

TEST(GoogLeNetResNet, GraphShapesAndSpecRoundTrip) {
  Model m = parse_model(kSpec);
  EXPECT_FALSE(m.is_chain());
  EXPECT_EQ(m.output_shape(), (Shape{-1, 10}));
  std::vector<Shape> shapes = m.node_shapes({Shape{2, 28, 28, 1}});
  EXPECT_EQ(shapes.at(size_t(m.node("pool1"))), (Shape{2, 14, 14, 8}));  // ceil((28 - 3) / 2) + 1
  EXPECT_EQ(shapes.at(size_t(m.node("pool2"))), (Shape{2, 7, 7, 12}));
  EXPECT_EQ(shapes.at(size_t(m.node("inc_concat"))), (Shape{2, 7, 7, 12}));  // 4 + 4 + 2 + 2 channels
  EXPECT_EQ(m.node_inputs(m.node("res_add")).size(), 2u);
  Model again = parse_model(m.spec());
  EXPECT_EQ(again.spec(), m.spec());
  EXPECT_EQ(again.param_count(), m.param_count());
}

// Reference: real PyTorch 1.13 output (tests/conformance/googlenet_pytorch/generate.py).
TEST(GoogLeNetResNet, MatchesPyTorchForwardAndBackward) {
  const std::string dir = locnet::testing::conformance_dir("googlenet_pytorch");
  auto load = [&](const std::string& tag) { return read_npy(dir + tag + ".npy"); };
  const Tensor x = load("x"), dy = load("dy");
  for (DType dt : {DType::f64, DType::f32}) {
    SCOPED_TRACE(dtype_name(dt));
    const double tol = dt == DType::f64 ? 1e-9 : 2e-4;
    Model m = parse_model(kSpec);
    m.build(Shape{-1, 28, 28, 1}, 0, dt);
    load_weights(m, dir + "weights.safetensors");
    for (const char* mode : {"eval", "train"}) {
      SCOPED_TRACE(mode);
      const std::string tag(mode);
      const bool eval = tag == "eval";
      if (eval) {
        Tensor y = m.forward(x.to(dt), Mode::Inference);
        EXPECT_LE(max_scaled_error(y, load("y_eval"), tol, tol * 1e-2), 1.0) << "inference y";
      }
      // PyTorch's eval-mode backward treats the running statistics as constants: locnet's frozen BatchNorm.
      for (const char* bn : {"res_bn1", "res_bn2"}) m.layer(bn).set_trainable(!eval);
      m.zero_grad();
      Tensor y = m.forward(x.to(dt), Mode::Training);
      EXPECT_LE(max_scaled_error(y, load("y_" + tag), tol, tol * 1e-2), 1.0) << "y";
      Tensor dx = m.backward(dy.to(dt));
      const Tensor want_dx = load("dx_" + tag);  // |dx| ~ 1e-4: the absolute part scales with it
      EXPECT_LE(max_scaled_error(dx, want_dx, tol, tol * 1e-3), 1.0) << "dx";
      if (eval) continue;
      for (const char* key : {"conv1.kernel", "res_bn1.gamma", "fc.kernel"})
        EXPECT_LE(max_scaled_error(grad_of(m, key), load(std::string("d") + key + "_train"), tol, tol * 1e-2), 1.0)
            << key;
    }
  }
}

TEST(GoogLeNetResNet, FashionMnistSubsetLearns) {
  const std::string dir = locnet::testing::fashion_mnist_dir();
  if (!locnet::testing::has_fashion_mnist(dir)) GTEST_SKIP() << "no Fashion-MNIST in " << dir;
  MnistData data = load_mnist(dir);
  LabeledData train = locnet::testing::first_samples(data.train, 3000);
  LabeledData test = locnet::testing::first_samples(data.test, 500);
  Model m = parse_model(kSpec);
  m.build(Shape{-1, 28, 28, 1}, 3);
  auto opt = make_optimizer("Adam(0.005)");
  // Under a sanitizer (300-370 s for two epochs on 2 cores) one epoch checks the memory safety just as well.
  const int epochs = LOCNET_SANITIZED ? 1 : 2;
  FitResult r = fit(m, *opt, train, &test, {.epochs = epochs, .batch_size = 16, .seed = 1});
  ASSERT_TRUE(r.stopped.empty()) << r.stopped;
  // 10 classes: chance is 0.1. Measured 0.692 (0.674 after the first epoch); 1.2-2.3 s on 2 idle cores (Release).
  EXPECT_GT(r.history.back().validation->accuracy, 0.6);
}
