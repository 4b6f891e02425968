#include "convert.hpp"

#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

namespace locnet::python {

namespace {

template <class T>
Tensor copy_in(const py::handle& a) {
  auto c = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!c) throw py::error_already_set();
  Tensor t(Shape(std::vector<int64_t>(c.shape(), c.shape() + c.ndim())), dtype_v<T>);
  std::copy(c.data(), c.data() + c.size(), t.data<T>());
  return t;
}

py::module_ numpy() { return py::module_::import("numpy"); }

// The dtype whose values an array holds as they are: float32, float64, float16 and ml_dtypes' bfloat16, each in
// native byte order (NumPy's dtype equivalence, so a byte-swapped array is converted).
std::optional<DType> native_dtype(const py::array& a) {
  if (py::isinstance<py::array_t<float>>(a)) return DType::f32;
  if (py::isinstance<py::array_t<double>>(a)) return DType::f64;
  const py::dtype d = a.dtype();
  if (!d.attr("isnative").cast<bool>() || d.itemsize() != 2) return std::nullopt;
  if (d.kind() == 'f') return DType::f16;
  if (d.attr("name").cast<std::string>() == "bfloat16") return DType::bf16;
  return std::nullopt;
}

// Borrows the array's memory: it is C-contiguous and aligned to its element (else NumPy copies it first).
Tensor borrow(py::array a, DType dtype) {
  const auto address = reinterpret_cast<uintptr_t>(a.data());
  if ((a.flags() & py::array::c_style) == 0 || address % dtype_size(dtype) != 0)
    a = numpy().attr("array")(a, py::arg("order") = "C");  // a new array: aligned
  // The last reference may go from any thread that holds the tensor: take the GIL to release the array.
  std::shared_ptr<py::object> owner(new py::object(a), [](py::object* o) {
    py::gil_scoped_acquire gil;
    delete o;
  });
  return Tensor::borrow(const_cast<void*>(a.data()), owner,
                        Shape(std::vector<int64_t>(a.shape(), a.shape() + a.ndim())), dtype);
}

py::object& call_factory() {
  static auto* factory = new py::object();  // never destroyed: outlives the interpreter's teardown order
  return *factory;
}

}  // namespace

Tensor to_tensor(const py::handle& h) {
  if (py::hasattr(h, "_locnet_bf16_bits")) {  // locnet.bf16: a uint16 array of bfloat16 bit patterns
    auto bits = py::array::ensure(h.attr("_locnet_bf16_bits"));
    if (!bits || !py::isinstance<py::array_t<uint16_t>>(bits))
      throw py::type_error("locnet.bf16 must hold a native-order uint16 array");
    return borrow(bits, DType::bf16);
  }
  auto a = py::array::ensure(h);
  if (!a) throw py::type_error("expected an array, got " + std::string(py::str(py::type::of(h))));
  if (auto dtype = native_dtype(a)) return borrow(a, *dtype);
  const py::dtype d = a.dtype();
  return d.kind() == 'f' && d.itemsize() == 8 ? copy_in<double>(a) : copy_in<float>(a);  // float64 keeps precision
}

std::vector<Tensor> to_tensors(const py::handle& seq) {
  std::vector<Tensor> out;
  for (auto item : seq) out.push_back(to_tensor(item));
  return out;
}

py::object to_numpy(Tensor t) {
  const auto item = ssize_t(dtype_size(t.dtype()));
  std::vector<ssize_t> shape(t.shape().dims().begin(), t.shape().dims().end()), strides;
  for (int64_t s : t.strides()) strides.push_back(s * item);
  auto* keep = new Tensor(t);
  py::capsule owner(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  const char* names[] = {"float32", "float64", "uint16", "float16"};  // DType order; bf16 travels as its bits
  const auto dtype = py::dtype::from_args(py::str(names[size_t(t.dtype())]));
  py::array a(dtype, shape, strides, keep->raw(), owner);
  if (t.dtype() != DType::bf16) return a;
  return py::module_::import("locnet._arrays").attr("bf16")(a);
}

Value to_value(const py::handle& o) {
  if (o.is_none()) return Value();
  if (py::isinstance<py::bool_>(o) || py::isinstance(o, numpy().attr("bool_")))
    return Value(o.cast<bool>());
  if (py::isinstance<py::str>(o)) return Value(o.cast<std::string>());
  if (py::hasattr(o, "_locnet_call")) {
    auto t = o.attr("_locnet_call")().cast<py::tuple>();
    return Value(to_call(t[0].cast<std::string>(), t[1], t[2]));
  }
  if (py::isinstance<py::tuple>(o) || py::isinstance<py::list>(o)) {
    std::vector<Value> items;
    for (auto item : o) items.push_back(to_value(item));
    return Value::tuple(std::move(items));
  }
  if (py::isinstance(o, numpy().attr("integer")) || py::isinstance<py::int_>(o))
    return Value(o.cast<int64_t>());
  if (py::isinstance(o, numpy().attr("floating")) || py::isinstance<py::float_>(o))
    return Value(o.cast<double>());
  throw py::type_error("locnet: cannot pass a " + std::string(py::str(py::type::of(o).attr("__name__"))) +
                       " as an option (expected None, bool, int, float, str, a tuple of those, or a locnet object)");
}

Call to_call(const std::string& type, const py::handle& args, const py::handle& kwargs) {
  Call c;
  c.type = type;
  if (!args.is_none())
    for (auto a : args) c.args.push_back(to_value(a));
  if (!kwargs.is_none())
    for (auto [k, v] : kwargs.cast<py::dict>()) c.kwargs.emplace_back(k.cast<std::string>(), to_value(v));
  return c;
}

py::tuple from_call(const Call& c) {
  py::list args;
  for (const auto& a : c.args) args.append(from_value(a));
  py::dict kwargs;
  for (const auto& [k, v] : c.kwargs) kwargs[py::str(k)] = from_value(v);
  return py::make_tuple(c.type, args, kwargs);
}

py::object from_value(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::None: return py::none();
    case Value::Kind::Bool: return py::bool_(v.as_bool());
    case Value::Kind::Int: return py::int_(v.as_int());
    case Value::Kind::Float: return py::float_(v.as_double());
    case Value::Kind::Str: return py::str(v.as_str());
    case Value::Kind::Tuple: {
      py::list items;
      for (const auto& i : v.items()) items.append(from_value(i));
      return py::tuple(items);
    }
    case Value::Kind::Call: {
      auto t = from_call(v.call());
      if (!call_factory() || call_factory().is_none()) return t;
      return call_factory()(t[0], t[1], t[2]);
    }
  }
  return py::none();
}

void set_call_factory(py::object factory) { call_factory() = std::move(factory); }

Shape to_shape(const py::handle& o) {
  std::vector<int64_t> dims;
  for (auto d : o) dims.push_back(d.is_none() ? Shape::kUnknown : d.cast<int64_t>());
  return Shape(std::move(dims));
}

py::tuple from_shape(const Shape& s) {
  py::list dims;
  for (int64_t d : s.dims()) dims.append(d == Shape::kUnknown ? py::object(py::none()) : py::object(py::int_(d)));
  return py::tuple(dims);
}

}  // namespace locnet::python
