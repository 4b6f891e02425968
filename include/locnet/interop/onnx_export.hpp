// locnet models -> ONNX files (issue 30; the mapping table and what is refused: docs/onnx-export.md).
// A built Model becomes one ModelProto: ir_version and opset 13 by default (11 to 18 on request), producer "locnet"
// and its version, the graph inputs and outputs with the model's shapes and a symbolic batch dimension "N", the
// weights as initializers in the model's dtype (f32 -> FLOAT, f64 -> DOUBLE) and one or a few nodes per layer.
// Layouts: ONNX's spatial operators take NCHW; a channels_last layer gets Transpose nodes only where its input or
// output meets a value in the other layout (a chain of channels_last layers is transposed once at each end).
// Attributes that ONNX stores as 32-bit floats (LRN alpha/beta/bias, BatchNormalization epsilon, LeakyRelu and
// Elu alpha, Clip bounds) are rounded to f32; weights keep the model's precision.
// Errors: ConfigError for a model that is not built; NotSupported naming the layer, its type and the reason for a
// layer or an option ONNX cannot express exactly (LocallyConnected1D/2D: ONNX has no such operator), or for an
// opset outside 11..18.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "locnet/model/model.hpp"

namespace locnet {

struct OnnxExportOptions {
  int64_t opset = 13;          // default-domain opset version, 11 to 18
  int64_t ir_version = 0;      // 0: the IR version of that opset's ONNX release (opset 11: 6, 12-14: 7, 15-18: 8)
  std::string graph_name = "locnet";
  std::string batch_name = "N";  // the symbolic first dimension of every graph input and output
};

// The serialized ModelProto.
std::vector<std::byte> onnx_bytes(Model& model, const OnnxExportOptions& options = {});
// Writes it to `path` (atomically: a temporary file renamed into place).
void save_onnx(Model& model, const std::string& path, const OnnxExportOptions& options = {});

}  // namespace locnet
