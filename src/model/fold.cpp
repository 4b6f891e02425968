#include "locnet/model/fold.hpp"

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

Sequential fold_batch_norm(const Sequential& model) {
  if (!model.built()) raise<ConfigError>("fold_batch_norm: the model must be built, got an unbuilt model");
  Sequential out = model.input_shape() ? Sequential(Input(model.input_shape()->without_batch())) : Sequential();
  std::unique_ptr<Layer> pending;  // the previous layer, not yet added (it may absorb the next BatchNorm)
  for (size_t i = 0; i < model.size(); ++i) {
    const Layer& layer = model.layer(i);
    auto* bn = dynamic_cast<const BatchNormBase*>(&layer);
    ChannelOf channel_of =
        bn && pending && !bn->uses_batch_stats(Mode::Inference) ? fold_target(*pending, *bn) : nullptr;
    if (!channel_of) {
      if (pending) out.add(std::move(pending));
      pending = layer.clone();
      continue;
    }
    std::vector<double> scale, shift;
    bn->inference_affine(scale, shift);
    // Rebuild the layer with a bias (and the BatchNorm's ReLU), then copy the folded parameters in.
    Call call = pending->config();
    set_kwarg(call, "use_bias", Value(true));
    set_kwarg(call, "name", pending->name_pattern().empty() ? Value() : Value(pending->name_pattern()));
    if (bn->canonical().relu) set_kwarg(call, "activation", Value("relu"));
    std::unique_ptr<Layer> folded = make_layer(call);
    Rng rng(0);
    folded->build(pending->input_shape(), rng, pending->dtype());
    for (const char* name : {"kernel", "bias"}) {
      Tensor& dst = find(*folded, name)->value;
      const Param* src = find(*pending, name);
      for (int64_t k = 0; k < dst.numel(); ++k) {
        size_t c = size_t(channel_of(name, k));
        double v = src ? src->value.item(k) : 0.0;
        dst.set(k, std::string(name) == "kernel" ? v * scale[c] : v * scale[c] + shift[c]);
      }
    }
    pending = std::move(folded);
  }
  if (pending) out.add(std::move(pending));
  return out;
}

}  // namespace locnet
