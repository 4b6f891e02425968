// The writing side of the ONNX exporter (src/interop/onnx_export.cpp): nodes with their attributes, initializers
// and value infos appended to one GraphProto, named under the prefix of the locnet node being written.
#pragma once
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "locnet/core/tensor.hpp"

namespace locnet::onnx_export {

class GraphWriter {
 public:
  explicit GraphWriter(std::string batch_name) : batch_name_(std::move(batch_name)) {}

 protected:
  std::string name(std::string_view suffix) const { return fmt::format("{}/{}", prefix_, suffix); }
  int32_t elem_type() const { return dtype_ == DType::f64 ? onnx::TensorProto::DOUBLE : onnx::TensorProto::FLOAT; }

  void value_info(onnx::ValueInfoProto* v, const std::string& name, const Shape& s) const {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(elem_type());
    t->mutable_shape()->add_dim()->set_dim_param(batch_name_);
    for (size_t i = 1; i < s.rank(); ++i) t->mutable_shape()->add_dim()->set_dim_value(s[i]);
  }

  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& in, const std::string& out) {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(fmt::format("{}/{}", prefix_, g_->node_size()));
    for (const auto& i : in) n->add_input(i);
    n->add_output(out);
    return n;
  }
  static onnx::AttributeProto* attr(onnx::NodeProto* n, const std::string& name, onnx::AttributeProto::AttributeType t) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(t);
    return a;
  }
  static void attr_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
    attr(n, name, onnx::AttributeProto::INT)->set_i(v);
  }
  static void attr_float(onnx::NodeProto* n, const std::string& name, double v) {
    attr(n, name, onnx::AttributeProto::FLOAT)->set_f(float(v));
  }
  static void attr_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = attr(n, name, onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attr_str(onnx::NodeProto* n, const std::string& name, const std::string& v) {
    attr(n, name, onnx::AttributeProto::STRING)->set_s(v);
  }

  // A tensor in the model's dtype (raw little-endian data), or int64 / float32 (Resize's scales) when asked.
  std::string initializer(const std::string& name, const Tensor& t, int32_t type = 0) {
    auto* p = g_->add_initializer();
    p->set_name(name);
    p->set_data_type(type ? type : elem_type());
    for (int64_t d : t.shape().dims()) p->add_dims(d);
    std::string raw;
    const auto put = [&raw](auto v) { raw.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (p->data_type() == onnx::TensorProto::INT64) put(int64_t(t.item(i)));
      else if (p->data_type() == onnx::TensorProto::FLOAT) put(float(t.item(i)));
      else put(t.item(i));
    }
    p->set_raw_data(std::move(raw));
    return name;
  }
  std::string vector_init(const std::string& suffix, const std::vector<double>& v, int32_t type = 0) {
    Tensor t(Shape{int64_t(v.size())}, DType::f64);
    for (size_t i = 0; i < v.size(); ++i) t.set(int64_t(i), v[i]);
    return initializer(name(suffix), t, type);
  }
  std::string scalar_init(const std::string& suffix, double v) {
    Tensor t(Shape(std::vector<int64_t>{}), DType::f64);
    t.set(0, v);
    return initializer(name(suffix), t);
  }
  std::string ints_init(const std::string& suffix, const std::vector<int64_t>& v) {
    return vector_init(suffix, std::vector<double>(v.begin(), v.end()), onnx::TensorProto::INT64);
  }

  onnx::ModelProto m_;
  onnx::GraphProto* g_ = m_.mutable_graph();
  std::string batch_name_;   // the symbolic batch dimension
  std::string prefix_;       // the locnet node being written
  DType dtype_ = DType::f32;  // of the weights and values
};

}  // namespace locnet::onnx_export
