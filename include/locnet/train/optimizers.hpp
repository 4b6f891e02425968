// Optimizers with Keras's names, defaults and update forms (Keras 3). For a parameter w with gradient g, at step
// t = iterations + 1 with learning rate lr = schedule(iterations):
//   SGD(learning_rate=0.01, momentum=0.0, nesterov=False)         slot "momentum" (m, only when momentum > 0)
//       m = momentum m - lr g;  w += nesterov ? momentum m - lr g : m         (momentum = 0: w -= lr g)
//   Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)    slots "momentum" (m), "velocity" (v)
//       m += (1 - beta_1)(g - m);  v += (1 - beta_2)(g^2 - v)
//       w -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)      (Keras's epsilon-hat form)
//   AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
//       w -= lr weight_decay w first (decoupled decay), then the Adam step
//   RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7) slots "velocity" (v), "momentum" (m, > 0)
//       v = rho v + (1 - rho) g^2;  d = lr g / sqrt(v + epsilon);  momentum > 0: m = momentum m + d, w -= m;
//       else w -= d
//   Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7)   slot "accumulator" (a, starts at
//       initial_accumulator_value):  a += g^2;  w -= lr g / sqrt(a + epsilon)
// learning_rate is a float or a schedule (evaluated at `iterations`, counted from 0, as Keras does):
//   ExponentialDecay(initial_learning_rate, decay_steps, decay_rate, staircase=False)
//       lr = initial decay_rate^(step / decay_steps), the exponent floored with staircase (step decay)
//   CosineDecay(initial_learning_rate, decay_steps, alpha=0.0)
//       lr = initial ((1 - alpha) (1 + cos(pi min(step, decay_steps) / decay_steps)) / 2 + alpha)
// Spec forms (make_optimizer): "Adam(learning_rate=1e-3)", "SGD(0.1, momentum=0.9, nesterov=True)",
// "SGD(learning_rate=CosineDecay(0.1, 1000))", or a bare name ("adam", "sgd", "rmsprop", "adagrad", "adamw").
// lr is an alias of learning_rate ("SGD(lr=0.01)", numpy-ml's and old Keras's spelling); giving both is a
// ConfigError; config() says learning_rate.
// After updating a parameter, step() applies its constraint (params/constraints.hpp). Gradients are read, not
// zeroed. Regularization gradients are the model's business (Model::add_regularization_grads) before step.
//
// Per-layer override (numpy-ml's optimizer=): a layer may carry its own optimizer spec (Layer::optimizer(),
// `Dense(10, optimizer="SGD(0.1)")`); step(model) updates that layer's parameters with its own optimizer (own
// slots, own iteration count) and every other layer's with this one.
//
// State, for checkpoints: state() lists "iterations" (a (1,) f64 tensor) and "<layer>.<param>.<slot>" for this
// optimizer, and "<layer>.iterations" for each layer with its own optimizer (whose slots are keyed like the others).
// load_state(model, state) restores it exactly; FormatError for a missing or unknown key or a shape/dtype that
// differs. Errors: ConfigError for unknown names, arguments or values out of range (learning_rate < 0,
// momentum/rho outside [0, 1], beta outside [0, 1), epsilon/weight_decay/initial_accumulator_value < 0,
// decay_steps <= 0), naming the argument.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "locnet/core/catalog.hpp"
#include "locnet/core/value.hpp"
#include "locnet/layers/layer.hpp"

namespace locnet {

class Model;  // model/model.hpp (Sequential is a Model)

class LearningRateSchedule : public CatalogObject {
 public:
  virtual double operator()(int64_t step) const = 0;
};

// A float (constant) or a schedule call -> a schedule; ConfigError "<where>: ..." otherwise.
std::shared_ptr<const LearningRateSchedule> make_schedule(const Value& v, std::string_view where);

class Optimizer : public CatalogObject {
 public:
  virtual std::string type() const = 0;

  // One update of every trainable parameter of the list (keys name the slots), then iterations += 1.
  void step(const std::vector<std::pair<std::string, Param*>>& params);
  // One update of the model's trainable parameters, honouring per-layer optimizer overrides.
  void step(Model& model);

  int64_t iterations() const { return iterations_; }
  double learning_rate() const { return (*lr_)(iterations_); }  // the rate the next step uses

  std::vector<std::pair<std::string, Tensor>> state() const;
  void load_state(Model& model, const std::vector<std::pair<std::string, Tensor>>& state);

 protected:
  explicit Optimizer(const Value& learning_rate, std::string_view type);
  virtual std::vector<std::string> slot_names() const = 0;
  virtual double slot_initial_value() const { return 0.0; }
  // Updates w (n elements) in place from g with the slots in slot_names() order; lr and t as in the contract.
  virtual void update(float* w, const float* g, float* const* slots, int64_t n, double lr, int64_t t) const = 0;
  virtual void update(double* w, const double* g, double* const* slots, int64_t n, double lr, int64_t t) const = 0;
  Value learning_rate_value() const { return lr_value_; }

 private:
  std::vector<Tensor>& slots_for(const std::string& key, const Param& p);
  void update_param(const std::string& key, Param& p, double lr);
  Optimizer& for_layer(const Layer& layer);  // this, or the layer's own optimizer

  Value lr_value_;
  std::shared_ptr<const LearningRateSchedule> lr_;
  int64_t iterations_ = 0;
  std::map<std::string, std::vector<Tensor>> slots_;
  std::map<std::string, std::unique_ptr<Optimizer>> overrides_;  // by layer name
};

// An optimizer from a spec: a call Value, or a string holding a call ("SGD(0.1)") or a name ("adam").
// ConfigError "<where>: ..." for unknown names or arguments.
std::unique_ptr<Optimizer> make_optimizer(const Value& spec, std::string_view where = "optimizer");
std::vector<std::string> optimizer_names();
// Each optimizer and schedule with its options, for `locnet info`.
std::vector<TypeDoc> optimizer_docs();
std::vector<TypeDoc> schedule_docs();
void declare_optimizers(Catalog& c);  // the optimizers and schedules above and their readers, into the catalog

}  // namespace locnet
