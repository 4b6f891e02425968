// Conv2D (Keras): y = activation(cross_correlation(x, kernel) + bias).
//   filters             required, > 0
//   kernel_size         required: int or (kh, kw), > 0
//   strides             (1, 1): int or tuple, > 0
//   padding             "valid" (default) or "same" (TensorFlow SAME)
//   data_format         None (= "channels_last"), "channels_last" or "channels_first"
//   dilation_rate       (1, 1): int or tuple, > 0 (with strides > 1 too, beyond Keras)
//   groups              1 (anything else is NotSupported)
//   activation          None/"linear" or a name from activations.hpp
//   use_bias            True
//   kernel_initializer  "glorot_uniform";  bias_initializer "zeros"   (a name or call from initializers.hpp)
//   kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint
//                       None (params/regularizers.hpp, params/constraints.hpp)
// Per axis, with input length n, kernel k, stride s, dilation d and dilated extent e = (k - 1) d + 1, tap j of
// output o reads input o*s + j*d - before (zero outside the input):
//   valid  before = 0,                 out = floor((n - e) / s) + 1   (ShapeError if n < e)
//   same   total = max((out - 1) s + e - n, 0), before = floor(total / 2) (the odd zero goes after),
//          out = ceil(n / s)                                           (TensorFlow's SAME)
// Parameters exactly as Keras stores them, whatever the data format: kernel (kh, kw, C, F), bias (F,).
// Initializer fans as Keras: fan_in = kh*kw*C, fan_out = kh*kw*F.
// Input (N, H, W, C) or (N, C, H, W) with H, W, C known (> 0), fixed at build like every layer's input shape.
// Errors: ConfigError for sizes <= 0, a tuple of the wrong length, unknown padding/data_format/activation/
// initializer/regularizer/constraint; NotSupported for groups != 1; ShapeError for an input rank other than 4,
// unknown or zero sizes, a dilated kernel longer than the input ("valid"), an input shape other than the built one.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "locnet/layers/activations.hpp"
#include "locnet/layers/layer.hpp"
#include "locnet/layers/weighted.hpp"
#include "locnet/params/regularizers.hpp"

namespace locnet {
namespace kernels {
struct Conv2dKernel;
struct Conv2dProblem;
}  // namespace kernels

struct Conv2DConfig {
  static constexpr const char* kType = "Conv2D";
  static constexpr const char* kDoc = "2D convolution (Keras): kernel (kh, kw, C, F), TensorFlow 'same' padding.";
  int64_t filters = 0;
  std::vector<int64_t> kernel_size;
  std::vector<int64_t> strides = {1, 1};
  std::string padding = "valid";
  std::optional<std::string> data_format;
  std::vector<int64_t> dilation_rate = {1, 1};
  int64_t groups = 1;
  std::optional<std::string> activation;
  bool use_bias = true;
  Value kernel_initializer = "glorot_uniform";
  Value bias_initializer = "zeros";
  Value kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint;

  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.filters, Field{"filters", "Number of output filters (the channel axis of the output).", Field::required});
    v(s.kernel_size, Field{"kernel_size", "Window size: an int or (rows, cols).", Field::required});
    v(s.strides, Field{"strides", "Step between windows: an int or (rows, cols)."});
    v(s.padding, Field{"padding", "\"valid\" (no padding) or \"same\" (TensorFlow SAME: output = ceil(n / stride))."});
    v(s.data_format, Field{"data_format", "None (channels_last), \"channels_last\" or \"channels_first\"."});
    v(s.dilation_rate, Field{"dilation_rate", "Spacing between taps: an int or (rows, cols)."});
    v(s.groups, Field{"groups", "Must be 1 (grouped convolution is not supported)."});
    v(s.activation, Field{"activation", "Activation applied to the output; None means linear."});
    v(s.use_bias, Field{"use_bias", "Whether the layer adds a bias per filter."});
    v(s.kernel_initializer, Field{"kernel_initializer", "Initializer of the kernel (kh, kw, C, F)."});
    v(s.bias_initializer, Field{"bias_initializer", "Initializer of the bias (F,)."});
    regularizer_fields(s, v);
    v(s.kernel_constraint, Field{"kernel_constraint", "None or a constraint such as MaxNorm(3) (Keras axes)."});
    v(s.bias_constraint, Field{"bias_constraint", "Constraint of the bias, as kernel_constraint."});
  }
  void validate() const;
};

class Conv2D : public LayerOf<Conv2D, Conv2DConfig> {
 public:
  explicit Conv2D(Config cfg, std::string name = {});
  Conv2D(int64_t filters, std::vector<int64_t> kernel_size, std::string name = {})
      : Conv2D(Config{.filters = filters, .kernel_size = std::move(kernel_size)}, std::move(name)) {}

  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::vector<Param*> params() override;
  double activity_loss() const override { return body_.activity.loss; }
  std::string kernel() const override;
  // Every tap at every output element: N * OH * OW * F * KH * KW * C multiply-adds (padding taps included).
  LayerWork work(const Shape& in) const override;

 protected:
  void do_build(const Shape& in, Rng& rng) override;

 private:
  kernels::Conv2dProblem problem(const Shape& in) const;  // ShapeError as output_shape
  int64_t kernel_[2], strides_[2], dilation_[2];
  bool channels_last_ = true;
  WeightedBody body_;
  const kernels::Conv2dKernel* impl_ = nullptr;
};

}  // namespace locnet
