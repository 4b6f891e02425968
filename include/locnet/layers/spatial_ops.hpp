// Layers that move values along the spatial axes without weights (Keras semantics and argument forms):
//   ZeroPadding1D(padding=1, data_format)     (N, L, C) / (N, C, L): padding int or (left, right); zeros added.
//   ZeroPadding2D(padding=(1, 1), data_format) padding int, (rows, cols) symmetric, or ((top, bottom),
//                                             (left, right)).
//   Cropping1D(cropping=(1, 1))               (N, L, C): cropping int or (left, right); values removed.
//   Cropping2D(cropping=((0, 0), (0, 0)), data_format) the same three forms as ZeroPadding2D.
//   UpSampling1D(size=2)                      (N, L, C) -> (N, L*size, C): each step repeated.
//   UpSampling2D(size=(2, 2), data_format, interpolation="nearest")
//       nearest:  y[oy, ox] = x[oy / sh, ox / sw] (rows and cols repeated);
//       bilinear: TensorFlow 2's tf.image.resize bilinear = PyTorch F.interpolate(mode="bilinear",
//                 align_corners=False): per axis, source s = max((o + 0.5) / size - 0.5, 0), i0 = floor(s),
//                 i1 = min(i0 + 1, n - 1), y mixes x[i0] and x[i1] with weights (1 - (s - i0), s - i0).
//       Backward is the transpose of the forward map (each dy spread back with the same weights).
// Output length per spatial axis: n + before + after (padding), n - before - after (cropping), n * size.
// data_format None = "channels_last" (N, H, W, C) or (N, L, C); "channels_first" is (N, C, H, W) or (N, C, L)
// (ZeroPadding1D has it since Keras 3; Cropping1D and UpSampling1D are channels_last only, as in Keras).
// Pads and crops >= 0; sizes >= 1.
// Errors: ConfigError naming the type and argument; ShapeError for an input of the wrong rank, unknown non-batch
// sizes, or cropping that removes a whole axis. Element types f32 and f64.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "locnet/layers/reshape.hpp"

namespace locnet {
namespace kernels {
struct ResampleProblem;
}  // namespace kernels

// Per spatial axis: upsample by `size`, then add `pad` zeros or remove `crop` values (before, after).
struct ResampleAxis {
  int64_t size = 1;
  int64_t pad[2] = {0, 0};
  int64_t crop[2] = {0, 0};
  int64_t out(int64_t n) const { return n * size + pad[0] + pad[1] - crop[0] - crop[1]; }
};

// The canonical form every layer of this family is built from.
struct ResampleGeometry {
  int rank = 2;  // spatial axes: 1 (input (N, L, C) or (N, C, L)) or 2
  bool channels_last = true;
  bool bilinear = false;
  ResampleAxis axis[2];  // rank 1 uses axis[0] only
};

// The machinery shared by the layers of this header.
class Resample : public MoveLayer {
 public:
  Resample(ResampleGeometry g, std::string name);
  Shape output_shape(const Shape& in) const override;
  const ResampleGeometry& geometry() const { return g_; }

 protected:
  void do_build(const Shape& in, Rng&) override;
  Tensor move(const Tensor& x) const override;
  Tensor move_back(const Tensor& dy, const Shape& in) const override;

 private:
  ResampleGeometry g_;
  std::shared_ptr<const kernels::ResampleProblem> problem_;  // per-sample taps, made by do_build
};

inline constexpr const char* kResampleDataFormatDoc = "None (channels_last), \"channels_last\" or \"channels_first\".";

struct ZeroPadding1DConfig {
  static constexpr const char* kType = "ZeroPadding1D";
  static constexpr const char* kDoc = "Adds zeros at the start and end of the steps axis (Keras).";
  std::vector<int64_t> padding = {1, 1};
  std::optional<std::string> data_format;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.padding, Field{"padding", "Zeros added: an int or (left, right)."});
    v(s.data_format, Field{"data_format", kResampleDataFormatDoc});
  }
  ResampleGeometry validate() const;
};

struct ZeroPadding2DConfig {
  static constexpr const char* kType = "ZeroPadding2D";
  static constexpr const char* kDoc = "Adds rows and columns of zeros around the image (Keras).";
  Value padding = Value::tuple({1, 1});
  std::optional<std::string> data_format;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.padding, Field{"padding", "An int, (rows, cols) or ((top, bottom), (left, right))."});
    v(s.data_format, Field{"data_format", kResampleDataFormatDoc});
  }
  ResampleGeometry validate() const;
};

struct Cropping1DConfig {
  static constexpr const char* kType = "Cropping1D";
  static constexpr const char* kDoc = "Removes steps at the start and end of the steps axis (Keras).";
  std::vector<int64_t> cropping = {1, 1};
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.cropping, Field{"cropping", "Steps removed: an int or (left, right)."});
  }
  ResampleGeometry validate() const;
};

struct Cropping2DConfig {
  static constexpr const char* kType = "Cropping2D";
  static constexpr const char* kDoc = "Removes rows and columns at the image's borders (Keras).";
  Value cropping = Value::tuple({Value::tuple({0, 0}), Value::tuple({0, 0})});
  std::optional<std::string> data_format;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.cropping, Field{"cropping", "An int, (rows, cols) or ((top, bottom), (left, right))."});
    v(s.data_format, Field{"data_format", kResampleDataFormatDoc});
  }
  ResampleGeometry validate() const;
};

struct UpSampling1DConfig {
  static constexpr const char* kType = "UpSampling1D";
  static constexpr const char* kDoc = "Repeats each step `size` times (Keras).";
  int64_t size = 2;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.size, Field{"size", "Repetitions of each step, >= 1."});
  }
  ResampleGeometry validate() const;
};

struct UpSampling2DConfig {
  static constexpr const char* kType = "UpSampling2D";
  static constexpr const char* kDoc = "Enlarges rows and cols by integer factors, nearest or bilinear (Keras).";
  std::vector<int64_t> size = {2, 2};
  std::optional<std::string> data_format;
  std::string interpolation = "nearest";
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.size, Field{"size", "Factors: an int or (rows, cols), >= 1."});
    v(s.data_format, Field{"data_format", kResampleDataFormatDoc});
    v(s.interpolation, Field{"interpolation", "\"nearest\" or \"bilinear\" (half-pixel centers)."});
  }
  ResampleGeometry validate() const;
};

// The layers; each keeps its config in Keras's get_config form (pairs, as ((top, bottom), (left, right))).
#define LOCNET_RESAMPLE_LAYER(Name)                                                      \
  class Name : public LayerOf<Name, Name##Config, Resample> {                            \
   public:                                                                               \
    explicit Name(Config cfg = {}, std::string name = {});                               \
  };
LOCNET_RESAMPLE_LAYER(ZeroPadding1D)
LOCNET_RESAMPLE_LAYER(ZeroPadding2D)
LOCNET_RESAMPLE_LAYER(Cropping1D)
LOCNET_RESAMPLE_LAYER(Cropping2D)
LOCNET_RESAMPLE_LAYER(UpSampling1D)
LOCNET_RESAMPLE_LAYER(UpSampling2D)
#undef LOCNET_RESAMPLE_LAYER

}  // namespace locnet
