// The parts of the extension module locnet._core (tools/python/module.cpp declares the module).
#pragma once
#include <pybind11/pybind11.h>

namespace locnet::python {
void bind_layers(pybind11::module_& m);    // tools/python/bind_layers.cpp: Layer, catalog introspection
void bind_model(pybind11::module_& m);     // tools/python/bind_model.cpp: Model, files
void bind_training(pybind11::module_& m);  // tools/python/bind_training.cpp: Optimizer, Loss, fit, evaluate
void bind_data(pybind11::module_& m);      // tools/python/bind_data.cpp: Dataset and its sources
void bind_dist(pybind11::module_& m);      // tools/python/bind_dist.cpp: the data-parallel group (Collective)
}  // namespace locnet::python
