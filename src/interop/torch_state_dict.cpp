#include "locnet/interop/torch_state_dict.hpp"

#include <algorithm>

#include "interop/layout.hpp"
#include "locnet/model/weights.hpp"

namespace locnet {
namespace {

struct Module {
  std::string path;
  std::vector<std::pair<std::string, const Tensor*>> entries;  // name after the path -> tensor
};

// The modules of the file in the order of their first key.
std::vector<Module> modules_of(const TensorFile& sd, const std::string& where) {
  std::vector<Module> out;
  for (const auto& [key, t] : sd.tensors) {
    const size_t dot = key.rfind('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == key.size())
      raise<FormatError>("{}: key '{}' must be <module>.<name>, as state_dict() writes it", where, key);
    const std::string path = key.substr(0, dot);
    auto m = std::find_if(out.begin(), out.end(), [&](const Module& x) { return x.path == path; });
    if (m == out.end()) m = out.insert(out.end(), Module{path, {}});
    m->entries.emplace_back(key.substr(dot + 1), &t);
  }
  return out;
}

std::vector<Layer*> layers_with_state(Model& model) {
  std::vector<Layer*> out;
  for (size_t i = 0; i < model.size(); ++i)
    if (!model.layer(i).params().empty() || !model.layer(i).buffers().empty()) out.push_back(&model.layer(i));
  return out;
}

std::vector<Param*> state_of(Layer& l) {
  std::vector<Param*> ps = l.params();
  for (Param* b : l.buffers()) ps.push_back(b);
  return ps;
}

bool torch_layout(const Layer& l) { return l.type() == "Conv1D" || l.type() == "Conv2D" || l.type() == "Dense"; }

// The PyTorch name of a parameter: weight for a kernel in PyTorch layout, else its first alias or its own name.
std::string torch_name(const Layer& l, const Param& p) {
  if (torch_layout(l)) return p.name == "kernel" ? "weight" : p.name;
  return p.aliases.empty() ? p.name : p.aliases.front();
}

// The permutation from PyTorch's layout to the locnet parameter's (empty: none).
std::vector<size_t> layout_order(const Layer& l, const Param& p) {
  if (!torch_layout(l) || p.name != "kernel") return {};
  return l.type() == "Dense" ? std::vector<size_t>{1, 0} : interop::oihw_to_kernel_order(p.value.rank() - 2);
}

Param* param_named(Layer& l, const std::string& name) {
  for (Param* p : state_of(l)) {  // a layer in PyTorch layout takes PyTorch's names only (its layout differs)
    if (torch_name(l, *p) == name) return p;
    if (!torch_layout(l) && (p->name == name || std::find(p->aliases.begin(), p->aliases.end(), name) != p->aliases.end())) return p;
  }
  return nullptr;
}

// Adds the module's entries to `out` under "<layer>.<param>", in the locnet layout.
void convert(const Module& m, Layer& l, const TensorFile& sd, TensorFile& out, const std::string& where) {
  for (const auto& [name, t] : m.entries) {
    const std::string key = m.path + "." + name;
    Param* p = param_named(l, name);
    if (!p) {
      std::vector<std::string> names;
      for (Param* q : state_of(l)) names.push_back(torch_name(l, *q));
      raise<FormatError>("{}: unexpected '{}': layer '{}' ({}) takes {}", where, key, l.name(), l.type(),
                         fmt::join(names, ", "));
    }
    const std::vector<size_t> order = layout_order(l, *p);
    Shape want = p->value.shape();  // in PyTorch's layout
    if (!order.empty()) {
      std::vector<int64_t> dims(order.size());
      for (size_t a = 0; a < order.size(); ++a) dims[order[a]] = want.dim(int64_t(a));
      want = Shape(dims);
    }
    const bool scalar_counter = p->counter && t->numel() == 1 && t->rank() <= 1;
    if (t->shape() != want && !scalar_counter)
      raise<FormatError>("{}: '{}' must have shape {} for layer '{}' ({}.{}), got {}", where, key, want.str(),
                         l.name(), l.type(), p->name, t->shape().str());
    const std::string to = l.name() + "." + p->name;
    out.tensors.emplace_back(to, order.empty() ? *t : interop::transpose(*t, order));
    if (sd.int64.count(key)) out.int64.insert(to);
  }
  for (Param* p : state_of(l)) {
    const bool given = std::any_of(m.entries.begin(), m.entries.end(),
                                   [&](const auto& e) { return param_named(l, e.first) == p; });
    if (!given && !p->counter)
      raise<FormatError>("{}: missing '{}.{}' for layer '{}' ({}.{})", where, m.path, torch_name(l, *p), l.name(),
                         l.type(), p->name);
  }
}

std::string paths(const std::vector<Module>& ms) {
  std::vector<std::string> names;
  for (const Module& m : ms) names.push_back(m.path);
  return fmt::format("{}", fmt::join(names, ", "));
}

}  // namespace

void load_state_dict(Model& model, const TensorFile& state_dict, const ModuleMap& modules, const std::string& where) {
  const std::vector<Module> ms = modules_of(state_dict, where);
  const std::vector<Layer*> layers = layers_with_state(model);
  TensorFile out;
  if (modules.empty()) {
    if (ms.size() != layers.size()) {
      std::vector<std::string> names;
      for (const Layer* l : layers) names.push_back(l->name());
      raise<FormatError>("{}: by order, the {} modules with weights ({}) must pair with the model's {} layers with "
                         "weights ({}); give a module map to pair them by name",
                         where, ms.size(), paths(ms), layers.size(), fmt::join(names, ", "));
    }
    for (size_t i = 0; i < ms.size(); ++i) convert(ms[i], *layers[i], state_dict, out, where);
  } else {
    for (const Module& m : ms) {
      auto it = modules.find(m.path);
      if (it == modules.end()) {
        std::vector<std::string> mapped;
        for (const auto& kv : modules) mapped.push_back(kv.first);
        raise<FormatError>("{}: module '{}' is not in the module map (it maps {})", where, m.path,
                           fmt::join(mapped, ", "));
      }
      convert(m, model.layer(it->second), state_dict, out, where);
    }
  }
  try {
    load_weights(model, out);
  } catch (const FormatError& e) {
    raise<FormatError>("{}: {}", where, e.what());
  }
}

void load_state_dict(Model& model, const std::string& path, const ModuleMap& modules) {
  load_state_dict(model, read_safetensors(path), modules, path);
}

}  // namespace locnet
