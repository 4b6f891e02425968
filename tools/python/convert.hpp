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

// Arrays in (docs/python-layers.md#arrays): float32, float64, float16 and ml_dtypes' bfloat16 arrays in native byte
// order, and locnet.bf16 (uint16 bit patterns), are borrowed when C-contiguous and element-aligned (the Tensor keeps
// the array alive), else copied by NumPy into such an array first; float64 in another byte order is copied as
// float64; anything else is converted to float32, as NumPy's astype would.
Tensor to_tensor(const py::handle& a);
std::vector<Tensor> to_tensors(const py::handle& seq);
// Arrays out: a view of the tensor's storage (its strides included) that owns a reference to it, in the tensor's
// dtype (float16 as NumPy's float16); a bf16 tensor comes back as locnet.bf16 over a uint16 view.
py::object to_numpy(Tensor t);

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
