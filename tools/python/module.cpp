// The extension module locnet._core (pybind11): locnet's layers, models, optimizers, losses and files on NumPy
// arrays, and its errors as Python exceptions. The package tools/python/locnet/ builds the user-facing API (the
// generated layer classes, Sequential, fit, locnet.torch) on it; docs/python.md describes both.
#include "bindings.hpp"
#include "convert.hpp"
#include "locnet/core/error.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "locnet's C++ core; use the package `locnet`";
  m.attr("__version__") = LOCNET_VERSION;

  // Same messages as the C++ errors; the Python base classes let callers catch them the idiomatic way.
  py::register_exception<locnet::ConfigError>(m, "ConfigError", PyExc_ValueError);
  py::register_exception<locnet::ShapeError>(m, "ShapeError", PyExc_ValueError);
  py::register_exception<locnet::FormatError>(m, "FormatError", PyExc_OSError);
  py::register_exception<locnet::NotSupported>(m, "NotSupported", PyExc_NotImplementedError);
  py::register_exception<locnet::DistError>(m, "DistError", PyExc_RuntimeError);

  m.def("_set_call_factory", &locnet::python::set_call_factory,
        "How nested spec calls (L2(0.01) in a config) come back to Python: factory(type, args, kwargs)");
  locnet::python::bind_layers(m);
  locnet::python::bind_model(m);
  locnet::python::bind_data(m);
  locnet::python::bind_training(m);
  locnet::python::bind_dist(m);
}
