// The protobuf side of the ONNX reader (include/locnet/interop/onnx.hpp): bounded parsing of ModelProto and
// TensorProto and the conversion of tensors, shared by the graph importer (src/interop/onnx.cpp) and the
// exporter (src/interop/onnx_export.cpp).
#pragma once
#include <onnx/onnx_pb.h>

#include <climits>
#include <filesystem>
#include <span>
#include <string>

#include "locnet/core/limits.hpp"
#include "locnet/interop/onnx.hpp"
#include "locnet/io/file.hpp"

namespace locnet::onnx_import {

constexpr int kMaxRank = 8;

// protobuf takes an int length; a longer file cannot be an ONNX file protobuf reads in one piece.
template <class Proto>
Proto parse_proto(std::span<const std::byte> bytes, std::string_view what) {
  if (bytes.size() > size_t(INT_MAX))
    raise<FormatError>("{} of {} bytes: more than protobuf's 2 GiB", what, bytes.size());
  Proto p;
  if (!p.ParseFromArray(bytes.data(), int(bytes.size())))
    raise<FormatError>("not an ONNX {} (truncated or corrupt protobuf, {} bytes)", what, bytes.size());
  return p;
}

// The whole file, at most max_tensor_bytes() (read_file stops one byte past it), parsed; FormatErrors name the path.
template <class Parse>
auto read_onnx_file(const std::string& path, Parse&& parse) {
  const auto limit = [](std::span<const std::byte>) { return max_tensor_bytes(); };
  return read_parsed(path, limit, [&](std::span<const std::byte> bytes) {
    if (bytes.size() > max_tensor_bytes())
      raise<FormatError>("file must be at most {} bytes (the tensor limit), got more", max_tensor_bytes());
    return parse(bytes);
  });
}

std::string type_name(int32_t type);                             // "FLOAT", "UINT8", ... or "unknown"
Tensor to_tensor(const onnx::TensorProto& t);                    // FormatError / NotSupported naming the tensor
onnx::ModelProto parse_model(std::span<const std::byte> bytes);  // FormatError unless a ModelProto with a graph
TensorFile initializers(const onnx::ModelProto& m);
// Initializers stored outside the model (data_location EXTERNAL) read into raw_data from files relative to `dir`.
void load_external_data(onnx::ModelProto& m, const std::filesystem::path& dir);

}  // namespace locnet::onnx_import
