#include "locnet/train/optimizers.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <numbers>
#include <set>

#include "kernels/optimizer/problem.hpp"
#include "kernels/registry.hpp"
#include "locnet/core/catalog.hpp"
#include "locnet/core/config.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/model/sequential.hpp"
#include "locnet/params/constraints.hpp"

namespace locnet {
namespace {

// ConfigError unless lo <= v <= hi (hi_open: v < hi), naming the optimizer and the argument.
void check_range(const char* type, const char* arg, double v, double lo, double hi, bool hi_open = false) {
  bool ok = std::isfinite(v) && v >= lo && (hi_open ? v < hi : v <= hi);
  if (!ok)
    raise<ConfigError>("{}: {} must be in [{}, {}{}, got {}", type, arg, lo, std::isinf(hi) ? "inf" : fmt::format("{}", hi),
                       hi_open ? ")" : "]", v);
}
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- schedules ----

class ConstantRate : public LearningRateSchedule {
 public:
  explicit ConstantRate(double lr) : lr_(lr) {}
  double operator()(int64_t) const override { return lr_; }
  Call config() const override { return Call{"Constant", {Value(lr_)}, {}, -1}; }

 private:
  double lr_;
};

struct ExponentialDecayConfig {
  double initial_learning_rate = 0;
  int64_t decay_steps = 0;
  double decay_rate = 0;
  bool staircase = false;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.initial_learning_rate, Field{"initial_learning_rate", "Rate at step 0.", Field::required});
    v(s.decay_steps, Field{"decay_steps", "Steps per decay_rate factor.", Field::required});
    v(s.decay_rate, Field{"decay_rate", "Factor per decay_steps steps.", Field::required});
    v(s.staircase, Field{"staircase", "Floor step / decay_steps (step decay)."});
  }
};

class ExponentialDecay : public LearningRateSchedule {
 public:
  using Config = ExponentialDecayConfig;
  explicit ExponentialDecay(ExponentialDecayConfig c) : c_(c) {
    check_range("ExponentialDecay", "initial_learning_rate", c_.initial_learning_rate, 0, kInf);
    check_range("ExponentialDecay", "decay_steps", double(c_.decay_steps), 1, kInf);
    check_range("ExponentialDecay", "decay_rate", c_.decay_rate, 0, kInf);
  }
  double operator()(int64_t step) const override {
    double e = double(step) / double(c_.decay_steps);
    return c_.initial_learning_rate * std::pow(c_.decay_rate, c_.staircase ? std::floor(e) : e);
  }
  Call config() const override { return Call{"ExponentialDecay", {}, config_values(c_), -1}; }

 private:
  ExponentialDecayConfig c_;
};

struct CosineDecayConfig {
  double initial_learning_rate = 0;
  int64_t decay_steps = 0;
  double alpha = 0.0;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.initial_learning_rate, Field{"initial_learning_rate", "Rate at step 0.", Field::required});
    v(s.decay_steps, Field{"decay_steps", "Steps to decay over.", Field::required});
    v(s.alpha, Field{"alpha", "Final rate as a fraction of the initial one."});
  }
};

class CosineDecay : public LearningRateSchedule {
 public:
  using Config = CosineDecayConfig;
  explicit CosineDecay(CosineDecayConfig c) : c_(c) {
    check_range("CosineDecay", "initial_learning_rate", c_.initial_learning_rate, 0, kInf);
    check_range("CosineDecay", "decay_steps", double(c_.decay_steps), 1, kInf);
    check_range("CosineDecay", "alpha", c_.alpha, 0, 1);
  }
  double operator()(int64_t step) const override {
    double frac = double(std::min(step, c_.decay_steps)) / double(c_.decay_steps);
    double cosine = 0.5 * (1 + std::cos(std::numbers::pi * frac));
    return c_.initial_learning_rate * ((1 - c_.alpha) * cosine + c_.alpha);
  }
  Call config() const override { return Call{"CosineDecay", {}, config_values(c_), -1}; }

 private:
  CosineDecayConfig c_;
};

// ---- optimizers ----

// Routes both element types to Self::apply(problem's dtype, ...), which runs the kernel the registry chose for
// that dtype at its first update (Self's kernel_ cache).
template <class Self>
class Impl : public Optimizer {
 protected:
  using Optimizer::Optimizer;
  void update(float* w, const float* g, float* const* s, int64_t n, double lr, int64_t t) const override {
    static_cast<const Self*>(this)->apply(DType::f32, w, g, reinterpret_cast<void* const*>(s), n, lr, t);
  }
  void update(double* w, const double* g, double* const* s, int64_t n, double lr, int64_t t) const override {
    static_cast<const Self*>(this)->apply(DType::f64, w, g, reinterpret_cast<void* const*>(s), n, lr, t);
  }
};

struct SgdConfig {
  Value learning_rate = 0.01;
  double momentum = 0.0;
  bool nesterov = false;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.learning_rate, Field{"learning_rate", "A float or a schedule."});
    v(s.momentum, Field{"momentum", "Momentum in [0, 1]."});
    v(s.nesterov, Field{"nesterov", "Nesterov momentum."});
  }
};

class Sgd : public Impl<Sgd> {
 public:
  explicit Sgd(SgdConfig c) : Impl(c.learning_rate, "SGD"), c_(c) { check_range("SGD", "momentum", c_.momentum, 0, 1); }
  std::string type() const override { return "SGD"; }
  Call config() const override { return Call{"SGD", {}, config_values(c_), -1}; }
  std::vector<std::string> slot_names() const override {
    return c_.momentum > 0 ? std::vector<std::string>{"momentum"} : std::vector<std::string>{};
  }
  void apply(DType dt, void* w, const void* g, void* const* s, int64_t n, double lr, int64_t) const {
    const kernels::SgdProblem p{dt, n, lr, c_.momentum, c_.nesterov};
    kernel_.get("sgd", kernels::sgd_kernels(), p).update(p, w, g, s);
  }

 private:
  SgdConfig c_;
  mutable kernels::ChosenByDtype<kernels::SgdKernel> kernel_;
};

struct AdamConfig {
  Value learning_rate = 0.001;
  double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.learning_rate, Field{"learning_rate", "A float or a schedule."});
    v(s.beta_1, Field{"beta_1", "Decay of the first moment, in [0, 1)."});
    v(s.beta_2, Field{"beta_2", "Decay of the second moment, in [0, 1)."});
    v(s.epsilon, Field{"epsilon", "Added to sqrt(v) (Keras's epsilon hat)."});
  }
};

struct AdamWConfig {
  Value learning_rate = 0.001;
  double weight_decay = 0.004, beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.learning_rate, Field{"learning_rate", "A float or a schedule."});
    v(s.weight_decay, Field{"weight_decay", "Decoupled decay: w -= lr * weight_decay * w before the Adam step."});
    v(s.beta_1, Field{"beta_1", "Decay of the first moment, in [0, 1)."});
    v(s.beta_2, Field{"beta_2", "Decay of the second moment, in [0, 1)."});
    v(s.epsilon, Field{"epsilon", "Added to sqrt(v) (Keras's epsilon hat)."});
  }
};

// Adam, and AdamW when weight_decay > 0.
class Adam : public Impl<Adam> {
 public:
  Adam(const char* type, Value lr, double weight_decay, double beta_1, double beta_2, double epsilon, Call config)
      : Impl(lr, type), type_(type), wd_(weight_decay), b1_(beta_1), b2_(beta_2), eps_(epsilon),
        config_(std::move(config)) {
    check_range(type, "beta_1", b1_, 0, 1, true);
    check_range(type, "beta_2", b2_, 0, 1, true);
    check_range(type, "epsilon", eps_, 0, kInf);
    check_range(type, "weight_decay", wd_, 0, kInf);
  }
  std::string type() const override { return type_; }
  Call config() const override { return config_; }
  std::vector<std::string> slot_names() const override { return {"momentum", "velocity"}; }
  void apply(DType dt, void* w, const void* g, void* const* s, int64_t n, double lr, int64_t t) const {
    const double alpha = lr * std::sqrt(1 - std::pow(b2_, double(t))) / (1 - std::pow(b1_, double(t)));
    const kernels::AdamProblem p{dt, n, wd_ > 0, lr * wd_, 1 - b1_, 1 - b2_, alpha, eps_};
    kernel_.get("adam", kernels::adam_kernels(), p).update(p, w, g, s);
  }

 private:
  std::string type_;
  double wd_, b1_, b2_, eps_;
  Call config_;
  mutable kernels::ChosenByDtype<kernels::AdamKernel> kernel_;
};

struct RmspropConfig {
  Value learning_rate = 0.001;
  double rho = 0.9, momentum = 0.0, epsilon = 1e-7;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.learning_rate, Field{"learning_rate", "A float or a schedule."});
    v(s.rho, Field{"rho", "Decay of the mean square, in [0, 1]."});
    v(s.momentum, Field{"momentum", "Momentum in [0, 1]."});
    v(s.epsilon, Field{"epsilon", "Added under the square root."});
  }
};

class Rmsprop : public Impl<Rmsprop> {
 public:
  explicit Rmsprop(RmspropConfig c) : Impl(c.learning_rate, "RMSprop"), c_(c) {
    check_range("RMSprop", "rho", c_.rho, 0, 1);
    check_range("RMSprop", "momentum", c_.momentum, 0, 1);
    check_range("RMSprop", "epsilon", c_.epsilon, 0, kInf);
  }
  std::string type() const override { return "RMSprop"; }
  Call config() const override { return Call{"RMSprop", {}, config_values(c_), -1}; }
  std::vector<std::string> slot_names() const override {
    return c_.momentum > 0 ? std::vector<std::string>{"velocity", "momentum"} : std::vector<std::string>{"velocity"};
  }
  void apply(DType dt, void* w, const void* g, void* const* s, int64_t n, double lr, int64_t) const {
    const kernels::RmspropProblem p{dt, n, lr, c_.rho, c_.momentum, c_.epsilon};
    kernel_.get("rmsprop", kernels::rmsprop_kernels(), p).update(p, w, g, s);
  }

 private:
  RmspropConfig c_;
  mutable kernels::ChosenByDtype<kernels::RmspropKernel> kernel_;
};

struct AdagradConfig {
  Value learning_rate = 0.001;
  double initial_accumulator_value = 0.1, epsilon = 1e-7;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.learning_rate, Field{"learning_rate", "A float or a schedule."});
    v(s.initial_accumulator_value, Field{"initial_accumulator_value", "Starting value of the accumulator."});
    v(s.epsilon, Field{"epsilon", "Added under the square root."});
  }
};

class Adagrad : public Impl<Adagrad> {
 public:
  explicit Adagrad(AdagradConfig c) : Impl(c.learning_rate, "Adagrad"), c_(c) {
    check_range("Adagrad", "initial_accumulator_value", c_.initial_accumulator_value, 0, kInf);
    check_range("Adagrad", "epsilon", c_.epsilon, 0, kInf);
  }
  std::string type() const override { return "Adagrad"; }
  Call config() const override { return Call{"Adagrad", {}, config_values(c_), -1}; }
  std::vector<std::string> slot_names() const override { return {"accumulator"}; }
  double slot_initial_value() const override { return c_.initial_accumulator_value; }
  void apply(DType dt, void* w, const void* g, void* const* s, int64_t n, double lr, int64_t) const {
    const kernels::AdagradProblem p{dt, n, lr, c_.epsilon};
    kernel_.get("adagrad", kernels::adagrad_kernels(), p).update(p, w, g, s);
  }

 private:
  AdagradConfig c_;
  mutable kernels::ChosenByDtype<kernels::AdagradKernel> kernel_;
};

// numpy-ml's and old Keras's spelling: lr is learning_rate, which every optimizer takes first.
Call with_learning_rate(Call c) {
  auto lr = std::find_if(c.kwargs.begin(), c.kwargs.end(), [](const auto& kv) { return kv.first == "lr"; });
  if (lr == c.kwargs.end()) return c;
  if (!c.args.empty() || c.kwarg("learning_rate"))
    raise<ConfigError>("{}: learning_rate must be given once (lr is its alias), got both",
                       detail::where(c.type, c.column));
  lr->first = "learning_rate";
  return c;
}

}  // namespace

std::shared_ptr<const LearningRateSchedule> make_schedule(const Value& v, std::string_view where) {
  return catalog().read_as<LearningRateSchedule>(Kind::schedule, v, where);
}

Optimizer::Optimizer(const Value& learning_rate, std::string_view type)
    : lr_value_(learning_rate), lr_(make_schedule(learning_rate, type)) {}

std::vector<Tensor>& Optimizer::slots_for(const std::string& key, const Param& p) {
  auto it = slots_.find(key);
  if (it != slots_.end()) {
    if (!it->second.empty() && (it->second[0].shape() != p.value.shape() || it->second[0].dtype() != p.value.dtype()))
      raise<ShapeError>("{}: parameter '{}' must keep its shape {} between steps, got {}", type(), key,
                        it->second[0].shape().str(), p.value.shape().str());
    return it->second;
  }
  std::vector<Tensor> slots;
  for (size_t i = 0; i < slot_names().size(); ++i) {
    slots.emplace_back(p.value.shape(), p.value.dtype());
    if (slot_initial_value() != 0.0) slots.back().fill(slot_initial_value());
  }
  return slots_.emplace(key, std::move(slots)).first->second;
}

void Optimizer::update_param(const std::string& key, Param& p, double lr) {
  if (!p.trainable || !p.value.defined()) return;
  if (p.value.dtype() != DType::f32 && p.value.dtype() != DType::f64)
    raise<NotSupported>("{}: parameter '{}' dtype must be f32 or f64, got {}", type(), key, dtype_name(p.value.dtype()));
  if (!p.grad.defined() || p.grad.shape() != p.value.shape() || p.grad.dtype() != p.value.dtype())
    raise<ShapeError>("{}: the gradient of '{}' must have shape {} and dtype {}, got {}", type(), key,
                      p.value.shape().str(), dtype_name(p.value.dtype()),
                      p.grad.defined() ? p.grad.shape().str() : std::string("none"));
  std::vector<Tensor>& slots = slots_for(key, p);
  const int64_t t = iterations_ + 1;
  if (p.value.dtype() == DType::f64) {
    std::vector<double*> s;
    for (Tensor& x : slots) s.push_back(x.data<double>());
    update(p.value.data<double>(), p.grad.data<double>(), s.data(), p.value.numel(), lr, t);
  } else {
    std::vector<float*> s;
    for (Tensor& x : slots) s.push_back(x.data<float>());
    update(p.value.data<float>(), p.grad.data<float>(), s.data(), p.value.numel(), lr, t);
  }
  if (p.constraint) p.constraint->apply(p.value);
}

void Optimizer::step(const std::vector<std::pair<std::string, Param*>>& params) {
  const double lr = learning_rate();
  for (const auto& [key, p] : params) update_param(key, *p, lr);
  ++iterations_;
}

Optimizer& Optimizer::for_layer(const Layer& layer) {
  if (layer.optimizer().is_none()) return *this;
  auto it = overrides_.find(layer.name());
  if (it == overrides_.end())
    it = overrides_.emplace(layer.name(), make_optimizer(layer.optimizer(), layer.name() + " optimizer")).first;
  return *it->second;
}

void Optimizer::step(Model& model) {
  std::vector<Optimizer*> used;
  std::vector<double> rates;
  for (size_t i = 0; i < model.size(); ++i) {
    Layer& layer = model.layer(i);
    Optimizer& opt = for_layer(layer);
    auto at = std::find(used.begin(), used.end(), &opt);
    if (at == used.end()) {
      used.push_back(&opt);
      rates.push_back(opt.learning_rate());
      at = used.end() - 1;
    }
    for (Param* p : layer.params()) opt.update_param(layer.name() + "." + p->name, *p, rates[size_t(at - used.begin())]);
  }
  if (std::find(used.begin(), used.end(), this) == used.end()) used.push_back(this);
  for (Optimizer* o : used) ++o->iterations_;
}

std::vector<std::pair<std::string, Tensor>> Optimizer::state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  auto add = [&](const std::string& iterations_key, const Optimizer& o) {
    out.emplace_back(iterations_key, Tensor::from<double>({double(o.iterations_)}, Shape{1}));
    const auto names = o.slot_names();
    for (const auto& [key, slots] : o.slots_)
      for (size_t i = 0; i < slots.size(); ++i) out.emplace_back(key + "." + names[i], slots[i]);
  };
  add("iterations", *this);
  for (const auto& [layer, o] : overrides_) add(layer + ".iterations", *o);
  return out;
}

void Optimizer::load_state(Model& model, const std::vector<std::pair<std::string, Tensor>>& state) {
  // Every slot the model needs, so that a missing key is reported and an unknown one has no place.
  std::map<std::string, Tensor*> want;
  std::map<std::string, Optimizer*> counters{{"iterations", this}};
  for (size_t i = 0; i < model.size(); ++i) {
    Layer& layer = model.layer(i);
    Optimizer& opt = for_layer(layer);
    if (&opt != this) counters[layer.name() + ".iterations"] = &opt;
    const auto names = opt.slot_names();
    for (Param* p : layer.params()) {
      if (!p->trainable) continue;
      const std::string key = layer.name() + "." + p->name;
      std::vector<Tensor>& slots = opt.slots_for(key, *p);
      for (size_t s = 0; s < slots.size(); ++s) want[key + "." + names[s]] = &slots[s];
    }
  }
  std::set<std::string> seen;
  for (const auto& [key, t] : state) {
    if (auto c = counters.find(key); c != counters.end()) {
      if (t.numel() != 1)
        raise<FormatError>("optimizer state: '{}' must hold one value, got shape {}", key, t.shape().str());
      c->second->iterations_ = int64_t(t.item(0));
    } else if (auto w = want.find(key); w != want.end()) {
      if (t.shape() != w->second->shape())
        raise<FormatError>("optimizer state: '{}' must have shape {}, got {}", key, w->second->shape().str(),
                           t.shape().str());
      *w->second = t.to(w->second->dtype());
    } else {
      raise<FormatError>("optimizer state: unknown key '{}' for {} on this model", key, type());
    }
    seen.insert(key);
  }
  for (const auto& [key, c] : counters)
    if (!seen.count(key)) raise<FormatError>("optimizer state: key '{}' must be present, got none", key);
  for (const auto& [key, w] : want)
    if (!seen.count(key)) raise<FormatError>("optimizer state: key '{}' must be present, got none", key);
}

std::unique_ptr<Optimizer> make_optimizer(const Value& spec, std::string_view where) {
  return catalog().read_as<Optimizer>(Kind::optimizer, spec, where);
}

std::vector<TypeDoc> optimizer_docs() { return catalog().docs(Kind::optimizer); }

std::vector<TypeDoc> schedule_docs() { return catalog().docs(Kind::schedule); }

std::vector<std::string> optimizer_names() { return catalog().names(Kind::optimizer); }

namespace {

// A float is a constant rate; a call names a schedule.
std::unique_ptr<CatalogObject> read_schedule(const Catalog& c, const Value& v, std::string_view where) {
  if (v.kind() == Value::Kind::Int || v.kind() == Value::Kind::Float) {
    if (!std::isfinite(v.as_double()) || v.as_double() < 0)
      raise<ConfigError>("{}: learning_rate must be a finite number >= 0, got {}", where, v.repr());
    return std::make_unique<ConstantRate>(v.as_double());
  }
  if (v.kind() == Value::Kind::Call)
    if (const CatalogEntry* e = c.find(Kind::schedule, v.call().type)) return e->make(v.call());
  std::vector<std::string> forms{"a float"};
  for (const std::string& name : c.names(Kind::schedule)) forms.push_back(name + "(...)");
  std::string last = forms.back();
  forms.pop_back();
  raise<ConfigError>("{}: learning_rate must be {} or {}, got {}", where, fmt::join(forms, ", "), last, v.repr());
}

// A call, a string holding a call ("SGD(0.1)") or a name ("adam").
std::unique_ptr<CatalogObject> read_optimizer(const Catalog& c, const Value& spec, std::string_view where) {
  if (spec.kind() == Value::Kind::Str) {
    const std::string& s = spec.as_str();
    if (s.find('(') != std::string::npos) return read_optimizer(c, parse_value(s), where);
    if (const CatalogEntry* e = c.find(Kind::optimizer, s)) return e->make(Call{e->name, {}, {}, -1});
  } else if (spec.kind() == Value::Kind::Call) {
    if (const CatalogEntry* e = c.find(Kind::optimizer, spec.call().type)) return e->make(with_learning_rate(spec.call()));
  }
  raise<ConfigError>("{}: optimizer must be one of {} (a call or a name), got {}", where,
                     fmt::join(c.names(Kind::optimizer), ", "), spec.repr());
}

template <class Config, class Make>
CatalogEntry optimizer(const char* name, const char* alias, const char* doc, Make make) {
  CatalogEntry e = declare<Config>(
      Kind::optimizer, {name, {alias}, doc, {}},
      [make](Config c, const Call&) -> std::unique_ptr<CatalogObject> { return make(c); }, {"name"});
  e.options.push_back({"lr", "alias", "", "Another name of learning_rate (numpy-ml, old Keras).", false});
  return e;
}

template <class Schedule>
CatalogEntry schedule(const char* name, const char* doc) {
  return declare<typename Schedule::Config>(
      Kind::schedule, {name, {}, doc, {}},
      [](typename Schedule::Config c, const Call&) { return std::make_unique<Schedule>(c); }, {"name"});
}

}  // namespace

void declare_optimizers(Catalog& c) {
  c.add(optimizer<SgdConfig>("SGD", "sgd", "Stochastic gradient descent with optional (Nesterov) momentum (Keras).",
                             [](SgdConfig a) { return std::make_unique<Sgd>(a); }));
  c.add(optimizer<AdamConfig>("Adam", "adam", "Adam with Keras's epsilon-hat form.", [](AdamConfig a) {
    return std::make_unique<Adam>("Adam", a.learning_rate, 0.0, a.beta_1, a.beta_2, a.epsilon,
                                  Call{"Adam", {}, config_values(a), -1});
  }));
  c.add(optimizer<AdamWConfig>("AdamW", "adamw", "Adam with decoupled weight decay (Keras).", [](AdamWConfig a) {
    return std::make_unique<Adam>("AdamW", a.learning_rate, a.weight_decay, a.beta_1, a.beta_2, a.epsilon,
                                  Call{"AdamW", {}, config_values(a), -1});
  }));
  c.add(optimizer<RmspropConfig>("RMSprop", "rmsprop",
                                 "Divides by a running root mean square of the gradients, optional momentum (Keras).",
                                 [](RmspropConfig a) { return std::make_unique<Rmsprop>(a); }));
  c.add(optimizer<AdagradConfig>("Adagrad", "adagrad",
                                 "Divides by the root of the accumulated squared gradients (Keras).",
                                 [](AdagradConfig a) { return std::make_unique<Adagrad>(a); }));
  c.add(schedule<ExponentialDecay>("ExponentialDecay", "lr = initial decay_rate^(step / decay_steps) (Keras)."));
  c.add(schedule<CosineDecay>("CosineDecay",
                              "Cosine decay from initial_learning_rate to alpha times it over decay_steps (Keras)."));
  c.set_reader(Kind::optimizer, [&c](const Value& v, std::string_view where) { return read_optimizer(c, v, where); });
  c.set_reader(Kind::schedule, [&c](const Value& v, std::string_view where) { return read_schedule(c, v, where); });
}

}  // namespace locnet
