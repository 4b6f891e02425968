// Layers that only give their input a new shape, in row-major (channels_last) order as Keras:
//   Reshape(target_shape): (N, ...) -> (N, *target_shape); one entry may be -1 (inferred).
//   Flatten(): (N, d1, ..., dk) -> (N, d1*...*dk).
// Errors: ConfigError for an empty target, entries that are 0 or < -1, or more than one -1; ShapeError for an
// input with unknown non-batch sizes, a size that does not fit the target, or (Flatten) rank < 2.
#pragma once
#include <string>
#include <vector>

#include "locnet/layers/layer.hpp"

namespace locnet {

struct ReshapeConfig {
  static constexpr const char* kType = "Reshape";
  static constexpr const char* kDoc = "Reshapes every axis but the batch; one entry may be -1.";
  std::vector<int64_t> target_shape;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.target_shape, Field{"target_shape", "Shape without the batch; one entry may be -1.", Field::required});
  }
  void validate() const;
};

// forward: x in output_shape(x)'s shape (a copy); backward: dy in the shape of the last training input.
class ReshapeBase : public Layer {
 public:
  using Layer::Layer;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;

 protected:
  void do_build(const Shape&, Rng&) override {}

 private:
  Shape last_in_;
};

class Reshape : public LayerOf<Reshape, ReshapeConfig, ReshapeBase> {
 public:
  using LayerOf::LayerOf;
  explicit Reshape(std::vector<int64_t> target_shape, std::string name = {})
      : LayerOf(Config{std::move(target_shape)}, std::move(name)) {}
  Shape output_shape(const Shape& in) const override;
};

struct FlattenConfig {
  static constexpr const char* kType = "Flatten";
  static constexpr const char* kDoc = "Flattens every axis but the batch, in row-major order.";
  template <class Self, class V>
  static void fields(Self&, V&&) {}
  void validate() const {}
};

class Flatten : public LayerOf<Flatten, FlattenConfig, ReshapeBase> {
 public:
  using LayerOf::LayerOf;
  explicit Flatten(std::string name) : LayerOf(Config{}, std::move(name)) {}
  Shape output_shape(const Shape& in) const override;
};

}  // namespace locnet
