// Convolutions (Keras): y = activation(cross_correlation(x, kernel) + bias). Conv1D, Conv2D and DepthwiseConv2D
// are one grouped 2D convolution (Conv1D runs its (steps) axis as the cols of a single row; DepthwiseConv2D is
// groups = C) with one reference and kernel list: src/kernels/conv2d/problem.hpp.
//   filters             required, > 0, divisible by groups (Conv1D, Conv2D)
//   kernel_size         required: int or one per spatial axis, > 0
//   strides             1: int or one per axis, > 0
//   padding             "valid" (default), "same" (TensorFlow SAME), "causal" (Conv1D), or explicit zeros as
//                       ZeroPadding1D/2D take them (ONNX pads, PyTorch padding): 1D p or (left, right); 2D p,
//                       (rows, cols) or ((top, bottom), (left, right)); config() prints (left, right) /
//                       ((top, bottom), (left, right))
//   data_format         None (= "channels_last"), "channels_last" or "channels_first"
//   dilation_rate       1: int or one per axis, > 0 (with strides > 1 too, beyond Keras)
//   groups              1: input channels C and filters F divisible by it; filter f reads the C/groups channels
//                       of group f / (F/groups) (Conv1D, Conv2D)
//   depth_multiplier    1: DepthwiseConv2D's filters per input channel M; output channel c*M + m
//   activation          None/"linear" or a name from activations.hpp
//   use_bias            True
//   kernel_initializer  "glorot_uniform";  bias_initializer "zeros"   (a name or call from initializers.hpp)
//   kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint
//                       None (params/regularizers.hpp, params/constraints.hpp); DepthwiseConv2D names the kernel's
//                       options depthwise_initializer, depthwise_regularizer, depthwise_constraint
// Per axis, with input length n, kernel k, stride s, dilation d and dilated extent e = (k - 1) d + 1, tap j of
// output o reads input o*s + j*d - before (zero outside the input):
//   valid     before = 0,                 out = floor((n - e) / s) + 1   (ShapeError if n < e)
//   same      total = max((out - 1) s + e - n, 0), before = floor(total / 2) (the odd zero goes after),
//             out = ceil(n / s)                                           (TensorFlow's SAME)
//   causal    before = e - 1,             out = ceil(n / s)
//   explicit  (before, after),            out = floor((n + before + after - e) / s) + 1  (ShapeError if < 1)
// Parameters exactly as Keras stores them, whatever the data format: kernel (k, C/groups, F) for Conv1D,
// (kh, kw, C/groups, F) for Conv2D, depthwise_kernel (kh, kw, C, M) for DepthwiseConv2D; bias (F,) (F = C*M).
// Initializer fans as Keras, from the kernel shape: fan_in = receptive * shape[-2], fan_out = receptive * shape[-1].
// Input (N, [H,] W, C) or (N, C, [H,] W) with the non-batch sizes known (> 0), fixed at build.
// Errors: ConfigError for sizes <= 0, a tuple of the wrong length, filters not divisible by groups, unknown
// padding/data_format/activation/initializer/regularizer/constraint, negative explicit padding; ShapeError for an
// input of the wrong rank, unknown or zero sizes, C not divisible by groups, a dilated kernel longer than the
// (padded) input, an input shape other than the built one.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "locnet/core/window.hpp"
#include "locnet/layers/activations.hpp"
#include "locnet/layers/layer.hpp"
#include "locnet/layers/weighted.hpp"
#include "locnet/params/constraints.hpp"
#include "locnet/params/regularizers.hpp"

namespace locnet {
namespace kernels {
struct Conv2dKernel;
struct Conv2dProblem;
}  // namespace kernels

// The canonical form every convolution config validates to.
struct ConvSpec {
  int rank = 2;                  // 1: input (N, L, C) / (N, C, L), run as one row
  int64_t filters = 0;           // F (Conv1D, Conv2D)
  int64_t groups = 1;            // Conv1D, Conv2D
  int64_t depth_multiplier = 0;  // > 0: DepthwiseConv2D, groups = C and F = C * depth_multiplier
  int64_t kernel[2] = {1, 1}, strides[2] = {1, 1}, dilation[2] = {1, 1};  // (rows, cols); 1D keeps rows at 1
  WindowPadding padding = WindowPadding::valid;
  int64_t pad[2][2] = {{0, 0}, {0, 0}};  // explicit (before, after) of rows and cols
  bool channels_last = true;
  std::string activation = "linear";
  bool use_bias = true;
  Value kernel_initializer = "glorot_uniform", bias_initializer = "zeros";
  std::shared_ptr<const Regularizer> kernel_regularizer, bias_regularizer, activity_regularizer;
  std::shared_ptr<const Constraint> kernel_constraint, bias_constraint;
};

template <int R>
struct ConvConfig {
  static_assert(R == 1 || R == 2);
  static constexpr const char* kType = R == 1 ? "Conv1D" : "Conv2D";
  static constexpr const char* kDoc = R == 1 ? "1D convolution (Keras): kernel (k, C/groups, F), causal padding."
                                             : "2D convolution (Keras): kernel (kh, kw, C/groups, F), TensorFlow "
                                               "'same' padding.";
  int64_t filters = 0;
  std::vector<int64_t> kernel_size;
  std::vector<int64_t> strides = std::vector<int64_t>(R, 1);
  Value padding = "valid";
  std::optional<std::string> data_format;
  std::vector<int64_t> dilation_rate = std::vector<int64_t>(R, 1);
  int64_t groups = 1;
  std::optional<std::string> activation;
  bool use_bias = true;
  Value kernel_initializer = "glorot_uniform";
  Value bias_initializer = "zeros";
  Value kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint;

  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.filters, Field{"filters", "Number of output filters (the channel axis of the output).", Field::required});
    v(s.kernel_size, Field{"kernel_size", R == 1 ? "Window length: an int." : "Window size: an int or (rows, cols).",
                           Field::required});
    v(s.strides, Field{"strides", R == 1 ? "Step between windows: an int."
                                         : "Step between windows: an int or (rows, cols)."});
    v(s.padding, Field{"padding", R == 1 ? "\"valid\", \"same\" (TensorFlow SAME), \"causal\" or explicit zeros: "
                                           "p or (left, right)."
                                         : "\"valid\", \"same\" (TensorFlow SAME: output = ceil(n / stride)) or "
                                           "explicit zeros: p, (rows, cols) or ((top, bottom), (left, right))."});
    v(s.data_format, Field{"data_format", "None (channels_last), \"channels_last\" or \"channels_first\"."});
    v(s.dilation_rate, Field{"dilation_rate", R == 1 ? "Spacing between taps: an int."
                                                     : "Spacing between taps: an int or (rows, cols)."});
    v(s.groups, Field{"groups", "Channel groups: filter f reads the C/groups input channels of group "
                                "f / (filters/groups); C and filters divisible by it."});
    v(s.activation, Field{"activation", "Activation applied to the output; None means linear."});
    v(s.use_bias, Field{"use_bias", "Whether the layer adds a bias per filter."});
    v(s.kernel_initializer, Field{"kernel_initializer", R == 1 ? "Initializer of the kernel (k, C/groups, F)."
                                                               : "Initializer of the kernel (kh, kw, C/groups, F)."});
    v(s.bias_initializer, Field{"bias_initializer", "Initializer of the bias (F,)."});
    regularizer_fields(s, v);
    v(s.kernel_constraint, Field{"kernel_constraint", "None or a constraint such as MaxNorm(3) (Keras axes)."});
    v(s.bias_constraint, Field{"bias_constraint", "Constraint of the bias, as kernel_constraint."});
  }
  ConvSpec validate() const;
};
using Conv1DConfig = ConvConfig<1>;
using Conv2DConfig = ConvConfig<2>;

struct DepthwiseConv2DConfig {
  static constexpr const char* kType = "DepthwiseConv2D";
  static constexpr const char* kDoc = "Depthwise 2D convolution (Keras): kernel (kh, kw, C, depth_multiplier).";
  std::vector<int64_t> kernel_size;
  std::vector<int64_t> strides = {1, 1};
  Value padding = "valid";
  int64_t depth_multiplier = 1;
  std::optional<std::string> data_format;
  std::vector<int64_t> dilation_rate = {1, 1};
  std::optional<std::string> activation;
  bool use_bias = true;
  Value depthwise_initializer = "glorot_uniform";
  Value bias_initializer = "zeros";
  Value depthwise_regularizer, bias_regularizer, activity_regularizer, depthwise_constraint, bias_constraint;

  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.kernel_size, Field{"kernel_size", "Window size: an int or (rows, cols).", Field::required});
    v(s.strides, Field{"strides", "Step between windows: an int or (rows, cols)."});
    v(s.padding, Field{"padding", "\"valid\", \"same\" (TensorFlow SAME) or explicit zeros: p, (rows, cols) or "
                                  "((top, bottom), (left, right))."});
    v(s.depth_multiplier, Field{"depth_multiplier", "Filters per input channel M: output channel c*M + m."});
    v(s.data_format, Field{"data_format", "None (channels_last), \"channels_last\" or \"channels_first\"."});
    v(s.dilation_rate, Field{"dilation_rate", "Spacing between taps: an int or (rows, cols)."});
    v(s.activation, Field{"activation", "Activation applied to the output; None means linear."});
    v(s.use_bias, Field{"use_bias", "Whether the layer adds a bias per output channel."});
    v(s.depthwise_initializer, Field{"depthwise_initializer", "Initializer of the kernel (kh, kw, C, M)."});
    v(s.bias_initializer, Field{"bias_initializer", "Initializer of the bias (C*M,)."});
    v(s.depthwise_regularizer, Field{"depthwise_regularizer", "None, \"l1\", \"l2\", \"l1_l2\", L1(l1), L2(l2) or "
                                                              "L1L2(l1, l2): penalty on the kernel."});
    v(s.bias_regularizer, Field{"bias_regularizer", "As depthwise_regularizer, for the bias."});
    v(s.activity_regularizer, Field{"activity_regularizer", "As depthwise_regularizer, on the output (divided by "
                                                            "the batch size, as Keras)."});
    v(s.depthwise_constraint, Field{"depthwise_constraint", "None or a constraint such as MaxNorm(3) (Keras axes)."});
    v(s.bias_constraint, Field{"bias_constraint", "Constraint of the bias, as depthwise_constraint."});
  }
  ConvSpec validate() const;
};

class ConvBase : public Layer {
 public:
  ConvBase(ConvSpec spec, std::string name);
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::vector<Param*> params() override;
  double activity_loss() const override { return body_.activity.loss; }
  std::string kernel() const override;
  // Every tap at every output element: N * output positions * F * taps * C/groups multiply-adds (padding taps
  // included).
  LayerWork work(const Shape& in) const override;
  const ConvSpec& spec() const { return spec_; }

 protected:
  void do_build(const Shape& in, Rng& rng) override;
  // The per-axis options as config() prints them: one value per spatial axis, explicit padding in full.
  void canonical(std::vector<int64_t>& kernel_size, std::vector<int64_t>& strides,
                 std::vector<int64_t>& dilation_rate, Value& padding) const;

 private:
  kernels::Conv2dProblem problem(const Shape& in) const;  // ShapeError as output_shape
  ConvSpec spec_;
  WeightedBody body_;
  const kernels::Conv2dKernel* impl_ = nullptr;
};

template <int R>
class Conv : public LayerOf<Conv<R>, ConvConfig<R>, ConvBase> {
  using Of = LayerOf<Conv, ConvConfig<R>, ConvBase>;

 public:
  using Config = ConvConfig<R>;
  // config() prints kernel_size=(3, 3) as Keras's get_config does, never the (3,) a lone 3 was stored as.
  explicit Conv(Config cfg, std::string name = {}) : Of(std::move(cfg), std::move(name)) {
    this->canonical(this->cfg_.kernel_size, this->cfg_.strides, this->cfg_.dilation_rate, this->cfg_.padding);
  }
  // Conv2D(64, {3, 3}): Keras's positional form.
  Conv(int64_t filters, std::vector<int64_t> kernel_size, std::string name = {})
      : Conv(Config{.filters = filters, .kernel_size = std::move(kernel_size)}, std::move(name)) {}
};
using Conv1D = Conv<1>;
using Conv2D = Conv<2>;

class DepthwiseConv2D : public LayerOf<DepthwiseConv2D, DepthwiseConv2DConfig, ConvBase> {
 public:
  explicit DepthwiseConv2D(Config cfg, std::string name = {});
  DepthwiseConv2D(std::vector<int64_t> kernel_size, std::string name = {})
      : DepthwiseConv2D(Config{.kernel_size = std::move(kernel_size)}, std::move(name)) {}
};

}  // namespace locnet
