// Layers and the catalog for Python: a Layer is made from (type, args, kwargs) through the catalog, so every
// declared type, option and default reaches Python with no code per type (tools/python/locnet/__init__.py
// generates the classes from catalog()).
#include <pybind11/stl.h>

#include <cstring>

#include "bindings.hpp"
#include "convert.hpp"
#include "locnet/core/catalog.hpp"
#include "locnet/core/dtype.hpp"
#include "locnet/layers/layer.hpp"
#include "locnet/layers/registry.hpp"

namespace locnet::python {

namespace {

Kind kind_from_name(const std::string& name) {
  for (Kind k : kKinds)
    if (kind_name(k) == name) return k;
  throw py::value_error("unknown catalog kind '" + name + "'");
}

py::list describe(Kind kind) {
  py::list out;
  for (const CatalogEntry* e : catalog().entries(kind)) {
    py::list options;
    for (const FieldDoc& f : e->options)
      options.append(py::dict(py::arg("name") = f.name, py::arg("type") = f.type, py::arg("default") = f.default_repr,
                              py::arg("doc") = f.doc, py::arg("required") = f.required));
    out.append(py::dict(py::arg("name") = e->name, py::arg("aliases") = e->aliases, py::arg("doc") = e->doc,
                        py::arg("options") = options));
  }
  return out;
}

// One entry per parameter or buffer: (name, value, grad or None, trainable); the arrays view the layer's storage.
py::list describe(const std::vector<Param*>& params) {
  py::list out;
  for (Param* p : params)
    out.append(py::make_tuple(p->name, to_numpy(p->value), p->grad.defined() ? py::object(to_numpy(p->grad)) : py::none(),
                              p->trainable));
  return out;
}

Param& find_param(Layer& l, const std::string& name) {
  for (Param* p : l.params())
    if (p->name == name) return *p;
  for (Param* p : l.buffers())
    if (p->name == name) return *p;
  throw ConfigError(l.name() + ": no parameter or buffer named '" + name + "'");
}

// Copies `a` into the parameter (same shape, converted to its dtype).
void assign(Param& p, const py::handle& a, const std::string& where) {
  Tensor src = to_tensor(a);
  require<ShapeError>(src.shape() == p.value.shape(), where, "the shape of " + p.name, p.value.shape().str(),
                      src.shape().str());
  const Tensor converted = src.to(p.value.dtype());
  std::memcpy(p.value.raw(), converted.raw(), converted.nbytes());
}

py::object forward(Layer& l, const py::handle& x, bool training) {
  const Mode mode = training ? Mode::Training : Mode::Inference;
  Tensor y;
  if (py::isinstance<py::list>(x) || py::isinstance<py::tuple>(x)) {
    auto xs = to_tensors(x);
    py::gil_scoped_release unlocked;
    y = l.forward_many(xs, mode);
  } else {
    Tensor in = to_tensor(x);
    py::gil_scoped_release unlocked;
    y = l.forward(in, mode);
  }
  return to_numpy(std::move(y));
}

py::object backward(Layer& l, const py::handle& dy) {
  Tensor g = to_tensor(dy);
  if (l.arity().max == 1) {
    Tensor dx;
    {
      py::gil_scoped_release unlocked;
      dx = l.backward(g);
    }
    return to_numpy(std::move(dx));
  }
  std::vector<Tensor> dxs;
  {
    py::gil_scoped_release unlocked;
    dxs = l.backward_many(g);
  }
  py::list out;
  for (auto& d : dxs) out.append(to_numpy(std::move(d)));
  return out;
}

// One shape (a tuple of ints) or, for a layer of several inputs, a list of shapes.
void build(Layer& l, const py::handle& shape, uint64_t seed, const std::string& dtype) {
  Rng rng(seed);
  const bool many = py::len(shape) > 0 && !py::isinstance<py::int_>(shape[py::int_(0)]) && !shape[py::int_(0)].is_none();
  if (!many) return l.build(to_shape(shape), rng, dtype_from_name(dtype));
  std::vector<Shape> shapes;
  for (auto s : shape) shapes.push_back(to_shape(s));
  l.build_many(shapes, rng, dtype_from_name(dtype));
}

}  // namespace

void bind_layers(py::module_& m) {
  m.def("catalog", [](const std::string& kind) { return describe(kind_from_name(kind)); }, py::arg("kind"),
        "The catalog's entries of one kind ('layer', 'optimizer', 'schedule', 'loss', 'regularizer', 'constraint', "
        "'initializer'): name, aliases, doc and options (name, type, default as spec text, doc, required)");
  m.def("spec_repr", [](const py::handle& v) { return to_value(v).repr(); }, "A Python value as spec-language text");

  py::class_<Layer, std::unique_ptr<Layer>>(m, "Layer", "A locnet layer (made by make_layer from the catalog)")
      .def_property_readonly("type", &Layer::type)
      .def_property("name", [](const Layer& l) { return l.name(); }, &Layer::set_name)
      .def("config", [](const Layer& l) { return from_call(l.config()); }, "(type, args, kwargs) that rebuild it")
      .def("spec", [](const Layer& l) { return l.config().repr(); }, "The layer as a spec-language call")
      .def_property_readonly("built", &Layer::built)
      .def("build", &build, py::arg("shape"), py::arg("seed") = 0, py::arg("dtype") = "float32",
           "Allocates the parameters for an input shape (batch first, None for unknown)")
      .def_property_readonly("input_shape", [](const Layer& l) { return from_shape(l.input_shape()); })
      .def("output_shape", [](const Layer& l, const py::handle& s) { return from_shape(l.output_shape(to_shape(s))); })
      .def_property_readonly("dtype", [](const Layer& l) { return std::string(dtype_name(l.dtype())); })
      .def_property_readonly("arity", [](const Layer& l) {
        const auto a = l.arity();
        return py::make_tuple(a.min, a.max == SIZE_MAX ? py::object(py::none()) : py::object(py::int_(a.max)));
      })
      .def("forward", &forward, py::arg("x"), py::arg("training") = false,
           "Forward of a batch (a list of arrays for a layer of several inputs); the GIL is released")
      .def("backward", &backward, py::arg("dy"),
           "dL/dx from dL/dy after a training forward; adds to the parameters' gradients")
      .def("params", [](Layer& l) { return describe(l.params()); }, "(name, value, grad, trainable) per parameter")
      .def("buffers", [](Layer& l) { return describe(l.buffers()); }, "(name, value, None, False) per buffer")
      .def("assign", [](Layer& l, const std::string& name, const py::handle& a) {
             assign(find_param(l, name), a, l.name());
           }, py::arg("name"), py::arg("value"), "Copies an array into a parameter or buffer (same shape)")
      .def("param_aliases", [](Layer& l) {
             py::dict out;
             for (const auto& list : {l.params(), l.buffers()})
               for (Param* p : list) out[py::str(p->name)] = p->aliases;
             return out;
           }, "Each parameter's and buffer's other names (its framework's, as weight files accept them)")
      .def("zero_grad", &Layer::zero_grad)
      .def_property("trainable", &Layer::trainable, &Layer::set_trainable)
      .def_property_readonly("param_count", &Layer::param_count)
      .def_property_readonly("kernel", &Layer::kernel)
      .def("clone", [](const Layer& l) { return l.clone(); });

  m.def("make_layer", [](const std::string& type, const py::handle& args, const py::handle& kwargs) {
          return make_layer(to_call(type, args, kwargs));
        }, py::arg("type"), py::arg("args") = py::tuple(), py::arg("kwargs") = py::dict(),
        "A layer from the catalog: make_layer('LocallyConnected2D', (64, (3, 3)), {'padding': 'valid'})");
}

}  // namespace locnet::python
