// Dropout(rate, noise_shape=None, seed=None) (Keras, inverted dropout):
//   Training:  y = x * m / (1 - rate), m ~ Bernoulli(1 - rate) per element;  dx = dy * m / (1 - rate)
//   Inference: y = x (identity)
// rate in [0, 1). The masks come from the layer's own random stream: Rng(seed) when a seed is given, otherwise
// split from the model's build rng, so the same build seed gives the same masks in the same order.
// noise_shape must be None (NotSupported otherwise). Input: any rank >= 1, f32 or f64.
#pragma once
#include <optional>

#include "locnet/layers/layer.hpp"

namespace locnet {

struct DropoutConfig {
  static constexpr const char* kType = "Dropout";
  static constexpr const char* kDoc = "Inverted dropout in training, identity in inference (Keras).";
  double rate = 0.0;
  Value noise_shape;
  std::optional<int64_t> seed;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.rate, Field{"rate", "Fraction of the inputs to drop, in [0, 1).", Field::required});
    v(s.noise_shape, Field{"noise_shape", "Must be None (one mask value per element)."});
    v(s.seed, Field{"seed", "Seed of the layer's masks; None derives them from the model's build seed."});
  }
  void validate() const;
};

class Dropout : public LayerOf<Dropout, DropoutConfig> {
 public:
  using LayerOf::LayerOf;
  explicit Dropout(double rate, std::string name = {}) : LayerOf(Config{.rate = rate}, std::move(name)) {}
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;

 protected:
  void do_build(const Shape& in, Rng& rng) override;

 private:
  Rng rng_;
  Tensor mask_;  // m / (1 - rate) of the last training forward
  bool trained_ = false;
};

}  // namespace locnet
