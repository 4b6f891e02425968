#include "interop/onnx_proto.hpp"

#include <bit>
#include <cstring>

namespace locnet {
namespace onnx_import {
namespace {

// ---- Tensors

Shape checked_dims(const onnx::TensorProto& t) {
  if (t.dims_size() > kMaxRank)
    raise<FormatError>("tensor '{}': rank must be <= {}, got {}", t.name(), kMaxRank, t.dims_size());
  uint64_t n = 1;
  std::vector<int64_t> dims;
  for (int64_t d : t.dims()) {
    if (d < 0) raise<FormatError>("tensor '{}': dims must be >= 0, got {}", t.name(), d);
    if (d > 0 && n > max_tensor_bytes() / uint64_t(d))
      raise<FormatError>("tensor '{}': dims {} exceed the tensor limit of {} bytes", t.name(), fmt::join(t.dims(), "x"),
                         max_tensor_bytes());
    n *= uint64_t(d);
    dims.push_back(d);
  }
  return Shape(std::move(dims));
}

// Copies `count` values from the raw little-endian bytes or the typed field into a tensor of dtype `out`.
template <class T, class Field>
Tensor tensor_from(const onnx::TensorProto& t, const Field& typed, DType out) {
  Shape shape = checked_dims(t);
  const int64_t n = shape.numel();
  if (t.has_raw_data() && t.raw_data().size() != uint64_t(n) * sizeof(T))
    raise<FormatError>("tensor '{}': raw_data must hold {} bytes for shape {}, got {}", t.name(),
                       uint64_t(n) * sizeof(T), shape.str(), t.raw_data().size());
  if (n > 0 && t.has_raw_data() && dtype_size(out) == sizeof(T) && !std::is_integral_v<T> &&
      std::endian::native == std::endian::little) {  // the bytes as they are: one copy (bench/bench_import.cpp)
    Tensor y = Tensor::empty(shape, out);
    std::memcpy(y.raw(), t.raw_data().data(), t.raw_data().size());
    return y;
  }
  Tensor y(shape, out);
  if (t.has_raw_data()) {
    for (int64_t i = 0; i < n; ++i) {
      T v;
      std::memcpy(&v, t.raw_data().data() + size_t(i) * sizeof(T), sizeof(T));
      y.set(i, double(v));
    }
  } else {
    if (typed.size() != n)
      raise<FormatError>("tensor '{}': the typed data must hold {} values for shape {}, got {}", t.name(), n,
                         shape.str(), typed.size());
    for (int64_t i = 0; i < n; ++i) y.set(i, double(T(typed.Get(int(i)))));
  }
  return y;
}

}  // namespace

std::string type_name(int32_t type) {
  return onnx::TensorProto::DataType_IsValid(type) ? onnx::TensorProto::DataType_Name(onnx::TensorProto::DataType(type))
                                                   : "unknown";
}

Tensor to_tensor(const onnx::TensorProto& t) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    raise<NotSupported>("tensor '{}': external data is not supported yet", t.name());
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      return tensor_from<float>(t, t.float_data(), DType::f32);
    case onnx::TensorProto::DOUBLE:
      return tensor_from<double>(t, t.double_data(), DType::f64);
    case onnx::TensorProto::INT64:
      return tensor_from<int64_t>(t, t.int64_data(), DType::f64);
    default:
      raise<NotSupported>("tensor '{}': data type {} ({}) is not supported (float, double, int64 are)", t.name(),
                          type_name(t.data_type()), t.data_type());
  }
}

onnx::ModelProto parse_model(std::span<const std::byte> bytes) {
  auto m = parse_proto<onnx::ModelProto>(bytes, "model");
  if (!m.has_graph() || m.ir_version() <= 0)
    raise<FormatError>("not an ONNX model: ir_version must be > 0 with a graph, got ir_version {}{}", m.ir_version(),
                       m.has_graph() ? "" : " and no graph");
  return m;
}

TensorFile initializers(const onnx::ModelProto& m) {
  TensorFile f;
  for (const auto& t : m.graph().initializer()) {
    f.tensors.emplace_back(t.name(), to_tensor(t));
    if (t.data_type() == onnx::TensorProto::INT64) f.int64.insert(t.name());
  }
  return f;
}

}  // namespace onnx_import

using namespace onnx_import;

TensorFile read_onnx_initializers(const std::string& path) {
  return read_onnx_file(path, [](std::span<const std::byte> b) { return initializers(parse_model(b)); });
}

Tensor parse_onnx_tensor(std::span<const std::byte> bytes) {
  return to_tensor(parse_proto<onnx::TensorProto>(bytes, "tensor"));
}

Tensor read_onnx_tensor(const std::string& path) {
  return read_onnx_file(path, [](std::span<const std::byte> b) { return parse_onnx_tensor(b); });
}

}  // namespace locnet
