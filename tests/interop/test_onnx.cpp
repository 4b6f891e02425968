// The ONNX reader (include/locnet/interop/onnx.hpp) on small synthetic models written here with onnx_proto: the
// initializer encodings, the Conv weight layout, and every error a hostile or unsupported file gives. The
// operators' numbers against ONNX's own reference outputs: tests/interop/test_onnx_backend.cpp.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <fstream>

#include "expect_error.hpp"
#include "interop/onnx_builders.hpp"
#include "locnet/core/limits.hpp"
#include "locnet/interop/onnx.hpp"

using namespace locnet;
using namespace locnet::testing::onnx_builders;

namespace {

// x (N, 1, 3, 3) -> Conv (2 filters 2x2, pads 1 on top/left only, weight as raw_data, bias as float_data) -> Relu.
onnx::ModelProto conv_model() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  add_value(g->mutable_input(), "x", {1, 3, 3});
  *g->add_initializer() = float_tensor("W", {2, 1, 2, 2}, {1, 2, 3, 4, 0, 0, 0, -1}, true);
  *g->add_initializer() = float_tensor("B", {2}, {0.5f, -0.5f}, false);
  auto* conv = add_node(g, "Conv", {"x", "W", "B"}, "c");
  auto* pads = conv->add_attribute();
  pads->set_name("pads");
  for (int64_t p : {1, 1, 0, 0}) pads->add_ints(p);
  add_node(g, "Relu", {"c"}, "y");
  add_value(g->mutable_output(), "y", {2, 3, 3});
  return m;
}

}  // namespace

// y[f, i, j] = relu(B[f] + sum_{a,b} W[f, 0, a, b] x[i + a - 1, j + b - 1]) with zeros above and left: the OIHW
// weight lands in the kernel the way ONNX convolves.
TEST(Onnx, ConvWeightLayoutAndPads) {
  Model model = parse_onnx(bytes_of(conv_model()));
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  Tensor y = model.forward(Tensor::from(x, Shape{1, 1, 3, 3}), Mode::Inference);
  ASSERT_EQ(y.shape(), (Shape{1, 2, 3, 3}));
  const float W[2][2][2] = {{{1, 2}, {3, 4}}, {{0, 0}, {0, -1}}}, B[2] = {0.5f, -0.5f};
  for (int f = 0; f < 2; ++f)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        double s = B[f];
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b) {
            const int r = i + a - 1, c = j + b - 1;
            if (r >= 0 && c >= 0) s += W[f][a][b] * x[size_t(r * 3 + c)];
          }
        EXPECT_FLOAT_EQ(y.item((f * 3 + i) * 3 + j), std::max(s, 0.0)) << f << i << j;
      }
}

// The same weight from a Constant node instead of an initializer gives the same model.
TEST(Onnx, ConstantNodesBecomeWeights) {
  onnx::ModelProto m = conv_model();
  auto* g = m.mutable_graph();
  onnx::NodeProto constant;
  constant.set_op_type("Constant");
  constant.add_output("W");
  auto* value = constant.add_attribute();
  value->set_name("value");
  *value->mutable_t() = g->initializer(0);
  g->mutable_initializer()->DeleteSubrange(0, 1);
  g->mutable_node()->Add(std::move(constant));
  g->mutable_node()->SwapElements(0, 2);  // Constant, Relu, Conv
  g->mutable_node()->SwapElements(1, 2);  // Constant, Conv, Relu
  Tensor x = Tensor::from(std::vector<float>{1, -2, 3, 4, 5, -6, 7, 8, 9}, Shape{1, 1, 3, 3});
  EXPECT_TRUE(parse_onnx(bytes_of(m))
                  .forward(x, Mode::Inference)
                  .equal(parse_onnx(bytes_of(conv_model())).forward(x, Mode::Inference)));
}

TEST_F(OnnxFile, InitializersFromRawAndTypedFields) {
  onnx::ModelProto m = conv_model();
  onnx::TensorProto* k = m.mutable_graph()->add_initializer();
  k->set_name("shape");
  k->set_data_type(onnx::TensorProto::INT64);
  k->add_dims(2);
  k->add_int64_data(-3);
  k->add_int64_data(1LL << 40);
  TensorFile f = read_onnx_initializers(write("m.onnx", m.SerializeAsString()));
  ASSERT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.tensors[0].second.shape(), (Shape{2, 1, 2, 2}));
  EXPECT_EQ(f.tensors[0].second.item(7), -1.0);
  EXPECT_EQ(f.tensors[1].second.item(1), -0.5);
  EXPECT_EQ(f.tensors[2].second.to_vector(), (std::vector<double>{-3, double(1LL << 40)}));
  EXPECT_TRUE(f.int64.count("shape"));
}

TEST_F(OnnxFile, NotOnnxOrTruncatedIsAFormatErrorNamingTheFile) {
  const std::string text = write("a.onnx", "this is a text file, not a protobuf\n");
  EXPECT_THROW_MSG(read_onnx(text), FormatError, text + ": not an ONNX");
  const std::string full = conv_model().SerializeAsString();
  const std::string cut = write("cut.onnx", full.substr(0, full.size() / 2));
  EXPECT_THROW_MSG(read_onnx(cut), FormatError, cut + ": not an ONNX model (truncated or corrupt protobuf");
  EXPECT_THROW_MSG(read_onnx(path("absent.onnx")), FormatError, "absent.onnx");
  set_max_tensor_bytes(full.size() - 1);
  const std::string big = write("big.onnx", full);
  EXPECT_THROW_MSG(read_onnx(big), FormatError, big + ": file must be at most");
  set_max_tensor_bytes(0);
}

TEST(Onnx, BadTensorsAreFormatErrors) {
  onnx::TensorProto t = float_tensor("t", {2, 3}, {1, 2, 3, 4, 5}, true);
  EXPECT_THROW_MSG(parse_onnx_tensor(bytes_of(t)), FormatError,
                   "tensor 't': raw_data must hold 24 bytes for shape (2, 3), got 20");
  t = float_tensor("t", {2, 3}, {1, 2, 3, 4, 5}, false);
  EXPECT_THROW_MSG(parse_onnx_tensor(bytes_of(t)), FormatError, "the typed data must hold 6 values");
  t = float_tensor("t", {1LL << 40, 1LL << 40}, {}, true);
  EXPECT_THROW_MSG(parse_onnx_tensor(bytes_of(t)), FormatError, "exceed the tensor limit");
  t = float_tensor("t", {-1}, {}, true);
  EXPECT_THROW_MSG(parse_onnx_tensor(bytes_of(t)), FormatError, "dims must be >= 0, got -1");
  t.set_data_type(onnx::TensorProto::STRING);
  t.clear_dims();
  EXPECT_THROW_MSG(parse_onnx_tensor(bytes_of(t)), NotSupported, "data type STRING (8) is not supported");
  t = float_tensor("t", {1}, {1}, true);
  t.set_data_location(onnx::TensorProto::EXTERNAL);
  EXPECT_THROW_MSG(parse_onnx_tensor(bytes_of(t)), NotSupported, "external data");
}

TEST(Onnx, UnsupportedNodesAndOptionsNameTheNodeOpAndOpset) {
  onnx::ModelProto m = conv_model();
  m.mutable_graph()->mutable_node(1)->set_op_type("Erf");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported,
                   "node 'Relu_node' (Erf, opset 13): this operator is not supported");
  m.mutable_graph()->mutable_node(1)->clear_name();
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "the node of output 'y' (Erf, opset 13)");
  m = conv_model();
  auto* dil = m.mutable_graph()->mutable_node(0)->add_attribute();
  dil->set_name("auto_pad");
  dil->set_s("SIDEWAYS");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), FormatError, "node 'Conv_node' (Conv, opset 13): auto_pad must be");
  m = conv_model();
  m.mutable_graph()->mutable_node(1)->set_input(0, "nowhere");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), FormatError, "the value 'nowhere' is produced by no earlier node or input");
  m = conv_model();
  auto* lrn = add_node(m.mutable_graph(), "LRN", {"y"}, "z");
  lrn->add_attribute()->set_name("size");  // size = 0
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), ConfigError, "node 'LRN_node' (LRN, opset 13): ");
  m = conv_model();
  m.mutable_graph()->mutable_node(0)->set_input(1, "x");  // a data input where the weight must be a constant
  m.mutable_graph()->mutable_initializer()->DeleteSubrange(0, 1);
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "input 1 ('x') must be an initializer");
}
