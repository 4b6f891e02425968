// Layers that only give their input a new shape, in row-major (channels_last) order as Keras:
//   Reshape(target_shape): (N, ...) -> (N, *target_shape); one entry may be -1 (inferred).
//   Flatten(): (N, d1, ..., dk) -> (N, d1*...*dk).
// Errors: ConfigError for an empty target, entries that are 0 or < -1, or more than one -1; ShapeError for an
// input with unknown non-batch sizes, a size that does not fit the target, or (Flatten) rank < 2.
// And the layers that reorder or repeat values (Keras):
//   Permute(dims=(2, 1)): y[n, i_dims[0], ..., i_dims[k-1]] = x[n, i_1, ..., i_k]: output axis j is input axis
//     dims[j-1] (1-based, batch excluded); the input rank must be len(dims) + 1. Keras requires dims; locnet's
//     default (2, 1) swaps the two axes of (N, a, b). Any element type.
//   RepeatVector(n): (N, F) -> (N, n, F), y[b, r, f] = x[b, f]; dx[b, f] = sum_r dy[b, r, f]. f32 and f64.
//   Identity(): y = x (Keras 2.x/3 and ONNX Identity), any rank and element type.
// Errors: ConfigError for dims that are not a permutation of 1..k or n < 1; ShapeError for the input rank or
// (RepeatVector) n * features beyond int64.
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

// The machinery of the layers that only move values (these and include/locnet/layers/spatial_ops.hpp): forward
// checks x, remembers a training input's shape and returns move(x); backward checks dy against that shape's output
// and returns move_back(dy, that shape).
class MoveLayer : public Layer {
 public:
  using Layer::Layer;
  Tensor forward(const Tensor& x, Mode mode) final;
  Tensor backward(const Tensor& dy) final;

 protected:
  virtual Tensor move(const Tensor& x) const = 0;
  virtual Tensor move_back(const Tensor& dy, const Shape& in) const = 0;
  void do_build(const Shape&, Rng&) override {}

 private:
  Shape last_in_;
};

// forward: x in output_shape(x)'s shape (a copy); backward: dy in the shape of the last training input.
class ReshapeBase : public MoveLayer {
 public:
  using MoveLayer::MoveLayer;

 protected:
  Tensor move(const Tensor& x) const override;
  Tensor move_back(const Tensor& dy, const Shape& in) const override;
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

struct PermuteConfig {
  static constexpr const char* kType = "Permute";
  static constexpr const char* kDoc = "Reorders the non-batch axes by a 1-based permutation (Keras).";
  std::vector<int64_t> dims = {2, 1};
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.dims, Field{"dims", "Output axis j is input axis dims[j-1]; 1-based, the batch axis excluded."});
  }
  void validate() const;
};

class Permute : public LayerOf<Permute, PermuteConfig, MoveLayer> {
 public:
  using LayerOf::LayerOf;
  explicit Permute(std::vector<int64_t> dims, std::string name = {})
      : LayerOf(Config{std::move(dims)}, std::move(name)) {}
  Shape output_shape(const Shape& in) const override;

 protected:
  Tensor move(const Tensor& x) const override;
  Tensor move_back(const Tensor& dy, const Shape& in) const override;
};

struct RepeatVectorConfig {
  static constexpr const char* kType = "RepeatVector";
  static constexpr const char* kDoc = "Repeats a (N, F) input n times: (N, n, F) (Keras).";
  int64_t n = 1;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.n, Field{"n", "Repetitions, >= 1.", Field::required});
  }
  void validate() const;
};

class RepeatVector : public LayerOf<RepeatVector, RepeatVectorConfig, MoveLayer> {
 public:
  using LayerOf::LayerOf;
  explicit RepeatVector(int64_t n, std::string name = {}) : LayerOf(Config{n}, std::move(name)) {}
  Shape output_shape(const Shape& in) const override;

 protected:
  void do_build(const Shape&, Rng&) override { require_float_dtype(); }
  Tensor move(const Tensor& x) const override;
  Tensor move_back(const Tensor& dy, const Shape& in) const override;
};

struct IdentityConfig {
  static constexpr const char* kType = "Identity";
  static constexpr const char* kDoc = "y = x (Keras and ONNX Identity).";
  template <class Self, class V>
  static void fields(Self&, V&&) {}
  void validate() const {}
};

class Identity : public LayerOf<Identity, IdentityConfig, MoveLayer> {
 public:
  using LayerOf::LayerOf;
  explicit Identity(std::string name) : LayerOf(Config{}, std::move(name)) {}
  Shape output_shape(const Shape& in) const override { return in; }

 protected:
  Tensor move(const Tensor& x) const override { return x.clone(); }
  Tensor move_back(const Tensor& dy, const Shape&) const override { return dy.clone(); }
};

}  // namespace locnet
