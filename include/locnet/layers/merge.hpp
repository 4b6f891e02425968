// Merge layers (Keras semantics): several inputs of shape (N, ...) in, one tensor out. A graph node feeds them
// (model/model.hpp: `m.add(Add(), {a, b})`, spec text `[Dense(3), Dense(3)] >> Add()` or `Add()([a, b])`).
//   Concatenate(axis=-1): joins the inputs along `axis` (negative counts from the end; 0, the batch, is an error);
//                         every other dimension must be equal.  dx_k = the slice of dy that x_k filled.
//   Add:       y = sum_k x_k                       dx_k = dy
//   Subtract:  y = x_0 - x_1 (exactly 2 inputs)    dx_0 = dy, dx_1 = -dy
//   Multiply:  y = prod_k x_k                      dx_k = dy * prod_{j != k} x_j
//   Average:   y = (1/K) sum_k x_k                 dx_k = dy / K
//   Maximum:   y = max_k x_k                       dx_k = dy where x_k is the FIRST maximum, else 0
//   Minimum:   y = min_k x_k                       dx_k = dy where x_k is the FIRST minimum, else 0
//   Dot(axes, normalize=False): see DotConfig below.
// The elementwise layers need equal shapes (Keras also broadcasts a batch of 1; locnet does not).
// Arity: Subtract and Dot take exactly 2 inputs, the others 2 or more. The one-input forms (output_shape, build,
// forward, backward) are ShapeErrors: use the *_many forms, as a Model does.
// Errors: ConfigError for Concatenate(axis=0) and Dot axes that are 0 or not 1 or 2 ints; ShapeError for the
// wrong number of inputs, input shapes that do not fit (naming both shapes), an axis outside the inputs' rank,
// inputs unlike those built with.
// Dtypes: Concatenate copies any dtype; the elementwise layers and Dot compute in f32 or f64.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "locnet/layers/layer.hpp"

namespace locnet {

// The shared machinery: arity, the one-input forms as errors, input checks, cached input shapes for backward.
class MergeLayer : public Layer {
 public:
  using Layer::Layer;
  Arity arity() const override { return {2, SIZE_MAX}; }
  Shape output_shape(const Shape& in) const final;
  Tensor forward(const Tensor& x, Mode mode) final;
  Tensor backward(const Tensor& dy) final;
  Shape output_shape_many(std::span<const Shape> in) const final;
  Tensor forward_many(std::span<const Tensor> xs, Mode mode) final;
  std::vector<Tensor> backward_many(const Tensor& dy) final;
  // in: the first input's shape (the batch is taken from it; the other inputs are the built ones).
  LayerWork work(const Shape& in) const override;

 protected:
  void do_build(const Shape& in, Rng& rng) final;
  // NotSupported unless f32 or f64, for the layers that compute (all but Concatenate).
  void do_build_many(std::span<const Shape>, Rng&) override;
  virtual bool computes() const { return true; }
  // The output shape of inputs whose count fits arity(); ShapeError where they do not fit together.
  virtual Shape merged_shape(std::span<const Shape> in) const = 0;
  // y of checked inputs; `training`: keep what unmerge needs.
  virtual Tensor merge(std::span<const Tensor> xs, bool training) = 0;
  // One gradient per input of the last training forward, whose input shapes are last_shapes().
  virtual std::vector<Tensor> unmerge(const Tensor& dy) = 0;
  const std::vector<Shape>& last_shapes() const { return last_shapes_; }
  // ShapeError naming input `a`'s and input `b`'s shapes: "inputs must have <rule>, got ...".
  [[noreturn]] void mismatch(std::span<const Shape> in, size_t a, size_t b, std::string_view rule) const;

 private:
  std::vector<Shape> last_shapes_;  // of the last training forward; empty before one
};

struct ConcatenateConfig {
  static constexpr const char* kType = "Concatenate";
  static constexpr const char* kDoc = "Joins its inputs along an axis (Keras).";
  int64_t axis = -1;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.axis, Field{"axis", "Axis to join along; negative counts from the end; not 0 (the batch)."});
  }
  void validate() const;
};

class Concatenate : public LayerOf<Concatenate, ConcatenateConfig, MergeLayer> {
 public:
  using LayerOf::LayerOf;
  explicit Concatenate(int64_t axis, std::string name = {}) : LayerOf(Config{axis}, std::move(name)) {}
  // The axis as a non-negative index for rank-`rank` inputs; ShapeError when it is outside 1..rank-1.
  size_t axis_index(size_t rank) const;
  bool computes() const override { return false; }  // copies bytes of any dtype

 protected:
  Shape merged_shape(std::span<const Shape> in) const override;
  Tensor merge(std::span<const Tensor> xs, bool training) override;
  std::vector<Tensor> unmerge(const Tensor& dy) override;
};

// The elementwise merges. op() names the formula that the reference kernel (src/layers/merge.cpp) computes.
enum class MergeOp { add, subtract, multiply, average, maximum, minimum };

class ElementwiseMerge : public MergeLayer {
 public:
  using MergeLayer::MergeLayer;
  virtual MergeOp op() const = 0;

 protected:
  Shape merged_shape(std::span<const Shape> in) const override;
  Tensor merge(std::span<const Tensor> xs, bool training) override;
  std::vector<Tensor> unmerge(const Tensor& dy) override;

 private:
  std::vector<Tensor> inputs_;    // Multiply: the inputs of the last training forward
  std::vector<uint32_t> winner_;  // Maximum, Minimum: the input each output element came from
};

struct ElementwiseMergeConfig {
  template <class Self, class V>
  static void fields(Self&, V&&) {}
  void validate() const {}
};

#define LOCNET_ELEMENTWISE_MERGE(Name, kOp, doc, min_inputs, max_inputs)                  \
  class Name : public LayerOf<Name, ElementwiseMergeConfig, ElementwiseMerge> {            \
   public:                                                                               \
    static constexpr const char* kType = #Name;                                          \
    static constexpr const char* kDoc = doc;                                             \
    using LayerOf::LayerOf;                                                              \
    explicit Name(std::string name) : LayerOf(Config{}, std::move(name)) {}              \
    MergeOp op() const override { return MergeOp::kOp; }                                 \
    Arity arity() const override { return {min_inputs, max_inputs}; }                    \
  }

LOCNET_ELEMENTWISE_MERGE(Add, add, "Sums its inputs elementwise (Keras).", 2, SIZE_MAX);
LOCNET_ELEMENTWISE_MERGE(Subtract, subtract, "First input minus the second, elementwise (Keras).", 2, 2);
LOCNET_ELEMENTWISE_MERGE(Multiply, multiply, "Multiplies its inputs elementwise (Keras).", 2, SIZE_MAX);
LOCNET_ELEMENTWISE_MERGE(Average, average, "Averages its inputs elementwise (Keras).", 2, SIZE_MAX);
LOCNET_ELEMENTWISE_MERGE(Maximum, maximum, "Elementwise maximum of its inputs; ties go to the first (Keras).", 2,
                         SIZE_MAX);
LOCNET_ELEMENTWISE_MERGE(Minimum, minimum, "Elementwise minimum of its inputs; ties go to the first (Keras).", 2,
                         SIZE_MAX);
#undef LOCNET_ELEMENTWISE_MERGE

// Dot(axes, normalize=False) (Keras): exactly 2 inputs; the batched dot product of x_0's axis a_0 with x_1's axis
// a_1 (axes: one int for both, or (a_0, a_1); negative counts from each input's end; 0, the batch, is an error):
//   y[n, i, j] = sum_c u_0[n, i, c] u_1[n, j, c], i over x_0's other non-batch axes, j over x_1's, in order;
//   u_k = x_k, or with normalize=True x_k / sqrt(max(sum_c x_k^2, 1e-12)) (Keras's l2_normalize, cosine proximity).
// Output (N, x_0's other axes..., x_1's other axes...), or (N, 1) when both inputs have rank 2.
struct DotConfig {
  static constexpr const char* kType = "Dot";
  static constexpr const char* kDoc = "Batched dot product of two inputs along an axis each (Keras).";
  std::vector<int64_t> axes;
  bool normalize = false;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.axes, Field{"axes", "Axis of both inputs (an int) or (axis of x_0, axis of x_1); not 0.", Field::required});
    v(s.normalize, Field{"normalize", "L2-normalizes both inputs along their axes first (cosine similarity)."});
  }
  void validate() const;
};

class Dot : public LayerOf<Dot, DotConfig, MergeLayer> {
 public:
  using LayerOf::LayerOf;
  explicit Dot(std::vector<int64_t> axes, bool normalize = false, std::string name = {})
      : LayerOf(Config{std::move(axes), normalize}, std::move(name)) {}
  Arity arity() const override { return {2, 2}; }
  // Where input k's dot axis and its other elements lie (src/layers/merge.cpp).
  struct Geometry {
    int64_t sample[2], size, step[2];  // elements per sample; the dot axis's size and stride
    std::vector<int64_t> rest[2];      // offsets of the other elements in a sample, row-major
  };
  Geometry geometry(std::span<const Shape> in) const;

 protected:
  Shape merged_shape(std::span<const Shape> in) const override;
  Tensor merge(std::span<const Tensor> xs, bool training) override;
  std::vector<Tensor> unmerge(const Tensor& dy) override;

 private:
  Tensor u_[2];                  // the (normalized) inputs of the last training forward
  std::vector<double> norm_[2];  // normalize: each fiber's sqrt(max(sum x^2, 1e-12))
};

}  // namespace locnet
