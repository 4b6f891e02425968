// Composition. neupy style: Input({10, 10, 12}) >> LocalResponseNorm() >> Dense(10);
// Keras style: Sequential model(Input({784})); model.add(Dense(10)).
//
// Input shapes are per sample; the batch is the leading None. When the input shape is known, every link
// computes its output shape at once, so a mismatch is a ShapeError naming both layers and both shapes at the
// link that caused it. Names follow neupy: an explicit name is kept; a format string ("fc{}", "fc-{:03d}") is
// filled with the layer's index among the model's layers with that pattern; no name gives
// <snake_case type>_<n>. A duplicate name is a ConfigError.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "locnet/layers/layer.hpp"

namespace locnet {

class Profiler;  // model/profile.hpp

struct Input {
  explicit Input(Shape per_sample) : shape(std::move(per_sample)) {}
  Input(std::initializer_list<int64_t> dims) : shape(dims) {}
  Shape shape;  // without the batch dimension
};

class Sequential {
 public:
  Sequential() = default;
  Sequential(const Input& in) : input_(in.shape.with_batch(Shape::kUnknown)) {}
  Sequential(const Sequential& o);
  Sequential& operator=(const Sequential& o);
  Sequential(Sequential&&) = default;
  Sequential& operator=(Sequential&&) = default;

  Sequential& add(std::unique_ptr<Layer> layer);
  template <class L, class = std::enable_if_t<std::is_base_of_v<Layer, std::decay_t<L>>>>
  Sequential& add(L&& layer) {
    return add(std::unique_ptr<Layer>(std::make_unique<std::decay_t<L>>(std::forward<L>(layer))));
  }

  size_t size() const { return layers_.size(); }
  Layer& layer(size_t i) { return *layers_.at(i); }
  const Layer& layer(size_t i) const { return *layers_.at(i); }
  Layer& layer(std::string_view name);  // ConfigError if absent
  const std::optional<Shape>& input_shape() const { return input_; }

  Shape output_shape(const Shape& in) const;  // in includes the batch
  Shape output_shape() const;                  // from the Input shape; ConfigError when there is none

  // Builds every layer for `in` (batch included, may be unknown). Re-building replaces the parameters.
  void build(const Shape& in, Rng& rng, DType dtype = DType::f32);
  void build(const Shape& in, uint64_t seed = 0, DType dtype = DType::f32);
  bool built() const;

  Tensor forward(const Tensor& x, Mode mode);  // builds on first use (seed 0) when not built
  Tensor backward(const Tensor& dy);
  // Per-layer timing of forward/backward into `profiler` (model/profile.hpp); nullptr (the default) detaches it.
  // Not copied with the model.
  void set_profiler(Profiler* profiler) { profiler_ = profiler; }
  void zero_grad();
  // Regularization (params/regularizers.hpp): the sum of every parameter regularizer's loss and every layer's
  // activity loss; adding each parameter regularizer's gradient to its grad (backward does not); applying
  // every parameter constraint (optimizers call it after each step).
  double regularization_loss() const;
  void add_regularization_grads();
  void apply_constraints();

  // "<layer>.<param>" -> parameter, for trainable parameters and buffers.
  std::vector<std::pair<std::string, Param*>> named_params(bool include_buffers = true);
  // Trainable and non-trainable (buffers, frozen parameters) element counts; before build() those of a copy
  // built for the Input shape when there is one (else of the built layers only).
  int64_t param_count() const;
  int64_t buffer_count() const;

  // Keras-like table: Layer (type), Output Shape, Param #, and the totals. Needs a known input shape (from
  // Input or the argument).
  std::string summary(std::optional<Shape> in = std::nullopt) const;
  std::string spec() const;  // spec-language text that parse_model() (model/from_spec.hpp) turns back into this model

 private:
  std::string resolve_name(const Layer& l) const;
  Sequential built_copy(std::optional<Shape> in = std::nullopt) const;  // for `in`, else the Input shape
  std::optional<Shape> input_;
  std::vector<std::unique_ptr<Layer>> layers_;
  Profiler* profiler_ = nullptr;
};

template <class L, class = std::enable_if_t<std::is_base_of_v<Layer, std::decay_t<L>>>>
Sequential operator>>(Sequential m, L&& layer) {
  m.add(std::forward<L>(layer));
  return m;
}
template <class L, class = std::enable_if_t<std::is_base_of_v<Layer, std::decay_t<L>>>>
Sequential operator>>(const Input& in, L&& layer) {
  return Sequential(in) >> std::forward<L>(layer);
}
Sequential operator>>(Sequential a, const Sequential& b);

}  // namespace locnet
