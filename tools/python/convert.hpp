// Conversions between Python and locnet for the extension module locnet._core (tools/python/module.cpp):
// NumPy arrays <-> Tensors (zero-copy where the layout allows), Python values <-> spec Values, shapes.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <vector>

#include "locnet/core/shape.hpp"
#include "locnet/core/tensor.hpp"
#include "locnet/core/value.hpp"

namespace locnet::python {

namespace py = pybind11;

// A float32/float64 array that is C-contiguous in native byte order is borrowed (the Tensor keeps the array
// alive); anything else is copied to a new Tensor (other dtypes to float32, as NumPy's astype would).
Tensor to_tensor(const py::handle& a);
std::vector<Tensor> to_tensors(const py::handle& seq);
// The array views the tensor's storage (its strides included) and owns a reference to it; bf16/f16 become float32.
py::array to_numpy(Tensor t);

// Python -> spec Value: None, bool, int, float, str, tuple/list (a tuple), NumPy scalars, and objects with a
// `_locnet_call()` method returning (type, args, kwargs) (the package's catalog objects). TypeError otherwise.
Value to_value(const py::handle& o);
Call to_call(const std::string& type, const py::handle& args, const py::handle& kwargs);
// spec Value -> Python; a Call becomes call_factory(type, args, kwargs) (set by the package), else a tuple.
py::object from_value(const Value& v);
py::tuple from_call(const Call& c);  // (type, args list, kwargs dict)
void set_call_factory(py::object factory);

// Shapes: a tuple of ints with None for an unknown dimension.
Shape to_shape(const py::handle& o);
py::tuple from_shape(const Shape& s);

}  // namespace locnet::python
