// Model: a directed acyclic graph of layers with named nodes (Keras's functional Model, Wolfram's NetGraph,
// neupy's parallel branches). A chain is its special case, and `Sequential` (model/sequential.hpp) is this class
// built with add(layer) / `>>`:
//   neupy style:  Input({10, 10, 12}) >> LocalResponseNorm() >> Dense(10)
//   Keras style:  Sequential model(Input({784})); model.add(Dense(10));
//   graph:        Model m; NodeId x = m.input({28, 28, 1});
//                 NodeId a = m.add(Conv2D(16, {1, 1}), {x}), b = m.add(Conv2D(16, {3, 3}), {x});
//                 m.set_outputs({m.add(Concatenate(), {a, b})});
//
// Nodes are inputs (a per-sample shape, or none for a chain whose shape comes with the first batch) and layers fed
// by earlier nodes, so the order of insertion is a topological order and layer(i) walks the layers in it. When
// the input shapes are known, every add() computes the node's output shape at once, so a mismatch is a
// ShapeError naming the producers, the consumer and the shapes at the link that caused it.
// Names follow neupy: an explicit name is kept; a format string ("fc{}", "fc-{:03d}") is filled with the layer's
// index among the model's layers with that pattern; no name gives <snake_case type>_<n> (inputs: input_<n>).
// A duplicate name is a ConfigError.
//
// Execution: forward runs the nodes in order and frees each intermediate once its last consumer ran (outputs are
// kept); backward runs them in reverse, summing the gradients of a node that feeds several consumers, and frees
// each gradient once its layer consumed it. Layers cache what their own backward needs (layers/layer.hpp).
// Outputs: set_outputs(), or the last node added when none were set.
#pragma once
#include <functional>
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

using NodeId = int;

class Model {
 public:
  Model() = default;
  Model(const Input& in);  // a chain from Input(shape)
  Model(const Model& o);
  Model& operator=(const Model& o);
  Model(Model&&) = default;
  Model& operator=(Model&&) = default;

  // ---- Building a graph (Keras functional). Node ids are small ints in insertion order.
  NodeId input(Shape per_sample, std::string name = {});
  NodeId shapeless_input(std::string name = {});  // its shape comes with the first batch (a chain without Input)
  NodeId add(std::unique_ptr<Layer> layer, const std::vector<NodeId>& inputs);
  template <class L, class = std::enable_if_t<std::is_base_of_v<Layer, std::decay_t<L>>>>
  NodeId add(L&& layer, const std::vector<NodeId>& inputs) {
    return add(std::unique_ptr<Layer>(std::make_unique<std::decay_t<L>>(std::forward<L>(layer))), inputs);
  }
  void set_inputs(std::vector<NodeId> inputs);    // the order forward() takes them in; default: insertion order
  void set_outputs(std::vector<NodeId> outputs);  // default: the last node added

  // ---- Building a chain (Sequential): the layer is fed by the model's single output and becomes it.
  Model& add(std::unique_ptr<Layer> layer);
  template <class L, class = std::enable_if_t<std::is_base_of_v<Layer, std::decay_t<L>>>>
  Model& add(L&& layer) {
    return add(std::unique_ptr<Layer>(std::make_unique<std::decay_t<L>>(std::forward<L>(layer))));
  }
  // Appends `b` after this model's single output (b's single input is connected to it).
  Model& append(const Model& b);

  // ---- Structure.
  size_t size() const { return layers_.size(); }  // layers, in topological order
  Layer& layer(size_t i) { return *nodes_[layers_.at(i)].layer; }
  const Layer& layer(size_t i) const { return *nodes_[layers_.at(i)].layer; }
  Layer& layer(std::string_view name);  // ConfigError if absent
  size_t node_count() const { return nodes_.size(); }
  const std::string& node_name(NodeId id) const { return nodes_.at(size_t(id)).name; }
  const Layer* node_layer(NodeId id) const { return nodes_.at(size_t(id)).layer.get(); }  // null for an input
  const std::vector<NodeId>& node_inputs(NodeId id) const { return nodes_.at(size_t(id)).inputs; }
  NodeId node(std::string_view name) const;  // ConfigError if absent
  const std::vector<NodeId>& inputs() const { return inputs_; }
  std::vector<NodeId> outputs() const;
  // A chain: one input, one output, every layer fed by the node before it (Sequential's form).
  bool is_chain() const;
  // The per-sample shape of the single input with the batch unknown, when known; nullopt for a chain without
  // Input. ConfigError for a model with several inputs (input_shapes()).
  std::optional<Shape> input_shape() const;
  std::vector<std::optional<Shape>> input_shapes() const;

  // ---- Shapes (batch included).
  Shape output_shape(const Shape& in) const;  // one input, one output
  Shape output_shape() const;                 // from the Input shape; ConfigError when there is none
  std::vector<Shape> output_shapes(const std::vector<Shape>& in) const;
  // Every node's output shape for the inputs `in`.
  std::vector<Shape> node_shapes(const std::vector<Shape>& in) const;
  // The largest total size in bytes of the intermediate tensors the forward holds at once (outputs included), for
  // inputs `in` in `dtype`: what the executor keeps alive, not counting the caches layers keep for backward.
  int64_t forward_peak_bytes(const std::vector<Shape>& in, DType dtype = DType::f32) const;

  // ---- Building. Re-building replaces the parameters.
  void build(const Shape& in, Rng& rng, DType dtype = DType::f32);
  void build(const Shape& in, uint64_t seed = 0, DType dtype = DType::f32);
  void build_many(const std::vector<Shape>& in, Rng& rng, DType dtype = DType::f32);
  void build_from_inputs(uint64_t seed = 0, DType dtype = DType::f32);  // ConfigError when a shape is unknown
  bool built() const;

  // ---- Running. forward builds on first use (seed 0) when not built, in the input's dtype; a built model given an
  // input of another dtype is a ShapeError (it keeps its weights).
  Tensor forward(const Tensor& x, Mode mode);  // one input, one output
  // input_grads = false: the caller wants no gradient with respect to the model inputs (a training step), so the
  // layers fed only by inputs may skip their dx (Layer::set_need_input_grad) and the result may hold undefined
  // tensors; the parameter gradients are bit-identical either way.
  Tensor backward(const Tensor& dy, bool input_grads = true);  // returns dx
  std::vector<Tensor> forward_many(const std::vector<Tensor>& xs, Mode mode);
  std::vector<Tensor> backward_many(const std::vector<Tensor>& dys, bool input_grads = true);  // one per input
  // Per-layer timing of forward/backward into `profiler` (model/profile.hpp); nullptr (the default) detaches it.
  // Not copied with the model.
  void set_profiler(Profiler* profiler) { profiler_ = profiler; }
  // Called by backward after layer(i)'s backward returned, so its parameter gradients are final for this
  // backward (the data-parallel gradient all-reduce starts there, dist/data_parallel.hpp); empty detaches it.
  // Not copied with the model.
  void set_backward_hook(std::function<void(size_t layer)> hook) { backward_hook_ = std::move(hook); }
  // Every layer's set_collective (layers/layer.hpp).
  void set_collective(const std::shared_ptr<Collective>& group);
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
  // built for the Input shapes when they are known (else of the built layers only).
  int64_t param_count() const;
  int64_t buffer_count() const;

  // Keras-like table: Layer (type), Output Shape, Param #, Connected to (graphs), the totals and the forward's
  // peak memory. Needs known input shapes (from Input or the argument, for a single-input model).
  std::string summary(std::optional<Shape> in = std::nullopt) const;
  // The graph as an SVG drawing: one box per node (name, type, output shape), arrows from producer to consumer.
  std::string svg(std::optional<Shape> in = std::nullopt) const;
  // Spec-language text that parse_model() (model/from_spec.hpp) turns back into this model: a `>>` chain for a
  // chain, else Keras functional statements ending in Model(inputs=..., outputs=...).
  std::string spec() const;

 private:
  struct Node {
    std::string name;
    std::unique_ptr<Layer> layer;       // null for an input
    std::vector<NodeId> inputs;         // producers, in the order the layer takes them
    std::optional<Shape> shape;         // output shape (batch unknown) when known
  };
  std::string resolve_name(const Layer& l) const;
  void check_unique(const std::string& name, std::string_view what) const;
  NodeId push(Node node);
  NodeId single_output(std::string_view what) const;
  std::vector<Shape> checked_inputs(const std::vector<Shape>& in) const;
  Model built_copy(std::optional<Shape> in = std::nullopt) const;
  int64_t sum_over_layers(int64_t (Layer::*count)() const) const;
  std::vector<Shape> known_input_shapes(std::optional<Shape> in, std::string_view what) const;

  std::vector<Node> nodes_;
  std::vector<size_t> layers_;  // node index of each layer, in order
  std::vector<NodeId> inputs_;
  std::vector<NodeId> outputs_;  // empty: the last node
  Profiler* profiler_ = nullptr;
  std::function<void(size_t)> backward_hook_;
};

template <class L, class = std::enable_if_t<std::is_base_of_v<Layer, std::decay_t<L>>>>
Model operator>>(Model m, L&& layer) {
  m.add(std::forward<L>(layer));
  return m;
}
template <class L, class = std::enable_if_t<std::is_base_of_v<Layer, std::decay_t<L>>>>
Model operator>>(const Input& in, L&& layer) {
  return Model(in) >> std::forward<L>(layer);
}
Model operator>>(Model a, const Model& b);

// A chain is a Model built with add(layer) or `>>`; Keras and neupy call it Sequential.
using Sequential = Model;

}  // namespace locnet
