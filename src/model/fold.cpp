#include "locnet/model/fold.hpp"

#include <algorithm>
#include <functional>

#include "locnet/layers/batch_norm.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/layers/locally_connected.hpp"
#include "locnet/layers/registry.hpp"

namespace locnet {
namespace {

Param* find(Layer& l, const std::string& name) {
  for (Param* p : l.params())
    if (p->name == name) return p;
  return nullptr;
}

void set_kwarg(Call& c, const std::string& key, Value v) {
  for (auto& [k, val] : c.kwargs)
    if (k == key) {
      val = std::move(v);
      return;
    }
  c.kwargs.emplace_back(key, std::move(v));
}

// The output channel of each element of a parameter of `layer`, or -1 when `bn` cannot fold into it.
using ChannelOf = std::function<int64_t(const std::string& param, int64_t flat)>;
ChannelOf fold_target(const Layer& layer, const BatchNormBase& bn) {
  // The BatchNorm's channel axis (Keras's axis= may be any) must be the layer's output channel axis.
  const int64_t axis = bn.channel_axis(), rank = int64_t(bn.input_shape().rank());
  const bool bn_last = axis == rank - 1, bn_first = axis == 1;
  if (auto* d = dynamic_cast<const Dense*>(&layer)) {
    if (d->cfg().activation.value_or("linear") != "linear" || !bn_last) return nullptr;
    const int64_t units = d->cfg().units;
    return [units](const std::string&, int64_t i) { return i % units; };
  }
  if (auto* lc = dynamic_cast<const LocallyConnectedBase*>(&layer)) {
    if (lc->spec().activation != "linear" || !(lc->spec().channels_last ? bn_last : bn_first)) return nullptr;
    const LocallyConnectedGeometry& g = lc->geometry();
    const int64_t f = g.f, positions = g.positions();
    const bool last = g.channels_last;
    // kernel (P, K, F); bias in the output's memory order: p*F + f (channels_last) or f*P + p.
    return [=](const std::string& param, int64_t i) { return param == "kernel" || last ? i % f : i / positions; };
  }
  return nullptr;
}

}  // namespace

Model fold_batch_norm(const Model& model) {
  if (!model.built()) raise<ConfigError>("fold_batch_norm: the model must be built, got an unbuilt model");
  // A BatchNorm folds into its producer when it is that producer's only consumer and the producer is no output.
  const size_t n = model.node_count();
  std::vector<int> consumers(n, 0);
  for (size_t i = 0; i < n; ++i)
    for (NodeId id : model.node_inputs(NodeId(i))) ++consumers[size_t(id)];
  for (NodeId id : model.outputs()) consumers[size_t(id)] += 2;
  std::vector<NodeId> folds_into(n, -1);  // producer -> its BatchNorm
  for (size_t i = 0; i < n; ++i) {
    auto* bn = dynamic_cast<const BatchNormBase*>(model.node_layer(NodeId(i)));
    if (!bn || bn->uses_batch_stats(Mode::Inference) || model.node_inputs(NodeId(i)).size() != 1) continue;
    const NodeId p = model.node_inputs(NodeId(i))[0];
    if (model.node_layer(p) && consumers[size_t(p)] == 1 && fold_target(*model.node_layer(p), *bn))
      folds_into[size_t(p)] = NodeId(i);
  }
  Model out;
  std::vector<NodeId> map(n, -1);
  for (size_t i = 0; i < n; ++i) {
    const Layer* layer = model.node_layer(NodeId(i));
    if (!layer) {
      const std::optional<Shape> shape = model.input_shapes()[size_t(std::find(model.inputs().begin(),
                                                                                model.inputs().end(), NodeId(i)) -
                                                                      model.inputs().begin())];
      map[i] = shape ? out.input(shape->without_batch(), model.node_name(NodeId(i)))
                     : out.shapeless_input(model.node_name(NodeId(i)));
      continue;
    }
    if (map[i] >= 0) continue;  // a BatchNorm folded into its producer
    std::vector<NodeId> ins;
    for (NodeId id : model.node_inputs(NodeId(i))) ins.push_back(map[size_t(id)]);
    const NodeId bn_node = folds_into[i];
    if (bn_node < 0) {
      map[i] = out.add(layer->clone(), ins);
      continue;
    }
    const auto& bn = dynamic_cast<const BatchNormBase&>(*model.node_layer(bn_node));
    ChannelOf channel_of = fold_target(*layer, bn);
    std::vector<double> scale, shift;
    bn.inference_affine(scale, shift);
    // Rebuild the layer with a bias (and the BatchNorm's ReLU), then copy the folded parameters in.
    Call call = layer->config();
    set_kwarg(call, "use_bias", Value(true));
    set_kwarg(call, "name", layer->name_pattern().empty() ? Value() : Value(layer->name_pattern()));
    if (bn.canonical().relu) set_kwarg(call, "activation", Value("relu"));
    std::unique_ptr<Layer> folded = make_layer(call);
    Rng rng(0);
    folded->build(layer->input_shape(), rng, layer->dtype());
    for (const char* name : {"kernel", "bias"}) {
      Tensor& dst = find(*folded, name)->value;
      const Param* src = find(const_cast<Layer&>(*layer), name);
      for (int64_t k = 0; k < dst.numel(); ++k) {
        size_t c = size_t(channel_of(name, k));
        double v = src ? src->value.item(k) : 0.0;
        dst.set(k, std::string(name) == "kernel" ? v * scale[c] : v * scale[c] + shift[c]);
      }
    }
    map[i] = map[size_t(bn_node)] = out.add(std::move(folded), ins);
  }
  std::vector<NodeId> outs;
  for (NodeId id : model.outputs()) outs.push_back(map[size_t(id)]);
  if (!model.is_chain()) {
    std::vector<NodeId> ins;
    for (NodeId id : model.inputs()) ins.push_back(map[size_t(id)]);
    out.set_inputs(ins);
    out.set_outputs(outs);
  }
  return out;
}

}  // namespace locnet
