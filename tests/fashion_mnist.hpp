// The Fashion-MNIST the training tests use: its folder (LOCNET_FASHION_MNIST, else kFashionMnistDir, where
// Debian's dataset-fashion-mnist installs it; tests skip when it is missing) and the first n samples of a split.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "locnet/io/idx.hpp"
#include "locnet/train/trainer.hpp"

namespace locnet::testing {

inline std::string fashion_mnist_dir() {
  const char* env = std::getenv("LOCNET_FASHION_MNIST");
  return env && *env ? env : kFashionMnistDir;
}

inline bool has_fashion_mnist(const std::string& dir) {
  return std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz");
}

inline LabeledData first_samples(const LabeledImages& d, int64_t n) {
  const float* px = d.images.data<float>();
  return LabeledData{Tensor::from<float>(std::vector<float>(px, px + n * 784), Shape{n, 28, 28, 1}),
                     std::vector<int64_t>(d.labels.begin(), d.labels.begin() + n)};
}

// The README network (the CLI's default) with separate ReLU layers, as the data-parallel tests train it with
// SyncBatchNorm against the single process.
inline constexpr const char* kReadmeNetworkSpec =
    "Input((28, 28, 1))"
    " >> Conv2D(32, 3, padding='same', use_bias=False) >> BatchNorm2D() >> Activation('relu') >> MaxPooling2D(2)"
    " >> Conv2D(32, 3, padding='same', use_bias=False) >> BatchNorm2D() >> Activation('relu')"
    " >> LocalResponseNorm() >> MaxPooling2D(2)"
    " >> LocallyConnected2D(32, 3) >> BatchNorm2D() >> Activation('relu') >> Flatten() >> Dense(10)";

}  // namespace locnet::testing
