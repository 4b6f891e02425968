// Reshape(target_shape) (Keras): (N, ...) -> (N, *target_shape) in row-major order; one entry may be -1 (inferred).
// Errors: ConfigError for an empty target, entries that are 0 or < -1, or more than one -1; ShapeError for an
// input with unknown non-batch sizes or a size that does not fit the target.
#pragma once
#include <vector>

#include "locnet/layers/layer.hpp"

namespace locnet {

struct ReshapeConfig {
  std::vector<int64_t> target_shape;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.target_shape, Field{"target_shape", "Shape without the batch; one entry may be -1.", Field::required});
  }
  void validate() const;
};

class Reshape : public Layer {
 public:
  using Config = ReshapeConfig;
  explicit Reshape(Config cfg, std::string name = {});
  explicit Reshape(std::vector<int64_t> target_shape, std::string name = {})
      : Reshape(Config{std::move(target_shape)}, std::move(name)) {}
  std::string type() const override { return "Reshape"; }
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  Call config() const override { return make_call(config_values(cfg_)); }
  std::unique_ptr<Layer> clone() const override { return clone_of(*this); }

 protected:
  void do_build(const Shape&, Rng&) override {}

 private:
  Config cfg_;
  Shape last_in_;
};

}  // namespace locnet
