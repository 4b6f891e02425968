#include "interop/onnx_proto.hpp"

#include <bit>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>

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

size_t element_size(const onnx::TensorProto& t) {
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      return 4;
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::INT64:
      return 8;
    default:
      raise<NotSupported>("tensor '{}': data type {} ({}) is not supported (float, double, int64 are)", t.name(),
                          type_name(t.data_type()), t.data_type());
  }
}

uint64_t parse_u64(const onnx::TensorProto& t, const std::string& key, const std::string& text) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    raise<FormatError>("tensor '{}': external data {} must be an unsigned integer, got '{}'", t.name(), key, text);
  return v;
}

// The file of an external tensor: a relative path inside the model's directory (after resolving links).
std::filesystem::path external_file(const onnx::TensorProto& t, const std::string& location,
                                    const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  const fs::path rel(location);
  bool escapes = location.empty() || rel.is_absolute() || rel.has_root_name();
  for (const auto& part : rel) escapes = escapes || part == "..";
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(dir.empty() ? fs::path(".") : dir, ec);
  const fs::path file = fs::weakly_canonical(base / rel, ec);
  const auto [b, f] = std::mismatch(base.begin(), base.end(), file.begin(), file.end());
  if (escapes || ec || b != base.end())
    raise<FormatError>(
        "tensor '{}': external data location '{}' must be a relative path inside the model's "
        "directory",
        t.name(), location);
  return file;
}

// Replaces the external data reference of `t` with its bytes (raw_data), offset and length checked against the
// tensor's shape and the file's size.
void load_external(onnx::TensorProto& t, const std::filesystem::path& dir) {
  std::string location;
  uint64_t offset = 0, length = 0;
  bool has_length = false;
  for (const auto& e : t.external_data()) {
    if (e.key() == "location") location = e.value();
    if (e.key() == "offset") offset = parse_u64(t, e.key(), e.value());
    if (e.key() == "length") length = parse_u64(t, e.key(), e.value()), has_length = true;
  }
  const uint64_t bytes = uint64_t(checked_dims(t).numel()) * element_size(t);
  if (bytes > max_tensor_bytes())
    raise<FormatError>("tensor '{}': {} bytes of external data exceed the tensor limit of {} bytes", t.name(), bytes,
                       max_tensor_bytes());
  if (has_length && length != bytes)
    raise<FormatError>("tensor '{}': external data length must be {} bytes for shape ({}), got {}", t.name(), bytes,
                       fmt::join(t.dims(), ", "), length);
  const std::filesystem::path file = external_file(t, location, dir);
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(file, ec);
  if (ec || offset > size || bytes > size - offset)
    raise<FormatError>("tensor '{}': external data of {} bytes at offset {} lies outside '{}' ({})", t.name(), bytes,
                       offset, location, ec ? ec.message() : fmt::format("{} bytes", size));
  std::string data(bytes, '\0');
  std::ifstream in(file, std::ios::binary);
  in.seekg(std::streamoff(offset));
  if (!in.read(data.data(), std::streamsize(bytes)))
    raise<FormatError>("tensor '{}': reading {} bytes of external data from '{}' failed", t.name(), bytes, location);
  t.set_raw_data(std::move(data));
  t.clear_external_data();
  t.set_data_location(onnx::TensorProto::DEFAULT);
}

}  // namespace

void load_external_data(onnx::ModelProto& m, const std::filesystem::path& dir) {
  for (auto& t : *m.mutable_graph()->mutable_initializer())
    if (t.data_location() == onnx::TensorProto::EXTERNAL) load_external(t, dir);
}

std::string type_name(int32_t type) {
  return onnx::TensorProto::DataType_IsValid(type) ? onnx::TensorProto::DataType_Name(onnx::TensorProto::DataType(type))
                                                   : "unknown";
}

Tensor to_tensor(const onnx::TensorProto& t) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL)
    raise<NotSupported>("tensor '{}': external data needs the model's file (read_onnx, not parse_onnx)", t.name());
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
  return read_onnx_file(path, [&](std::span<const std::byte> b) {
    onnx::ModelProto m = parse_model(b);
    load_external_data(m, std::filesystem::path(path).parent_path());
    return initializers(m);
  });
}

Tensor parse_onnx_tensor(std::span<const std::byte> bytes) {
  return to_tensor(parse_proto<onnx::TensorProto>(bytes, "tensor"));
}

Tensor read_onnx_tensor(const std::string& path) {
  return read_onnx_file(path, [](std::span<const std::byte> b) { return parse_onnx_tensor(b); });
}

}  // namespace locnet
