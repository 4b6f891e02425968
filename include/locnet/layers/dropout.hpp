// Inverted dropout (Keras). In training y = x * m / (1 - rate), with one mask value m ~ Bernoulli(1 - rate) per
// element of the noise shape, broadcast along the axes where the noise shape is 1; dx = dy * m / (1 - rate).
// In inference y = x (identity).
//   Dropout(rate, noise_shape=None, seed=None)   noise_shape: None (one mask value per element) or Keras's tuple
//                 of the input's rank, batch included, each entry None (the input's size), 1 or the input's size
//   SpatialDropout1D(rate, seed=None)            input (batch, steps, channels), noise shape (batch, 1, channels)
//   SpatialDropout2D(rate, data_format=None, seed=None)   input (batch, rows, cols, channels), noise shape
//                 (batch, 1, 1, channels); channels_first (batch, channels, rows, cols) -> (batch, channels, 1, 1)
// rate in [0, 1). The masks come from the layer's own random stream: Rng(seed) when a seed is given, otherwise
// split from the model's build rng, so the same build seed gives the same masks in the same order.
// Input: any rank >= 1 (3 and 4 for the spatial layers), f32 or f64. Errors: ConfigError for rate, noise_shape
// and data_format; ShapeError for an input rank or size that the noise shape does not fit.
#pragma once
#include <optional>
#include <vector>

#include "locnet/layers/layer.hpp"

namespace locnet {

// What the dropout layers share: the rate, Keras's noise shape (kFull: the input's size there; empty: the input's
// shape) and the seed.
struct DropoutNoise {
  static constexpr int64_t kFull = -1;
  double rate = 0.0;
  std::vector<int64_t> noise_shape;
  std::optional<int64_t> seed;
};

class DropoutBase : public Layer {
 public:
  DropoutBase(DropoutNoise noise, std::string name) : Layer(std::move(name)), noise_(std::move(noise)) {}
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;

 protected:
  void do_build(const Shape& in, Rng& rng) override;

 private:
  Shape mask_shape(const Shape& x) const;  // the noise shape for input x (batch size included)
  DropoutNoise noise_;
  Rng rng_;
  Tensor mask_;  // m / (1 - rate) of the last training forward, in the noise shape
  Shape x_shape_;
  bool trained_ = false;
};

struct DropoutConfig {
  static constexpr const char* kType = "Dropout";
  static constexpr const char* kDoc = "Inverted dropout in training, identity in inference (Keras).";
  double rate = 0.0;
  Value noise_shape;
  std::optional<int64_t> seed;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.rate, Field{"rate", "Fraction of the inputs to drop, in [0, 1).", Field::required});
    v(s.noise_shape, Field{"noise_shape", "None, or a tuple of the input's rank (batch included) of None, 1 or the "
                                          "input's size: the mask's shape, 1 where one mask value is shared."});
    v(s.seed, Field{"seed", "Seed of the layer's masks; None derives them from the model's build seed."});
  }
  DropoutNoise validate() const;
};

struct SpatialDropout1DConfig {
  static constexpr const char* kType = "SpatialDropout1D";
  static constexpr const char* kDoc = "Dropout of whole channels of (batch, steps, channels) inputs (Keras).";
  double rate = 0.0;
  std::optional<int64_t> seed;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.rate, Field{"rate", "Fraction of the channels to drop, in [0, 1).", Field::required});
    v(s.seed, Field{"seed", "Seed of the layer's masks; None derives them from the model's build seed."});
  }
  DropoutNoise validate() const;
};

struct SpatialDropout2DConfig {
  static constexpr const char* kType = "SpatialDropout2D";
  static constexpr const char* kDoc = "Dropout of whole feature maps of 2D inputs (Keras).";
  double rate = 0.0;
  std::optional<std::string> data_format;
  std::optional<int64_t> seed;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.rate, Field{"rate", "Fraction of the feature maps to drop, in [0, 1).", Field::required});
    v(s.data_format, Field{"data_format", "None (channels_last), \"channels_last\" or \"channels_first\"."});
    v(s.seed, Field{"seed", "Seed of the layer's masks; None derives them from the model's build seed."});
  }
  DropoutNoise validate() const;
};

class Dropout : public LayerOf<Dropout, DropoutConfig, DropoutBase> {
 public:
  using LayerOf::LayerOf;
  explicit Dropout(double rate, std::string name = {}) : LayerOf(Config{.rate = rate}, std::move(name)) {}
};
class SpatialDropout1D : public LayerOf<SpatialDropout1D, SpatialDropout1DConfig, DropoutBase> {
 public:
  using LayerOf::LayerOf;
};
class SpatialDropout2D : public LayerOf<SpatialDropout2D, SpatialDropout2DConfig, DropoutBase> {
 public:
  using LayerOf::LayerOf;
};

}  // namespace locnet
