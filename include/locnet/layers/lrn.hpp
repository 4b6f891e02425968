// Local Response Normalization, with the exact semantics of each framework.
//
// Canonical form (docs/lrn.md; why: docs/frameworks.md), which every convention maps to:
//   across channels:  W(c) = [c - B, c + A] clipped to [0, C);  S_c = sum_{j in W(c)} x_j^2
//                     N_c = k + (alpha / D) S_c;  y_c = x_c N_c^-beta
//   within channel:   S_p = sum of x^2 over the box [p - h, p + h] (each spatial axis, clipped) in the same channel,
//                     D = n^(spatial dims), h = (n - 1) / 2
//   gradient:         dx_i = g_i N_i^-beta - (2 alpha beta / D) x_i sum_{c : i in W(c)} g_c y_c / N_c
//                     (the transposed window [i - A, i + B] matters for uneven windows)
// Edges truncate the window; D never shrinks there (as in every framework).
//
// Conventions (spec name: arguments with defaults -> B, A, D), see docs/lrn.md:
//   LocalResponseNorm(alpha=1e-4, beta=0.75, k=2, depth_radius=5)        neupy's documentation (AlexNet paper):
//        depth_radius = n channels, odd, centred -> B = A = (n-1)/2, D = 1. channels_last.
//   LocalResponseNorm.tensorflow(depth_radius=5, bias=1, alpha=1, beta=0.5)   B = A = r, D = 1. channels_last.
//   LocalResponseNorm.pytorch(size, alpha=1e-4, beta=0.75, k=1)         B = n/2, A = (n-1)/2, D = n. channels_first.
//   LocalResponseNorm.caffe(local_size=5, alpha=1, beta=0.75, k=1, norm_region="ACROSS_CHANNELS")
//        odd n; across: B = A = (n-1)/2, D = n; WITHIN_CHANNEL: n^dims box, k ignored (1), D = n^dims. channels_first.
//   LocalResponseNorm.wolfram(Alpha=1, Beta=0.5, Bias=1, ChannelWindowSize=2)  B = A = c, D = 2c+1, needs C >= 2c+1;
//        channels_first; the call API also takes one unbatched (C, H, W) array.
//   LocalResponseNorm.onnx(size, alpha=1e-4, beta=0.75, bias=1)          B = (n-1)/2, A = n/2, D = n. channels_first.
//   LocalResponseNorm.onednn(local_size=5, alpha=1/8192, beta=0.75, k=1, alg_kind="lrn_across_channels")
//        B = A = (n-1)/2 (even n: n-1 taps), D = n; lrn_within_channel: box h = (n-1)/2, D = n^dims. channels_first.
//   LocalResponseNorm.mxnet(nsize, alpha=1e-4, beta=0.75, knorm=2)       odd n, B = A = (n-1)/2, D = n, needs C >= n.
// Every convention takes data_format="channels_last" | "channels_first" (default: its framework's own) and inputs
// (N, C), (N, L, C), (N, H, W, C), (N, D, H, W, C) or their channels-first forms; within-channel needs 1-3 spatial axes.
// dtypes f32, f64; bf16 and f16 storage with f32 arithmetic. No parameters; output shape = input shape.
// Errors: ConfigError for negative or non-finite alpha/beta/k, k = 0 with beta > 0 (N can be 0), a window that
// is not allowed (even where odd is required, < 1), unknown data_format/norm_region/alg_kind; ShapeError for a
// rank outside 2..5, zero channels, or fewer channels than the convention needs. NaN/Inf in x propagate (IEEE).
#pragma once
#include <optional>
#include <string>

#include "locnet/layers/layer.hpp"

namespace locnet {

struct LrnCanonical {
  int64_t behind = 0, ahead = 0;  // B, A (across) ...
  double divisor = 1;             // D (across; within computes n^dims at build)
  double alpha = 0, beta = 0, k = 1;
  bool within = false;
  int64_t within_size = 1;        // n of the within-channel box
  int64_t min_channels = 1;       // Wolfram and MXNet need C >= window
  bool channels_last = true;
};

#define LOCNET_LRN_DATA_FORMAT_FIELD(default_format)                                                       \
  v(s.data_format, Field{"data_format", "\"channels_last\" (N, ..., C) or \"channels_first\" (N, C, ...); " \
                                        "default " default_format "."})

struct NeupyLrnConfig {
  static constexpr const char* kType = "LocalResponseNorm";
  static constexpr const char* kDoc = "LRN as neupy documents it (AlexNet paper): depth_radius channels, alpha not divided.";
  double alpha = 1e-4, beta = 0.75, k = 2;
  int64_t depth_radius = 5;
  std::string data_format = "channels_last";
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.alpha, Field{"alpha", "Scale of the sum of squares (not divided by the window)."});
    v(s.beta, Field{"beta", "Exponent."});
    v(s.k, Field{"k", "Bias added before the power."});
    v(s.depth_radius, Field{"depth_radius", "Number of channels in the window, odd, centred on the channel."});
    LOCNET_LRN_DATA_FORMAT_FIELD("channels_last");
  }
  LrnCanonical validate() const;  // ConfigError; the canonical form
};

struct TensorFlowLrnConfig {
  static constexpr const char* kType = "LocalResponseNorm.tensorflow";
  static constexpr const char* kDoc = "tf.nn.local_response_normalization: half-width depth_radius, alpha not divided.";
  int64_t depth_radius = 5;
  double bias = 1, alpha = 1, beta = 0.5;
  std::string data_format = "channels_last";
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.depth_radius, Field{"depth_radius", "Half-width: the window is 2*depth_radius+1 channels."});
    v(s.bias, Field{"bias", "Offset added before the power (k)."});
    v(s.alpha, Field{"alpha", "Scale of the sum of squares (not divided)."});
    v(s.beta, Field{"beta", "Exponent."});
    LOCNET_LRN_DATA_FORMAT_FIELD("channels_last");
  }
  LrnCanonical validate() const;  // ConfigError; the canonical form
};

struct PyTorchLrnConfig {
  static constexpr const char* kType = "LocalResponseNorm.pytorch";
  static constexpr const char* kDoc = "torch.nn.LocalResponseNorm: size channels (even: extra one before c), alpha/size.";
  int64_t size = 0;
  double alpha = 1e-4, beta = 0.75, k = 1;
  std::string data_format = "channels_first";
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.size, Field{"size", "Channels in the window: [c - size//2, c + (size-1)//2].", Field::required});
    v(s.alpha, Field{"alpha", "Scale, divided by size."});
    v(s.beta, Field{"beta", "Exponent."});
    v(s.k, Field{"k", "Additive factor."});
    LOCNET_LRN_DATA_FORMAT_FIELD("channels_first");
  }
  LrnCanonical validate() const;  // ConfigError; the canonical form
};

struct CaffeLrnConfig {
  static constexpr const char* kType = "LocalResponseNorm.caffe";
  static constexpr const char* kDoc = "Caffe LRN layer: odd local_size, alpha/n; WITHIN_CHANNEL ignores k and divides by n^2.";
  int64_t local_size = 5;
  double alpha = 1, beta = 0.75, k = 1;
  std::string norm_region = "ACROSS_CHANNELS";
  std::string data_format = "channels_first";
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.local_size, Field{"local_size", "Window size n (odd): channels across, n x n spatial box within."});
    v(s.alpha, Field{"alpha", "Scale, divided by n (across) or n^dims (within)."});
    v(s.beta, Field{"beta", "Exponent."});
    v(s.k, Field{"k", "Additive factor (ignored by WITHIN_CHANNEL, which uses 1, as Caffe does)."});
    v(s.norm_region, Field{"norm_region", "\"ACROSS_CHANNELS\" or \"WITHIN_CHANNEL\"."});
    LOCNET_LRN_DATA_FORMAT_FIELD("channels_first");
  }
  LrnCanonical validate() const;  // ConfigError; the canonical form
};

struct WolframLrnConfig {
  static constexpr const char* kType = "LocalResponseNorm.wolfram";
  static constexpr const char* kDoc = "Wolfram LocalResponseNormalizationLayer: half-width window, alpha/(2c+1), C >= 2c+1.";
  double Alpha = 1, Beta = 0.5, Bias = 1;
  int64_t ChannelWindowSize = 2;
  std::string data_format = "channels_first";
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.Alpha, Field{"Alpha", "Scale, divided by 2c+1."});
    v(s.Beta, Field{"Beta", "Exponent."});
    v(s.Bias, Field{"Bias", "Additive bias."});
    v(s.ChannelWindowSize, Field{"ChannelWindowSize", "Half-width c: the window is 2c+1 channels."});
    LOCNET_LRN_DATA_FORMAT_FIELD("channels_first");
  }
  LrnCanonical validate() const;  // ConfigError; the canonical form
};

struct OnnxLrnConfig {
  static constexpr const char* kType = "LocalResponseNorm.onnx";
  static constexpr const char* kDoc = "ONNX LRN (= cuDNN): size channels (even: extra one after c), alpha/size.";
  int64_t size = 0;
  double alpha = 1e-4, beta = 0.75, bias = 1;
  std::string data_format = "channels_first";
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.size, Field{"size", "Channels in the window: [c - (size-1)//2, c + ceil((size-1)/2)].", Field::required});
    v(s.alpha, Field{"alpha", "Scale, divided by size."});
    v(s.beta, Field{"beta", "Exponent."});
    v(s.bias, Field{"bias", "Additive bias (k)."});
    LOCNET_LRN_DATA_FORMAT_FIELD("channels_first");
  }
  LrnCanonical validate() const;  // ConfigError; the canonical form
};

struct OneDnnLrnConfig {
  static constexpr const char* kType = "LocalResponseNorm.onednn";
  static constexpr const char* kDoc = "oneDNN LRN primitive: local_size (even: n-1 taps, divided by n), across or within.";
  int64_t local_size = 5;
  double alpha = 1.0 / 8192, beta = 0.75, k = 1;
  std::string alg_kind = "lrn_across_channels";
  std::string data_format = "channels_first";
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.local_size, Field{"local_size", "Window n: taps c +- (n-1)//2; the divisor is n (n^dims within)."});
    v(s.alpha, Field{"alpha", "Scale (benchdnn's default 1/8192; oneDNN itself has none)."});
    v(s.beta, Field{"beta", "Exponent."});
    v(s.k, Field{"k", "Additive factor."});
    v(s.alg_kind, Field{"alg_kind", "\"lrn_across_channels\" or \"lrn_within_channel\"."});
    LOCNET_LRN_DATA_FORMAT_FIELD("channels_first");
  }
  LrnCanonical validate() const;  // ConfigError; the canonical form
};

struct MxnetLrnConfig {
  static constexpr const char* kType = "LocalResponseNorm.mxnet";
  static constexpr const char* kDoc = "MXNet LRN: odd nsize, alpha/nsize, knorm, needs C >= nsize.";
  int64_t nsize = 0;
  double alpha = 1e-4, beta = 0.75, knorm = 2;
  std::string data_format = "channels_first";
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.nsize, Field{"nsize", "Window width in channels (odd).", Field::required});
    v(s.alpha, Field{"alpha", "Scale, divided by nsize."});
    v(s.beta, Field{"beta", "Exponent."});
    v(s.knorm, Field{"knorm", "Additive factor (k)."});
    LOCNET_LRN_DATA_FORMAT_FIELD("channels_first");
  }
  LrnCanonical validate() const;  // ConfigError; the canonical form
};

#undef LOCNET_LRN_DATA_FORMAT_FIELD

namespace kernels {
struct LrnKernel;
}

// The layer machinery shared by every convention: canonical parameters in, kernels chosen at build.
class LrnBase : public Layer {
 public:
  LrnBase(LrnCanonical canonical, std::string name);
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::string kernel() const override;
  const LrnCanonical& canonical() const { return c_; }
  // Call API: builds on first use for x's shape and runs an inference forward. Wolfram's convention also takes a
  // single unbatched (C, H, W) array and returns one.
  Tensor operator()(const Tensor& x);

 protected:
  void do_build(const Shape& in, Rng& rng) override;
  virtual bool accepts_unbatched() const { return false; }

 private:
  LrnCanonical c_;
  const kernels::LrnKernel* impl_ = nullptr;
  Tensor x_cache_;
};

template <class C>
class LrnLayer : public LayerOf<LrnLayer<C>, C, LrnBase> {
 public:
  using LayerOf<LrnLayer, C, LrnBase>::LayerOf;

 protected:
  bool accepts_unbatched() const override { return std::is_same_v<C, WolframLrnConfig>; }
};

using LocalResponseNorm = LrnLayer<NeupyLrnConfig>;
using TensorFlowLocalResponseNorm = LrnLayer<TensorFlowLrnConfig>;
using PyTorchLocalResponseNorm = LrnLayer<PyTorchLrnConfig>;
using CaffeLocalResponseNorm = LrnLayer<CaffeLrnConfig>;
using WolframLocalResponseNorm = LrnLayer<WolframLrnConfig>;
using OnnxLocalResponseNorm = LrnLayer<OnnxLrnConfig>;
using OneDnnLocalResponseNorm = LrnLayer<OneDnnLrnConfig>;
using MxnetLocalResponseNorm = LrnLayer<MxnetLrnConfig>;

// Factory functions with the framework's own names: lrn::pytorch({.size = 4}).
namespace lrn {
inline LocalResponseNorm neupy(NeupyLrnConfig c = {}, std::string name = {}) { return LocalResponseNorm(c, name); }
inline TensorFlowLocalResponseNorm tensorflow(TensorFlowLrnConfig c = {}, std::string name = {}) { return TensorFlowLocalResponseNorm(c, name); }
inline PyTorchLocalResponseNorm pytorch(PyTorchLrnConfig c, std::string name = {}) { return PyTorchLocalResponseNorm(c, name); }
inline CaffeLocalResponseNorm caffe(CaffeLrnConfig c = {}, std::string name = {}) { return CaffeLocalResponseNorm(c, name); }
inline WolframLocalResponseNorm wolfram(WolframLrnConfig c = {}, std::string name = {}) { return WolframLocalResponseNorm(c, name); }
inline OnnxLocalResponseNorm onnx(OnnxLrnConfig c, std::string name = {}) { return OnnxLocalResponseNorm(c, name); }
inline OneDnnLocalResponseNorm onednn(OneDnnLrnConfig c = {}, std::string name = {}) { return OneDnnLocalResponseNorm(c, name); }
inline MxnetLocalResponseNorm mxnet(MxnetLrnConfig c, std::string name = {}) { return MxnetLocalResponseNorm(c, name); }
}  // namespace lrn

}  // namespace locnet
