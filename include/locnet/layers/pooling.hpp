// Pooling layers (Keras).
// MaxPooling2D / AveragePooling2D(pool_size=(2, 2), strides=None, padding="valid", data_format=None)
//   pool_size    int or (rows, cols), > 0
//   strides      None (= pool_size), int or (rows, cols), > 0
//   padding      "valid" or "same" (TensorFlow SAME: out = ceil(n / stride), floor(total / 2) zeros before)
//   data_format  None (= "channels_last"), "channels_last" or "channels_first"
//   max:      y = max over the window's taps inside the input (padding never wins; NaN propagates); the
//             gradient goes to the first maximum in row-major window order.
//   average:  y = mean over the window's taps inside the input: with "same", padding is left out of the count
//             as Keras/TensorFlow do (a corner window of 2x2 over one valid pixel is that pixel).
//   valid: out = floor((n - k) / s) + 1, ShapeError if n < k.
// GlobalAveragePooling2D(data_format=None, keepdims=False): the mean over rows and cols per channel, (N, C)
//   or (N, 1, 1, C) / (N, C, 1, 1) with keepdims.
// Input rank 4 with known non-batch sizes. Errors: ConfigError for bad sizes/padding/data_format; ShapeError
// for the input.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "locnet/layers/layer.hpp"

namespace locnet {
namespace kernels {
struct MaxPoolKernel;
struct AvgPoolKernel;
}  // namespace kernels

struct Pooling2DConfig {
  std::vector<int64_t> pool_size = {2, 2};
  std::optional<std::vector<int64_t>> strides;
  std::string padding = "valid";
  std::optional<std::string> data_format;

  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.pool_size, Field{"pool_size", "Window size: an int or (rows, cols)."});
    v(s.strides, Field{"strides", "Step between windows: None (= pool_size), an int or (rows, cols)."});
    v(s.padding, Field{"padding", "\"valid\" or \"same\" (TensorFlow SAME)."});
    v(s.data_format, Field{"data_format", "None (channels_last), \"channels_last\" or \"channels_first\"."});
  }
  // ConfigError naming `type` (MaxPooling2D or AveragePooling2D); returns the config with pool_size and strides as
  // (rows, cols) pairs, as Keras's get_config prints them.
  Pooling2DConfig validate(const char* type) const;
};

// The machinery shared by MaxPooling2D and AveragePooling2D, built from a validated config.
class Pooling2D : public Layer {
 public:
  using Config = Pooling2DConfig;
  Pooling2D(bool max, Config validated, std::string name);
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::string kernel() const override;  // the registry's choice: "max_pool_hwy" (SIMD) or "ref"

 protected:
  void do_build(const Shape& in, Rng&) override;
  Config cfg_;  // validated

 private:
  bool max_;
  int64_t pool_[2], strides_[2];
  bool channels_last_ = true;
  Shape x_shape_, y_shape_;            // of the last training forward
  std::vector<int64_t> argmax_;        // max: the input index each output came from
  const kernels::MaxPoolKernel* max_impl_ = nullptr;  // chosen in build(), by max_
  const kernels::AvgPoolKernel* avg_impl_ = nullptr;
};

template <bool Max>
class Pooling2DOf : public LayerOf<Pooling2DOf<Max>, Pooling2DConfig, Pooling2D> {
 public:
  static constexpr const char* kType = Max ? "MaxPooling2D" : "AveragePooling2D";
  static constexpr const char* kDoc = Max ? "Max over 2D windows (Keras; TensorFlow 'same')."
                                          : "Mean over 2D windows (Keras; 'same' leaves padding out of the count).";
  explicit Pooling2DOf(Pooling2DConfig cfg = {}, std::string name = {})
      : LayerOf<Pooling2DOf, Pooling2DConfig, Pooling2D>(std::move(cfg), std::move(name), Max) {
    this->LayerOf<Pooling2DOf, Pooling2DConfig, Pooling2D>::cfg_ = Pooling2D::cfg_;  // config() prints the pairs
  }
};
using MaxPooling2D = Pooling2DOf<true>;
using AveragePooling2D = Pooling2DOf<false>;

struct GlobalAveragePooling2DConfig {
  static constexpr const char* kType = "GlobalAveragePooling2D";
  static constexpr const char* kDoc = "Mean over rows and cols per channel (Keras).";
  std::optional<std::string> data_format;
  bool keepdims = false;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.data_format, Field{"data_format", "None (channels_last), \"channels_last\" or \"channels_first\"."});
    v(s.keepdims, Field{"keepdims", "Keep the spatial axes with size 1."});
  }
  void validate() const;
};

class GlobalAveragePooling2D : public LayerOf<GlobalAveragePooling2D, GlobalAveragePooling2DConfig> {
 public:
  explicit GlobalAveragePooling2D(Config cfg = {}, std::string name = {});
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;

 protected:
  void do_build(const Shape& in, Rng&) override;

 private:
  bool channels_last_ = true;
  Shape x_shape_;
  const kernels::AvgPoolKernel* impl_ = nullptr;
};

}  // namespace locnet
