// ONNX files -> locnet (issue 30): a ModelProto's graph becomes a built `Model` (model/model.hpp) with the
// initializers loaded as its weights; a TensorProto file (the backend tests' input_*.pb) becomes a Tensor.
// Parsing uses Debian's libonnx-dev (onnx_proto, ONNX 1.12) and protobuf. The file is read whole, bounded by
// max_tensor_bytes() and protobuf's 2 GiB; every dimension, count and byte length in it is checked before use.
//
// Operators (NCHW kept: every layer runs channels_first, no transposes between ops):
//   LRN -> LocalResponseNorm.onnx; Relu -> ReLU; Conv (1D/2D: group, dilations, strides, pads, auto_pad; weight
//   OIHW -> the (kh, kw, C/group, F) kernel) -> Conv1D/Conv2D; MaxPool/AveragePool (1D/2D: pads, ceil_mode,
//   count_include_pad) -> MaxPooling/AveragePooling; BatchNormalization (inference) -> BatchNorm{1,2,3}D.pytorch;
//   Concat -> Concatenate; Add (equal shapes) -> Add; Gemm (constant B, C; transA = 0) -> Dense; Flatten
//   (an axis keeping the batch alone) -> Flatten; Softmax (one axis other than the batch) -> Softmax; LeakyRelu -> ReLU(negative_slope);
//   Sigmoid, Tanh -> Activation; Identity, Dropout (inference) -> Identity; GlobalAveragePool/GlobalMaxPool ->
//   Global*Pooling (keepdims); Sum, Sub, Mul, Mean, Max, Min (equal shapes) -> Add, Subtract, Multiply, Average,
//   Maximum, Minimum; MatMul (constant matrix B) -> Dense without bias; Reshape (constant shape, first entry 0 or
//   the file's batch size) -> Reshape; Transpose (perm[0] = 0) -> Permute; Constant, ConstantOfShape -> an
//   initializer; Add/Sub/Mul/Div with a scalar or per-channel constant -> a grouped 1x1 Conv (y = s x + b);
//   merges broadcast over spatial axes of size 1 -> UpSampling2D then the merge; Pad (zeros) -> ZeroPadding1D/2D;
//   Resize/Upsample (integer factors, nearest or half-pixel linear) -> UpSampling2D; Concat, Reshape, Slice,
//   Transpose, Cast, Unsqueeze, Squeeze on constants only -> computed at import. Opsets 7-18; external data
//   read from files inside the model's directory.
// Errors: FormatError naming the file for a non-ONNX, truncated or inconsistent file; NotSupported naming the
// node, its op type and the opset for an operator or option locnet cannot express (the batch axis is axis 0).
#pragma once
#include <cstddef>
#include <span>
#include <string>

#include "locnet/io/safetensors.hpp"
#include "locnet/model/model.hpp"

namespace locnet {

// The graph of an ONNX model, built for its input shapes (the first dimension is the batch) in its input dtype
// (float -> f32, double -> f64), its initializers loaded. The graph inputs named in `constants` become
// initializers with those values (weights fed as inputs, as the backend tests do).
Model read_onnx(const std::string& path, const TensorFile& constants = {});
Model parse_onnx(std::span<const std::byte> bytes, const TensorFile& constants = {});

// The model's initializers (float, double, int64 from raw_data or the typed fields; int64 read as f64 and listed
// in `int64`), in file order.
TensorFile read_onnx_initializers(const std::string& path);

// One serialized TensorProto (the backend tests' input_*.pb / output_*.pb).
Tensor read_onnx_tensor(const std::string& path);
Tensor parse_onnx_tensor(std::span<const std::byte> bytes);

}  // namespace locnet
