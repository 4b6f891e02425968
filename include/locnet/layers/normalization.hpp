// Normalization: keras.layers.Normalization(axis=-1, mean=None, variance=None, invert=False) (docs/augmentation.md).
//
// Per feature c along `axis` (Keras's epsilon rule, backend.epsilon() = 1e-7):
//   d = max(sqrt(variance[c]), 1e-7)            (the same as sqrt(max(variance[c], 1e-14)))
//   y = (x - mean[c]) / d,   dx = dy / d        (invert=False)
//   y = mean[c] + x d,       dx = dy d          (invert=True: undoes the normalization)
// axis: the feature axis (any axis but the batch's, negative from the end), or None for one mean and variance over
// every element. mean, variance: None (then the buffers start at 0 and 1 and adapt() in
// include/locnet/train/augment.hpp fills them from a data set), or both given, each a number (broadcast) or a
// tuple of one value per feature; variance >= 0. The buffers `mean` and `variance` (C,) are saved with the
// weights, so a model file keeps its statistics; nothing is trainable. Input: any rank >= 2, f32 or f64.
// Errors: ConfigError for an axis that is not an int or None, only one of mean/variance, non-numbers, a negative
// or non-finite value, a tuple whose length does not match the features (at build); NotSupported for several
// axes; ShapeError for an axis out of range or unknown non-batch dimensions.
#pragma once
#include <array>
#include <optional>
#include <span>
#include <vector>

#include "locnet/layers/layer.hpp"

namespace locnet {

struct NormalizationConfig {
  static constexpr const char* kType = "Normalization";
  static constexpr const char* kDoc =
      "keras.layers.Normalization: (x - mean) / max(sqrt(variance), 1e-7) per feature; adapt() fills the buffers.";
  Value axis = -1;
  Value mean, variance;
  bool invert = false;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.axis, Field{"axis", "The feature axis (an int, negative from the end), or None: one statistic overall."});
    v(s.mean, Field{"mean", "None (adapt() or 0), a number, or a tuple with one value per feature."});
    v(s.variance, Field{"variance", "None (adapt() or 1), a number, or a tuple with one value per feature; >= 0."});
    v(s.invert, Field{"invert", "Apply the inverse: y = mean + x sqrt(variance)."});
  }
  void validate() const;
};

class Normalization : public LayerOf<Normalization, NormalizationConfig> {
 public:
  using LayerOf::LayerOf;
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::vector<Param*> buffers() override { return {&mean_, &variance_}; }
  // The features' count C of the built input (1 for axis=None); ConfigError before build.
  int64_t features() const;
  // Replaces the statistics (adapt()): C values each, variance >= 0; ConfigError before build or for wrong sizes.
  void set_statistics(std::span<const double> mean, std::span<const double> variance);
  // The input as (outer, C, inner) around the feature axis of shape s (batch size included).
  std::array<int64_t, 3> split(const Shape& s) const;

 protected:
  void do_build(const Shape& in, Rng& rng) override;

 private:
  std::optional<int64_t> axis_of(const Shape& s) const;  // nullopt: axis=None
  Tensor apply(const Tensor& x, bool gradient) const;
  Param mean_{"mean", {}, {}, false}, variance_{"variance", {}, {}, false};
  Shape x_shape_;  // the last training forward's input shape
};

}  // namespace locnet
