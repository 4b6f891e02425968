// Models for Python: graph building from Layer objects (each added as a clone that the model owns), forward and
// backward on arrays with the GIL released, parameters as NumPy views, and the files (formats.hpp).
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "convert.hpp"
#include "locnet/core/dtype.hpp"
#include "locnet/formats.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/model.hpp"
#include "locnet/model/weights.hpp"
#include "locnet/train/checkpoint.hpp"

namespace locnet::python {

namespace {

bool is_sequence(const py::handle& x) { return py::isinstance<py::list>(x) || py::isinstance<py::tuple>(x); }

// One array, or a list of arrays for a model of several inputs (then a list comes back).
py::object forward(Model& m, const py::handle& x, bool training) {
  const Mode mode = training ? Mode::Training : Mode::Inference;
  if (is_sequence(x)) {
    auto xs = to_tensors(x);
    std::vector<Tensor> ys;
    {
      py::gil_scoped_release unlocked;
      ys = m.forward_many(xs, mode);
    }
    py::list out;
    for (auto& y : ys) out.append(to_numpy(std::move(y)));
    return out;
  }
  Tensor in = to_tensor(x), y;
  {
    py::gil_scoped_release unlocked;
    y = m.forward(in, mode);
  }
  return to_numpy(std::move(y));
}

py::object backward(Model& m, const py::handle& dy) {
  std::vector<Tensor> dxs;
  auto dys = is_sequence(dy) ? to_tensors(dy) : std::vector<Tensor>{to_tensor(dy)};
  {
    py::gil_scoped_release unlocked;
    dxs = m.backward_many(dys);
  }
  if (dxs.size() == 1 && !is_sequence(dy) && m.inputs().size() == 1) return to_numpy(std::move(dxs[0]));
  py::list out;
  for (auto& d : dxs) out.append(to_numpy(std::move(d)));
  return out;
}

py::list named_params(Model& m, bool include_buffers) {
  py::list out;
  for (auto& [key, p] : m.named_params(include_buffers))
    out.append(py::make_tuple(key, to_numpy(p->value), p->grad.defined() ? py::object(to_numpy(p->grad)) : py::none(),
                              p->trainable));
  return out;
}

// Each layer keeps the model alive (as reference_internal would), however long it outlives the list.
py::list layers(py::object self) {
  Model& m = self.cast<Model&>();
  py::list out;
  for (size_t i = 0; i < m.size(); ++i)
    out.append(py::cast(&m.layer(i), py::return_value_policy::reference_internal, self));
  return out;
}

std::vector<Shape> shapes(const py::handle& list) {
  std::vector<Shape> out;
  for (auto s : list) out.push_back(to_shape(s));
  return out;
}

}  // namespace

void bind_model(py::module_& m) {
  py::class_<Model>(m, "Model", "A graph of layers (a chain is its special case)")
      .def(py::init<>())
      .def("copy", [](const Model& self) { return Model(self); }, "A deep copy (weights included)")
      .def("input", [](Model& self, const py::handle& shape, const std::string& name) {
             return shape.is_none() ? self.shapeless_input(name) : self.input(to_shape(shape), name);
           }, py::arg("shape"), py::arg("name") = "", "An input node; shape per sample, None: from the first batch")
      .def("add", [](Model& self, const Layer& l, const std::vector<NodeId>& inputs) {
             return self.add(l.clone(), inputs);
           }, py::arg("layer"), py::arg("inputs"), "Adds a copy of the layer on the given nodes; returns its node")
      .def("append", [](Model& self, const Layer& l) { self.add(l.clone()); }, "Adds a copy after the last node")
      .def("set_inputs", &Model::set_inputs)
      .def("set_outputs", &Model::set_outputs)
      .def_property_readonly("inputs", &Model::inputs)
      .def_property_readonly("outputs", &Model::outputs)
      .def("node_name", &Model::node_name)
      .def("node_inputs", &Model::node_inputs)
      .def("node_layer", [](Model& self, NodeId id) { return const_cast<Layer*>(self.node_layer(id)); },
           py::return_value_policy::reference_internal, "The layer of a node (None for an input)")
      .def_property_readonly("node_count", &Model::node_count)
      .def("layers", &layers, "The layers in topological order (views into the model)")
      .def("layer", [](Model& self, const std::string& name) { return &self.layer(name); },
           py::return_value_policy::reference_internal)
      .def_property_readonly("input_shapes", [](const Model& self) {
        py::list out;
        for (auto& s : self.input_shapes()) out.append(s ? py::object(from_shape(*s)) : py::object(py::none()));
        return out;
      })
      .def("output_shapes", [](const Model& self, const py::handle& in) {
        py::list out;
        for (auto& s : self.output_shapes(shapes(in))) out.append(from_shape(s));
        return out;
      }, py::arg("input_shapes"), "Output shapes for input shapes (batch first)")
      .def("build", [](Model& self, const py::handle& in, uint64_t seed, const std::string& dtype) {
             Rng rng(seed);
             self.build_many(shapes(in), rng, dtype_from_name(dtype));
           }, py::arg("input_shapes"), py::arg("seed") = 0, py::arg("dtype") = "float32")
      .def("build_from_inputs", [](Model& self, uint64_t seed, const std::string& dtype) {
             self.build_from_inputs(seed, dtype_from_name(dtype));
           }, py::arg("seed") = 0, py::arg("dtype") = "float32")
      .def_property_readonly("built", &Model::built)
      .def("forward", &forward, py::arg("x"), py::arg("training") = false)
      .def("predict", [](Model& self, const py::handle& x) { return forward(self, x, false); }, py::arg("x"),
           "Inference forward of a batch (an array, or a list of arrays for a model with several inputs)")
      .def("backward", &backward, py::arg("dy"), "dL/dx (a list for several inputs) after a training forward")
      .def("zero_grad", &Model::zero_grad)
      .def("regularization_loss", &Model::regularization_loss)
      .def("add_regularization_grads", &Model::add_regularization_grads)
      .def("apply_constraints", &Model::apply_constraints)
      .def("named_params", &named_params, py::arg("include_buffers") = true,
           "(key, value, grad, trainable) per parameter (and buffer); the arrays view the model's storage")
      .def_property_readonly("param_count", &Model::param_count)
      .def_property_readonly("buffer_count", &Model::buffer_count)
      .def("summary", [](const Model& self) { return self.summary(); }, "The Keras-like table of the layers")
      .def("spec", &Model::spec, "The model in the spec language (docs/spec-language.md)")
      .def("__repr__", [](const Model& self) { return self.summary(); });

  m.def("load_model", [](const std::string& path) { return load_any_model(path); }, py::arg("path"),
        "A model from a locnet, Keras (.h5, .keras) or ONNX file");
  m.def("save_model", [](Model& model, const std::string& path) { save_model(model, path); }, py::arg("model"),
        py::arg("path"), "Writes a locnet model file (written atomically)");
  m.def("save_weights", [](Model& model, const std::string& path) { save_weights(model, path); });
  m.def("load_weights", [](Model& model, const std::string& path) { load_weights(model, path); });
  m.def("model_from_spec", [](const std::string& text) { return parse_model(text); }, py::arg("text"),
        "A model from spec-language text (docs/spec-language.md); built on the first forward");
  // Test hook: NumPy -> Tensor -> NumPy, to observe what is borrowed and what is copied; with a dtype, converted.
  m.def("_roundtrip", [](const py::handle& a, const std::string& dtype) {
    Tensor t = to_tensor(a);
    return to_numpy(dtype.empty() ? t : t.to(dtype_from_name(dtype)));
  }, py::arg("a"), py::arg("dtype") = "");
}

}  // namespace locnet::python
