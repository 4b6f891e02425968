// Pooling layers (Keras names and defaults, with PyTorch/ONNX/Caffe options; user page docs/pooling.md).
// MaxPooling2D / AveragePooling2D(pool_size=(2, 2), strides=None, padding="valid", data_format=None,
//                                 ceil_mode=False, count_include_pad=False)
// MaxPooling1D / AveragePooling1D(pool_size=2, strides=None, padding="valid", data_format="channels_last",
//                                 ceil_mode=False, count_include_pad=False)
//   pool_size          int or (rows, cols) (1D: int or (steps,)), > 0
//   strides            None (= pool_size), int or (rows, cols), > 0
//   padding            "valid", "same" (TensorFlow SAME: out = ceil(n / stride), floor(total / 2) before), or
//                      explicit pads: an int, (rows, cols) or ((top, bottom), (left, right)); 1D an int or (left,
//                      right). Every pad is >= 0 and < pool_size along its axis (Caffe's rule; PyTorch's pad <=
//                      k/2 is stricter), so every window holds at least one input element.
//   data_format        None (= "channels_last"), "channels_last" or "channels_first"
//   ceil_mode          PyTorch's: out = ceil((n + pads - k) / s) + 1, less one when the last window would start at
//                      or past n + pad_before ("valid" and explicit padding only)
//   count_include_pad  average pooling only: count the padding in the divisor (PyTorch's name; ONNX's
//                      count_include_pad=1; Caffe's AVE). The count is the window clipped to the padded input
//                      [-pad_before, n + pad_after), as PyTorch does under ceil_mode. False counts only the taps
//                      inside the input (Keras/TensorFlow "same").
//   max:      y = max over the window's taps inside the input (padding never wins; NaN propagates); the
//             gradient goes to the first maximum in row-major window order.
//   average:  y = sum over the window's taps inside the input / count.
//   valid: out = floor((n - k) / s) + 1, ShapeError if n < k (n + pads < k with explicit pads).
// config() leaves out ceil_mode and count_include_pad while they are False, so a Keras layer prints as in Keras.
// GlobalMaxPooling1D/2D, GlobalAveragePooling1D/2D(data_format, keepdims=False): the max / mean over the steps
// (1D) or rows and cols (2D) per channel, (N, C) or with keepdims (N, 1, C) / (N, 1, 1, C) (channels_first: the
// ones after C). data_format defaults to "channels_last" in 1D and None in 2D, as in Keras.
// Input rank 3 (1D) or 4 (2D) with known non-batch sizes. Errors: ConfigError for bad options; ShapeError for the
// input.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "locnet/core/window.hpp"
#include "locnet/layers/layer.hpp"

namespace locnet {
namespace kernels {
struct MaxPoolKernel;
struct AvgPoolKernel;
struct PoolProblem;
}  // namespace kernels

template <int R>
struct PoolingConfig {
  static_assert(R == 1 || R == 2);
  std::vector<int64_t> pool_size = std::vector<int64_t>(R, 2);
  std::optional<std::vector<int64_t>> strides;
  Value padding = "valid";
  std::optional<std::string> data_format = R == 1 ? std::optional<std::string>("channels_last") : std::nullopt;
  bool ceil_mode = false;
  bool count_include_pad = false;

  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.pool_size, Field{"pool_size", R == 1 ? "Window size: an int." : "Window size: an int or (rows, cols)."});
    v(s.strides, Field{"strides", R == 1 ? "Step between windows: None (= pool_size) or an int."
                                         : "Step between windows: None (= pool_size), an int or (rows, cols)."});
    v(s.padding, Field{"padding", R == 1 ? "\"valid\", \"same\" (TensorFlow SAME) or explicit: p or (left, right)."
                                         : "\"valid\", \"same\" (TensorFlow SAME) or explicit: p, (rows, cols) or "
                                           "((top, bottom), (left, right))."});
    v(s.data_format, Field{"data_format", "None (channels_last), \"channels_last\" or \"channels_first\"."});
    v(s.ceil_mode, Field{"ceil_mode", "PyTorch/ONNX/Caffe output size: ceil instead of floor (valid/explicit)."});
    v(s.count_include_pad, Field{"count_include_pad", "Average only: the padding counts in the divisor."});
  }
  // ConfigError naming `type` (MaxPooling2D, AveragePooling1D, ...); returns the config with pool_size and strides
  // as tuples of R, as Keras's get_config prints them.
  PoolingConfig validate(const char* type) const;
};
using Pooling2DConfig = PoolingConfig<2>;
using Pooling1DConfig = PoolingConfig<1>;

// The machinery shared by the windowed pooling layers of both ranks: a 1D layer is the 2D one over one row.
class Pooling : public Layer {
 public:
  template <int R>
  Pooling(bool max, const PoolingConfig<R>& validated, std::string name);
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::string kernel() const override;  // the registry's choice: "max_pool_hwy" (SIMD) or "ref"

 protected:
  void do_build(const Shape& in, Rng&) override;

 private:
  kernels::PoolProblem problem(const Shape& in) const;  // ShapeError for an input the window does not fit
  int rank_;
  bool max_;
  Window2D window_;                    // kernel and strides; h, w and the output set per input
  WindowPadding padding_ = WindowPadding::valid;
  int64_t pads_[2][2] = {{0, 0}, {0, 0}};  // explicit (before, after) of rows and cols
  bool ceil_mode_ = false, count_include_pad_ = false, channels_last_ = true;
  Shape x_shape_, y_shape_;            // of the last training forward
  std::vector<int64_t> argmax_;        // max: the input index each output came from
  const kernels::MaxPoolKernel* max_impl_ = nullptr;  // chosen in build(), by max_
  const kernels::AvgPoolKernel* avg_impl_ = nullptr;
};

template <int R, bool Max>
class PoolingOf : public LayerOf<PoolingOf<R, Max>, PoolingConfig<R>, Pooling> {
  using Base = LayerOf<PoolingOf<R, Max>, PoolingConfig<R>, Pooling>;

 public:
  static constexpr const char* kType = R == 1 ? (Max ? "MaxPooling1D" : "AveragePooling1D")
                                              : (Max ? "MaxPooling2D" : "AveragePooling2D");
  static constexpr const char* kDoc = Max ? "Max over windows (Keras; TensorFlow 'same'; PyTorch pads, ceil_mode)."
                                          : "Mean over windows (Keras; PyTorch pads, ceil_mode, count_include_pad).";
  explicit PoolingOf(PoolingConfig<R> cfg = {}, std::string name = {})
      : Base(std::move(cfg), std::move(name), Max) {
    this->cfg_ = this->cfg_.validate(kType);  // config() prints the canonical tuples
  }
  Call config() const override;
};
using MaxPooling2D = PoolingOf<2, true>;
using AveragePooling2D = PoolingOf<2, false>;
using MaxPooling1D = PoolingOf<1, true>;
using AveragePooling1D = PoolingOf<1, false>;

template <int R, bool Max>
struct GlobalPoolingConfig {
  static constexpr const char* kType = R == 1 ? (Max ? "GlobalMaxPooling1D" : "GlobalAveragePooling1D")
                                              : (Max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D");
  static constexpr const char* kDoc = R == 1 ? (Max ? "Max over the steps per channel (Keras)."
                                                    : "Mean over the steps per channel (Keras).")
                                             : (Max ? "Max over rows and cols per channel (Keras)."
                                                    : "Mean over rows and cols per channel (Keras).");
  std::optional<std::string> data_format = R == 1 ? std::optional<std::string>("channels_last") : std::nullopt;
  bool keepdims = false;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.data_format, Field{"data_format", "None (channels_last), \"channels_last\" or \"channels_first\"."});
    v(s.keepdims, Field{"keepdims", "Keep the spatial axes with size 1."});
  }
  void validate() const;
};
using GlobalAveragePooling2DConfig = GlobalPoolingConfig<2, false>;

// The whole (rows, cols) plane (1D: the steps) as one window of the pooling kernels.
template <int R, bool Max>
class GlobalPooling : public LayerOf<GlobalPooling<R, Max>, GlobalPoolingConfig<R, Max>> {
 public:
  using Config = GlobalPoolingConfig<R, Max>;
  explicit GlobalPooling(Config cfg = {}, std::string name = {});
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::string kernel() const override;

 protected:
  void do_build(const Shape& in, Rng&) override;

 private:
  bool channels_last_ = true;
  Shape x_shape_;
  std::vector<int64_t> argmax_;  // max: the input index each output came from
  const kernels::MaxPoolKernel* max_impl_ = nullptr;
  const kernels::AvgPoolKernel* avg_impl_ = nullptr;
};
using GlobalAveragePooling2D = GlobalPooling<2, false>;
using GlobalMaxPooling2D = GlobalPooling<2, true>;
using GlobalAveragePooling1D = GlobalPooling<1, false>;
using GlobalMaxPooling1D = GlobalPooling<1, true>;

}  // namespace locnet
