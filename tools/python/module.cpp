// The `locnet` Python module (pybind11): NumPy arrays in and out, locnet's errors as Python exceptions, models
// from files (load_any_model) and from spec text. docs/python.md describes it; tools/python/test_locnet.py tests it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "locnet/formats.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/model.hpp"

namespace py = pybind11;
using namespace locnet;

namespace {

// float32/float64 arrays that are C-contiguous and 64-byte aligned are borrowed (the Tensor keeps the array
// alive); anything else is converted to a new Tensor (other dtypes to float32, as NumPy's astype would).
template <class T>
Tensor copy_in(const py::array& a) {
  auto c = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!c) throw py::error_already_set();
  Tensor t(Shape(std::vector<int64_t>(c.shape(), c.shape() + c.ndim())), dtype_v<T>);
  std::copy(c.data(), c.data() + c.size(), t.data<T>());
  return t;
}

Tensor to_tensor(const py::array& a) {
  const bool f64 = py::isinstance<py::array_t<double>>(a);  // equivalent dtypes: native byte order only
  const bool f32 = py::isinstance<py::array_t<float>>(a);
  const bool contiguous = (a.flags() & py::array::c_style) != 0;
  const auto address = reinterpret_cast<uintptr_t>(a.data());
  if ((f32 || f64) && contiguous && address % kAlignment == 0) {
    // The last reference may go from any thread that holds the tensor: take the GIL to release the array.
    std::shared_ptr<py::object> owner(new py::object(a), [](py::object* o) {
      py::gil_scoped_acquire gil;
      delete o;
    });
    return Tensor::borrow(const_cast<void*>(a.data()), owner,
                          Shape(std::vector<int64_t>(a.shape(), a.shape() + a.ndim())), f64 ? DType::f64 : DType::f32);
  }
  return f64 ? copy_in<double>(a) : copy_in<float>(a);
}

// Zero-copy out: the array views the tensor's storage (its strides included) and owns a reference to it.
// bf16/f16 tensors are converted to float32, which NumPy can hold.
py::array to_numpy(Tensor t) {
  if (t.dtype() != DType::f32 && t.dtype() != DType::f64) t = t.to(DType::f32);
  const auto item = ssize_t(dtype_size(t.dtype()));
  std::vector<ssize_t> shape(t.shape().dims().begin(), t.shape().dims().end()), strides;
  for (int64_t s : t.strides()) strides.push_back(s * item);
  auto* keep = new Tensor(t);
  py::capsule owner(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  auto dtype = t.dtype() == DType::f64 ? py::dtype::of<double>() : py::dtype::of<float>();
  return py::array(dtype, shape, strides, keep->raw(), owner);
}

py::object predict(Model& m, const py::object& x) {
  if (py::isinstance<py::list>(x) || py::isinstance<py::tuple>(x)) {  // several inputs -> a list of outputs
    std::vector<Tensor> xs;
    for (auto item : x) xs.push_back(to_tensor(py::array::ensure(item)));
    std::vector<Tensor> ys;
    {
      py::gil_scoped_release unlocked;
      ys = m.forward_many(xs, Mode::Inference);
    }
    py::list out;
    for (auto& y : ys) out.append(to_numpy(std::move(y)));
    return out;
  }
  auto a = py::array::ensure(x);
  if (!a) throw py::type_error("predict: x must be an array (or a list of arrays for several inputs)");
  Tensor in = to_tensor(a), y;
  {
    py::gil_scoped_release unlocked;
    y = m.forward(in, Mode::Inference);
  }
  return to_numpy(std::move(y));
}

}  // namespace

PYBIND11_MODULE(locnet, m) {
  m.doc() = "locnet: LRN, locally connected and batch-norm layers with a small model framework";
  m.attr("__version__") = LOCNET_VERSION;

  // Same messages as the C++ errors; the Python base classes let callers catch them the idiomatic way.
  py::register_exception<ConfigError>(m, "ConfigError", PyExc_ValueError);
  py::register_exception<ShapeError>(m, "ShapeError", PyExc_ValueError);
  py::register_exception<FormatError>(m, "FormatError", PyExc_OSError);
  py::register_exception<NotSupported>(m, "NotSupported", PyExc_NotImplementedError);

  py::class_<Model>(m, "Model")
      .def("predict", &predict, py::arg("x"),
           "Inference forward of a batch (an array, or a list of arrays for a model with several inputs)")
      .def("summary", [](const Model& self) { return self.summary(); }, "The Keras-like table of the layers")
      .def("__repr__", [](const Model& self) { return self.summary(); });

  m.def("load_model", [](const std::string& path) { return load_any_model(path); }, py::arg("path"),
        "A model from a locnet, Keras (.h5, .keras) or ONNX file");
  m.def("model_from_spec", [](const std::string& text) { return parse_model(text); }, py::arg("text"),
        "A model from spec-language text (docs/spec-language.md); built on the first predict");
  // Test hook: NumPy -> Tensor -> NumPy, to observe what is borrowed and what is copied.
  m.def("_roundtrip", [](const py::array& a) { return to_numpy(to_tensor(a)); });
}
