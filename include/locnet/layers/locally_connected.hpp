// LocallyConnected1D / LocallyConnected2D (Keras): a convolution whose filter differs at every output position.
//   filters             required, > 0
//   kernel_size         required: int or tuple of 1 (1D) / 2 (2D) ints > 0
//   strides             1 / (1, 1): int or tuple, > 0
//   padding             "valid" (default), "same", "causal" (1D only), or explicit zeros as in ZeroPadding1D/2D:
//                       p (every side), 1D (left, right), 2D (rows, cols) symmetric or ((top, bottom), (left, right))
//   data_format         None (= "channels_last"), "channels_last" or "channels_first"
//   activation          None/"linear" or a name from activations.hpp
//   use_bias            True
//   kernel_initializer  "glorot_uniform";  bias_initializer "zeros"   (a name or call from initializers.hpp)
//   kernel_regularizer, bias_regularizer, activity_regularizer
//                       None, "l1", "l2", "l1_l2" or L1(..)/L2(..)/L1L2(..) (params/regularizers.hpp); the
//                       activity regularizer acts on the output y (after the activation)
//   kernel_constraint, bias_constraint
//                       None, "max_norm", "non_neg", "unit_norm", "min_max_norm" or a call (params/constraints.hpp);
//                       Keras's axis=0 is the position axis of the (P, K, F) kernel: axis=1 gives one norm
//                       per position and filter
//   implementation      1, 2 or 3 (Keras): the layout of the kernel in weight files (load_weights, model_weights,
//                       checkpoints) and the shape whose Keras fans and layout the kernel initializer uses; the
//                       layer always computes with implementation 1's kernel below (same function)
//   dilation_rate       1 / (1, 1): int or tuple, > 0 (beyond Keras)
// Input (N, steps, C) / (N, rows, cols, C), or (N, C, steps) / (N, C, rows, cols) for channels_first; the
// spatial size and C are fixed at build (every position owns its weights).
//
// Per axis, with input length n, kernel k, stride s, dilation d and dilated extent e = (k - 1) d + 1, tap j of
// output o reads input o*s + j*d - before, and taps outside [0, n) read nothing (their weights get no gradient):
//   valid       before = 0,          out = floor((n - e) / s) + 1      (ShapeError if n < e)
//   same        before = floor(e/2), out = ceil(n / s)                 (Keras's locally-connected rule: window
//                                      [o*s - floor(k/2), o*s + ceil(k/2)) clipped; NOT TensorFlow's SAME)
//   causal      before = e - 1,      out = ceil(n / s)                 (1D)
//   explicit    before, after given, out = floor((n + before + after - e) / s) + 1
// A "same"/"causal" window may hold no tap inside the input (large dilation): that output is the bias alone.
//
// Parameters exactly as Keras implementation=1 stores them, so Keras weights load unchanged:
//   kernel (P, K, F): P = out positions (row-major p = r*OW + c), K = kh*kw*C in the order (dy, dx, c) for
//                     channels_last and (c, dy, dx) for channels_first (1D: kh = 1)
//   bias   (OL, F) / (OH, OW, F), added as a flat buffer in the output's own memory order: element p*F + f for
//                     channels_last, f*P + p for channels_first (Keras's bias_add reshapes, never transposes)
//   y = activation(sum over valid taps of x * kernel[p] + bias)
// Initializers use Keras's fans for the (P, K, F) kernel: fan_in = K*P, fan_out = F*P. The position axis counts
// as receptive field, so glorot_uniform's limit sqrt(6 / (P (K + F))) shrinks as 1/sqrt(P): 8.6e-3 for the
// 32x32x3 -> 64 filters 3x3 example, against 0.1 for the equivalent Conv2D.
// Errors: ConfigError for sizes <= 0, a kernel_size/strides/dilation_rate tuple of the wrong length, unknown
// padding/data_format/activation/initializer/regularizer/constraint, negative explicit padding, "causal" in 2D;
// ShapeError for a constraint axis the parameter lacks (at build), for an input rank other than 3 (1D) / 4 (2D), unknown or zero spatial
// size or channels, a dilated kernel longer than the padded input, and an input whose shape differs from the
// built one. Loading mis-shaped weights is a FormatError (model/weights.hpp).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "locnet/layers/activations.hpp"
#include "locnet/core/window.hpp"
#include "locnet/layers/layer.hpp"
#include "locnet/layers/weighted.hpp"
#include "locnet/params/constraints.hpp"
#include "locnet/params/regularizers.hpp"

namespace locnet {

namespace kernels {
struct LcKernel;
}

// A validated configuration, the same for both ranks (1D is 2D with one row: kernel, stride and dilation 1).
struct LocallyConnectedSpec {
  int rank = 2;
  int64_t filters = 0;
  int64_t kernel[2] = {1, 1}, strides[2] = {1, 1}, dilation[2] = {1, 1};  // (rows, cols)
  std::string padding = "valid";                                            // valid, same, causal or explicit
  int64_t pad[2][2] = {{0, 0}, {0, 0}};                                     // explicit (before, after) per axis
  bool channels_last = true;
  std::string activation = "linear";
  bool use_bias = true;
  Value kernel_initializer = "glorot_uniform", bias_initializer = "zeros";
  std::shared_ptr<const Regularizer> kernel_regularizer, bias_regularizer, activity_regularizer;
  std::shared_ptr<const Constraint> kernel_constraint, bias_constraint;
  int implementation = 1;  // Keras's kernel layout for weight files and initialization
};

// The geometry of a built layer: its window (include/locnet/core/window.hpp; 1D: h = oh = kh = 1), channels and
// filters. Tap j of output o along an axis reads input o*s + j*d - pad_before; outside the input it reads nothing.
struct LocallyConnectedGeometry : Window2D {
  int rank = 2;
  bool channels_last = true;
  int64_t c = 1, f = 1;
  int64_t patch() const { return kh * kw * c; }
};

template <int R>
struct LocallyConnectedConfig {
  static_assert(R == 1 || R == 2);
  static constexpr const char* kType = R == 1 ? "LocallyConnected1D" : "LocallyConnected2D";
  static constexpr const char* kDoc = R == 1 ? "Locally connected 1D layer (Keras): unshared weights per step."
                                             : "Locally connected 2D layer (Keras): unshared weights per position.";
  int64_t filters = 0;
  std::vector<int64_t> kernel_size;
  std::vector<int64_t> strides = std::vector<int64_t>(R, 1);
  Value padding = "valid";
  std::optional<std::string> data_format;
  std::optional<std::string> activation;
  bool use_bias = true;
  Value kernel_initializer = "glorot_uniform";
  Value bias_initializer = "zeros";
  Value kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint;
  int64_t implementation = 1;
  std::vector<int64_t> dilation_rate = std::vector<int64_t>(R, 1);

  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.filters, Field{"filters", "Number of output filters (the channel axis of the output).", Field::required});
    v(s.kernel_size, Field{"kernel_size", "Window size: an int or a tuple with one int per spatial axis.",
                           Field::required});
    v(s.strides, Field{"strides", "Step between windows: an int or one per spatial axis."});
    v(s.padding, Field{"padding", "\"valid\", \"same\" (Keras locally-connected window rule), \"causal\" (1D) "
                                  "or explicit zeros: p, (before, after), 2D (rows, cols) or ((t, b), (l, r))."});
    v(s.data_format, Field{"data_format", "None (channels_last), \"channels_last\" or \"channels_first\"."});
    v(s.activation, Field{"activation", "Activation applied to the output; None means linear."});
    v(s.use_bias, Field{"use_bias", "Whether the layer adds a bias per output position and filter."});
    v(s.kernel_initializer, Field{"kernel_initializer", "Initializer of the kernel (P, K, F); fans K*P, F*P."});
    v(s.bias_initializer, Field{"bias_initializer", "Initializer of the bias (OL, F) / (OH, OW, F)."});
    regularizer_fields(s, v);
    v(s.kernel_constraint, Field{"kernel_constraint", "None, \"max_norm\", \"non_neg\", \"unit_norm\", "
                                                      "\"min_max_norm\" or a call such as MaxNorm(2, axis=1); axis 0 "
                                                      "is the position axis, 1 the patch."});
    v(s.bias_constraint, Field{"bias_constraint", "As kernel_constraint, for the bias (OL, F) / (OH, OW, F)."});
    v(s.implementation, Field{"implementation", "Keras's implementation 1, 2 or 3: the kernel layout that weights "
                                                "are loaded from and saved in, and initialized in (the layer "
                                                "computes the same function with implementation 1's kernel)."});
    v(s.dilation_rate, Field{"dilation_rate", "Spacing between taps: an int or one per spatial axis."});
  }
  LocallyConnectedSpec validate() const;  // ConfigError / NotSupported; the canonical form
};

// The machinery shared by both ranks.
class LocallyConnectedBase : public Layer {
 public:
  LocallyConnectedBase(LocallyConnectedSpec spec, std::string name);
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::vector<Param*> params() override;
  double activity_loss() const override { return body_.activity.loss; }
  std::string kernel() const override;
  LayerWork work(const Shape& in) const override;  // each kernel weight once per sample: N * P * K * F
  const LocallyConnectedSpec& spec() const { return spec_; }
  // The geometry for an input shape (ShapeError as output_shape), or of the built layer.
  LocallyConnectedGeometry geometry(const Shape& in) const;
  const LocallyConnectedGeometry& geometry() const;  // ConfigError before build

 protected:
  void do_build(const Shape& in, Rng& rng) override;

 private:
  LocallyConnectedSpec spec_;
  LocallyConnectedGeometry geo_;
  WeightedBody body_;
  const kernels::LcKernel* impl_ = nullptr;
};

template <int R>
class LocallyConnected : public LayerOf<LocallyConnected<R>, LocallyConnectedConfig<R>, LocallyConnectedBase> {
  using Of = LayerOf<LocallyConnected, LocallyConnectedConfig<R>, LocallyConnectedBase>;

 public:
  using Config = LocallyConnectedConfig<R>;
  explicit LocallyConnected(Config cfg, std::string name = {}) : Of(std::move(cfg), std::move(name)) {
    // config() prints kernel_size=(3, 3) for 2D as Keras's get_config does, never the (3,) a lone 3 was stored as.
    auto per_axis = [](const int64_t (&v)[2]) {
      return R == 1 ? std::vector<int64_t>{v[1]} : std::vector<int64_t>{v[0], v[1]};
    };
    this->cfg_.kernel_size = per_axis(this->spec().kernel);
    this->cfg_.strides = per_axis(this->spec().strides);
    this->cfg_.dilation_rate = per_axis(this->spec().dilation);
  }
  // LocallyConnected2D(64, {3, 3}): Keras's positional form.
  LocallyConnected(int64_t filters, std::vector<int64_t> kernel_size, std::string name = {})
      : LocallyConnected(Config{.filters = filters, .kernel_size = std::move(kernel_size)}, std::move(name)) {}
};

using LocallyConnected1D = LocallyConnected<1>;
using LocallyConnected2D = LocallyConnected<2>;

}  // namespace locnet
