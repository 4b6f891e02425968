#include "locnet/model/sequential.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <utility>

#include "locnet/layers/registry.hpp"
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

std::string group_digits(int64_t v) {
  std::string s = std::to_string(v), out;
  int n = 0;
  for (size_t i = s.size(); i-- > 0;) {
    out.insert(out.begin(), s[i]);
    if (++n % 3 == 0 && i > 0 && s[i - 1] != '-') out.insert(out.begin(), ',');
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Sequential::Sequential(const Sequential& o) : input_(o.input_) {
  for (const auto& l : o.layers_) layers_.push_back(l->clone());
}

Sequential& Sequential::operator=(const Sequential& o) {
  if (this != &o) {
    Sequential copy(o);
    *this = std::move(copy);
  }
  return *this;
}

std::string Sequential::resolve_name(const Layer& l) const {
  const std::string& pattern = l.name_pattern();
  if (pattern.empty()) {
    int64_t n = 1;
    for (const auto& o : layers_) n += o->name_pattern().empty() && o->type() == l.type();
    return snake_case(l.type()) + "_" + std::to_string(n);
  }
  if (pattern.find('{') == std::string::npos) return pattern;
  int64_t n = 1;
  for (const auto& o : layers_) n += o->name_pattern() == pattern;
  try {
    return fmt::format(fmt::runtime(pattern), n);
  } catch (const fmt::format_error& e) {
    raise<ConfigError>("{}: name must be a string or a format string with one integer field such as \"fc{{}}\", got "
                       "\"{}\" ({})",
                       l.type(), pattern, e.what());
  }
}

Sequential& Sequential::add(std::unique_ptr<Layer> layer) {
  if (!layer) raise<ConfigError>("Sequential.add: layer must not be null");
  std::string name = resolve_name(*layer);
  for (const auto& o : layers_)
    if (o->name() == name)
      raise<ConfigError>("Sequential: layer names must be unique, got '{}' twice ({} and {})", name, o->type(),
                         layer->type());
  layer->set_name(name);
  if (input_) {
    Shape prev = output_shape(*input_);
    try {
      (void)layer->output_shape(prev);
    } catch (const ShapeError& e) {
      std::string from = layers_.empty() ? std::string("the input") : fmt::format("'{}' ({})", layers_.back()->name(),
                                                                                   layers_.back()->type());
      raise<ShapeError>("cannot connect {} with output shape {} to '{}' ({}): {}", from, prev.str(), name,
                        layer->type(), e.what());
    }
  }
  layers_.push_back(std::move(layer));
  return *this;
}

Layer& Sequential::layer(std::string_view name) {
  for (auto& l : layers_)
    if (l->name() == name) return *l;
  std::vector<std::string> names;
  for (auto& l : layers_) names.push_back(l->name());
  raise<ConfigError>("model: layer name must be one of {}, got '{}'", fmt::join(names, ", "), name);
}

Shape Sequential::output_shape(const Shape& in) const {
  Shape s = in;
  for (const auto& l : layers_) s = l->output_shape(s);
  return s;
}

Shape Sequential::output_shape() const {
  if (!input_) raise<ConfigError>("model: an Input(shape) is needed to infer shapes, got a model without one");
  return output_shape(*input_);
}

void Sequential::build(const Shape& in, Rng& rng, DType dtype) {
  if (input_) {
    Shape want = *input_;
    bool ok = want.rank() == in.rank();
    for (size_t i = 1; ok && i < in.rank(); ++i) ok = want[i] == in[i];
    if (!ok) raise<ShapeError>("model: input shape must be {} (from Input), got {}", want.str(), in.str());
  }
  Shape s = in;
  for (auto& l : layers_) {
    l->build(s, rng, dtype);
    s = l->output_shape(s);
  }
}

void Sequential::build(const Shape& in, uint64_t seed, DType dtype) {
  Rng rng(seed);
  build(in, rng, dtype);
}

bool Sequential::built() const {
  return std::all_of(layers_.begin(), layers_.end(), [](const auto& l) { return l->built(); });
}

Tensor Sequential::forward(const Tensor& x, Mode mode) {
  if (!built() || (!layers_.empty() && layers_.front()->dtype() != x.dtype()))
    build(x.shape().with_dim(0, Shape::kUnknown), uint64_t(0), x.dtype());
  Tensor y = x;
  if (!profiler_) {
    for (auto& l : layers_) y = l->forward(y, mode);
    return y;
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Shape in = y.shape();
    const auto start = std::chrono::steady_clock::now();
    y = layers_[i]->forward(y, mode);
    profiler_->add(i, *layers_[i], in, false, seconds_since(start));
  }
  return y;
}

Tensor Sequential::backward(const Tensor& dy) {
  Tensor g = dy;
  for (size_t i = layers_.size(); i-- > 0;) {
    if (!profiler_) {
      g = layers_[i]->backward(g);
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    g = layers_[i]->backward(g);
    profiler_->add(i, *layers_[i], g.shape(), true, seconds_since(start));  // dx has the layer's input shape
  }
  return g;
}

void Sequential::zero_grad() {
  for (auto& l : layers_) l->zero_grad();
}

double Sequential::regularization_loss() const {
  double total = 0.0;
  for (const auto& l : layers_) {
    total += l->activity_loss();
    for (const Param* p : std::as_const(*l).params())
      if (p->regularizer) total += p->regularizer->loss(p->value);
  }
  return total;
}

void Sequential::add_regularization_grads() {
  for (auto& l : layers_)
    for (Param* p : l->params())
      if (p->regularizer) p->regularizer->add_grad(p->value, p->grad);
}

void Sequential::apply_constraints() {
  for (auto& l : layers_)
    for (Param* p : l->params())
      if (p->constraint && p->trainable) p->constraint->apply(p->value);  // a frozen value stays as it is
}

std::vector<std::pair<std::string, Param*>> Sequential::named_params(bool include_buffers) {
  std::vector<std::pair<std::string, Param*>> out;
  for (auto& l : layers_) {
    for (Param* p : l->params()) out.emplace_back(l->name() + "." + p->name, p);
    if (include_buffers)
      for (Param* p : l->buffers()) out.emplace_back(l->name() + "." + p->name, p);
  }
  return out;
}

int64_t Sequential::param_count() const {
  if (!built() && input_) return built_copy().param_count();
  int64_t n = 0;
  for (const auto& l : layers_) n += l->param_count();
  return n;
}

int64_t Sequential::buffer_count() const {
  if (!built() && input_) return built_copy().buffer_count();
  int64_t n = 0;
  for (const auto& l : layers_) n += l->buffer_count();
  return n;
}

Sequential Sequential::built_copy(std::optional<Shape> in) const {
  Sequential m(*this);
  m.build(in ? *in : *input_, uint64_t(0));
  return m;
}

std::string Sequential::summary(std::optional<Shape> in) const {
  if (!in) in = input_;
  if (!in) raise<ConfigError>("summary: an input shape is needed, got a model without Input(shape)");
  Sequential m = built_copy(in);
  struct Row {
    std::string name, shape, params;
  };
  std::vector<Row> rows;
  Shape s = *in;
  for (const auto& l : m.layers_) {
    s = l->output_shape(s);
    rows.push_back({l->name() + " (" + l->type() + ")", s.str(), group_digits(l->param_count() + l->buffer_count())});
  }
  size_t w0 = std::string_view("Layer (type)").size(), w1 = std::string_view("Output Shape").size(),
         w2 = std::string_view("Param #").size();
  for (const auto& r : rows) {
    w0 = std::max(w0, r.name.size());
    w1 = std::max(w1, r.shape.size());
    w2 = std::max(w2, r.params.size());
  }
  w0 += 2;
  w1 += 2;
  size_t width = w0 + w1 + w2;
  std::string out = fmt::format("Model: \"sequential\"\nInput shape: {}\n{}\n", in->str(), std::string(width, '-'));
  out += fmt::format("{:<{}}{:<{}}{:>{}}\n{}\n", "Layer (type)", w0, "Output Shape", w1, "Param #", w2,
                     std::string(width, '='));
  for (const auto& r : rows) out += fmt::format("{:<{}}{:<{}}{:>{}}\n", r.name, w0, r.shape, w1, r.params, w2);
  int64_t trainable = m.param_count(), fixed = m.buffer_count();
  out += fmt::format("{}\nTotal params: {}\nTrainable params: {}\nNon-trainable params: {}\n", std::string(width, '='),
                     group_digits(trainable + fixed), group_digits(trainable), group_digits(fixed));
  return out;
}

std::string Sequential::spec() const {
  std::vector<std::string> parts;
  if (input_) {
    std::vector<int64_t> d = input_->without_batch().dims();
    parts.push_back("Input(" + detail::to_value(d).repr() + ")");
  }
  for (const auto& l : layers_) parts.push_back(l->config().repr());
  return fmt::format("{}", fmt::join(parts, " >> "));
}

Sequential operator>>(Sequential a, const Sequential& b) {
  if (b.input_shape() && a.input_shape() && a.output_shape() != *b.input_shape())
    raise<ShapeError>("cannot connect a model with output shape {} to a model with input shape {}",
                      a.output_shape().str(), b.input_shape()->str());
  for (size_t i = 0; i < b.size(); ++i) a.add(b.layer(i).clone());
  return a;
}

}  // namespace locnet
