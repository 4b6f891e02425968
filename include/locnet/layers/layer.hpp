// The layer interface.
//
// Life cycle: construct (config validated -> ConfigError) -> output_shape(in) (pure, ShapeError) ->
// build(in, rng, dtype) (allocates parameters, chooses kernels) -> forward/backward.
// Shapes include the batch dimension, which may be Shape::kUnknown before data arrives.
//
// Gradient contract: backward(dy) returns dx (a fresh tensor, assigned) and ADDS to the gradients of params();
// zero_grad() (or an optimizer) clears them. backward uses what the last forward(x, Mode::Training) cached
// (an inference forward in between changes nothing); without one it is a ConfigError. forward never modifies x.
// Mode is explicit: Training may use batch statistics and caches for backward, Inference never does.
// Threads: a built layer's forward(x, Mode::Inference) writes no member, so one layer (or Sequential) may serve
// inference from several threads at once (tests/threads). Training-mode forward, backward, build, zero_grad and
// weight changes need exclusive access: two threads training one layer object is not allowed.
#pragma once
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "locnet/core/catalog.hpp"
#include "locnet/core/collective.hpp"
#include "locnet/core/config.hpp"
#include "locnet/core/rng.hpp"
#include "locnet/core/tensor.hpp"

namespace locnet {

class Regularizer;  // params/regularizers.hpp
class Constraint;   // params/constraints.hpp

enum class Mode { Training, Inference };

// An estimate of one pass's work (model/profile.hpp): flops counts 2 per multiply-add (0 where the layer is bound
// by memory traffic); bytes counts each tensor the pass reads or writes once (inputs, outputs, weights).
struct PassWork {
  double flops = 0, bytes = 0;
};
struct LayerWork {
  PassWork forward, backward;
};

// A named tensor owned by a layer: a trainable parameter (with its gradient) or a buffer such as a running
// statistic (trainable = false, no gradient), saved with the weights either way. A parameter of a layer with
// trainable=False is listed by params() with trainable = false: optimizers leave it alone.
// Loading weights (model/weights.hpp) also accepts a key under one of `aliases` (other frameworks' names, such
// as PyTorch's "running_var"); a `counter` (PyTorch's num_batches_tracked) may be absent (then 0) and may come as
// an I64 scalar of shape ().
// A parameter may carry a regularizer (its loss and gradient are added by the model, not by backward, so gradient
// checks see the layer's own function) and a constraint (applied to value after each optimizer step).
struct Param {
  std::string name;
  Tensor value;
  Tensor grad;
  bool trainable = true;
  std::shared_ptr<const Regularizer> regularizer = nullptr;
  std::shared_ptr<const Constraint> constraint = nullptr;
  std::vector<std::string> aliases = {};
  bool counter = false;
};

class Layer : public CatalogObject {
 public:
  explicit Layer(std::string name_pattern = {}) : name_pattern_(std::move(name_pattern)) {}

  virtual std::string type() const = 0;
  // The resolved name (unique within a model); before the layer joins a model, the pattern filled with 1.
  const std::string& name() const { return name_; }
  const std::string& name_pattern() const { return name_pattern_; }
  void set_name(std::string name) { name_ = std::move(name); }

  virtual Shape output_shape(const Shape& in) const = 0;

  // Checks the shape (output_shape), records it, then allocates parameters in `dtype`. Layers with parameters
  // compute in f32 or f64 (NotSupported otherwise); parameter-free layers may also take bf16/f16 storage.
  void build(const Shape& in, Rng& rng, DType dtype = DType::f32);
  bool built() const { return built_; }
  const Shape& input_shape() const { return input_shape_; }
  DType dtype() const { return dtype_; }

  virtual Tensor forward(const Tensor& x, Mode mode) = 0;
  virtual Tensor backward(const Tensor& dy) = 0;
  // Whether the next backward's dx is used (default true). Model::backward sets it false, for that call only, on
  // the layers fed only by model inputs when the caller wants no input gradient (the trainer). A layer whose dx
  // costs a product (Dense, Conv2D, LocallyConnected, when their kernel can skip it) then returns an undefined
  // Tensor in place of dx (one per input from backward_many); the others ignore the flag. Parameter gradients
  // are the same either way.
  void set_need_input_grad(bool need) { need_input_grad_ = need; }
  bool need_input_grad() const { return need_input_grad_; }

  // Several inputs. A graph node (model/model.hpp) calls the *_many forms with its inputs in order. Their defaults
  // serve one-input layers: they check that exactly one input came and call the one-input forms. A layer taking
  // several inputs (the merge layers, include/locnet/layers/merge.hpp) overrides arity() and the *_many forms,
  // and its one-input forms are ShapeErrors. backward_many returns one gradient per input.
  struct Arity {
    size_t min = 1, max = 1;  // max = SIZE_MAX: any number
  };
  virtual Arity arity() const { return {}; }
  virtual Shape output_shape_many(std::span<const Shape> in) const;
  void build_many(std::span<const Shape> in, Rng& rng, DType dtype = DType::f32);
  virtual Tensor forward_many(std::span<const Tensor> xs, Mode mode);
  virtual std::vector<Tensor> backward_many(const Tensor& dy);
  // ShapeError unless `n` inputs fit arity() ("takes 2 or more inputs, got 1").
  void check_arity(size_t n) const;
  // Every input's shape as built (one for a one-input layer).
  const std::vector<Shape>& input_shapes() const { return input_shapes_; }

  virtual std::vector<Param*> params() { return {}; }   // trainable parameters
  virtual std::vector<Param*> buffers() { return {}; }  // non-trainable state saved with the weights
  std::vector<const Param*> params() const;
  std::vector<const Param*> buffers() const;
  int64_t param_count() const;                          // trainable
  int64_t buffer_count() const;                         // non-trainable (frozen parameters included)
  void zero_grad();
  // The activity-regularization loss recorded by the last training forward (params/regularizers.hpp), else 0.
  virtual double activity_loss() const { return 0.0; }

  // Profiling (model/profile.hpp). kernel(): the implementation build() chose (the kernel registry's name), "ref"
  // for layers with a single implementation. work(in): the estimated work of a forward and a backward pass of the
  // built layer on input shape `in` (batch included). The default suits layers without weights or arithmetic to
  // speak of: forward reads x and writes y, backward reads x and dy and writes dx; flops 0.
  virtual std::string kernel() const { return "ref"; }
  virtual LayerWork work(const Shape& in) const;

  // Per-layer optimizer override (train/optimizers.hpp, numpy-ml's optimizer=): None, or an optimizer spec such as
  // SGD(0.1) or "adam" that Optimizer::step(model) uses for this layer's parameters. ConfigError for a bad spec,
  // and at build for a layer that has no trainable parameters (Flatten, Dropout, LRN, ...).
  const Value& optimizer() const { return optimizer_; }
  void set_optimizer(Value spec);

  // Keras's and numpy-ml's trainable (spec `trainable=False`, kept by config()): False freezes the layer, so no
  // optimizer updates its parameters and they count as non-trainable. BatchNorm layers also normalize with their
  // running statistics in every mode (numpy-ml's and Keras's frozen BatchNorm).
  bool trainable() const { return trainable_; }
  void set_trainable(bool trainable);

  // The data-parallel job this layer belongs to (core/collective.hpp): layers that synchronize across ranks
  // (BatchNorm with sync=True) use it in training; the others ignore it. Null: a single process.
  virtual void set_collective(std::shared_ptr<Collective>) {}

  // The layer as a spec-language call, including name="...": make_layer(config()) rebuilds an equal layer.
  Call config() const override = 0;
  virtual std::unique_ptr<Layer> clone() const = 0;

 protected:
  virtual void do_build(const Shape& in, Rng& rng) = 0;
  // build_many's allocation step; the default serves one-input layers.
  virtual void do_build_many(std::span<const Shape> in, Rng& rng) { do_build(in[0], rng); }
  // clone() of a layer type L: a copy whose parameters and buffers own fresh storage.
  template <class L>
  static std::unique_ptr<Layer> clone_of(const L& self) {
    auto c = std::make_unique<L>(self);
    c->detach_storage();
    return c;
  }
  void detach_storage();
  // work() of a layer whose arithmetic is `macs` multiply-adds with `weights` parameters (Dense, Conv2D,
  // LocallyConnected): forward 2 macs flops over x, W and y; backward 4 macs (dx and dW) over x, dy, W, dx and dW.
  LayerWork weighted_work(const Shape& in, double macs, double weights) const;
  void require_float_dtype() const;  // NotSupported unless f32 or f64
  // ShapeError unless x has the built shape (any batch size) and dtype; returns the batch size.
  int64_t check_input(const Tensor& x) const;
  void check_grad_output(const Tensor& dy, const Shape& expected) const;
  Call make_call(std::vector<std::pair<std::string, Value>> kwargs) const;
  std::string where() const;  // "name (Type)" for messages

 private:
  std::string name_pattern_;
  std::string name_;
  Value optimizer_;
  bool trainable_ = true;
  bool need_input_grad_ = true;
  Shape input_shape_;                // the first input's
  std::vector<Shape> input_shapes_;  // every input's
  DType dtype_ = DType::f32;
  bool built_ = false;
};

namespace detail {
// Self::kType where a layer type declares its own (types sharing one config), else Config::kType.
template <class Self, class Config>
constexpr const char* layer_type_name() {
  if constexpr (requires { Self::kType; }) return Self::kType;
  else return Config::kType;
}
template <class Self, class Config>
constexpr const char* layer_doc() {
  if constexpr (requires { Self::kDoc; }) return Self::kDoc;
  else return Config::kDoc;
}
// cfg.validate(type) for configs shared by several types, else cfg.validate().
template <class Self, class Config>
decltype(auto) validate_layer_config(const Config& cfg) {
  if constexpr (requires { cfg.validate(layer_type_name<Self, Config>()); })
    return cfg.validate(layer_type_name<Self, Config>());
  else
    return cfg.validate();
}
template <class Self, class Config>
inline constexpr bool validates_to_void =
    std::is_void_v<decltype(validate_layer_config<Self>(std::declval<const Config&>()))>;
}  // namespace detail

// The one way to declare a layer type: `class Dense : public LayerOf<Dense, DenseConfig>`. Config carries kType
// (the spec name), kDoc (one line for `locnet info`) and fields() (core/config.hpp); Config::validate() checks it
// (ConfigError) before anything else is built, and returns void or the canonical form that the family's shared
// machinery `Base` is built from: Base(base_args..., canonical, name) or Base(base_args..., name). LayerOf
// supplies type(), config() and clone(); the catalog entry comes from layer_entry<Self>() (layers/registry.hpp).
template <class Self, class C, class Base = Layer>
class LayerOf : public Base {
 public:
  using Config = C;
  static constexpr const char* type_name() { return detail::layer_type_name<Self, Config>(); }
  static constexpr const char* doc() { return detail::layer_doc<Self, Config>(); }

  template <class... BaseArgs>
    requires detail::validates_to_void<Self, C>
  explicit LayerOf(Config cfg = {}, std::string name = {}, BaseArgs&&... base_args)
      : Base(std::forward<BaseArgs>(base_args)..., std::move(name)), cfg_(std::move(cfg)) {
    detail::validate_layer_config<Self>(cfg_);
  }
  template <class... BaseArgs>
    requires(!detail::validates_to_void<Self, C>)
  explicit LayerOf(Config cfg = {}, std::string name = {}, BaseArgs&&... base_args)
      : Base(std::forward<BaseArgs>(base_args)..., detail::validate_layer_config<Self>(cfg), std::move(name)),
        cfg_(std::move(cfg)) {}

  std::string type() const override { return type_name(); }
  Call config() const override { return this->make_call(config_values(cfg_)); }
  std::unique_ptr<Layer> clone() const override { return Layer::clone_of(static_cast<const Self&>(*this)); }
  const Config& cfg() const { return cfg_; }

 protected:
  Config cfg_;
};

}  // namespace locnet
