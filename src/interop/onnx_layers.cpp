// ONNX operators that the exporter (include/locnet/interop/onnx_export.hpp) writes for single locnet layers, read
// back as those layers exactly (src/interop/onnx_importer.hpp): Clip as ReLU(max_value), Slice as Cropping,
// MatMul + Add as Dense with bias, and the Gather pair around LRN as PyTorch's even-size LocalResponseNorm.
#include <cmath>
#include <map>

#include "interop/onnx_importer.hpp"
#include "locnet/layers/activations.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/layers/lrn.hpp"
#include "locnet/layers/reshape.hpp"
#include "locnet/layers/spatial_ops.hpp"

namespace locnet::onnx_import {

// Clip(x, 0, m) = min(max(x, 0), m) is ReLU(max_value=m); Clip(x, 0) is ReLU. min and max are attributes before
// opset 11, optional inputs from 11.
std::unique_ptr<Layer> Importer::clip(const onnx::NodeProto& n) const {
  const auto bound = [&](const char* name, int i) -> std::optional<double> {
    if (opset_ < 11) return attr(n, name) ? std::optional(attr_float(n, name, 0)) : std::nullopt;
    if (!has_input(n, i)) return std::nullopt;
    const Tensor& t = constant(n, i);
    if (t.numel() != 1) raise<FormatError>("{}: {} must be a scalar, got shape {}", where(n), name, t.shape().str());
    return t.item(0);
  };
  const std::optional<double> lo = bound("min", 1), hi = bound("max", 2);
  if (lo != 0.0 || (hi && !(*hi >= 0 && std::isfinite(*hi))))
    unsupported(n, fmt::format("min {} and max {} (min 0 and a finite max >= 0 or none are supported: ReLU)",
                               lo ? std::to_string(*lo) : "none", hi ? std::to_string(*hi) : "none"));
  return std::make_unique<ReLU>(ReLUConfig{.max_value = hi});
}

// PRelu(x, slope) with a constant slope broadcast (numpy rule) to a sample: PReLU whose alpha is the slope on the
// input's sizes after the batch, shared (Keras's shared_axes) where the slope has size 1.
std::unique_ptr<Layer> Importer::prelu(const onnx::NodeProto& n, const Shape& in, Weights& w) const {
  if (!is_constant(n, 1)) unsupported(n, "a slope that is not a constant");
  const Tensor& slope = constant(n, 1);
  const int64_t r = int64_t(in.rank()) - 1;  // a sample's rank
  std::vector<int64_t> dims(size_t(std::max<int64_t>(r, 0)), 1);
  const std::vector<int64_t>& s = slope.shape().dims();
  bool fits = r >= 1 && int64_t(s.size()) <= r + 1;
  for (size_t i = 0; fits && i < s.size(); ++i) {
    const int64_t a = int64_t(i) + r - int64_t(s.size());  // the sample axis of slope axis i (-1: the batch)
    if (a < 0) fits = s[i] == 1;
    else if (s[i] == in.dim(a + 1) || s[i] == 1) dims[size_t(a)] = s[i];
    else fits = false;
  }
  if (!fits)
    unsupported(n, fmt::format("a slope of shape {} for an input of shape {} (one that broadcasts to a sample is "
                               "supported)", slope.shape().str(), in.str()));
  std::vector<int64_t> shared;
  for (int64_t a = 0; a < r; ++a)
    if (dims[size_t(a)] == 1 && in.dim(a + 1) != 1) shared.push_back(a + 1);
  w.emplace_back("alpha", slope.reshape(Shape(dims)));
  return std::make_unique<PReLU>(PReLUConfig{.shared_axes = shared.empty() ? std::nullopt : std::optional(shared)});
}

// Slice with step 1 on the spatial axes of an NCL or NCHW tensor -> Cropping1D (channels_last only, so between two
// Permutes) or Cropping2D (channels_first). The batch axis may only be taken whole (end >= 2^62, e.g. INT64_MAX).
bool Importer::slice(const onnx::NodeProto& n) {
  if (n.op_type() != "Slice") return false;
  if (!has_input(n, 0)) raise<FormatError>("{}: no data input", where(n));
  const NodeId x = value(n.input(0), where(n));
  const Shape in = shape_of(x);
  std::vector<int64_t> dims = in.dims();
  dims[0] = int64_t(1) << 62;
  const SliceWindow w = slice_window(n, dims);
  const int64_t r = int64_t(in.rank());
  for (int64_t a = 0; a < r; ++a) {
    const size_t i = size_t(a);
    if (w.step[i] != 1) unsupported(n, fmt::format("step {} on axis {} (only step 1: Cropping)", w.step[i], a));
    if (a < 2 && w.count[i] != dims[i])
      unsupported(n, fmt::format("slicing axis {} (only the spatial axes of NCL and NCHW tensors: Cropping)", a));
  }
  if (r != 3 && r != 4) unsupported(n, fmt::format("a rank-{} input (NCL and NCHW are supported)", r));
  const auto crop = [&](size_t a) { return std::vector<int64_t>{w.first[a], dims[a] - w.first[a] - w.count[a]}; };
  if (r == 4) {
    const auto rows = crop(2), cols = crop(3);
    values_[n.output(0)] = append(
        std::make_unique<Cropping2D>(Cropping2DConfig{
            .cropping = Value::tuple({Value::tuple({rows[0], rows[1]}), Value::tuple({cols[0], cols[1]})}),
            .data_format = "channels_first"}),
        {x}, {});
    return true;
  }
  NodeId y = append(std::make_unique<Permute>(std::vector<int64_t>{2, 1}), {x}, {});
  y = append(std::make_unique<Cropping1D>(Cropping1DConfig{.cropping = crop(2)}), {y}, {});
  values_[n.output(0)] = append(std::make_unique<Permute>(std::vector<int64_t>{2, 1}), {y}, {});
  return true;
}

// Add(MatMul(x, B), b) with b of one value per column of B (shape (F,) or (1, .., F)): a Dense with bias, computing
// x B + b as locnet's Dense does (the exporter writes Dense on a rank > 2 input this way).
bool Importer::bias_add(const onnx::NodeProto& n) {
  if (n.op_type() != "Add" || n.input_size() != 2) return false;
  const int data = is_constant(n, 0) ? 1 : 0;
  const auto m = matmuls_.find(n.input(size_t(data)));
  if (!is_constant(n, 1 - data) || m == matmuls_.end()) return false;
  const Tensor& b = constant(n, 1 - data);
  const int64_t units = m->second.kernel.dim(1);
  if (b.numel() != units || b.rank() < 1 || b.rank() > shape_of(m->second.x).rank() || b.dim(-1) != units) return false;
  values_[n.output(0)] = append(std::make_unique<Dense>(DenseConfig{.units = units}), {m->second.x},
                                {{"kernel", m->second.kernel.clone()}, {"bias", b.to(dtype_).reshape(Shape{units})}});
  return true;
}

// Gather(x, indices, axis=1) with constant indices C-1, ..., 0 reverses the channels. PyTorch's even-size LRN is
// exported as Gather -> LRN -> Gather: ONNX's window [c - (n-1)/2, c + n/2] on reversed channels is PyTorch's
// [c - n/2, c + (n-1)/2], so LRN of a reversed value is the reversed LocalResponseNorm.pytorch (its own windows
// for an odd n, which are ONNX's), and a reversed value reversed again is the value.
bool Importer::reversal(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  if (op != "Gather" && !(op == "LRN" && n.input_size() > 0 && reversed_.count(n.input(0)))) return false;
  if (op == "LRN") {
    const NodeId x = reversed_.at(n.input(0));
    const int64_t size = attr_int(n, "size", 0);
    const double alpha = attr_float(n, "alpha", 1e-4), beta = attr_float(n, "beta", 0.75),
                 bias = attr_float(n, "bias", 1.0);
    if (size % 2 == 0)
      reversed_[n.output(0)] = append(std::make_unique<PyTorchLocalResponseNorm>(PyTorchLrnConfig{
                                          .size = size, .alpha = alpha, .beta = beta, .k = bias}),
                                      {x}, {});
    else
      reversed_[n.output(0)] = append(std::make_unique<OnnxLocalResponseNorm>(OnnxLrnConfig{
                                          .size = size, .alpha = alpha, .beta = beta, .bias = bias}),
                                      {x}, {});
    return true;
  }
  if (n.input_size() != 2) raise<FormatError>("{}: 2 inputs expected, got {}", where(n), n.input_size());
  const bool again = reversed_.count(n.input(0)) > 0;
  const NodeId x = again ? reversed_.at(n.input(0)) : value(n.input(0), where(n));
  const Shape in = shape_of(x);
  const int64_t axis = attr_int(n, "axis", 0);
  if (in.rank() < 2 || (axis != 1 && axis != 1 - int64_t(in.rank())))
    unsupported(n, fmt::format("axis {} of a rank-{} input (only reversing the channels, axis 1)", axis, in.rank()));
  const Tensor& idx = constant(n, 1);
  bool reverses = idx.rank() == 1 && idx.numel() == in.dim(1);
  for (int64_t c = 0; reverses && c < idx.numel(); ++c) reverses = idx.item(c) == double(in.dim(1) - 1 - c);
  if (!reverses)
    unsupported(n, fmt::format("indices of shape {} (only reversing the {} channels, around LRN)", idx.shape().str(),
                               in.dim(1)));
  if (again)
    values_[n.output(0)] = x;
  else
    reversed_[n.output(0)] = x;
  return true;
}

// The within-channel LRN as the exporter composes it, y = x / (k + s * AveragePool(x * x))^beta with a box of odd
// `taps` per spatial axis that counts its zero padding (count_include_pad=1, pads (taps-1)/2, strides 1): oneDNN's
// lrn_within_channel with local_size taps and alpha s (its alpha / taps^dims times the box sum). Found before the
// nodes are read; every intermediate value must feed only the next node.
void Importer::find_within_lrn(const onnx::GraphProto& g) {
  std::map<std::string, const onnx::NodeProto*> producer;
  std::map<std::string, int> uses;
  for (const auto& n : g.node()) {
    for (const auto& o : n.output()) producer[o] = &n;
    for (const auto& i : n.input()) ++uses[i];
  }
  for (const auto& o : g.output()) ++uses[o.name()];
  // The node making input i of n if it is `op` and feeds only n; its scalar constant operand in *c when asked.
  const auto step = [&](const onnx::NodeProto& n, int i, const char* op, double* c) -> const onnx::NodeProto* {
    if (n.input_size() <= i) return nullptr;
    const auto it = producer.find(n.input(i));
    if (it == producer.end() || it->second->op_type() != op || uses[n.input(i)] != 1) return nullptr;
    const onnx::NodeProto& p = *it->second;
    if (c) {
      const Tensor* t = p.input_size() == 2 ? consts_.find(p.input(1)) : nullptr;
      if (!t || t->numel() != 1 || consts_.find(p.input(0))) return nullptr;
      *c = t->item(0);
    }
    return &p;
  };
  for (const auto& div : g.node()) {
    WithinLrn w;
    if (div.op_type() != "Div" || div.input_size() != 2) continue;
    const onnx::NodeProto* pow = step(div, 1, "Pow", &w.beta);
    const onnx::NodeProto* add = pow ? step(*pow, 0, "Add", &w.k) : nullptr;
    const onnx::NodeProto* mul = add ? step(*add, 0, "Mul", &w.alpha) : nullptr;
    const onnx::NodeProto* pool = mul ? step(*mul, 0, "AveragePool", nullptr) : nullptr;
    const onnx::NodeProto* square = pool ? step(*pool, 0, "Mul", nullptr) : nullptr;
    if (!square || square->input_size() != 2 || square->input(0) != div.input(0) || square->input(1) != div.input(0)) continue;
    const std::vector<int64_t> k = attr_ints(*pool, "kernel_shape", {});
    if (k.empty() || k[0] % 2 == 0 || attr_int(*pool, "count_include_pad", 0) != 1 ||
        attr_int(*pool, "ceil_mode", 0) != 0 || attr_str(*pool, "auto_pad", "NOTSET") != "NOTSET" ||
        k != std::vector<int64_t>(k.size(), k[0]) ||
        attr_ints(*pool, "pads", {}) != std::vector<int64_t>(2 * k.size(), (k[0] - 1) / 2) ||
        attr_ints(*pool, "strides", std::vector<int64_t>(k.size(), 1)) != std::vector<int64_t>(k.size(), 1))
      continue;
    w.taps = k[0];
    within_lrn_[div.output(0)] = w;
    for (const auto* part : {square, pool, mul, add, pow}) within_parts_.insert(part->output(0));
  }
}

}  // namespace locnet::onnx_import
