#include "locnet/model/model.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <utility>

#include "locnet/model/profile.hpp"
#include "locnet/params/constraints.hpp"
#include "locnet/params/regularizers.hpp"

namespace locnet {
namespace {

// "LocalResponseNorm" -> "local_response_norm", "Dense" -> "dense", "BatchNorm2D" -> "batch_norm2d".
std::string snake_case(std::string_view type) {
  std::string out;
  for (size_t i = 0; i < type.size(); ++i) {
    char c = type[i];
    if (c == '.') {
      out += '_';
      continue;
    }
    bool upper = std::isupper(static_cast<unsigned char>(c));
    if (upper && i > 0 && std::islower(static_cast<unsigned char>(type[i - 1]))) out += '_';
    out += char(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// a + b into a fresh tensor: either may share storage with a tensor the graph still holds (Identity passes its
// gradient through), so neither is written.
Tensor sum_of(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype())
    raise<ShapeError>("model: gradients reaching one node must agree, got {} {} and {} {}", a.shape().str(),
                      dtype_name(a.dtype()), b.shape().str(), dtype_name(b.dtype()));
  Tensor out = Tensor::empty(a.shape(), a.dtype());
  if (a.dtype() == DType::f32 || a.dtype() == DType::f64) {
    visit_float(a.dtype(), [&](auto v) {
      using T = decltype(v);
      const T *pa = a.data<T>(), *pb = b.data<T>();
      T* po = out.data<T>();
      for (int64_t i = 0; i < a.numel(); ++i) po[i] = pa[i] + pb[i];
    });
  } else {
    for (int64_t i = 0; i < a.numel(); ++i) out.set(i, a.item(i) + b.item(i));
  }
  return out;
}

}  // namespace

Model::Model(const Input& in) { input(in.shape); }

Model::Model(const Model& o) : layers_(o.layers_), inputs_(o.inputs_), outputs_(o.outputs_) {
  nodes_.reserve(o.nodes_.size());
  for (const Node& n : o.nodes_) nodes_.push_back({n.name, n.layer ? n.layer->clone() : nullptr, n.inputs, n.shape});
}

Model& Model::operator=(const Model& o) {
  if (this != &o) {
    Model copy(o);
    *this = std::move(copy);
  }
  return *this;
}

std::string Model::resolve_name(const Layer& l) const {
  const std::string& pattern = l.name_pattern();
  if (pattern.empty()) {
    int64_t n = 1;
    for (size_t i : layers_) n += nodes_[i].layer->name_pattern().empty() && nodes_[i].layer->type() == l.type();
    return snake_case(l.type()) + "_" + std::to_string(n);
  }
  if (pattern.find('{') == std::string::npos) return pattern;
  int64_t n = 1;
  for (size_t i : layers_) n += nodes_[i].layer->name_pattern() == pattern;
  try {
    return fmt::format(fmt::runtime(pattern), n);
  } catch (const fmt::format_error& e) {
    raise<ConfigError>("{}: name must be a string or a format string with one integer field such as \"fc{{}}\", got "
                       "\"{}\" ({})",
                       l.type(), pattern, e.what());
  }
}

void Model::check_unique(const std::string& name, std::string_view what) const {
  for (const Node& o : nodes_)
    if (o.name == name)
      raise<ConfigError>("Sequential: layer names must be unique, got '{}' twice ({} and {})", name,
                         o.layer ? o.layer->type() : "Input", what);
}

NodeId Model::push(Node node) {
  if (node.layer) layers_.push_back(nodes_.size());
  else inputs_.push_back(NodeId(nodes_.size()));
  nodes_.push_back(std::move(node));
  return NodeId(nodes_.size() - 1);
}

NodeId Model::input(Shape per_sample, std::string name) {
  if (name.empty()) name = "input_" + std::to_string(inputs_.size() + 1);
  check_unique(name, "Input");
  return push({std::move(name), nullptr, {}, per_sample.with_batch(Shape::kUnknown)});
}

NodeId Model::shapeless_input(std::string name) {
  if (name.empty()) name = "input_" + std::to_string(inputs_.size() + 1);
  check_unique(name, "Input");
  return push({std::move(name), nullptr, {}, std::nullopt});
}

NodeId Model::add(std::unique_ptr<Layer> layer, const std::vector<NodeId>& inputs) {
  if (!layer) raise<ConfigError>("Model.add: layer must not be null");
  std::string name = resolve_name(*layer);
  check_unique(name, layer->type());
  layer->set_name(name);
  if (inputs.empty()) raise<ConfigError>("'{}' ({}): a graph node needs at least one input, got none", name, layer->type());
  std::vector<Shape> shapes;
  for (NodeId id : inputs) {
    if (id < 0 || size_t(id) >= nodes_.size())
      raise<ConfigError>("'{}' ({}): input node must be one of 0..{}, got {}", name, layer->type(),
                         int64_t(nodes_.size()) - 1, id);
    if (nodes_[size_t(id)].shape) shapes.push_back(*nodes_[size_t(id)].shape);
  }
  std::optional<Shape> shape;
  if (shapes.size() == inputs.size()) {
    try {
      shape = layer->output_shape_many(shapes);
    } catch (const ShapeError& e) {
      std::vector<std::string> from;
      for (size_t k = 0; k < inputs.size(); ++k) {
        const Node& p = nodes_[size_t(inputs[k])];
        from.push_back(p.layer ? fmt::format("'{}' ({}) with output shape {}", p.name, p.layer->type(), shapes[k].str())
                       : is_chain() && layers_.empty() ? fmt::format("the input with output shape {}", shapes[k].str())
                                                       : fmt::format("input '{}' with shape {}", p.name, shapes[k].str()));
      }
      raise<ShapeError>("cannot connect {} to '{}' ({}): {}", fmt::join(from, " and "), name, layer->type(), e.what());
    }
  } else {
    layer->check_arity(inputs.size());  // the shapes come with the first batch
  }
  return push({std::move(name), std::move(layer), inputs, shape});
}

void Model::set_inputs(std::vector<NodeId> inputs) {
  std::vector<NodeId> sorted = inputs, have = inputs_;
  std::sort(sorted.begin(), sorted.end());
  std::sort(have.begin(), have.end());
  if (sorted != have)
    raise<ConfigError>("Model: inputs must list every Input node once, got {} for {} Input nodes", inputs.size(),
                       inputs_.size());
  inputs_ = std::move(inputs);
}

void Model::set_outputs(std::vector<NodeId> outputs) {
  if (outputs.empty()) raise<ConfigError>("Model: outputs must name at least one node, got none");
  for (NodeId id : outputs)
    if (id < 0 || size_t(id) >= nodes_.size())
      raise<ConfigError>("Model: output node must be one of 0..{}, got {}", int64_t(nodes_.size()) - 1, id);
  outputs_ = std::move(outputs);
}

std::vector<NodeId> Model::outputs() const {
  if (!outputs_.empty()) return outputs_;
  if (nodes_.empty()) return {};
  return {NodeId(nodes_.size() - 1)};
}

NodeId Model::single_output(std::string_view what) const {
  std::vector<NodeId> outs = outputs();
  if (outs.size() != 1)
    raise<ConfigError>("model: {} needs a model with one output, got {} outputs", what, outs.size());
  return outs[0];
}

Model& Model::add(std::unique_ptr<Layer> layer) {
  if (nodes_.empty()) shapeless_input();
  NodeId from = single_output("add(layer)");
  NodeId id = add(std::move(layer), {from});
  if (!outputs_.empty()) outputs_ = {id};
  return *this;
}

Model& Model::append(const Model& b) {
  if (b.inputs_.size() != 1)
    raise<ConfigError>("model: only a model with one input can be appended, got {} inputs", b.inputs_.size());
  if (b.input_shape() && input_shape() && output_shape() != *b.input_shape())
    raise<ShapeError>("cannot connect a model with output shape {} to a model with input shape {}",
                      output_shape().str(), b.input_shape()->str());
  if (nodes_.empty()) {
    if (const auto& shape = b.nodes_[size_t(b.inputs_[0])].shape) input(shape->without_batch());
    else shapeless_input();
  }
  std::vector<NodeId> map(b.nodes_.size(), -1);
  map[size_t(b.inputs_[0])] = single_output("append");
  for (size_t i : b.layers_) {
    std::vector<NodeId> ins;
    for (NodeId id : b.nodes_[i].inputs) ins.push_back(map[size_t(id)]);
    map[i] = add(b.nodes_[i].layer->clone(), ins);
  }
  std::vector<NodeId> outs;
  for (NodeId id : b.outputs()) outs.push_back(map[size_t(id)]);
  if (!outputs_.empty() || outs.size() != 1 || outs[0] != NodeId(nodes_.size() - 1)) outputs_ = outs;
  return *this;
}

Layer& Model::layer(std::string_view name) {
  for (size_t i : layers_)
    if (nodes_[i].name == name) return *nodes_[i].layer;
  std::vector<std::string> names;
  for (size_t i : layers_) names.push_back(nodes_[i].name);
  raise<ConfigError>("model: layer name must be one of {}, got '{}'", fmt::join(names, ", "), name);
}

NodeId Model::node(std::string_view name) const {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].name == name) return NodeId(i);
  std::vector<std::string> names;
  for (const Node& n : nodes_) names.push_back(n.name);
  raise<ConfigError>("model: node name must be one of {}, got '{}'", fmt::join(names, ", "), name);
}

bool Model::is_chain() const {
  if (inputs_.size() > 1 || outputs() != std::vector<NodeId>{NodeId(nodes_.size()) - 1}) return nodes_.empty();
  for (size_t i = 1; i < nodes_.size(); ++i)
    if (!nodes_[i].layer || nodes_[i].inputs != std::vector<NodeId>{NodeId(i - 1)}) return false;
  return true;
}

std::optional<Shape> Model::input_shape() const {
  if (inputs_.size() > 1)
    raise<ConfigError>("model: input_shape() needs a model with one input, got {} inputs", inputs_.size());
  if (inputs_.empty()) return std::nullopt;
  return nodes_[size_t(inputs_[0])].shape;
}

std::vector<std::optional<Shape>> Model::input_shapes() const {
  std::vector<std::optional<Shape>> out;
  for (NodeId id : inputs_) out.push_back(nodes_[size_t(id)].shape);
  return out;
}

std::vector<Shape> Model::checked_inputs(const std::vector<Shape>& in) const {
  if (in.size() != std::max<size_t>(inputs_.size(), 1))
    raise<ShapeError>("model: takes {} input{}, got {}", inputs_.size(), inputs_.size() == 1 ? "" : "s", in.size());
  for (size_t k = 0; k < inputs_.size(); ++k) {
    const std::optional<Shape>& want = nodes_[size_t(inputs_[k])].shape;
    if (!want) continue;
    bool ok = want->rank() == in[k].rank();
    for (size_t i = 1; ok && i < in[k].rank(); ++i) ok = (*want)[i] == in[k][i];
    if (!ok)
      raise<ShapeError>("model: input shape{} must be {} (from Input), got {}",
                        inputs_.size() > 1 ? " of '" + nodes_[size_t(inputs_[k])].name + "'" : "", want->str(),
                        in[k].str());
  }
  return in;
}

std::vector<Shape> Model::node_shapes(const std::vector<Shape>& in) const {
  checked_inputs(in);
  std::vector<Shape> shapes(nodes_.size());
  for (size_t k = 0; k < inputs_.size(); ++k) shapes[size_t(inputs_[k])] = in[k];
  for (size_t i : layers_) {
    std::vector<Shape> ins;
    for (NodeId id : nodes_[i].inputs) ins.push_back(shapes[size_t(id)]);
    shapes[i] = nodes_[i].layer->output_shape_many(ins);
  }
  return shapes;
}

std::vector<Shape> Model::output_shapes(const std::vector<Shape>& in) const {
  if (nodes_.empty()) return in;
  std::vector<Shape> shapes = node_shapes(in), out;
  for (NodeId id : outputs()) out.push_back(shapes[size_t(id)]);
  return out;
}

Shape Model::output_shape(const Shape& in) const {
  if (nodes_.empty()) return in;
  single_output("output_shape(in)");
  return output_shapes({in})[0];
}

Shape Model::output_shape() const {
  std::optional<Shape> in = input_shape();
  if (!in) raise<ConfigError>("model: an Input(shape) is needed to infer shapes, got a model without one");
  return output_shape(*in);
}

int64_t Model::forward_peak_bytes(const std::vector<Shape>& in, DType dtype) const {
  std::vector<Shape> shapes = node_shapes(in);
  std::vector<int64_t> uses(nodes_.size(), 0);
  for (const Node& n : nodes_)
    for (NodeId id : n.inputs) ++uses[size_t(id)];
  for (NodeId id : outputs()) ++uses[size_t(id)];  // never freed
  const int64_t e = int64_t(dtype_size(dtype));
  int64_t live = 0, peak = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    live += shapes[i].numel() * e;
    peak = std::max(peak, live);
    for (NodeId id : nodes_[i].inputs)
      if (--uses[size_t(id)] == 0) live -= shapes[size_t(id)].numel() * e;
  }
  return peak;
}

void Model::build(const Shape& in, Rng& rng, DType dtype) { build_many({in}, rng, dtype); }

void Model::build(const Shape& in, uint64_t seed, DType dtype) {
  Rng rng(seed);
  build(in, rng, dtype);
}

void Model::build_many(const std::vector<Shape>& in, Rng& rng, DType dtype) {
  checked_inputs(in);
  std::vector<Shape> shapes(nodes_.size());
  for (size_t k = 0; k < inputs_.size(); ++k) shapes[size_t(inputs_[k])] = in[k];
  for (size_t i : layers_) {
    std::vector<Shape> ins;
    for (NodeId id : nodes_[i].inputs) ins.push_back(shapes[size_t(id)]);
    nodes_[i].layer->build_many(ins, rng, dtype);
    shapes[i] = nodes_[i].layer->output_shape_many(ins);
  }
}

void Model::build_from_inputs(uint64_t seed, DType dtype) {
  Rng rng(seed);
  build_many(known_input_shapes(std::nullopt, "build"), rng, dtype);
}

bool Model::built() const {
  return std::all_of(layers_.begin(), layers_.end(), [&](size_t i) { return nodes_[i].layer->built(); });
}

std::vector<Tensor> Model::forward_many(const std::vector<Tensor>& xs, Mode mode) {
  if (xs.size() != std::max<size_t>(inputs_.size(), 1))
    raise<ShapeError>("model: takes {} input{}, got {}", inputs_.size(), inputs_.size() == 1 ? "" : "s", xs.size());
  for (const Tensor& x : xs)
    if (!x.defined()) raise<ShapeError>("model: an input must be a tensor, got an empty tensor");
  if (nodes_.empty()) return xs;
  // A built model keeps its weights: an input of another dtype is an error, never a silent rebuild.
  if (built() && !layers_.empty() && nodes_[layers_[0]].layer->dtype() != xs[0].dtype())
    raise<ShapeError>("model: built for {} inputs, got {}; build it for {} or convert the input",
                      dtype_name(nodes_[layers_[0]].layer->dtype()), dtype_name(xs[0].dtype()),
                      dtype_name(xs[0].dtype()));
  if (!built()) {
    std::vector<Shape> shapes;
    for (const Tensor& x : xs) shapes.push_back(x.shape().with_dim(0, Shape::kUnknown));
    Rng rng(0);
    build_many(shapes, rng, xs[0].dtype());
  }
  std::vector<int64_t> uses(nodes_.size(), 0);
  for (const Node& n : nodes_)
    for (NodeId id : n.inputs) ++uses[size_t(id)];
  const std::vector<NodeId> outs = outputs();
  for (NodeId id : outs) ++uses[size_t(id)];
  std::vector<Tensor> values(nodes_.size());
  for (size_t k = 0; k < inputs_.size(); ++k) values[size_t(inputs_[k])] = xs[k];
  for (size_t li = 0; li < layers_.size(); ++li) {
    const size_t i = layers_[li];
    Node& n = nodes_[i];
    std::vector<Tensor> ins;
    ins.reserve(n.inputs.size());
    for (NodeId id : n.inputs) ins.push_back(values[size_t(id)]);
    const auto start = std::chrono::steady_clock::now();
    values[i] = n.layer->forward_many(ins, mode);
    if (profiler_) profiler_->add(li, *n.layer, ins[0].shape(), false, seconds_since(start));
    for (NodeId id : n.inputs)
      if (--uses[size_t(id)] == 0) values[size_t(id)] = Tensor();
  }
  std::vector<Tensor> out;
  for (NodeId id : outs) out.push_back(values[size_t(id)]);
  return out;
}

std::vector<Tensor> Model::backward_many(const std::vector<Tensor>& dys, bool input_grads) {
  const std::vector<NodeId> outs = outputs();
  if (dys.size() != outs.size())
    raise<ShapeError>("model: backward takes one gradient per output ({}), got {}", outs.size(), dys.size());
  if (nodes_.empty()) return dys;
  std::vector<Tensor> grads(nodes_.size());
  auto accumulate = [&](NodeId id, Tensor g) {
    if (!g.defined()) return;  // a skipped input gradient
    Tensor& acc = grads[size_t(id)];
    acc = acc.defined() ? sum_of(acc, g) : std::move(g);
  };
  for (size_t k = 0; k < outs.size(); ++k) accumulate(outs[k], dys[k]);
  for (size_t li = layers_.size(); li-- > 0;) {
    const size_t i = layers_[li];
    if (!grads[i].defined()) continue;  // feeds no output
    Node& n = nodes_[i];
    const bool skip_dx = !input_grads && std::all_of(n.inputs.begin(), n.inputs.end(), [&](NodeId in) {
      return !nodes_[size_t(in)].layer;
    });
    const auto start = std::chrono::steady_clock::now();
    n.layer->set_need_input_grad(!skip_dx);
    std::vector<Tensor> gs;
    try {
      gs = n.layer->backward_many(grads[i]);
    } catch (...) {
      n.layer->set_need_input_grad(true);
      throw;
    }
    n.layer->set_need_input_grad(true);
    if (profiler_) {  // the input shape: dx's, or the built one with dy's batch size when dx was skipped
      Shape in = gs[0].defined() ? gs[0].shape() : n.layer->input_shape();
      if (!gs[0].defined()) in[0] = grads[i].shape()[0];
      profiler_->add(li, *n.layer, in, true, seconds_since(start));
    }
    if (backward_hook_) backward_hook_(li);
    grads[i] = Tensor();
    for (size_t k = 0; k < n.inputs.size(); ++k) accumulate(n.inputs[k], std::move(gs[k]));
  }
  std::vector<Tensor> out;
  for (NodeId id : inputs_) out.push_back(grads[size_t(id)]);
  return out;
}

Tensor Model::forward(const Tensor& x, Mode mode) {
  if (inputs_.size() > 1) raise<ConfigError>("model: forward(x) needs a model with one input, got {}", inputs_.size());
  if (!nodes_.empty()) single_output("forward(x)");
  return forward_many({x}, mode)[0];
}

Tensor Model::backward(const Tensor& dy, bool input_grads) {
  if (inputs_.size() > 1) raise<ConfigError>("model: backward(dy) needs a model with one input, got {}", inputs_.size());
  return backward_many({dy}, input_grads)[0];
}

void Model::set_collective(const std::shared_ptr<Collective>& group) {
  for (size_t i : layers_) nodes_[i].layer->set_collective(group);
}

void Model::zero_grad() {
  for (size_t i : layers_) nodes_[i].layer->zero_grad();
}

double Model::regularization_loss() const {
  double total = 0.0;
  for (size_t i : layers_) {
    const Layer& l = *nodes_[i].layer;
    total += l.activity_loss();
    for (const Param* p : l.params())
      if (p->regularizer) total += p->regularizer->loss(p->value);
  }
  return total;
}

void Model::add_regularization_grads() {
  for (size_t i : layers_)
    for (Param* p : nodes_[i].layer->params())
      if (p->regularizer) p->regularizer->add_grad(p->value, p->grad);
}

void Model::apply_constraints() {
  for (size_t i : layers_)
    for (Param* p : nodes_[i].layer->params())
      if (p->constraint && p->trainable) p->constraint->apply(p->value);  // a frozen value stays as it is
}

std::vector<std::pair<std::string, Param*>> Model::named_params(bool include_buffers) {
  std::vector<std::pair<std::string, Param*>> out;
  for (size_t i : layers_) {
    Layer& l = *nodes_[i].layer;
    for (Param* p : l.params()) out.emplace_back(l.name() + "." + p->name, p);
    if (include_buffers)
      for (Param* p : l.buffers()) out.emplace_back(l.name() + "." + p->name, p);
  }
  return out;
}

std::vector<Shape> Model::known_input_shapes(std::optional<Shape> in, std::string_view what) const {
  if (in) {
    if (inputs_.size() > 1)
      raise<ConfigError>("{}: a model with {} inputs takes its shapes from its Input nodes, got one shape", what,
                         inputs_.size());
    return {*in};
  }
  std::vector<Shape> shapes;
  for (NodeId id : inputs_) {
    if (!nodes_[size_t(id)].shape)
      raise<ConfigError>("{}: an input shape is needed, got a model without Input(shape)", what);
    shapes.push_back(*nodes_[size_t(id)].shape);
  }
  if (shapes.empty()) raise<ConfigError>("{}: an input shape is needed, got a model without Input(shape)", what);
  return shapes;
}

Model Model::built_copy(std::optional<Shape> in) const {
  Model m(*this);
  Rng rng(0);
  m.build_many(known_input_shapes(in, "model"), rng);
  return m;
}

// Sums `count` over the layers; before build(), over a copy built for the Input shapes when they are known.
int64_t Model::sum_over_layers(int64_t (Layer::*count)() const) const {
  const bool shapes_known = !inputs_.empty() && std::all_of(inputs_.begin(), inputs_.end(), [&](NodeId id) {
    return nodes_[size_t(id)].shape.has_value();
  });
  if (!built() && shapes_known) return built_copy().sum_over_layers(count);
  int64_t n = 0;
  for (size_t i : layers_) n += (nodes_[i].layer.get()->*count)();
  return n;
}

int64_t Model::param_count() const { return sum_over_layers(&Layer::param_count); }
int64_t Model::buffer_count() const { return sum_over_layers(&Layer::buffer_count); }

Model operator>>(Model a, const Model& b) {
  a.append(b);
  return a;
}

}  // namespace locnet
