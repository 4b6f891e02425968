// Small ONNX models written with onnx_proto for the importer's tests (tests/interop/test_onnx*.cpp).
#pragma once
#include <onnx/onnx_pb.h>

#include <fstream>
#include <string>
#include <vector>

#include "temp_dir.hpp"

namespace locnet::testing::onnx_builders {

inline onnx::TensorProto float_tensor(const std::string& name, std::vector<int64_t> dims, std::vector<float> v,
                                      bool raw) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  if (raw)
    t.set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
  else
    for (float x : v) t.add_float_data(x);
  return t;
}

inline void add_value(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* to, const std::string& name,
                      std::vector<int64_t> dims) {
  auto* v = to->Add();
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  tt->mutable_shape()->add_dim()->set_dim_param("N");
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

inline onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in,
                                 std::string out) {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(op + "_node");
  for (auto& i : in) n->add_input(i);
  n->add_output(out);
  return n;
}

inline std::vector<std::byte> bytes_of(const google::protobuf::MessageLite& m) {
  std::string s = m.SerializeAsString();
  return {reinterpret_cast<const std::byte*>(s.data()), reinterpret_cast<const std::byte*>(s.data()) + s.size()};
}

class OnnxFile : public locnet::testing::TempDirTest {
 protected:
  std::string write(const std::string& name, const std::string& bytes) {
    std::ofstream(path(name), std::ios::binary) << bytes;
    return path(name);
  }
};

}  // namespace locnet::testing::onnx_builders
