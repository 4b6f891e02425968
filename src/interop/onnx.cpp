#include "locnet/interop/onnx.hpp"

#include <cmath>
#include <map>
#include <set>

#include "interop/layout.hpp"
#include "interop/onnx_importer.hpp"
#include "locnet/layers/activations.hpp"
#include "locnet/layers/batch_norm.hpp"
#include "locnet/layers/conv.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/layers/dropout.hpp"
#include "locnet/layers/lrn.hpp"
#include "locnet/layers/merge.hpp"
#include "locnet/layers/pooling.hpp"
#include "locnet/layers/reshape.hpp"
#include "locnet/model/weights.hpp"

namespace locnet {
namespace onnx_import {
namespace {

int64_t opset_of(const onnx::ModelProto& m) {
  for (const auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
  return 1;
}

}  // namespace

Importer::Importer(const onnx::ModelProto& m, const TensorFile& constants)
    : opset_(opset_of(m)), consts_(initializers(m)) {
  for (const auto& [name, t] : constants.tensors) consts_.tensors.emplace_back(name, t);
}

Model Importer::run(const onnx::GraphProto& g) {
  if (opset_ > kMaxOpset)
    raise<NotSupported>("opset {} of the default domain: opsets {} to {} are supported", opset_, kMinOpset, kMaxOpset);
  for (const auto& in : g.input()) {
    if (consts_.find(in.name())) continue;  // an initializer listed as an input (IR < 4) is a constant
    add_input(in);
  }
  find_within_lrn(g);
  for (const auto& n : g.node()) add_node(n);
  std::vector<NodeId> outs;
  for (const auto& o : g.output()) outs.push_back(value(o.name(), "graph output"));
  model_.set_outputs(outs);
  model_.build_from_inputs(0, dtype_);
  load_weights(model_, weights_);
  return std::move(model_);
}

void Importer::add_input(const onnx::ValueInfoProto& in) {
  if (!in.type().has_tensor_type())
    raise<NotSupported>("graph input '{}': only tensors are supported, got another type (sequence, map, optional)",
                        in.name());
  const auto& type = in.type().tensor_type();
  DType dt = type.elem_type() == onnx::TensorProto::DOUBLE ? DType::f64 : DType::f32;
  if (type.elem_type() != onnx::TensorProto::FLOAT && type.elem_type() != onnx::TensorProto::DOUBLE)
    raise<NotSupported>("graph input '{}': element type {} ({}) is not supported (float and double are)", in.name(),
                        type_name(type.elem_type()), type.elem_type());
  if (inputs_ > 0 && dt != dtype_)
    raise<NotSupported>("graph input '{}': every input must have one dtype, got float and double", in.name());
  dtype_ = dt;
  ++inputs_;
  const auto& dims = type.shape().dim();
  if (!type.has_shape() || dims.size() < 1 || dims.size() > kMaxRank)
    raise<NotSupported>("graph input '{}': a shape of rank 1 to {} is needed, got {}", in.name(), kMaxRank,
                        type.has_shape() ? fmt::format("rank {}", dims.size()) : "none");
  std::vector<int64_t> per_sample;
  for (int i = 1; i < dims.size(); ++i) {
    if (!dims[i].has_dim_value() || dims[i].dim_value() <= 0)
      raise<NotSupported>("graph input '{}': dimension {} must be a known size > 0, got '{}'", in.name(), i,
                          dims[i].has_dim_value() ? std::to_string(dims[i].dim_value()) : dims[i].dim_param());
    per_sample.push_back(dims[i].dim_value());
  }
  values_[in.name()] = model_.input(Shape(per_sample), in.name());
  if (inputs_ == 1 && dims[0].has_dim_value()) batch_ = dims[0].dim_value();
  per_sample.insert(per_sample.begin(), Shape::kUnknown);
  check_size(Shape(per_sample), fmt::format("graph input '{}'", in.name()));
  shapes_.emplace_back(std::move(per_sample));
}

NodeId Importer::value(const std::string& name, std::string_view user) {
  auto it = values_.find(name);
  if (auto m = matmuls_.find(name); it == values_.end() && m != matmuls_.end()) {  // a Dense without bias
    const int64_t units = m->second.kernel.dim(1);
    it = values_.emplace(name, append(std::make_unique<Dense>(DenseConfig{.units = units, .use_bias = false}),
                                      {m->second.x}, {{"kernel", m->second.kernel}}))
             .first;
  }
  if (it == values_.end()) {
    if (reversed_.count(name))
      raise<NotSupported>("{}: the value '{}' has its channels reversed by Gather, which is read only around LRN and "
                          "undone by a second Gather (PyTorch's even-size LRN)",
                          user, name);
    if (consts_.find(name))
      raise<NotSupported>("{}: the constant '{}' as a data input is not supported yet", user, name);
    raise<FormatError>("{}: the value '{}' is produced by no earlier node or input", user, name);
  }
  return it->second;
}
std::string Importer::where(const onnx::NodeProto& n) const {
  if (n.name().empty() && n.output_size() > 0)
    return fmt::format("the node of output '{}' ({}, opset {})", n.output(0), n.op_type(), opset_);
  return fmt::format("node '{}' ({}, opset {})", n.name(), n.op_type(), opset_);
}
void Importer::unsupported(const onnx::NodeProto& n, std::string_view why) const {
  raise<NotSupported>("{}: {}", where(n), why);
}
const onnx::AttributeProto* Importer::attr(const onnx::NodeProto& n, std::string_view name) const {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
int64_t Importer::attr_int(const onnx::NodeProto& n, std::string_view name, int64_t def) const {
  const auto* a = attr(n, name);
  return a ? a->i() : def;
}
double Importer::attr_float(const onnx::NodeProto& n, std::string_view name, double def) const {
  const auto* a = attr(n, name);
  return a ? double(a->f()) : def;
}
std::vector<int64_t> Importer::attr_ints(const onnx::NodeProto& n, std::string_view name,
                                         std::vector<int64_t> def) const {
  const auto* a = attr(n, name);
  if (!a) return def;
  if (a->ints_size() > kMaxRank * 2) unsupported(n, fmt::format("attribute {} has {} values", name, a->ints_size()));
  return {a->ints().begin(), a->ints().end()};
}
std::string Importer::attr_str(const onnx::NodeProto& n, std::string_view name, std::string def) const {
  const auto* a = attr(n, name);
  return a ? a->s() : def;
}
const Tensor& Importer::constant(const onnx::NodeProto& n, int i) const {
  if (i >= n.input_size() || n.input(i).empty()) unsupported(n, fmt::format("input {} is missing", i));
  const Tensor* t = consts_.find(n.input(i));
  if (!t) unsupported(n, fmt::format("input {} ('{}') must be an initializer (a constant)", i, n.input(i)));
  return *t;
}
namespace {

// The elementwise operators of equal-shaped inputs, as the merge layer that computes them; null for others.
std::unique_ptr<Layer> (*elementwise(const std::string& op))() {
  static const std::map<std::string, std::unique_ptr<Layer> (*)()> merges = {
      {"Add", [] { return std::unique_ptr<Layer>(std::make_unique<Add>(std::string())); }},
      {"Sum", [] { return std::unique_ptr<Layer>(std::make_unique<Add>(std::string())); }},
      {"Sub", [] { return std::unique_ptr<Layer>(std::make_unique<Subtract>(std::string())); }},
      {"Mul", [] { return std::unique_ptr<Layer>(std::make_unique<Multiply>(std::string())); }},
      {"Mean", [] { return std::unique_ptr<Layer>(std::make_unique<Average>(std::string())); }},
      {"Max", [] { return std::unique_ptr<Layer>(std::make_unique<Maximum>(std::string())); }},
      {"Min", [] { return std::unique_ptr<Layer>(std::make_unique<Minimum>(std::string())); }}};
  auto it = merges.find(op);
  return it == merges.end() ? nullptr : it->second;
}

}  // namespace

// Layer errors (a bad attribute value, a shape mismatch) say which node they came from.
void Importer::add_node(const onnx::NodeProto& n) {
  try {
    add_layer(n);
  } catch (const ConfigError& e) {
    raise<ConfigError>("{}: {}", where(n), e.what());
  } catch (const ShapeError& e) {
    raise<ShapeError>("{}: {}", where(n), e.what());
  }
}

void Importer::add_layer(const onnx::NodeProto& n) {
  if (n.output_size() < 1) raise<FormatError>("{}: no output", where(n));
  if (n.op_type() == "Constant") {  // its value becomes an initializer
    const auto* v = attr(n, "value");
    if (!v || !v->has_t()) unsupported(n, "a value other than a tensor ('value')");
    consts_.tensors.emplace_back(n.output(0), to_tensor(v->t()));
    return;
  }
  if (!n.domain().empty() && n.domain() != "ai.onnx") unsupported(n, fmt::format("domain '{}'", n.domain()));
  // Before opset 7 only the operators that compute the same since opset 1 are read (Elu-6 and Selu-6 dropped only
  // the legacy consumed_inputs attribute).
  static const std::set<std::string> same_since_1 = {"GlobalAveragePool", "GlobalMaxPool", "LRN", "Identity", "Elu",
                                                     "Selu", "Softplus"};
  if (opset_ < kMinOpset && !same_since_1.count(n.op_type()))
    unsupported(n, fmt::format("opset {} of the default domain: opsets {} to {} are supported (before {} only {})",
                               opset_, kMinOpset, kMaxOpset, kMinOpset, fmt::join(same_since_1, ", ")));
  if (n.op_type() == "ConstantOfShape") {
    add_computed(n, constant_of_shape(n));
    return;
  }
  if (within_parts_.count(n.output(0))) return;  // read as part of the LRN at its Div
  if (auto w = within_lrn_.find(n.output(0)); w != within_lrn_.end()) {
    const NodeId x = value(n.input(0), where(n));
    values_[n.output(0)] = append(std::make_unique<OneDnnLocalResponseNorm>(OneDnnLrnConfig{
                                      .local_size = w->second.taps,
                                      .alpha = w->second.alpha,
                                      .beta = w->second.beta,
                                      .k = w->second.k,
                                      .alg_kind = "lrn_within_channel"}),
                                  {x}, {});
    return;
  }
  if (fold_constant(n) || bias_add(n) || constant_arithmetic(n) || reversal(n) || slice(n)) return;
  NodeId x = value(n.input_size() > 0 ? n.input(0) : std::string(), where(n));
  const Shape in = shape_of(x);
  std::vector<NodeId> ins{x};
  Weights w;
  std::unique_ptr<Layer> layer;
  const std::string& op = n.op_type();
  if (op == "Relu") {
    layer = std::make_unique<ReLU>(ReLUConfig{});
  } else if (op == "LeakyRelu") {
    layer = std::make_unique<ReLU>(ReLUConfig{.negative_slope = attr_float(n, "alpha", 0.01)});
  } else if (op == "Clip") {
    layer = clip(n);
  } else if (op == "Elu") {
    layer = std::make_unique<ELU>(ELUConfig{.alpha = attr_float(n, "alpha", 1.0)});
  } else if (op == "ThresholdedRelu") {
    layer = std::make_unique<ThresholdedReLU>(ThresholdedReLUConfig{.theta = attr_float(n, "alpha", 1.0)});
  } else if (op == "PRelu") {
    layer = prelu(n, in, w);
  } else if (op == "Sigmoid" || op == "Tanh" || op == "Softplus" || op == "Exp") {
    static const std::map<std::string, std::string> names = {
        {"Sigmoid", "sigmoid"}, {"Tanh", "tanh"}, {"Softplus", "softplus"}, {"Exp", "exponential"}};
    layer = std::make_unique<Activation>(names.at(op));
  } else if (op == "Selu") {  // ONNX's defaults are SELU's constants in float32
    if (std::abs(attr_float(n, "alpha", 1.67326319217681884765625) - 1.6732632423543772) > 1e-6 ||
        std::abs(attr_float(n, "gamma", 1.05070102214813232421875) - 1.0507009873554805) > 1e-6)
      unsupported(n, "alpha and gamma other than SELU's constants (1.6732632, 1.0507010)");
    layer = std::make_unique<Activation>("selu");
  } else if (op == "Identity" || op == "Dropout") {  // Dropout is the identity in inference
    if (op == "Dropout" && (attr_int(n, "is_test", 1) == 0 ||
                            (has_input(n, 2) && constant(n, 2).numel() > 0 && constant(n, 2).item(0) != 0)))
      unsupported(n, "training mode");
    layer = std::make_unique<Identity>(std::string());
  } else if (op == "GlobalAveragePool" || op == "GlobalMaxPool") {
    layer = global_pool(n, in, op == "GlobalMaxPool");
  } else if (op == "LRN") {
    layer = std::make_unique<OnnxLocalResponseNorm>(OnnxLrnConfig{.size = attr_int(n, "size", 0),
                                                                  .alpha = attr_float(n, "alpha", 1e-4),
                                                                  .beta = attr_float(n, "beta", 0.75),
                                                                  .bias = attr_float(n, "bias", 1.0)});
  } else if (op == "Conv") {
    layer = conv(n, in, w);
  } else if (op == "MaxPool" || op == "AveragePool") {
    layer = pool(n, in, op == "MaxPool");
  } else if (op == "BatchNormalization") {
    layer = batch_norm(n, in, w);
  } else if (op == "Concat") {
    int64_t axis = attr_int(n, "axis", 1);
    if (axis == 0 || axis == -int64_t(in.rank())) unsupported(n, "concatenation along the batch axis");
    layer = std::make_unique<Concatenate>(axis);
    for (int i = 1; i < n.input_size(); ++i) ins.push_back(value(n.input(i), where(n)));
  } else if (auto merge = elementwise(op); merge) {
    for (int i = 1; i < n.input_size(); ++i) ins.push_back(value(n.input(i), where(n)));
    ins = broadcast(n, ins);
    const bool binary = op == "Add" || op == "Sub" || op == "Mul";
    if (binary ? ins.size() != 2 : ins.empty())
      raise<FormatError>("{}: {} inputs expected, got {}", where(n), binary ? "2" : "1 or more", ins.size());
    layer = ins.size() == 1 ? std::make_unique<Identity>(std::string()) : merge();
  } else if (op == "MatMul") {  // with a constant matrix B: a Dense on the last axis, made when used (bias_add)
    const Tensor& B = constant(n, 1);
    if (B.rank() != 2 || in.rank() < 2 || B.dim(0) != in.dim(-1))
      unsupported(n, fmt::format("A {} times B {} (B must be a constant matrix)", in.str(), B.shape().str()));
    matmuls_.insert_or_assign(n.output(0), MatMul{x, B.to(dtype_)});
    return;
  } else if (op == "Reshape") {
    layer = reshape(n, in);
  } else if (op == "Transpose") {  // a layout change that keeps the batch axis first
    std::vector<int64_t> perm = attr_ints(n, "perm", {});
    if (perm.empty())
      for (size_t i = in.rank(); i-- > 0;) perm.push_back(int64_t(i));
    if (perm.size() != in.rank() || perm[0] != 0)
      unsupported(n, fmt::format("perm {} moves the batch axis", fmt::join(perm, ",")));
    layer = std::make_unique<Permute>(std::vector<int64_t>(perm.begin() + 1, perm.end()));
  } else if (op == "Flatten") {
    layer = flatten(n, in);
  } else if (op == "Pad") {
    layer = pad(n, in);
  } else if (op == "Resize" || op == "Upsample") {
    layer = resize(n, in, ins);
  } else if (op == "Gemm") {
    layer = gemm(n, in, w);
  } else if (op == "Softmax") {
    const int64_t r = int64_t(in.rank());
    int64_t axis = attr_int(n, "axis", opset_ >= 13 ? -1 : 1);
    if (axis < 0) axis += r;
    // Before opset 13 Softmax flattened the axes from `axis` on: one axis only when it is the last.
    if (axis <= 0 || axis >= r || (opset_ < 13 && axis != r - 1))
      unsupported(n, fmt::format("axis={} of a rank-{} input", attr_int(n, "axis", 0), r));
    layer = std::make_unique<Softmax>(SoftmaxConfig{.axis = axis});
  } else {
    unsupported(n, "this operator is not supported");
  }
  for (int i = 1; i < n.output_size(); ++i)
    if (!n.output(i).empty()) unsupported(n, fmt::format("output {} ('{}')", i, n.output(i)));
  values_[n.output(0)] = append(std::move(layer), ins, std::move(w));
  check_size(shapes_.back(), where(n));  // before the model is built: Resample layers allocate per output position
}

void Importer::check_size(const Shape& s, std::string_view what) const {
  uint64_t values = 1;
  for (size_t a = 1; a < s.rank(); ++a) {
    const uint64_t d = uint64_t(std::max<int64_t>(s.dim(int64_t(a)), 0));
    if (d > 0 && values > max_tensor_bytes() / 8 / d)
      raise<FormatError>("{}: shape {} exceeds the tensor limit of {} bytes per sample", what, s.str(),
                         max_tensor_bytes());
    values *= d;
  }
}

NodeId Importer::append(std::unique_ptr<Layer> layer, const std::vector<NodeId>& ins, Weights w) {
  std::vector<Shape> in_shapes;
  for (NodeId i : ins) in_shapes.push_back(shape_of(i));
  shapes_.push_back(layer->output_shape_many(in_shapes));  // one node at a time: linear in the graph's size
  NodeId id = model_.add(std::move(layer), ins);
  for (auto& [name, t] : w) weights_.tensors.emplace_back(model_.node_name(id) + "." + name, std::move(t));
  return id;
}

std::vector<int64_t> Importer::constant_ints(const onnx::NodeProto& n, int i, size_t max) const {
  const Tensor& t = constant(n, i);
  if (t.rank() != 1 || size_t(t.numel()) > max)
    raise<FormatError>("{}: input {} must be a list of at most {} integers, got shape {}", where(n), i, max,
                       t.shape().str());
  std::vector<int64_t> v;
  for (int64_t k = 0; k < t.numel(); ++k) {
    const double x = t.item(k);  // int64 read as f64: exact up to 2^53, far beyond any real size
    if (!(std::abs(x) <= 9007199254740992.0) || x != std::floor(x))
      raise<FormatError>("{}: input {} entry {} is not an integer in range", where(n), i, x);
    v.push_back(int64_t(x));
  }
  return v;
}

// Reshape with a constant shape whose first entry keeps the batch: 0 (copy) or the file's batch size.
std::unique_ptr<Layer> Importer::reshape(const onnx::NodeProto& n, const Shape& in) {
  std::vector<int64_t> t = constant_ints(n, 1, kMaxRank);
  if (t.empty()) raise<FormatError>("{}: the shape must have at least 1 entry", where(n));
  if (!(t[0] == 0 || (batch_ > 0 && t[0] == batch_)))
    unsupported(n, fmt::format("shape ({}) changes the batch axis", fmt::join(t, ", ")));
  for (size_t i = 1; i < t.size(); ++i)
    if (t[i] == 0) {
      if (attr_int(n, "allowzero", 0) != 0) unsupported(n, "allowzero=1 with a 0 in the shape");
      if (i >= in.rank()) raise<FormatError>("{}: a 0 at axis {} of a rank-{} input", where(n), i, in.rank());
      t[i] = in.dim(int64_t(i));
    }
  return std::make_unique<Reshape>(std::vector<int64_t>(t.begin() + 1, t.end()));
}

// GlobalAveragePool/GlobalMaxPool keep the spatial axes as ones: (N, C, 1[, 1]).
std::unique_ptr<Layer> Importer::global_pool(const onnx::NodeProto& n, const Shape& in, bool max) {
  if (spatial_rank(n, in) == 1) {
    GlobalPoolingConfig<1, true> c{.data_format = "channels_first", .keepdims = true};
    if (max) return std::make_unique<GlobalMaxPooling1D>(c);
    return std::make_unique<GlobalAveragePooling1D>(GlobalPoolingConfig<1, false>{c.data_format, c.keepdims});
  }
  GlobalPoolingConfig<2, true> c{.data_format = "channels_first", .keepdims = true};
  if (max) return std::make_unique<GlobalMaxPooling2D>(c);
  return std::make_unique<GlobalAveragePooling2D>(GlobalPoolingConfig<2, false>{c.data_format, c.keepdims});
}

// The explicit pads per spatial axis ((before, after), ...) from pads or auto_pad, for input `in` (N, C, ...).
Value Importer::pads(const onnx::NodeProto& n, const Shape& in, const std::vector<int64_t>& k,
                     const std::vector<int64_t>& s, const std::vector<int64_t>& d) const {
  const size_t r = k.size();
  std::vector<int64_t> p = attr_ints(n, "pads", std::vector<int64_t>(2 * r, 0));
  if (p.size() != 2 * r) raise<FormatError>("{}: pads must have {} values, got {}", where(n), 2 * r, p.size());
  const std::string autopad = attr_str(n, "auto_pad", "NOTSET");
  if (autopad == "VALID")
    std::fill(p.begin(), p.end(), 0);
  else if (autopad == "SAME_UPPER" || autopad == "SAME_LOWER")
    for (size_t i = 0; i < r; ++i) {
      const int64_t len = in.dim(int64_t(i) + 2), e = (k[i] - 1) * d[i] + 1, out = (len + s[i] - 1) / s[i];
      const int64_t total = std::max<int64_t>((out - 1) * s[i] + e - len, 0);
      p[i] = autopad == "SAME_UPPER" ? total / 2 : total - total / 2;
      p[i + r] = total - p[i];
    }
  else if (autopad != "NOTSET")
    raise<FormatError>("{}: auto_pad must be NOTSET, VALID, SAME_UPPER or SAME_LOWER, got '{}'", where(n), autopad);
  if (r == 1) return Value::tuple({p[0], p[1]});
  return Value::tuple({Value::tuple({p[0], p[2]}), Value::tuple({p[1], p[3]})});
}

size_t Importer::spatial_rank(const onnx::NodeProto& n, const Shape& in) const {
  if (in.rank() != 3 && in.rank() != 4)
    unsupported(n, fmt::format("a rank-{} input (1D and 2D are supported)", in.rank()));
  return in.rank() - 2;
}

std::unique_ptr<Layer> Importer::conv(const onnx::NodeProto& n, const Shape& in, Weights& w) {
  const size_t r = spatial_rank(n, in);
  const Tensor& W = constant(n, 1);
  if (W.rank() != r + 2)
    raise<FormatError>("{}: the weight must have rank {}, got shape {}", where(n), r + 2, W.shape().str());
  std::vector<int64_t> k(W.shape().dims().begin() + 2, W.shape().dims().end());
  if (attr(n, "kernel_shape") && attr_ints(n, "kernel_shape", {}) != k)
    raise<FormatError>("{}: kernel_shape must match the weight {}, got {}", where(n), W.shape().str(),
                       fmt::join(attr_ints(n, "kernel_shape", {}), "x"));
  auto s = attr_ints(n, "strides", std::vector<int64_t>(r, 1)),
       d = attr_ints(n, "dilations", std::vector<int64_t>(r, 1));
  w.emplace_back("kernel", interop::transpose(W, interop::oihw_to_kernel_order(r)));  // OIHW -> (k.., C/g, F)
  const bool bias = has_input(n, 2);
  if (bias) w.emplace_back("bias", constant(n, 2));
  ConvConfig<2> c2{.filters = W.dim(0),
                   .kernel_size = k,
                   .strides = s,
                   .padding = pads(n, in, k, s, d),
                   .data_format = "channels_first",
                   .dilation_rate = d,
                   .groups = attr_int(n, "group", 1),
                   .use_bias = bias};
  if (r == 2) return std::make_unique<Conv2D>(c2);
  return std::make_unique<Conv1D>(ConvConfig<1>{.filters = c2.filters,
                                                .kernel_size = k,
                                                .strides = s,
                                                .padding = c2.padding,
                                                .data_format = "channels_first",
                                                .dilation_rate = d,
                                                .groups = c2.groups,
                                                .use_bias = bias});
}

std::unique_ptr<Layer> Importer::pool(const onnx::NodeProto& n, const Shape& in, bool max) {
  const size_t r = spatial_rank(n, in);
  auto k = attr_ints(n, "kernel_shape", {});
  if (k.size() != r) raise<FormatError>("{}: kernel_shape must have {} values, got {}", where(n), r, k.size());
  auto s = attr_ints(n, "strides", std::vector<int64_t>(r, 1)),
       d = attr_ints(n, "dilations", std::vector<int64_t>(r, 1));
  if (d != std::vector<int64_t>(r, 1)) unsupported(n, "dilations other than 1");
  if (attr_int(n, "storage_order", 0) != 0) unsupported(n, "storage_order=1");
  PoolingConfig<2> c{.pool_size = k,
                     .strides = s,
                     .padding = pads(n, in, k, s, d),
                     .data_format = "channels_first",
                     .ceil_mode = attr_int(n, "ceil_mode", 0) != 0,
                     .count_include_pad = !max && attr_int(n, "count_include_pad", 0) != 0};
  if (r == 1) {
    PoolingConfig<1> c1{.pool_size = k,
                        .strides = s,
                        .padding = c.padding,
                        .data_format = "channels_first",
                        .ceil_mode = c.ceil_mode,
                        .count_include_pad = c.count_include_pad};
    if (max) return std::make_unique<MaxPooling1D>(c1);
    return std::make_unique<AveragePooling1D>(c1);
  }
  if (max) return std::make_unique<MaxPooling2D>(c);
  return std::make_unique<AveragePooling2D>(c);
}

std::unique_ptr<Layer> Importer::batch_norm(const onnx::NodeProto& n, const Shape& in, Weights& w) {
  if (attr_int(n, "training_mode", 0) != 0) unsupported(n, "training_mode=1");
  if (in.rank() < 2 || in.rank() > 5) unsupported(n, fmt::format("a rank-{} input", in.rank()));
  const char* names[] = {"weight", "bias", "running_mean", "running_var"};
  for (int i = 0; i < 4; ++i) w.emplace_back(names[i], constant(n, i + 1));
  const double eps = attr_float(n, "epsilon", 1e-5);
  const int64_t c = in.dim(1);
  if (in.rank() <= 3)
    return std::make_unique<PyTorchBatchNorm1D>(PyTorchBatchNormConfig<1>{.num_features = c, .eps = eps});
  if (in.rank() == 4)
    return std::make_unique<PyTorchBatchNorm2D>(PyTorchBatchNormConfig<2>{.num_features = c, .eps = eps});
  return std::make_unique<PyTorchBatchNorm3D>(PyTorchBatchNormConfig<3>{.num_features = c, .eps = eps});
}

// Gemm: y = alpha A B' + beta C with B (and C) constants -> Dense with kernel alpha B' and bias beta C.
std::unique_ptr<Layer> Importer::gemm(const onnx::NodeProto& n, const Shape& in, Weights& w) {
  if (in.rank() != 2) raise<FormatError>("{}: A must have rank 2, got shape {}", where(n), in.str());
  if (attr_int(n, "transA", 0) != 0) unsupported(n, "transA=1 (the batch axis would move)");
  Tensor B = constant(n, 1);
  if (B.rank() != 2) raise<FormatError>("{}: B must have rank 2, got shape {}", where(n), B.shape().str());
  // A fresh tensor in the model's dtype, copied once (the constant may feed other nodes).
  B = attr_int(n, "transB", 0) != 0 ? interop::transpose(B, {1, 0}) : B.clone();
  if (B.dtype() != dtype_) B = B.to(dtype_);
  if (B.dim(0) != in.dim(1))
    raise<FormatError>("{}: B must have {} rows, got shape {}", where(n), in.dim(1), B.shape().str());
  const double alpha = attr_float(n, "alpha", 1.0), beta = attr_float(n, "beta", 1.0);
  if (alpha != 1.0)
    for (int64_t i = 0; i < B.numel(); ++i) B.set(i, alpha * B.item(i));
  const int64_t units = B.dim(1);
  w.emplace_back("kernel", B);
  const bool bias = has_input(n, 2);
  if (bias) {
    const Tensor& C = constant(n, 2);
    if (C.numel() != units && C.numel() != 1)
      unsupported(n,
                  fmt::format("C of shape {} (a bias of {} values or a scalar is supported)", C.shape().str(), units));
    Tensor b(Shape{units}, dtype_);
    for (int64_t i = 0; i < units; ++i) b.set(i, beta * C.item(C.numel() == 1 ? 0 : i));
    w.emplace_back("bias", b);
  }
  return std::make_unique<Dense>(DenseConfig{.units = units, .use_bias = bias});
}

}  // namespace onnx_import

using namespace onnx_import;

Model parse_onnx(std::span<const std::byte> bytes, const TensorFile& constants) {
  const onnx::ModelProto m = parse_model(bytes);
  return Importer(m, constants).run(m.graph());
}

Model read_onnx(const std::string& path, const TensorFile& constants) {
  try {
    return read_onnx_file(path, [&](std::span<const std::byte> b) {
      onnx::ModelProto m = parse_model(b);
      load_external_data(m, std::filesystem::path(path).parent_path());
      return Importer(m, constants).run(m.graph());
    });
  } catch (const NotSupported& e) {
    raise<NotSupported>("{}: {}", path, e.what());
  }
}

}  // namespace locnet
