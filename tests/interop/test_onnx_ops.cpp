// The ONNX operators of src/interop/onnx_ops.cpp and src/interop/onnx_layers.cpp on small synthetic models written here with onnx_proto (their
// references are hand-computed): arithmetic with a broadcast constant, broadcasting between graph tensors, Pad,
// Resize/Upsample, ConstantOfShape, Flatten at other axes, the opset range and external data, with every
// NotSupported and FormatError they give. ONNX's own reference outputs for them: tests/interop/test_onnx_backend.cpp.
#include <gtest/gtest.h>

#include <filesystem>

#include "expect_error.hpp"
#include "interop/onnx_builders.hpp"
#include "locnet/core/limits.hpp"
#include "locnet/interop/onnx.hpp"
#include "locnet/model/from_spec.hpp"

using namespace locnet;
using namespace locnet::testing::onnx_builders;

namespace {

onnx::ModelProto graph(int64_t opset, std::vector<int64_t> dims) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(opset);
  add_value(m.mutable_graph()->mutable_input(), "x", dims);
  add_value(m.mutable_graph()->mutable_output(), "y", {});
  return m;
}

onnx::TensorProto int_tensor(const std::string& name, std::vector<int64_t> v) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::INT64);
  t.add_dims(int64_t(v.size()));
  for (int64_t x : v) t.add_int64_data(x);
  return t;
}

onnx::AttributeProto* attr(onnx::NodeProto* n, const std::string& name) {
  auto* a = n->add_attribute();
  a->set_name(name);
  return a;
}

// x(i) = (i * 7 % 11 - 5) / 4: exact in float, positive and negative.
Tensor input(Shape shape) {
  Tensor x(shape, DType::f32);
  for (int64_t i = 0; i < x.numel(); ++i) x.set(i, double(i * 7 % 11 - 5) / 4);
  return x;
}

Tensor run(const onnx::ModelProto& m, const Tensor& x) { return parse_onnx(bytes_of(m)).forward(x, Mode::Inference); }

}  // namespace

// y = x op c[channel] (or c op x), bit for bit what float arithmetic gives, for a (C, 1, 1), (1, C, 1, 1), scalar
// or (C,) constant on NCHW, NCL and (N, C) inputs.
TEST(OnnxOps, PerChannelConstantArithmeticIsExact) {
  struct Case {
    const char* op;
    std::vector<int64_t> x, c;
    bool const_first;
  };
  const std::vector<float> values = {0.75f, -3.5f, 1.25f};
  for (const Case& k :
       {Case{"Add", {3, 2, 2}, {3, 1, 1}, false}, Case{"Sub", {3, 2, 2}, {1, 3, 1, 1}, false},
        Case{"Sub", {3, 2, 2}, {}, true}, Case{"Mul", {3, 5}, {3, 1}, true}, Case{"Div", {3, 2, 2}, {1}, false},
        Case{"Mul", {3}, {3}, false}, Case{"Add", {3, 1, 2}, {3, 1, 1}, true}}) {
    SCOPED_TRACE(fmt::format("{} {} {}", k.op, fmt::join(k.x, "x"), fmt::join(k.c, "x")));
    onnx::ModelProto m = graph(13, k.x);
    int64_t count = 1;
    for (int64_t d : k.c) count *= d;
    std::vector<float> c(values.begin(), values.begin() + count);
    if (std::string(k.op) == "Div") c = {-4.0f};
    *m.mutable_graph()->add_initializer() = float_tensor("c", k.c, c, true);
    add_node(m.mutable_graph(), k.op,
             k.const_first ? std::vector<std::string>{"c", "x"} : std::vector<std::string>{"x", "c"}, "y");
    std::vector<int64_t> dims = k.x;
    dims.insert(dims.begin(), 2);
    const Tensor x = input(Shape(dims)), y = run(m, x);
    ASSERT_EQ(y.shape(), x.shape());
    const int64_t per_channel = x.numel() / 2 / k.x[0];
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float a = float(x.item(i)), b = c[c.size() == 1 ? 0 : size_t(i / per_channel % k.x[0])];
      const std::string op = k.op;
      const float l = k.const_first ? b : a, r = k.const_first ? a : b;
      const float want = op == "Add" ? l + r : op == "Sub" ? l - r : op == "Mul" ? l * r : l / r;
      EXPECT_EQ(float(y.item(i)), want) << i;
    }
  }
}

TEST(OnnxOps, ArithmeticLocnetCannotExpressIsNotSupported) {
  onnx::ModelProto m = graph(13, {3, 2, 2});
  *m.mutable_graph()->add_initializer() = float_tensor("c", {2, 2}, {1, 2, 3, 4}, true);
  add_node(m.mutable_graph(), "Add", {"x", "c"}, "y");
  EXPECT_THROW_MSG(
      run(m, input(Shape{1, 3, 2, 2})), NotSupported,
      "node 'Add_node' (Add, opset 13): a constant of shape (2, 2) with an input of shape (None, 3, 2, 2)");
  m = graph(13, {3, 2, 2});
  *m.mutable_graph()->add_initializer() = float_tensor("c", {}, {3}, true);
  add_node(m.mutable_graph(), "Div", {"x", "c"}, "y");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "division by 3 (only by powers of two");
  m.mutable_graph()->mutable_node(0)->set_input(1, "x");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "the division of two graph tensors");
  add_value(m.mutable_graph()->mutable_input(), "z", {1, 2, 2});
  m.mutable_graph()->mutable_node(0)->set_op_type("Add");
  m.mutable_graph()->mutable_node(0)->set_input(1, "z");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported,
                   "broadcasting (None, 3, 2, 2) with (None, 1, 2, 2) (only over spatial axes of size 1");
}

// A squeeze-excitation style product: x (N, 2, 3, 3) times its per-channel maxima (N, 2, 1, 1).
TEST(OnnxOps, BroadcastOverSpatialAxesOfSizeOne) {
  onnx::ModelProto m = graph(13, {2, 3, 3});
  add_node(m.mutable_graph(), "GlobalMaxPool", {"x"}, "g");
  add_node(m.mutable_graph(), "Mul", {"g", "x"}, "y");
  const Tensor x = input(Shape{2, 2, 3, 3}), y = run(m, x);
  ASSERT_EQ(y.shape(), x.shape());
  for (int64_t nc = 0; nc < 4; ++nc) {
    double top = -1e9;
    for (int64_t i = 0; i < 9; ++i) top = std::max(top, x.item(nc * 9 + i));
    for (int64_t i = 0; i < 9; ++i) EXPECT_EQ(y.item(nc * 9 + i), double(float(top * x.item(nc * 9 + i))));
  }
}

// x (N, 1, 2, 3) padded with one row on top and two columns on the right, at each opset's form.
TEST(OnnxOps, PadWithZerosAtEveryOpset) {
  for (int64_t opset : {9, 13, 18}) {
    SCOPED_TRACE(opset);
    onnx::ModelProto m = graph(opset, {1, 2, 3});
    auto* g = m.mutable_graph();
    if (opset < 11) {
      auto* p = attr(add_node(g, "Pad", {"x"}, "y"), "pads");
      for (int64_t v : {0, 0, 1, 0, 0, 0, 0, 2}) p->add_ints(v);
    } else if (opset < 18) {
      *g->add_initializer() = int_tensor("pads", {0, 0, 1, 0, 0, 0, 0, 2});
      add_node(g, "Pad", {"x", "pads"}, "y");
    } else {
      *g->add_initializer() = int_tensor("pads", {1, 0, 0, 2});
      *g->add_initializer() = int_tensor("axes", {2, -1});
      add_node(g, "Pad", {"x", "pads", "", "axes"}, "y");
    }
    const Tensor x = input(Shape{1, 1, 2, 3}), y = run(m, x);
    ASSERT_EQ(y.shape(), (Shape{1, 1, 3, 5}));
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 5; ++j)
        EXPECT_EQ(y.item(i * 5 + j), i >= 1 && j < 3 ? x.item((i - 1) * 3 + j) : 0.0) << i << j;
  }
}

TEST(OnnxOps, PadOtherThanZerosOnSpatialAxesIsNotSupported) {
  onnx::ModelProto m = graph(13, {1, 2, 3});
  *m.mutable_graph()->add_initializer() = int_tensor("pads", {0, 0, 1, 0, 0, 0, 0, 2});
  auto* pad = add_node(m.mutable_graph(), "Pad", {"x", "pads"}, "y");
  attr(pad, "mode")->set_s("reflect");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "(Pad, opset 13): mode 'reflect' (only constant zeros");
  pad->mutable_attribute(0)->set_s("constant");
  *m.mutable_graph()->add_initializer() = float_tensor("v", {}, {1.5f}, true);
  pad->add_input("v");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "the constant value 1.5 (only zeros");
  *m.mutable_graph()->mutable_initializer(0) = int_tensor("pads", {0, 1, 1, 0, 0, 0, 0, 2});
  pad->set_input(2, "");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "padding the batch or channel axis");
  *m.mutable_graph()->mutable_initializer(0) = int_tensor("pads", {0, 0, 1, 0});
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), FormatError, "pads must have 8 values, got 4");
}

// x (N, 1, 2, 2) = [[a, b], [c, d]] upsampled: nearest repeats rows and columns, linear mixes with half-pixel
// centers (weights 1, 3/4 and 1/4 per axis for a factor 2).
TEST(OnnxOps, ResizeAndUpsampleByIntegerFactors) {
  const Tensor x = input(Shape{1, 1, 2, 2});
  const auto at = [&](int64_t i, int64_t j) { return x.item(i * 2 + j); };
  const auto nearest = [&](onnx::ModelProto m, int64_t fh, int64_t fw) {
    const Tensor y = run(m, x);
    ASSERT_EQ(y.shape(), (Shape{1, 1, 2 * fh, 2 * fw}));
    for (int64_t i = 0; i < 2 * fh; ++i)
      for (int64_t j = 0; j < 2 * fw; ++j) EXPECT_EQ(y.item(i * 2 * fw + j), at(i / fh, j / fw)) << i << j;
  };
  onnx::ModelProto m = graph(13, {1, 2, 2});  // default half_pixel, round_prefer_floor
  *m.mutable_graph()->add_initializer() = float_tensor("scales", {4}, {1, 1, 2, 3}, true);
  add_node(m.mutable_graph(), "Resize", {"x", "", "scales"}, "y");
  nearest(m, 2, 3);
  m = graph(11, {1, 2, 2});
  *m.mutable_graph()->add_initializer() = int_tensor("sizes", {1, 1, 6, 4});
  auto* r = add_node(m.mutable_graph(), "Resize", {"x", "", "", "sizes"}, "y");
  attr(r, "coordinate_transformation_mode")->set_s("asymmetric");
  attr(r, "nearest_mode")->set_s("floor");
  nearest(m, 3, 2);
  m = graph(9, {1, 2, 2});
  *m.mutable_graph()->add_initializer() = float_tensor("scales", {4}, {1, 1, 2, 2}, false);
  add_node(m.mutable_graph(), "Upsample", {"x", "scales"}, "y");
  nearest(m, 2, 2);
  m = graph(7, {1, 2, 2});
  auto* scales = attr(add_node(m.mutable_graph(), "Upsample", {"x"}, "y"), "scales");
  for (float s : {1, 1, 3, 1}) scales->add_floats(s);
  nearest(m, 3, 1);

  m = graph(13, {1, 2, 2});
  *m.mutable_graph()->add_initializer() = float_tensor("scales", {4}, {1, 1, 2, 2}, true);
  r = add_node(m.mutable_graph(), "Resize", {"x", "", "scales"}, "y");
  attr(r, "mode")->set_s("linear");
  const Tensor y = run(m, x);
  const double w[4][2] = {{1, 0}, {0.75, 0.25}, {0.25, 0.75}, {0, 1}};
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 4; ++j) {
      double want = 0;
      for (int a = 0; a < 2; ++a)
        for (int b = 0; b < 2; ++b) want += w[i][a] * w[j][b] * at(a, b);
      EXPECT_NEAR(y.item(i * 4 + j), want, 1e-6) << i << j;
    }
  attr(r, "coordinate_transformation_mode")->set_s("align_corners");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported,
                   "(Resize, opset 13): mode 'linear' with coordinate_transformation_mode 'align_corners'");
  r->mutable_attribute(0)->set_s("cubic");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "mode 'cubic' (nearest and linear are supported)");
  *m.mutable_graph()->mutable_initializer(0) = float_tensor("scales", {4}, {1, 1, 1.5f, 2}, true);
  r->mutable_attribute(0)->set_s("nearest");
  r->mutable_attribute(1)->set_s("half_pixel");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "scales (1, 1, 1.5, 2) (integer factors >= 1");
  *m.mutable_graph()->mutable_initializer(0) = float_tensor("scales", {3}, {1, 1, 2}, true);
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), FormatError, "4 scales or sizes expected (one per axis), got 3");
}

// Resize of an NCL input, nearest: each step repeated (UpSampling1D between Permutes); linear is NotSupported.
TEST(OnnxOps, ResizeOfRank3IsUpSampling1D) {
  onnx::ModelProto m = graph(13, {2, 3});
  *m.mutable_graph()->add_initializer() = float_tensor("scales", {3}, {1, 1, 3}, true);
  auto* r = add_node(m.mutable_graph(), "Resize", {"x", "", "scales"}, "y");
  const Tensor x = input(Shape{2, 2, 3}), y = run(m, x);
  ASSERT_EQ(y.shape(), (Shape{2, 2, 9}));
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.item(i), x.item(i / 9 * 3 + i % 9 / 3)) << i;
  attr(r, "mode")->set_s("linear");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported,
                   "(Resize, opset 13): linear mode of a rank-3 input (UpSampling1D repeats steps: nearest only)");
}

// ConstantOfShape (shape (2, 1, 1), value 0.5) feeding Add: y = x + 0.5.
TEST(OnnxOps, ConstantOfShapeBecomesAConstant) {
  onnx::ModelProto m = graph(13, {2, 2, 2});
  *m.mutable_graph()->add_initializer() = int_tensor("shape", {2, 1, 1});
  *attr(add_node(m.mutable_graph(), "ConstantOfShape", {"shape"}, "c"), "value")->mutable_t() =
      float_tensor("v", {1}, {0.5f}, true);
  add_node(m.mutable_graph(), "Add", {"x", "c"}, "y");
  const Tensor x = input(Shape{2, 2, 2, 2}), y = run(m, x);
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(y.item(i), x.item(i) + 0.5);
  *m.mutable_graph()->mutable_initializer(0) = int_tensor("shape", {1LL << 40, 1LL << 40});
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), FormatError, "exceeds the tensor limit");
  *m.mutable_graph()->mutable_initializer(0) = int_tensor("shape", {2, -1});
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), FormatError, "the shape must be >= 0, got (2, -1)");
}

TEST(OnnxOps, FlattenAtAnAxisThatKeepsTheBatchAlone) {
  onnx::ModelProto m = graph(13, {1, 2, 3});
  attr(add_node(m.mutable_graph(), "Flatten", {"x"}, "y"), "axis")->set_i(2);
  const Tensor x = input(Shape{2, 1, 2, 3});
  EXPECT_TRUE(run(m, x).equal(x.reshape(Shape{2, 6})));
  m = graph(13, {2, 2, 3});
  attr(add_node(m.mutable_graph(), "Flatten", {"x"}, "y"), "axis")->set_i(-2);
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported,
                   "axis=-2 of an input of shape (None, 2, 2, 3) (only an axis that keeps the batch alone)");
}

TEST(OnnxOps, OpsetsOutside7To18AreNotSupported) {
  for (int64_t opset : {6, 19}) {
    onnx::ModelProto m = graph(opset, {2});
    add_node(m.mutable_graph(), "Relu", {"x"}, "y");
    EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported,
                     fmt::format("opset {} of the default domain: opsets 7 to 18 are supported", opset));
  }
}

// x (N, 2, 1, 1) times a per-channel constant whose 8 bytes lie at offset 4 of w.bin next to the model.
TEST_F(OnnxFile, ExternalDataIsReadRelativeToTheModel) {
  const float w[3] = {9, 2.5f, -3};
  write("w.bin", std::string(reinterpret_cast<const char*>(w), sizeof w));
  onnx::ModelProto m = graph(13, {2, 1, 1});
  onnx::TensorProto* t = m.mutable_graph()->add_initializer();
  *t = float_tensor("c", {2, 1, 1}, {}, true);
  t->clear_raw_data();
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  const auto entry = [&](const char* key, const std::string& value) {
    auto* e = t->add_external_data();
    e->set_key(key);
    e->set_value(value);
  };
  entry("location", "w.bin");
  entry("offset", "4");
  entry("length", "8");
  add_node(m.mutable_graph(), "Mul", {"x", "c"}, "y");
  const std::string model = write("m.onnx", m.SerializeAsString());
  const Tensor y = read_onnx(model).forward(Tensor::from(std::vector<float>{1, 2}, Shape{1, 2, 1, 1}), Mode::Inference);
  EXPECT_EQ(y.to_vector(), (std::vector<double>{2.5, -6}));
  EXPECT_EQ(read_onnx_initializers(model).tensors.at(0).second.to_vector(), (std::vector<double>{2.5, -3}));
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "tensor 'c': external data needs the model's file");

  const auto fails = [&](int entry_index, const std::string& value, const std::string& message) {
    onnx::ModelProto bad = m;
    bad.mutable_graph()->mutable_initializer(0)->mutable_external_data(entry_index)->set_value(value);
    const std::string file = write("bad.onnx", bad.SerializeAsString());
    EXPECT_THROW_MSG(read_onnx(file), FormatError, file + ": tensor 'c': " + message);
  };
  fails(2, "12", "external data length must be 8 bytes for shape (2, 1, 1), got 12");
  fails(1, "8", "external data of 8 bytes at offset 8 lies outside 'w.bin' (12 bytes)");
  fails(1, "-1", "external data offset must be an unsigned integer, got '-1'");
  fails(0, "absent.bin", "external data of 8 bytes at offset 4 lies outside 'absent.bin'");
  fails(0, "../w.bin", "external data location '../w.bin' must be a relative path inside the model's directory");
  fails(0, "/etc/hostname", "external data location '/etc/hostname' must be a relative path inside");
  std::filesystem::create_symlink("/etc/hostname", path("link.bin"));
  fails(0, "link.bin", "external data location 'link.bin' must be a relative path inside");
}

// Operators on constants only are computed at import: c (3,) -> Unsqueeze (axes input at opset 13, an attribute
// before) -> (3, 1, 1) -> Squeeze -> Unsqueeze again, then added per channel. PyTorch's F.pad chain (Concat,
// Reshape, Slice with negative steps, Transpose, Cast) runs in tests/interop/test_onnx_pytorch.cpp.
TEST(OnnxOps, OperatorsOnConstantsAreFolded) {
  for (int64_t opset : {11, 13}) {
    SCOPED_TRACE(opset);
    onnx::ModelProto m = graph(opset, {3, 1, 2});
    auto* g = m.mutable_graph();
    *g->add_initializer() = float_tensor("c", {3}, {1, 2, 4}, true);
    *g->add_initializer() = int_tensor("axes", {1, -1});
    *g->add_initializer() = int_tensor("one", {1});
    auto* u = add_node(g, "Unsqueeze",
                       opset < 13 ? std::vector<std::string>{"c"} : std::vector<std::string>{"c", "axes"}, "u");
    auto* s =
        add_node(g, "Squeeze", opset < 13 ? std::vector<std::string>{"u"} : std::vector<std::string>{"u", "one"}, "s");
    if (opset < 13) {
      auto* axes = attr(u, "axes");
      for (int64_t a : {1, -1}) axes->add_ints(a);
      attr(s, "axes")->add_ints(1);
    }
    auto* u2 = add_node(g, "Unsqueeze",
                        opset < 13 ? std::vector<std::string>{"s"} : std::vector<std::string>{"s", "one"}, "k");
    if (opset < 13) attr(u2, "axes")->add_ints(1);
    u2->set_name("Unsqueeze_again");
    add_node(g, "Add", {"x", "k"}, "y");
    const Tensor x = input(Shape{2, 3, 1, 2}), y = run(m, x);
    for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(y.item(i), x.item(i) + double(1 << (i / 2 % 3))) << i;
  }
  onnx::ModelProto m = graph(13, {3, 1, 2});
  *m.mutable_graph()->add_initializer() = float_tensor("c", {3}, {1, 2, 4}, true);
  attr(add_node(m.mutable_graph(), "Cast", {"c"}, "k"), "to")->set_i(onnx::TensorProto::STRING);
  add_node(m.mutable_graph(), "Add", {"x", "k"}, "y");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "(Cast, opset 13): a cast of a constant to STRING");
  m.mutable_graph()->mutable_node(0)->set_op_type("Slice");
  m.mutable_graph()->mutable_node(0)->clear_attribute();
  for (const char* name : {"starts", "ends", "axes", "steps"})
    *m.mutable_graph()->add_initializer() = int_tensor(name, {0});
  for (const char* name : {"starts", "ends", "axes", "steps"}) m.mutable_graph()->mutable_node(0)->add_input(name);
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), FormatError, "(Slice, opset 13): a step of 0");
  m.mutable_graph()->mutable_node(0)->set_op_type("Unsqueeze");
  m.mutable_graph()->mutable_node(0)->mutable_input()->DeleteSubrange(1, 4);
  *m.mutable_graph()->add_initializer() = int_tensor("twice", {0, 0});
  m.mutable_graph()->mutable_node(0)->add_input("twice");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), FormatError, "(Unsqueeze, opset 13): axes (0, 0) repeat an axis");
  *m.mutable_graph()->mutable_initializer(5) = int_tensor("twice", {0, 5});
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), FormatError, "(Unsqueeze, opset 13): axis 5 of a rank-3 tensor");
}

// Shapes are checked against the tensor limit while the graph is read, before a layer allocates anything for them
// (UpSampling2D and ZeroPadding keep a tap per output position): a hostile factor or input size is a FormatError.
TEST(OnnxOps, ShapesBeyondTheTensorLimitAreFormatErrors) {
  set_max_tensor_bytes(1 << 20);
  onnx::ModelProto m = graph(13, {1, 2, 2});
  *m.mutable_graph()->add_initializer() = float_tensor("scales", {4}, {1, 1, 65536, 1}, true);
  add_node(m.mutable_graph(), "Resize", {"x", "", "scales"}, "y");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), FormatError,
                   "node 'Resize_node' (Resize, opset 13): shape (None, 1, 131072, 2) exceeds the tensor limit of "
                   "1048576 bytes per sample");
  m = graph(13, {1, 1 << 20, 2});
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), FormatError, "graph input 'x': shape (None, 1, 1048576, 2) exceeds");
  // 100 ConstantOfShape nodes of 2^15 values each: within the limit one by one, beyond it together.
  m = graph(13, {1, 2, 2});
  *m.mutable_graph()->add_initializer() = int_tensor("shape", {1 << 15});
  for (int i = 0; i < 100; ++i) add_node(m.mutable_graph(), "ConstantOfShape", {"shape"}, fmt::format("c{}", i));
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), FormatError, "the constants computed at import exceed the tensor limit");
  set_max_tensor_bytes(0);
}

// The operators of src/interop/onnx_layers.cpp: references hand-computed from the ONNX definitions.
TEST(OnnxOps, ClipFromZeroIsReLUWithMaxValue) {
  const Tensor x = input(Shape{2, 3, 4});
  for (int64_t opset : {7, 13}) {
    for (bool with_max : {true, false}) {
      SCOPED_TRACE(fmt::format("opset {} max {}", opset, with_max));
      onnx::ModelProto m = graph(opset, {3, 4});
      auto* n = add_node(m.mutable_graph(), "Clip", {"x"}, "y");
      if (opset < 11) {
        attr(n, "min")->set_f(0);
        if (with_max) attr(n, "max")->set_f(0.75f);
      } else {
        *m.mutable_graph()->add_initializer() = float_tensor("lo", {}, {0}, true);
        *m.mutable_graph()->add_initializer() = float_tensor("hi", {}, {0.75f}, true);
        n->add_input("lo");
        if (with_max) n->add_input("hi");
      }
      const Tensor y = run(m, x);
      for (int64_t i = 0; i < x.numel(); ++i)
        EXPECT_EQ(y.item(i), std::min(std::max(x.item(i), 0.0), with_max ? 0.75 : 1e9)) << i;
    }
  }
  onnx::ModelProto m = graph(13, {3, 4});
  *m.mutable_graph()->add_initializer() = float_tensor("lo", {}, {-1}, true);
  add_node(m.mutable_graph(), "Clip", {"x", "lo"}, "y");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported,
                   "(Clip, opset 13): min -1.000000 and max none (min 0 and a finite max >= 0 or none are supported");
  m.mutable_graph()->mutable_node(0)->set_input(1, "");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "min none and max none");
}

TEST(OnnxOps, PReluSlopeBroadcastsToASample) {  // synthetic; the reference is PRelu's definition
  const Tensor x = input(Shape{2, 3, 4});
  onnx::ModelProto m = graph(13, {3, 4});
  *m.mutable_graph()->add_initializer() = float_tensor("s", {3, 1}, {0.5f, -2, 0.25f}, true);  // one per row
  add_node(m.mutable_graph(), "PRelu", {"x", "s"}, "y");
  const Tensor y = run(m, x);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double slope = std::vector<double>{0.5, -2, 0.25}[size_t(i / 4 % 3)];
    EXPECT_EQ(y.item(i), x.item(i) > 0 ? x.item(i) : float(slope * x.item(i))) << i;
  }
  *m.mutable_graph()->mutable_initializer(0) = float_tensor("s", {2, 3, 4}, std::vector<float>(24, 0.5f), true);
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported,
                   "(PRelu, opset 13): a slope of shape (2, 3, 4) for an input of shape (None, 3, 4)");
  onnx::ModelProto selu = graph(13, {3, 4});
  attr(add_node(selu.mutable_graph(), "Selu", {"x"}, "y"), "alpha")->set_f(2.0f);
  EXPECT_THROW_MSG(parse_onnx(bytes_of(selu)), NotSupported, "(Selu, opset 13): alpha and gamma other than SELU's");
}

TEST(OnnxOps, EluAndThresholdedReluKeepAlpha) {
  const Tensor x = input(Shape{2, 5});
  onnx::ModelProto m = graph(13, {5});
  attr(add_node(m.mutable_graph(), "Elu", {"x"}, "y"), "alpha")->set_f(0.5f);
  Tensor y = run(m, x);
  for (int64_t i = 0; i < x.numel(); ++i)
    EXPECT_NEAR(y.item(i), x.item(i) > 0 ? x.item(i) : 0.5 * std::expm1(x.item(i)), 1e-6) << i;
  m.mutable_graph()->mutable_node(0)->set_op_type("ThresholdedRelu");
  y = run(m, x);
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(y.item(i), x.item(i) > 0.5 ? x.item(i) : 0.0) << i;
  m.mutable_graph()->mutable_node(0)->mutable_attribute(0)->set_f(-1);
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), ConfigError, "(ThresholdedRelu, opset 13): ThresholdedReLU");
}

// Slice on the spatial axes: NCHW -> Cropping2D, NCL -> Cropping1D between Permutes; negative and INT64_MAX ends.
TEST(OnnxOps, SliceOfSpatialAxesIsCropping) {
  struct Case {
    int64_t opset;
    std::vector<int64_t> x, starts, ends, axes;
  };
  for (const Case& k : {Case{13, {3, 5, 4}, {1, 0}, {4, INT64_MAX}, {2, 3}}, Case{13, {3, 6}, {-4}, {-1}, {-1}},
                        Case{9, {3, 5, 4}, {0, 0, 2}, {INT64_MAX, 3, 3}, {1, 3, 2}}}) {
    SCOPED_TRACE(fmt::format("opset {} x {}", k.opset, fmt::join(k.x, "x")));
    onnx::ModelProto m = graph(k.opset, k.x);
    auto* n = add_node(m.mutable_graph(), "Slice", {"x"}, "y");
    if (k.opset < 10) {
      for (const auto& [name, v] : {std::pair{"starts", k.starts}, {"ends", k.ends}, {"axes", k.axes}}) {
        auto* a = attr(n, name);
        for (int64_t i : v) a->add_ints(i);
      }
    } else {
      for (const auto& [name, v] : {std::pair{"starts", k.starts}, {"ends", k.ends}, {"axes", k.axes}}) {
        *m.mutable_graph()->add_initializer() = int_tensor(name, v);
        n->add_input(name);
      }
    }
    std::vector<int64_t> dims = k.x;
    dims.insert(dims.begin(), 2);
    const Tensor x = input(Shape(dims)), y = run(m, x);
    // The window per axis, clamped as ONNX does.
    std::vector<int64_t> first(dims.size(), 0), count = dims;
    for (size_t i = 0; i < k.axes.size(); ++i) {
      const size_t a = size_t(k.axes[i] < 0 ? k.axes[i] + int64_t(dims.size()) : k.axes[i]);
      const int64_t d = dims[a], b = k.starts[i] < 0 ? k.starts[i] + d : k.starts[i];
      const int64_t e = std::min(k.ends[i] < 0 ? k.ends[i] + d : k.ends[i], d);
      first[a] = b;
      count[a] = e - b;
    }
    ASSERT_EQ(y.shape(), Shape(count));
    std::vector<int64_t> at(dims.size(), 0);
    for (int64_t o = 0; o < y.numel(); ++o) {
      int64_t flat = 0;
      for (size_t a = 0; a < dims.size(); ++a) flat = flat * dims[a] + first[a] + at[a];
      EXPECT_EQ(y.item(o), x.item(flat)) << o;
      for (size_t a = dims.size(); a-- > 0;)
        if (++at[a] < count[a]) break; else at[a] = 0;
    }
  }
  onnx::ModelProto m = graph(13, {3, 5, 4});
  for (const auto& [name, v] : {std::pair<const char*, std::vector<int64_t>>{"s", {1}}, {"e", {3}}, {"a", {2}},
                                {"st", {2}}, {"c", {1}}})
    *m.mutable_graph()->add_initializer() = int_tensor(name, v);
  add_node(m.mutable_graph(), "Slice", {"x", "s", "e", "a", "st"}, "y");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "(Slice, opset 13): step 2 on axis 2 (only step 1");
  m.mutable_graph()->mutable_node(0)->set_input(3, "c");
  m.mutable_graph()->mutable_node(0)->set_input(4, "");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported,
                   "slicing axis 1 (only the spatial axes of NCL and NCHW tensors: Cropping)");
  m = graph(13, {3, 5, 4, 2});
  for (const auto& [name, v] : {std::pair<const char*, std::vector<int64_t>>{"s", {1}}, {"e", {3}}, {"a", {2}}})
    *m.mutable_graph()->add_initializer() = int_tensor(name, v);
  add_node(m.mutable_graph(), "Slice", {"x", "s", "e", "a"}, "y");
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "a rank-5 input (NCL and NCHW are supported)");
}

// MatMul of a rank-3 input and Add of a (F,) or (1, F) constant (either operand order) is Dense with that bias.
TEST(OnnxOps, MatMulPlusLastAxisConstantIsDenseWithBias) {
  for (bool const_first : {false, true}) {
    onnx::ModelProto m = graph(13, {3, 4});
    *m.mutable_graph()->add_initializer() =
        float_tensor("B", {4, 2}, {0.5f, -1, 0.25f, 2, -0.75f, 1, 1.5f, -0.5f}, true);
    *m.mutable_graph()->add_initializer() = float_tensor("b", {1, 2}, {0.125f, -3}, true);
    add_node(m.mutable_graph(), "MatMul", {"x", "B"}, "xb");
    add_node(m.mutable_graph(), "Add", const_first ? std::vector<std::string>{"b", "xb"} : std::vector<std::string>{"xb", "b"}, "y");
    Model model = parse_onnx(bytes_of(m));
    EXPECT_EQ(model.named_params(true).size(), 2u);  // one Dense: kernel and bias
    const Tensor x = input(Shape{2, 3, 4}), y = parse_onnx(bytes_of(m)).forward(x, Mode::Inference);
    const float B[4][2] = {{0.5f, -1}, {0.25f, 2}, {-0.75f, 1}, {1.5f, -0.5f}}, b[2] = {0.125f, -3};
    for (int64_t r = 0; r < 6; ++r)
      for (int64_t f = 0; f < 2; ++f) {
        double want = b[f];
        for (int64_t k = 0; k < 4; ++k) want += x.item(r * 4 + k) * B[k][f];
        EXPECT_EQ(y.item(r * 2 + f), want) << r << " " << f;  // exact: every product and sum is a short binary
      }
  }
}

// Gather reversing the channels around LRN is PyTorch's even-size LRN; other Gathers are NotSupported.
TEST(OnnxOps, GatherReversalAroundLrnIsPyTorchLrn) {
  onnx::ModelProto m = graph(13, {6, 3});
  *m.mutable_graph()->add_initializer() = int_tensor("rev", {5, 4, 3, 2, 1, 0});
  attr(add_node(m.mutable_graph(), "Gather", {"x", "rev"}, "xr"), "axis")->set_i(1);
  auto* lrn = add_node(m.mutable_graph(), "LRN", {"xr"}, "l");
  attr(lrn, "size")->set_i(4);
  attr(lrn, "alpha")->set_f(0.5f);
  attr(add_node(m.mutable_graph(), "Gather", {"l", "rev"}, "y"), "axis")->set_i(1);
  Model torch = parse_model("Input((6, 3)) >> LocalResponseNorm.pytorch(4, alpha=0.5)");
  torch.build(Shape{2, 6, 3}, 1, DType::f32);
  const Tensor x = input(Shape{2, 6, 3});
  EXPECT_TRUE(run(m, x).equal(torch.forward(x, Mode::Inference)));
  m.mutable_graph()->mutable_output(0)->set_name("l");  // a reversal left as the output
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported,
                   "graph output: the value 'l' has its channels reversed by Gather, which is read only around LRN");
  m.mutable_graph()->mutable_output(0)->set_name("y");
  *m.mutable_graph()->mutable_initializer(0) = int_tensor("rev", {0, 1, 2, 3, 5, 4});
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported,
                   "(Gather, opset 13): indices of shape (6,) (only reversing the 6 channels, around LRN)");
  m.mutable_graph()->mutable_node(0)->mutable_attribute(0)->set_i(2);
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "axis 2 of a rank-3 input (only reversing the channels");
}

// The exporter's within-channel LRN, x / (k + s * AveragePool(x * x))^beta, is LocalResponseNorm.onednn within the
// channel (the same formula; a different order of rounding). Any other AveragePool leaves Pow, which is not read.
TEST(OnnxOps, WithinChannelLrnCompositionIsOneDnnLrn) {
  onnx::ModelProto m = graph(13, {2, 5, 4});
  for (const auto& [name, v] : {std::pair{"s", 0.5f}, {"k", 2.0f}, {"beta", 0.75f}})
    *m.mutable_graph()->add_initializer() = float_tensor(name, {}, {v}, true);
  add_node(m.mutable_graph(), "Mul", {"x", "x"}, "sq");
  auto* pool = add_node(m.mutable_graph(), "AveragePool", {"sq"}, "mean");
  auto* kernel = attr(pool, "kernel_shape");
  for (int64_t v : {3, 3}) kernel->add_ints(v);
  auto* pads = attr(pool, "pads");
  for (int i = 0; i < 4; ++i) pads->add_ints(1);
  attr(pool, "count_include_pad")->set_i(1);
  add_node(m.mutable_graph(), "Mul", {"mean", "s"}, "scaled");
  add_node(m.mutable_graph(), "Add", {"scaled", "k"}, "norm");
  add_node(m.mutable_graph(), "Pow", {"norm", "beta"}, "power");
  add_node(m.mutable_graph(), "Div", {"x", "power"}, "y");
  Model lrn = parse_model("Input((2, 5, 4)) >> LocalResponseNorm.onednn(3, alpha=0.5, beta=0.75, k=2, "
                          "alg_kind='lrn_within_channel')");
  lrn.build(Shape{2, 2, 5, 4}, 1, DType::f32);
  const Tensor x = input(Shape{2, 2, 5, 4}), y = run(m, x), want = lrn.forward(x, Mode::Inference);
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_NEAR(y.item(i), want.item(i), 1e-6) << i;
  pool->mutable_attribute(pool->attribute_size() - 1)->set_i(0);
  EXPECT_THROW_MSG(parse_onnx(bytes_of(m)), NotSupported, "(Pow, opset 13): this operator is not supported");
}
