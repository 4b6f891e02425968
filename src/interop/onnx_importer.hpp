// The graph importer of the ONNX reader (include/locnet/interop/onnx.hpp): one ModelProto graph -> a Model, node
// by node. The core operators are in src/interop/onnx.cpp, the broadcasting arithmetic, Pad, Resize/Upsample and
// ConstantOfShape in src/interop/onnx_ops.cpp, operators on constants only in src/interop/onnx_fold.cpp.
#pragma once
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "interop/onnx_proto.hpp"
#include "locnet/model/model.hpp"

namespace locnet::onnx_import {

constexpr int64_t kMinOpset = 7, kMaxOpset = 18;

// A Slice along every axis of a tensor: the first index, the step and the count.
struct SliceWindow {
  std::vector<int64_t> first, step, count;
};

using Weights = std::vector<std::pair<std::string, Tensor>>;  // a layer's weights, by parameter name

// Maps one graph to a Model: values by name to the node that produces them.
class Importer {
 public:
  Importer(const onnx::ModelProto& m, const TensorFile& constants);
  Model run(const onnx::GraphProto& g);

 private:
  void add_input(const onnx::ValueInfoProto& in);
  NodeId value(const std::string& name, std::string_view user);
  Shape shape_of(NodeId id) const { return shapes_.at(size_t(id)); }

  // A node without a name (names are optional in ONNX) is named by its first output.
  std::string where(const onnx::NodeProto& n) const;
  [[noreturn]] void unsupported(const onnx::NodeProto& n, std::string_view why) const;
  const onnx::AttributeProto* attr(const onnx::NodeProto& n, std::string_view name) const;
  int64_t attr_int(const onnx::NodeProto& n, std::string_view name, int64_t def) const;
  double attr_float(const onnx::NodeProto& n, std::string_view name, double def) const;
  std::vector<int64_t> attr_ints(const onnx::NodeProto& n, std::string_view name, std::vector<int64_t> def) const;
  std::string attr_str(const onnx::NodeProto& n, std::string_view name, std::string def) const;
  const Tensor& constant(const onnx::NodeProto& n, int i) const;
  bool has_input(const onnx::NodeProto& n, int i) const { return i < n.input_size() && !n.input(i).empty(); }
  bool is_constant(const onnx::NodeProto& n, int i) const { return has_input(n, i) && consts_.find(n.input(i)); }
  // A constant 1-D list of integers (int64 read as f64: exact up to 2^53) of at most `max` entries.
  std::vector<int64_t> constant_ints(const onnx::NodeProto& n, int i, size_t max) const;

  std::vector<int64_t> clamped_ints(const onnx::NodeProto& n, int i) const;  // src/interop/onnx_fold.cpp
  SliceWindow slice_window(const onnx::NodeProto& n, const std::vector<int64_t>& dims) const;

  void check_size(const Shape& s, std::string_view what) const;  // FormatError beyond the tensor limit per sample
  void add_node(const onnx::NodeProto& n);
  void add_layer(const onnx::NodeProto& n);
  // Adds a layer on `ins` with its weights; records its output shape.
  NodeId append(std::unique_ptr<Layer> layer, const std::vector<NodeId>& ins, Weights w);

  // src/interop/onnx.cpp
  std::unique_ptr<Layer> reshape(const onnx::NodeProto& n, const Shape& in);
  std::unique_ptr<Layer> global_pool(const onnx::NodeProto& n, const Shape& in, bool max);
  Value pads(const onnx::NodeProto& n, const Shape& in, const std::vector<int64_t>& k, const std::vector<int64_t>& s,
             const std::vector<int64_t>& d) const;
  size_t spatial_rank(const onnx::NodeProto& n, const Shape& in) const;
  std::unique_ptr<Layer> conv(const onnx::NodeProto& n, const Shape& in, Weights& w);
  std::unique_ptr<Layer> pool(const onnx::NodeProto& n, const Shape& in, bool max);
  std::unique_ptr<Layer> batch_norm(const onnx::NodeProto& n, const Shape& in, Weights& w);
  std::unique_ptr<Layer> gemm(const onnx::NodeProto& n, const Shape& in, Weights& w);

  bool fold_constant(const onnx::NodeProto& n);  // src/interop/onnx_fold.cpp: an operator on constants only
  void add_computed(const onnx::NodeProto& n, Tensor t);

  // src/interop/onnx_ops.cpp
  bool constant_arithmetic(const onnx::NodeProto& n);  // Add/Sub/Mul/Div with one constant operand
  std::vector<NodeId> broadcast(const onnx::NodeProto& n, std::vector<NodeId> ins);
  std::unique_ptr<Layer> pad(const onnx::NodeProto& n, const Shape& in);
  // On an NCL input: Permute and UpSampling1D appended, `ins` set to them, the Permute back returned.
  std::unique_ptr<Layer> resize(const onnx::NodeProto& n, const Shape& in, std::vector<NodeId>& ins);
  Tensor constant_of_shape(const onnx::NodeProto& n) const;
  std::unique_ptr<Layer> flatten(const onnx::NodeProto& n, const Shape& in);

  // src/interop/onnx_layers.cpp
  std::unique_ptr<Layer> clip(const onnx::NodeProto& n) const;
  std::unique_ptr<Layer> prelu(const onnx::NodeProto& n, const Shape& in, Weights& w) const;
  bool slice(const onnx::NodeProto& n);  // Slice of a graph tensor -> Cropping
  // Gather reversing the channels, and LRN on such a value (PyTorch's even-size LRN as exported).
  bool reversal(const onnx::NodeProto& n);
  bool bias_add(const onnx::NodeProto& n);
  void find_within_lrn(const onnx::GraphProto& g);  // the exporter's within-channel LRN composition  // MatMul + Add of a last-axis constant -> Dense with bias

  int64_t opset_;
  TensorFile consts_, weights_;
  Model model_;
  DType dtype_ = DType::f32;
  int inputs_ = 0;
  uint64_t computed_bytes_ = 0;  // constants computed at import (ConstantOfShape, folding), 8 bytes a value
  int64_t batch_ = -1;           // the first input's batch size when the file fixes it (Reshape may name it)
  std::map<std::string, NodeId> values_;
  struct MatMul {
    NodeId x;
    Tensor kernel;
  };
  std::map<std::string, MatMul> matmuls_;   // MatMul outputs not yet made a layer: an Add may give them a bias
  std::map<std::string, NodeId> reversed_;
  struct WithinLrn {
    int64_t taps = 1;
    double alpha = 1, beta = 1, k = 1;
  };
  std::map<std::string, WithinLrn> within_lrn_;  // by the output of its Div
  std::set<std::string> within_parts_;           // the outputs of its other nodes  // values that are a node's output with the channels (axis 1) reversed
  std::vector<Shape> shapes_;  // every node's shape, the batch unknown, by NodeId
};

}  // namespace locnet::onnx_import
