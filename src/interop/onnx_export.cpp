#include "locnet/interop/onnx_export.hpp"

#include <climits>
#include <cmath>
#include <map>
#include <numeric>
#include <tuple>

#include "interop/layout.hpp"
#include "interop/onnx_export_writer.hpp"
#include "interop/onnx_proto.hpp"
#include "layers/spatial.hpp"
#include "locnet/core/window.hpp"
#include "locnet/layers/activations.hpp"
#include "locnet/layers/batch_norm.hpp"
#include "locnet/layers/conv.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/layers/dropout.hpp"
#include "locnet/layers/lrn.hpp"
#include "locnet/layers/merge.hpp"
#include "locnet/layers/pooling.hpp"
#include "locnet/layers/reshape.hpp"
#include "locnet/layers/spatial_ops.hpp"

namespace locnet {
namespace {

using namespace onnx_import;
using interop::transpose;  // the weight layout changes between locnet and ONNX (interop/layout.hpp)
using onnx_export::GraphWriter;

int64_t ir_version_of(int64_t opset) { return opset <= 11 ? 6 : opset <= 14 ? 7 : 8; }

// The axis order that takes a channels-last value (N, ..., C) to channels-first (N, C, ...), and back.
std::vector<int64_t> to_first(size_t rank) {
  std::vector<int64_t> p{0, int64_t(rank) - 1};
  for (size_t i = 1; i + 1 < rank; ++i) p.push_back(int64_t(i));
  return p;
}
std::vector<int64_t> to_last(size_t rank) {
  std::vector<int64_t> p{0};
  for (size_t i = 2; i < rank; ++i) p.push_back(int64_t(i));
  p.push_back(1);
  return p;
}

// Walks the model's nodes in order and writes each layer as ONNX nodes. Every locnet value may exist in ONNX in
// two forms: as locnet holds it (named as its node) and, for a value a channels_last layer reads or writes, its
// channels-first transpose (named "<node>/nchw"). Each form is made once, when first needed.
class Exporter : GraphWriter {
 public:
  Exporter(Model& model, const OnnxExportOptions& o)
      : GraphWriter(o.batch_name), model_(model), opts_(o) {
    if (o.opset < 11 || o.opset > 18)
      raise<NotSupported>("ONNX export: opset must be 11 to 18, got {}", o.opset);
    m_.set_ir_version(o.ir_version > 0 ? o.ir_version : ir_version_of(o.opset));
    m_.set_producer_name("locnet");
    m_.set_producer_version(LOCNET_VERSION);
    m_.add_opset_import()->set_version(o.opset);
    g_->set_name(o.graph_name);
  }

  onnx::ModelProto run() {
    check_built();
    std::vector<Shape> in;
    for (NodeId id : model_.inputs()) in.push_back(input_shape(id));
    shapes_ = model_.node_shapes(in);
    forms_.resize(model_.node_count());
    for (size_t i = 0; i < in.size(); ++i) {
      const NodeId id = model_.inputs()[i];
      forms_[size_t(id)].native = model_.node_name(id);
      value_info(g_->add_input(), model_.node_name(id), in[i]);
    }
    for (NodeId id = 0; id < NodeId(model_.node_count()); ++id)
      if (const Layer* l = model_.node_layer(id)) {
        layer_ = l;
        at(id);
        add_layer(*l);
      }
    for (NodeId id : model_.outputs()) value_info(g_->add_output(), native(id), shapes_[size_t(id)]);
    return std::move(m_);
  }

 private:
  // ---- The model

  void check_built() {
    for (size_t i = 0; i < model_.size(); ++i) {
      const Layer& l = model_.layer(i);
      if (!l.built())
        raise<ConfigError>("ONNX export: layer '{}' ({}) is not built: build the model (its weights) first", l.name(),
                           l.type());
      if (i == 0) dtype_ = l.dtype();
      if (l.dtype() != DType::f32 && l.dtype() != DType::f64)
        raise<NotSupported>("ONNX export: layer '{}' ({}): dtype {} (f32 and f64 are exported)", l.name(), l.type(),
                            dtype_name(l.dtype()));
      if (l.dtype() != dtype_)
        raise<NotSupported>("ONNX export: layer '{}' ({}): dtype {} differs from the model's {}", l.name(), l.type(),
                            dtype_name(l.dtype()), dtype_name(dtype_));
    }
  }

  // An input's shape with batch 1 ("N" in the file): the declared one, else the one its consumer was built for.
  Shape input_shape(NodeId id) const {
    const auto& ids = model_.inputs();
    std::optional<Shape> s = model_.input_shapes()[size_t(std::find(ids.begin(), ids.end(), id) - ids.begin())];
    for (NodeId n = 0; !s && n < NodeId(model_.node_count()); ++n) {
      const auto& ins = model_.node_inputs(n);
      for (size_t k = 0; k < ins.size() && !s; ++k)
        if (ins[k] == id) s = model_.node_layer(n)->input_shapes().at(k);
    }
    if (!s) raise<ConfigError>("ONNX export: the input '{}' has no known shape", model_.node_name(id));
    std::vector<int64_t> dims = s->dims();
    dims[0] = 1;
    return Shape(dims);
  }

  [[noreturn]] void unsupported(std::string_view why) const {
    raise<NotSupported>("ONNX export: layer '{}' ({}): {}", layer_->name(), layer_->type(), why);
  }
  // Names and nodes made from here on belong to node `id`.
  void at(NodeId id) {
    self_ = id;
    prefix_ = model_.node_name(id);
  }

  const Tensor& param(const std::string& pname) const {
    for (const Param* p : layer_->params())
      if (p->name == pname) return p->value;
    for (const Param* p : layer_->buffers())
      if (p->name == pname) return p->value;
    throw std::logic_error("ONNX export: no parameter " + pname);
  }

  // ---- The two forms of a value

  const Shape& shape(NodeId id) const { return shapes_[size_t(id)]; }
  NodeId in(size_t k = 0) const { return model_.node_inputs(self_).at(k); }

  // The value as locnet holds it (a Transpose back from channels-first when only that form exists yet).
  std::string native(NodeId id) {
    auto& f = forms_[size_t(id)];
    if (f.native.empty()) {
      const NodeId keep = self_;
      at(id);
      f.native = model_.node_name(id);
      attr_ints(node("Transpose", {f.first}, f.native), "perm", to_last(shape(id).rank()));
      at(keep);
    }
    return f.native;
  }
  // The channels-first form (N, C, ...) of a value that locnet holds channels-last (N, ..., C).
  std::string first(NodeId id) {
    auto& f = forms_[size_t(id)];
    if (shape(id).rank() <= 2) return native(id);
    if (f.first.empty()) {
      const NodeId keep = self_;
      at(id);
      f.first = model_.node_name(id) + "/nchw";
      attr_ints(node("Transpose", {native(id)}, f.first), "perm", to_first(shape(id).rank()));
      at(keep);
    }
    return f.first;
  }
  std::string input(NodeId id, bool channels_first) { return channels_first ? first(id) : native(id); }
  // The name this layer's output gets in the form chosen.
  std::string output(bool channels_first) {
    auto& f = forms_[size_t(self_)];
    if (channels_first && shape(self_).rank() > 2) return f.first = model_.node_name(self_) + "/nchw";
    return f.native = model_.node_name(self_);
  }
  // Layers that compute elementwise or along one named axis run in channels-first form when every input has it
  // and one lacks locnet's form (the value came from a channels_last spatial layer), else in locnet's form.
  bool prefer_first() const {
    bool missing = false;
    for (NodeId i : model_.node_inputs(self_)) {
      const auto& f = forms_[size_t(i)];
      if (f.first.empty() || shape(i).rank() <= 2) return false;
      missing = missing || f.native.empty();
    }
    return missing;
  }
  // A locnet axis (1..rank-1) in the form used.
  static int64_t axis_in(int64_t axis, size_t rank, bool channels_first) {
    if (axis < 0) axis += int64_t(rank);
    if (!channels_first) return axis;
    return axis == int64_t(rank) - 1 ? 1 : axis + 1;
  }

  // ---- Layers

  void add_layer(const Layer& l) {
    if (auto* c = dynamic_cast<const ConvBase*>(&l)) return conv(c->spec());
    if (auto* n = dynamic_cast<const LrnBase*>(&l)) return lrn(n->canonical());
    if (auto* b = dynamic_cast<const BatchNormBase*>(&l)) return batch_norm(*b);
    if (auto* r = dynamic_cast<const Resample*>(&l)) return resample(r->geometry());
    if (auto* d = dynamic_cast<const Dense*>(&l)) return dense(d->cfg());
    if (pooling<MaxPooling1D>(l, true) || pooling<MaxPooling2D>(l, true) || pooling<AveragePooling1D>(l, false) ||
        pooling<AveragePooling2D>(l, false) || global<GlobalMaxPooling1D>(l, true) ||
        global<GlobalMaxPooling2D>(l, true) || global<GlobalAveragePooling1D>(l, false) ||
        global<GlobalAveragePooling2D>(l, false) || activation_layer(l) || merge(l) || move(l))
      return;
    if (l.type().starts_with("LocallyConnected"))
      unsupported("ONNX has no locally-connected operator (unshared weights per position)");
    unsupported("no ONNX mapping for this layer type");
  }

  void conv(const ConvSpec& s) {
    const Shape& x = shape(in());
    const bool cf = s.channels_last;  // run on the channels-first form
    const int r = s.rank;
    const int64_t C = s.channels_last ? x[x.rank() - 1] : x[1];
    Window2D w{.h = r == 2 ? (s.channels_last ? x[1] : x[2]) : 1,
               .w = s.channels_last ? x[x.rank() - 2] : x[x.rank() - 1],
               .kh = s.kernel[0], .kw = s.kernel[1], .sh = s.strides[0], .sw = s.strides[1],
               .dilation_h = s.dilation[0], .dilation_w = s.dilation[1]};
    w.fit(s.padding, s.pad);
    const Tensor& k = param(s.depth_multiplier > 0 ? "depthwise_kernel" : "kernel");
    Tensor W;
    int64_t group = s.groups;
    if (s.depth_multiplier > 0) {  // (kh, kw, C, M) -> (C*M, 1, kh, kw): output channel c*M + m
      W = transpose(k, {2, 3, 0, 1}).reshape(Shape{C * s.depth_multiplier, 1, k.dim(0), k.dim(1)});
      group = C;
    } else {
      W = r == 2 ? transpose(k, {3, 2, 0, 1}) : transpose(k, {2, 1, 0});  // (k..., C/g, F) -> (F, C/g, k...)
    }
    std::vector<std::string> ins{input(in(), cf), initializer(name("W"), W)};
    if (s.use_bias) ins.push_back(initializer(name("B"), param("bias")));
    const bool act = s.activation != "linear";
    const std::string y = act ? name("conv") : output(cf);
    auto* n = node("Conv", ins, y);
    const auto per_axis = [r](int64_t rows, int64_t cols) {
      return r == 2 ? std::vector<int64_t>{rows, cols} : std::vector<int64_t>{cols};
    };
    attr_ints(n, "kernel_shape", per_axis(s.kernel[0], s.kernel[1]));
    attr_ints(n, "strides", per_axis(s.strides[0], s.strides[1]));
    attr_ints(n, "dilations", per_axis(s.dilation[0], s.dilation[1]));
    attr_ints(n, "pads", r == 2 ? std::vector<int64_t>{w.pad_top, w.pad_left, w.pad_bottom, w.pad_right}
                                : std::vector<int64_t>{w.pad_left, w.pad_right});
    attr_int(n, "group", group);
    if (act) activation(s.activation, y, output(cf), cf);
  }

  template <class P>
  bool pooling(const Layer& l, bool max) {
    auto* p = dynamic_cast<const P*>(&l);
    if (!p) return false;
    constexpr int R = std::is_same_v<typename P::Config, PoolingConfig<1>> ? 1 : 2;
    const auto& c = p->cfg();
    const bool last = spatial::channels_last(P::type_name(), c.data_format);
    const Shape& x = shape(in());
    Window2D w{.h = R == 2 ? (last ? x[1] : x[2]) : 1, .w = last ? x[x.rank() - 2] : x[x.rank() - 1]};
    const auto strides = c.strides.value_or(c.pool_size);
    w.kh = R == 2 ? c.pool_size[0] : 1, w.kw = c.pool_size.back();
    w.sh = R == 2 ? strides[0] : 1, w.sw = strides.back();
    int64_t pads[2][2] = {{0, 0}, {0, 0}};
    WindowPadding mode = WindowPadding::valid;
    if (c.padding.kind() == Value::Kind::Str) mode = c.padding.as_str() == "same" ? WindowPadding::same : mode;
    else if (spatial::explicit_padding(c.padding, R, pads)) mode = WindowPadding::explicit_;
    w.fit(mode, pads, c.ceil_mode);
    // ONNX's ceil_mode lets the last window start in the padding after; PyTorch's rule (locnet's) drops it.
    for (auto [n, k, s, b, a, out] : {std::tuple{w.h, w.kh, w.sh, w.pad_top, w.pad_bottom, w.oh},
                                      std::tuple{w.w, w.kw, w.sw, w.pad_left, w.pad_right, w.ow}}) {
      const int64_t span = n + b + a - k;
      if ((c.ceil_mode ? (span + s - 1) / s : span / s) + 1 != out)
        unsupported(fmt::format("ceil_mode: the last window would start in the padding after the input, which "
                                "ONNX keeps and PyTorch (locnet) drops ({} outputs, ONNX computes {})",
                                out, (span + s - 1) / s + 1));
    }
    auto* n = node(max ? "MaxPool" : "AveragePool", {input(in(), last)}, output(last));
    attr_ints(n, "kernel_shape", R == 2 ? std::vector<int64_t>{w.kh, w.kw} : std::vector<int64_t>{w.kw});
    attr_ints(n, "strides", R == 2 ? std::vector<int64_t>{w.sh, w.sw} : std::vector<int64_t>{w.sw});
    attr_ints(n, "pads", R == 2 ? std::vector<int64_t>{w.pad_top, w.pad_left, w.pad_bottom, w.pad_right}
                                : std::vector<int64_t>{w.pad_left, w.pad_right});
    if (c.ceil_mode) attr_int(n, "ceil_mode", 1);
    if (!max && c.count_include_pad) attr_int(n, "count_include_pad", 1);
    return true;
  }

  template <class P>
  bool global(const Layer& l, bool max) {
    auto* p = dynamic_cast<const P*>(&l);
    if (!p) return false;
    const bool last = spatial::channels_last(P::type_name(), p->cfg().data_format);
    const std::string op = max ? "GlobalMaxPool" : "GlobalAveragePool";
    if (p->cfg().keepdims) {
      node(op, {input(in(), last)}, output(last));
    } else {  // (N, C, 1...) -> (N, C)
      node(op, {input(in(), last)}, name("pool"));
      attr_int(node("Flatten", {name("pool")}, output(false)), "axis", 1);
    }
    return true;
  }

  void lrn(const LrnCanonical& c) {
    if (c.within) return lrn_within(c);
    // ONNX: window [c - (n-1)/2, c + ceil((n-1)/2)], divisor n. A window with one more channel behind (PyTorch's
    // even size) is its mirror image: reversing the channels before and after gives the same windows.
    const bool mirrored = c.behind == c.ahead + 1;
    if (c.ahead != c.behind && c.ahead != c.behind + 1 && !mirrored)
      unsupported(fmt::format("a window of {} channels behind and {} ahead is not ONNX's centred window", c.behind,
                              c.ahead));
    const int64_t size = c.behind + c.ahead + 1;
    const bool cf = c.channels_last;
    const std::string x = input(in(), cf), y = output(cf);
    const int64_t C = cf ? shape(in())[shape(in()).rank() - 1] : shape(in())[1];
    std::vector<int64_t> reverse(size_t(C), 0);
    std::iota(reverse.rbegin(), reverse.rend(), 0);
    const std::string idx = mirrored ? ints_init("reverse", reverse) : "";
    if (mirrored) attr_int(node("Gather", {x, idx}, name("reversed")), "axis", 1);
    auto* n = node("LRN", {mirrored ? name("reversed") : x}, mirrored ? name("lrn") : y);
    attr_int(n, "size", size);
    attr_float(n, "alpha", c.alpha * double(size) / c.divisor);  // ONNX divides alpha by size
    attr_float(n, "beta", c.beta);
    attr_float(n, "bias", c.k);
    if (mirrored) attr_int(node("Gather", {name("lrn"), idx}, y), "axis", 1);
  }

  // ONNX's LRN sums across channels only; the spatial box is x / (k + alpha / D * box sum of x^2)^beta, the sum as
  // an AveragePool of x^2 that counts the zero padding (every box holds taps^dims values) times taps^dims.
  void lrn_within(const LrnCanonical& c) {
    const bool cf = c.channels_last;
    const size_t dims = shape(in()).rank() - 2;
    const int64_t half = (c.within_size - 1) / 2, taps = 2 * half + 1;
    const std::string x = input(in(), cf);
    node("Mul", {x, x}, name("square"));
    auto* p = node("AveragePool", {name("square")}, name("mean"));
    attr_ints(p, "kernel_shape", std::vector<int64_t>(dims, taps));
    attr_ints(p, "pads", std::vector<int64_t>(2 * dims, half));
    attr_int(p, "count_include_pad", 1);
    const double scale = c.alpha * std::pow(double(taps) / double(c.within_size), double(dims));
    node("Mul", {name("mean"), scalar_init("alpha", scale)}, name("scaled"));
    node("Add", {name("scaled"), scalar_init("k", c.k)}, name("norm"));
    node("Pow", {name("norm"), scalar_init("beta", c.beta)}, name("power"));
    node("Div", {x, name("power")}, output(cf));
  }

  void batch_norm(const BatchNormBase& b) {
    const BatchNormCanonical& c = b.canonical();
    if (b.uses_batch_stats(Mode::Inference))
      unsupported("inference uses the batch's statistics (no running statistics, or Caffe's use_global_stats=False)");
    const size_t r = shape(in()).rank();
    const int64_t axis = b.channel_axis();
    if (axis != 1 && axis != int64_t(r) - 1)
      unsupported(fmt::format("channel axis {} of a rank-{} input (ONNX normalizes axis 1)", axis, r));
    const bool cf = axis != 1;
    const int64_t C = shape(in())[size_t(axis)];
    const auto or_const = [&](bool has, const char* p, double v) {
      return has ? initializer(name(p), param(p)) : vector_init(p, std::vector<double>(size_t(C), v));
    };
    const std::string y = c.relu ? name("bn") : output(cf);
    auto* n = node("BatchNormalization",
                   {input(in(), cf), or_const(c.has_gamma, "gamma", 1.0), or_const(c.has_beta, "beta", 0.0),
                    initializer(name("moving_mean"), param("moving_mean")),
                    initializer(name("moving_variance"), param("moving_variance"))},
                   y);
    attr_float(n, "epsilon", c.epsilon);
    if (c.relu) node("Relu", {y}, output(cf));
  }

  // Upsampling (Resize), then zeros (Pad), then cropping (Slice), as the layer computes them.
  void resample(const ResampleGeometry& g) {
    const bool cf = g.channels_last;
    const size_t r = shape(in()).rank();
    std::string x = input(in(), cf);
    const std::string y = output(cf);
    bool up = false, pad = false, crop = false;
    for (int a = 0; a < g.rank; ++a) {
      up = up || g.axis[a].size != 1;
      pad = pad || g.axis[a].pad[0] || g.axis[a].pad[1];
      crop = crop || g.axis[a].crop[0] || g.axis[a].crop[1];
    }
    const auto step = [&](bool last_step, const std::string& what) { return last_step ? y : name(what); };
    if (up || (!pad && !crop)) {
      std::vector<double> scales(r - size_t(g.rank), 1.0);
      for (int a = 0; a < g.rank; ++a) scales.push_back(double(g.axis[a].size));
      const std::string roi = opts_.opset < 13 ? vector_init("roi", {}) : "";
      auto* n = node("Resize", {x, roi, vector_init("scales", scales, onnx::TensorProto::FLOAT)},
                     step(!pad && !crop, "resize"));
      attr_str(n, "mode", g.bilinear ? "linear" : "nearest");
      attr_str(n, "coordinate_transformation_mode", g.bilinear ? "half_pixel" : "asymmetric");
      if (!g.bilinear) attr_str(n, "nearest_mode", "floor");
      x = name("resize");
    }
    if (pad) {
      std::vector<int64_t> pads(2 * r, 0);
      for (int a = 0; a < g.rank; ++a) {
        pads[r - size_t(g.rank) + size_t(a)] = g.axis[a].pad[0];
        pads[2 * r - size_t(g.rank) + size_t(a)] = g.axis[a].pad[1];
      }
      node("Pad", {x, ints_init("pads", pads)}, step(!crop, "pad"));
      x = name("pad");
    }
    if (crop) {
      std::vector<int64_t> starts, ends, axes;
      for (int a = 0; a < g.rank; ++a) {
        const int64_t axis = int64_t(r) - g.rank + a;  // in the form used: the spatial axes last
        const int64_t n = shape(self_)[size_t(g.channels_last ? 1 + a : axis)];
        starts.push_back(g.axis[a].crop[0]);
        ends.push_back(g.axis[a].crop[0] + n);
        axes.push_back(axis);
      }
      node("Slice", {x, ints_init("starts", starts), ints_init("ends", ends), ints_init("axes", axes)}, y);
    }
  }

  void dense(const DenseConfig& c) {
    const std::string act = c.activation.value_or("linear");
    const std::string y = act != "linear" ? name("dense") : output(false);
    const std::string x = native(in()), W = initializer(name("kernel"), param("kernel"));
    if (shape(in()).rank() == 2) {
      std::vector<std::string> ins{x, W};
      if (c.use_bias) ins.push_back(initializer(name("bias"), param("bias")));
      node("Gemm", ins, y);
    } else {  // Dense acts on the last axis: MatMul broadcasts over the others
      node("MatMul", {x, W}, c.use_bias ? name("matmul") : y);
      if (c.use_bias) node("Add", {name("matmul"), initializer(name("bias"), param("bias"))}, y);
    }
    if (act != "linear") activation(act, y, output(false), false);
  }

  // A named activation (Activation layer, or fused into Conv/Dense) from `x` to `y`; softmax on the last axis.
  void activation(const std::string& act, const std::string& x, const std::string& y, bool cf) {
    static const std::map<std::string, std::string> simple = {
        {"linear", "Identity"}, {"relu", "Relu"},     {"sigmoid", "Sigmoid"}, {"tanh", "Tanh"},
        {"softplus", "Softplus"}, {"selu", "Selu"}, {"exponential", "Exp"}, {"elu", "Elu"}};
    if (auto it = simple.find(act); it != simple.end()) {
      node(it->second, {x}, y);
    } else if (act == "softmax") {
      const size_t r = shape(self_).rank();
      softmax(x, y, axis_in(-1, r, cf), r);
    } else if (act == "leaky_relu") {
      attr_float(node("LeakyRelu", {x}, y), "alpha", 0.2);
    } else if (act == "hard_sigmoid") {
      auto* n = node("HardSigmoid", {x}, y);
      attr_float(n, "alpha", 0.2);
      attr_float(n, "beta", 0.5);
    } else if (act == "swish") {  // x sigmoid(x)
      node("Sigmoid", {x}, name("sigmoid"));
      node("Mul", {x, name("sigmoid")}, y);
    } else {
      unsupported(fmt::format("activation '{}' has no ONNX operator in opsets 11 to 18", act));
    }
  }

  void softmax(const std::string& x, const std::string& y, int64_t axis, size_t rank) {
    // Before opset 13 Softmax normalizes over every axis from `axis` on: one axis only when it is the last.
    if (opts_.opset < 13 && axis != int64_t(rank) - 1)
      unsupported(fmt::format("softmax over axis {} of {}: opset {} normalizes the axes from there on (13 does not)",
                              axis, rank, opts_.opset));
    attr_int(node("Softmax", {x}, y), "axis", axis);
  }

  bool activation_layer(const Layer& l) {
    const bool cf = prefer_first();
    const auto unary = [&](const std::string& op) { return node(op, {input(in(), cf)}, output(cf)); };
    if (auto* a = dynamic_cast<const Activation*>(&l)) {
      activation(a->cfg().activation, input(in(), cf), output(cf), cf);
    } else if (auto* s = dynamic_cast<const Softmax*>(&l)) {
      const size_t r = shape(in()).rank();
      softmax(input(in(), cf), output(cf), axis_in(s->cfg().axis, r, cf), r);
    } else if (auto* e = dynamic_cast<const ELU*>(&l)) {
      attr_float(unary("Elu"), "alpha", e->cfg().alpha);
    } else if (auto* k = dynamic_cast<const LeakyReLU*>(&l)) {
      attr_float(unary("LeakyRelu"), "alpha", k->cfg().negative_slope.value_or(k->cfg().alpha));
    } else if (auto* t = dynamic_cast<const ThresholdedReLU*>(&l)) {
      attr_float(unary("ThresholdedRelu"), "alpha", t->cfg().theta);
    } else if (dynamic_cast<const PReLU*>(&l)) {
      node("PRelu", {native(in()), initializer(name("alpha"), param("alpha"))}, output(false));
    } else if (auto* u = dynamic_cast<const ReLU*>(&l)) {
      const auto& c = u->cfg();
      if (c.threshold != 0)
        unsupported(fmt::format("threshold={} (ONNX's Relu, LeakyRelu and Clip start at 0)", c.threshold));
      if (c.max_value && c.negative_slope != 0)
        unsupported("max_value with negative_slope (no single ONNX operator; Clip has no slope)");
      if (c.max_value) {
        node("Clip", {input(in(), cf), scalar_init("min", 0.0), scalar_init("max", *c.max_value)}, output(cf));
      } else if (c.negative_slope != 0) {
        attr_float(unary("LeakyRelu"), "alpha", c.negative_slope);
      } else {
        unary("Relu");
      }
    } else {
      return false;
    }
    return true;
  }

  bool merge(const Layer& l) {
    const bool cf = prefer_first();
    std::vector<std::string> ins;
    for (size_t k = 0; k < model_.node_inputs(self_).size(); ++k) ins.push_back(input(in(k), cf));
    if (auto* c = dynamic_cast<const Concatenate*>(&l)) {
      const size_t r = shape(self_).rank();
      attr_int(node("Concat", ins, output(cf)), "axis", axis_in(int64_t(c->axis_index(r)), r, cf));
      return true;
    }
    auto* e = dynamic_cast<const ElementwiseMerge*>(&l);
    if (!e) return false;
    static const char* ops[] = {"Sum", "Sub", "Mul", "Mean", "Max", "Min"};
    const std::string op = ops[int(e->op())];
    if (op == "Sub" || op == "Mul") {  // binary: a chain for more inputs
      std::string acc = ins[0];
      for (size_t k = 1; k < ins.size(); ++k) {
        const std::string y = k + 1 == ins.size() ? output(cf) : name(fmt::format("{}{}", op, k));
        node(op, {acc, ins[k]}, y);
        acc = y;
      }
    } else {
      node(op == "Sum" && ins.size() == 2 ? "Add" : op, ins, output(cf));
    }
    return true;
  }

  // Layers that move values: Flatten, Reshape, Permute (locnet's layout), Identity and Dropout (either form).
  bool move(const Layer& l) {
    if (dynamic_cast<const Identity*>(&l) || dynamic_cast<const DropoutBase*>(&l)) {
      const bool cf = prefer_first();
      node("Identity", {input(in(), cf)}, output(cf));
    } else if (dynamic_cast<const Flatten*>(&l)) {
      attr_int(node("Flatten", {native(in())}, output(false)), "axis", 1);
    } else if (dynamic_cast<const Reshape*>(&l)) {
      std::vector<int64_t> s{0};  // 0: keep the batch; the output shape with any -1 resolved
      const Shape& out = shape(self_);
      s.insert(s.end(), out.dims().begin() + 1, out.dims().end());
      node("Reshape", {native(in()), ints_init("shape", s)}, output(false));
    } else if (auto* p = dynamic_cast<const Permute*>(&l)) {
      std::vector<int64_t> perm{0};
      perm.insert(perm.end(), p->cfg().dims.begin(), p->cfg().dims.end());
      attr_ints(node("Transpose", {native(in())}, output(false)), "perm", perm);
    } else {
      return false;
    }
    return true;
  }

  struct Forms {
    std::string native, first;  // empty: not made yet
  };

  Model& model_;
  const OnnxExportOptions& opts_;
  std::vector<Shape> shapes_;  // every node's output shape, batch 1
  std::vector<Forms> forms_;
  const Layer* layer_ = nullptr;  // the layer being written, node self_
  NodeId self_ = 0;
};

}  // namespace

std::vector<std::byte> onnx_bytes(Model& model, const OnnxExportOptions& options) {
  const onnx::ModelProto m = Exporter(model, options).run();
  const size_t size = m.ByteSizeLong();
  std::vector<std::byte> out(size);
  if (size > size_t(INT_MAX) || !m.SerializeToArray(out.data(), int(size)))
    raise<NotSupported>("ONNX export: the model does not fit one protobuf message (2 GiB)");
  return out;
}

void save_onnx(Model& model, const std::string& path, const OnnxExportOptions& options) {
  write_file_atomic(path, onnx_bytes(model, options));
}

}  // namespace locnet
