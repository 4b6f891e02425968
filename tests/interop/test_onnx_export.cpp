// The ONNX exporter (include/locnet/interop/onnx_export.hpp). Every exported model passes ONNX's own checker
// (onnx::checker::check_model, Debian's libonnx 1.12) and its strict shape inference, whose output shapes must
// be the model's; then the file is read back with read_onnx's parser and run on the same input: the outputs must
// be identical (f32 and f64) unless a test says why not. The importer reads every operator the exporter writes: a
// NotSupported on the way back fails the test. References are locnet's own outputs (no other framework).
// With LOCNET_ONNX_EXPORT_DIR set, every exported file is also written there for
// tests/interop/onnx_export/check.py (Python's onnx.checker).
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "expect_error.hpp"
#include "locnet/interop/onnx.hpp"
#include "locnet/io/file.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/interop/onnx_export.hpp"
#include "locnet/layers/lrn.hpp"
#include "locnet/model/from_spec.hpp"
#include "model/googlenet_resnet_spec.hpp"
#include "scoped_env.hpp"
#include "temp_dir.hpp"

using namespace locnet;
using locnet::testing::TempDirTest;

namespace {

Tensor random(Shape s, DType dtype, uint64_t seed) {
  Rng rng(seed);
  Tensor t(std::move(s), dtype);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, rng.uniform(-2, 2));
  return t;
}

// The model spec built for input x's shape in `dtype`, with random running statistics where it has BatchNorm.
Model built(const std::string& spec, const Shape& x, DType dtype) {
  Model m = parse_model(spec);
  m.build(x, 7, dtype);
  Rng rng(3);
  for (auto& [name, p] : m.named_params(true)) {
    if (name.ends_with("moving_mean") || name.ends_with("moving_variance") || name.ends_with("gamma"))
      for (int64_t i = 0; i < p->value.numel(); ++i)
        p->value.set(i, name.ends_with("mean") ? rng.uniform(-1, 1) : rng.uniform(0.5, 2));
  }
  return m;
}

// Where exported() wrote its last file under LOCNET_ONNX_EXPORT_DIR, without ".onnx".
std::string& last_file() {
  static std::string path;
  return path;
}

// Exports, checks with ONNX's checker and shape inference (strict), and compares the inferred output shapes with
// the model's for inputs xs.
onnx::ModelProto exported(Model& m, const std::vector<Shape>& xs, const OnnxExportOptions& o = {}) {
  const std::vector<std::byte> bytes = onnx_bytes(m, o);
  onnx::ModelProto p;
  EXPECT_TRUE(p.ParseFromArray(bytes.data(), int(bytes.size())));
  onnx::checker::check_model(p);
  onnx::ModelProto inferred = p;
  onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                     onnx::ShapeInferenceOptions(true, 1, false));
  const std::vector<Shape> ys = m.output_shapes(xs);
  EXPECT_EQ(inferred.graph().output_size(), int(ys.size()));
  for (int k = 0; k < inferred.graph().output_size() && k < int(ys.size()); ++k) {
    const auto& dims = inferred.graph().output(k).type().tensor_type().shape().dim();
    EXPECT_EQ(dims.size(), int(ys[size_t(k)].rank()));
    for (int i = 1; i < dims.size() && i < int(ys[size_t(k)].rank()); ++i)
      EXPECT_EQ(dims[i].dim_value(), ys[size_t(k)][size_t(i)]) << i;
  }
  if (const char* dir = std::getenv("LOCNET_ONNX_EXPORT_DIR")) {
    const auto* t = ::testing::UnitTest::GetInstance()->current_test_info();
    static int count = 0;
    last_file() = fmt::format("{}/{}.{}.{}", dir, t->test_suite_name(), t->name(), ++count);
    write_file_atomic(last_file() + ".onnx", bytes);
  }
  return p;
}
onnx::ModelProto exported(Model& m, const Shape& x, const OnnxExportOptions& o = {}) {
  return exported(m, std::vector<Shape>{x}, o);
}

// read_onnx's model of the exported file on x against the model's own output (largest difference relative to
// max(1, |y|) at most tol; 0: identical). False, with the reason printed, where the importer lacks an operator.
bool round_trip(Model& m, const Tensor& x, double tol = 0) {
  const onnx::ModelProto p = exported(m, x.shape());
  if (std::getenv("LOCNET_ONNX_EXPORT_DIR")) {  // the input and locnet's output, for check.py's evaluation
    write_npy(last_file() + ".x.npy", x);
    write_npy(last_file() + ".y.npy", m.forward(x, Mode::Inference));
  }
  const std::string s = p.SerializeAsString();
  Model back;
  try {
    back = parse_onnx(std::as_bytes(std::span(s.data(), s.size())));
  } catch (const NotSupported& e) {
    ADD_FAILURE() << "the importer does not read what the exporter wrote: " << e.what();
    return false;
  }
  const Tensor want = m.forward(x, Mode::Inference), got = back.forward(x, Mode::Inference);
  EXPECT_EQ(got.dtype(), want.dtype());
  if (got.shape() != want.shape()) {
    ADD_FAILURE() << got.shape().str() << " != " << want.shape().str();
    return true;
  }
  double worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i)
    worst = std::max(worst, std::abs(got.item(i) - want.item(i)) / std::max(1.0, std::abs(want.item(i))));
  EXPECT_LE(worst, tol) << m.spec();
  return true;
}

// Builds `spec` for input (2, per_sample...) and round-trips it in f32 and f64; false where it failed. The reference
// kernels run both models: the optimized ones of a channels_last layer and of its channels_first import may round
// differently (a few units in the last place), which says nothing about the export.
bool round_trips(const std::string& spec, std::vector<int64_t> per_sample, double tol = 0) {
  locnet::testing::ScopedEnv ref("LOCNET_IMPL", "ref");
  per_sample.insert(per_sample.begin(), 2);
  const Shape x(per_sample);
  for (DType dt : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dt));
    Model m = built(spec, x, dt);
    if (!round_trip(m, random(x, dt, 11), tol)) return false;
  }
  return true;
}

std::vector<std::string> op_types(const onnx::ModelProto& p) {
  std::vector<std::string> ops;
  for (const auto& n : p.graph().node()) ops.push_back(n.op_type());
  return ops;
}

using Ops = std::vector<std::string>;

}  // namespace

TEST(OnnxExport, HeaderOpsetAndSymbolicBatch) {
  Model m = built("Input((3,)) >> Dense(2)", Shape{2, 3}, DType::f32);
  const onnx::ModelProto p = exported(m, Shape{2, 3});
  EXPECT_EQ(p.ir_version(), 7);
  EXPECT_EQ(p.opset_import(0).version(), 13);
  EXPECT_EQ(p.producer_name(), "locnet");
  EXPECT_EQ(p.producer_version(), LOCNET_VERSION);
  EXPECT_EQ(p.graph().input(0).type().tensor_type().shape().dim(0).dim_param(), "N");
  EXPECT_EQ(p.graph().output(0).type().tensor_type().shape().dim(1).dim_value(), 2);
  EXPECT_EQ(op_types(p), (Ops{"Gemm"}));
  for (int64_t opset : {11, 12, 14, 15, 16, 17}) {
    const onnx::ModelProto q = exported(m, Shape{2, 3}, {.opset = opset});
    EXPECT_EQ(q.opset_import(0).version(), opset);
    EXPECT_EQ(q.ir_version(), opset <= 11 ? 6 : opset <= 14 ? 7 : 8);
  }
  const onnx::ModelProto named = exported(m, Shape{2, 3}, {.ir_version = 8, .graph_name = "g", .batch_name = "B"});
  EXPECT_EQ(named.ir_version(), 8);
  EXPECT_EQ(named.graph().name(), "g");
  EXPECT_EQ(named.graph().output(0).type().tensor_type().shape().dim(0).dim_param(), "B");
  // Opset 18 is newer than Debian's onnx 1.12 checker: written, not checked here.
  EXPECT_FALSE(onnx_bytes(m, {.opset = 18}).empty());
  EXPECT_THROW_MSG(onnx_bytes(m, {.opset = 10}), NotSupported, "opset must be 11 to 18, got 10");
  EXPECT_THROW_MSG(onnx_bytes(m, {.opset = 19}), NotSupported, "opset must be 11 to 18, got 19");
}

TEST(OnnxExport, Errors) {
  Model unbuilt = parse_model("Input((3,)) >> Dense(2)");
  EXPECT_THROW_MSG(onnx_bytes(unbuilt), ConfigError, "layer 'dense_1' (Dense) is not built");
  Model lc = built("Input((5, 5, 2)) >> LocallyConnected2D(3, 2)", Shape{1, 5, 5, 2}, DType::f32);
  EXPECT_THROW_MSG(onnx_bytes(lc), NotSupported,
                   "(LocallyConnected2D): ONNX has no locally-connected operator");
  Model rv = built("Input((3,)) >> RepeatVector(2)", Shape{1, 3}, DType::f32);
  EXPECT_THROW_MSG(onnx_bytes(rv), NotSupported, "(RepeatVector): no ONNX mapping for this layer type");
  Model thr = built("Input((3,)) >> ReLU(threshold=0.5)", Shape{1, 3}, DType::f32);
  EXPECT_THROW_MSG(onnx_bytes(thr), NotSupported, "threshold=0.5");
  Model gelu = built("Input((3,)) >> Activation('gelu')", Shape{1, 3}, DType::f32);
  EXPECT_THROW_MSG(onnx_bytes(gelu), NotSupported, "activation 'gelu' has no ONNX operator");
  Model bn = built("Input((3, 4)) >> BatchNorm1D.pytorch(3, track_running_stats=False)", Shape{2, 3, 4}, DType::f32);
  EXPECT_THROW_MSG(onnx_bytes(bn), NotSupported, "inference uses the batch's statistics");
  Model axis = built("Input((3, 4, 5)) >> BatchNorm2D.keras(axis=2)", Shape{2, 3, 4, 5}, DType::f32);
  EXPECT_THROW_MSG(onnx_bytes(axis), NotSupported, "channel axis 2 of a rank-4 input");
  Model sm = built("Input((3, 4)) >> Softmax(axis=1)", Shape{2, 3, 4}, DType::f32);
  EXPECT_THROW_MSG(onnx_bytes(sm, {.opset = 12}), NotSupported, "opset 12 normalizes the axes from there on");
}

// Every LRN convention: ONNX's size n, alpha scaled by n / D; PyTorch's even window is ONNX's mirrored (Gather
// reverses the channels around it). Attribute values are f32 numbers here, so the mapping is exact.
TEST(OnnxExport, LocalResponseNormConventions) {
  const std::vector<std::string> lrns = {
      "LocalResponseNorm(alpha=0.5, beta=0.75, k=2, depth_radius=3",
      "LocalResponseNorm.tensorflow(depth_radius=2, bias=1, alpha=0.25, beta=0.5",
      "LocalResponseNorm.pytorch(3, alpha=0.75, beta=0.75, k=1",
      "LocalResponseNorm.caffe(local_size=3, alpha=0.75, beta=0.75, k=1",
      "LocalResponseNorm.wolfram(Alpha=1.25, Beta=0.5, Bias=1, ChannelWindowSize=1",
      "LocalResponseNorm.onnx(4, alpha=0.5, beta=0.75, bias=2",
      "LocalResponseNorm.onednn(local_size=3, alpha=0.75, beta=0.75, k=1",
      "LocalResponseNorm.mxnet(3, alpha=0.75, beta=0.75, knorm=2",
  };
  for (const auto& l : lrns)
    for (const char* fmt : {"channels_first", "channels_last"}) {
      SCOPED_TRACE(l + " " + fmt);
      round_trips(fmt::format("Input((6, 5, 4)) >> {}, data_format='{}')", l, fmt), {6, 5, 4});
    }
}

// Within-channel LRN (a spatial box) is composed: Mul, AveragePool (count_include_pad), Mul, Add, Pow, Div.
TEST(OnnxExport, LocalResponseNormWithinChannelIsComposed) {
  Model caffe = built("Input((4, 5, 5)) >> LocalResponseNorm.caffe(3, alpha=0.5, norm_region='WITHIN_CHANNEL')",
                      Shape{1, 4, 5, 5}, DType::f32);
  EXPECT_EQ(op_types(exported(caffe, Shape{1, 4, 5, 5})), (Ops{"Mul", "AveragePool", "Mul", "Add", "Pow", "Div"}));
  Model onednn = built("Input((7, 3)) >> LocalResponseNorm.onednn(4, alg_kind='lrn_within_channel', "
                       "data_format='channels_last')", Shape{1, 7, 3}, DType::f64);
  const onnx::ModelProto p = exported(onednn, Shape{1, 7, 3});
  EXPECT_EQ(p.graph().node(2).attribute(0).ints(0), 3);  // oneDNN's even 4: 3 taps, divided by 4
  // The composition's arithmetic, with locnet's AveragePooling for the ONNX AveragePool, against the layers.
  locnet::testing::ScopedEnv ref("LOCNET_IMPL", "ref");
  for (const auto& [lrn_spec, pool_spec, scale, k] :
       {std::tuple{"LocalResponseNorm.caffe(3, alpha=0.5, beta=0.75, norm_region='WITHIN_CHANNEL')",
                   "AveragePooling2D(3, strides=1, padding=1, count_include_pad=True, data_format='channels_first')",
                   0.5, 1.0},
        std::tuple{"LocalResponseNorm.onednn(4, alpha=0.5, beta=0.75, k=2, alg_kind='lrn_within_channel')",
                   "AveragePooling2D(3, strides=1, padding=1, count_include_pad=True, data_format='channels_first')",
                   0.5 * 9 / 16, 2.0}}) {
    const Tensor x = random(Shape{2, 3, 5, 4}, DType::f64, 8);
    Tensor sq = x.clone();
    for (int64_t i = 0; i < x.numel(); ++i) sq.set(i, x.item(i) * x.item(i));
    Model lrn = parse_model(fmt::format("Input((3, 5, 4)) >> {}", lrn_spec));
    Model pool = parse_model(fmt::format("Input((3, 5, 4)) >> {}", pool_spec));
    const Tensor want = lrn.forward(x, Mode::Inference), mean = pool.forward(sq, Mode::Inference);
    for (int64_t i = 0; i < x.numel(); ++i)
      EXPECT_NEAR(x.item(i) / std::pow(k + scale * mean.item(i), 0.75), want.item(i), 1e-14) << lrn_spec;
  }
  // Read back as LocalResponseNorm.onednn within the channel: the same formula, rounded in another order.
  EXPECT_TRUE(round_trips("Input((4, 5, 5)) >> LocalResponseNorm.caffe(3, norm_region='WITHIN_CHANNEL')", {4, 5, 5}, 1e-6));
  EXPECT_TRUE(round_trips("Input((7, 3)) >> LocalResponseNorm.onednn(4, alpha=0.5, k=2, alg_kind='lrn_within_channel', "
                          "data_format='channels_last')", {7, 3}, 1e-6));
}

TEST(OnnxExport, LocalResponseNormPyTorchEvenSizeIsMirrored) {
  Model even = built("Input((6, 3)) >> LocalResponseNorm.pytorch(4, alpha=0.5)", Shape{2, 6, 3}, DType::f32);
  EXPECT_EQ(op_types(exported(even, Shape{2, 6, 3})), (Ops{"Gather", "LRN", "Gather"}));
  EXPECT_TRUE(round_trips("Input((6, 3)) >> LocalResponseNorm.pytorch(4, alpha=0.5)", {6, 3}));
}

// Why the Gather pair is right: PyTorch's window [c - n/2, c + (n-1)/2] is ONNX's [c - (n-1)/2, c + n/2] with the
// channels reversed. Checked on locnet's two conventions (reference kernels), independently of the importer, which
// reads the pair back as LocalResponseNorm.pytorch.
// Equal up to rounding: the window's squares are summed in the opposite order.
TEST(OnnxExport, PyTorchEvenWindowIsOnnxsOnReversedChannels) {
  locnet::testing::ScopedEnv ref("LOCNET_IMPL", "ref");
  for (DType dt : {DType::f32, DType::f64}) {
    const Tensor x = random(Shape{2, 6, 3}, dt, 4);
    const auto reversed = [](const Tensor& t) {
      Tensor r(t.shape(), t.dtype());
      for (int64_t n = 0; n < t.dim(0); ++n)
        for (int64_t c = 0; c < t.dim(1); ++c)
          for (int64_t i = 0; i < t.dim(2); ++i)
            r.set((n * t.dim(1) + c) * t.dim(2) + i, t.item((n * t.dim(1) + t.dim(1) - 1 - c) * t.dim(2) + i));
      return r;
    };
    for (int64_t size : {2, 4, 6}) {
      auto pytorch = lrn::pytorch({.size = size, .alpha = 0.5, .beta = 0.75, .k = 2});
      auto onnx = lrn::onnx({.size = size, .alpha = 0.5, .beta = 0.75, .bias = 2});
      const Tensor got = reversed(onnx(reversed(x))), want = pytorch(x);
      for (int64_t i = 0; i < x.numel(); ++i)
        EXPECT_NEAR(got.item(i), want.item(i), (dt == DType::f32 ? 1e-6 : 1e-15) * std::abs(want.item(i))) << size;
      EXPECT_FALSE(onnx(x).equal(pytorch(x))) << size;  // the mirror image is not the same window
    }
  }
}

TEST(OnnxExport, TwoInputsAndAChainWithoutInput) {
  const std::string two = R"(a = Input((4,), name="a")
b = Input((4,), name="b")
s = Subtract()([a, b])
y = Dense(3, activation="sigmoid")(s)
Model(inputs=[a, b], outputs=[y, s])
)";
  Model m = parse_model(two);
  m.build_from_inputs(1);
  const onnx::ModelProto p = exported(m, {Shape{2, 4}, Shape{2, 4}});
  ASSERT_EQ(p.graph().input_size(), 2);
  EXPECT_EQ(p.graph().input(1).name(), "b");
  ASSERT_EQ(p.graph().output_size(), 2);
  EXPECT_EQ(p.graph().output(1).type().tensor_type().shape().dim(1).dim_value(), 4);
  Model chain = parse_model("Flatten() >> Dense(2)");  // no Input: the shape the model was built for
  chain.build(Shape{2, 3, 4});
  const onnx::ModelProto q = exported(chain, Shape{2, 3, 4});
  EXPECT_EQ(q.graph().input(0).type().tensor_type().shape().dim(2).dim_value(), 4);
  round_trip(chain, random(Shape{2, 3, 4}, DType::f32, 2));
}

TEST(OnnxExport, BatchNormConventions) {
  for (const char* bn : {"BatchNorm2D(epsilon=0.0009765625", "BatchNorm2D.pytorch(3, eps=0.0009765625",
                         "BatchNorm2D.keras(epsilon=0.0009765625", "BatchNorm2D.caffe(eps=0.0009765625",
                         "BatchNorm2D.pytorch(3, affine=False, eps=0.0009765625"})
    for (const char* fmt : {"channels_first", "channels_last"}) {
      SCOPED_TRACE(std::string(bn) + " " + fmt);
      const bool first = std::string(fmt) == "channels_first";  // 3 channels either way
      const std::vector<int64_t> x = first ? std::vector<int64_t>{3, 4, 5} : std::vector<int64_t>{4, 5, 3};
      round_trips(fmt::format("Input(({})) >> {}, activation='relu', data_format='{}')", fmt::join(x, ", "), bn, fmt),
                  x);
    }
}

TEST(OnnxExport, Convolutions) {
  round_trips("Input((9, 8, 4)) >> Conv2D(6, (3, 2), strides=2, padding='same', dilation_rate=1, groups=2, "
              "activation='relu')", {9, 8, 4});
  round_trips("Input((4, 9, 8)) >> Conv2D(4, 3, padding=((1, 0), (2, 1)), dilation_rate=2, "
              "data_format='channels_first')", {4, 9, 8});
  round_trips("Input((10, 3)) >> Conv1D(4, 3, padding='causal', dilation_rate=2, activation='tanh')", {10, 3});
  round_trips("Input((3, 10)) >> Conv1D(4, 3, strides=2, padding='same', data_format='channels_first', "
              "use_bias=False)", {3, 10});
  round_trips("Input((7, 6, 3)) >> DepthwiseConv2D(3, depth_multiplier=2, padding='same')", {7, 6, 3});
  round_trips("Input((3, 7, 6)) >> DepthwiseConv2D(2, strides=2, data_format='channels_first')", {3, 7, 6});
}

TEST(OnnxExport, Pooling) {
  round_trips("Input((9, 8, 3)) >> MaxPooling2D(3, strides=2, ceil_mode=True)", {9, 8, 3});
  round_trips("Input((9, 8, 3)) >> AveragePooling2D(3, strides=2, padding='same')", {9, 8, 3});
  round_trips("Input((3, 9, 8)) >> AveragePooling2D(3, strides=2, padding=1, count_include_pad=True, "
              "data_format='channels_first')", {3, 9, 8});
  round_trips("Input((10, 3)) >> MaxPooling1D(2)", {10, 3});
  round_trips("Input((3, 10)) >> AveragePooling1D(3, strides=2, data_format='channels_first')", {3, 10});
  round_trips("Input((5, 4, 3)) >> GlobalAveragePooling2D()", {5, 4, 3});
  round_trips("Input((5, 4, 3)) >> GlobalMaxPooling2D(keepdims=True) >> Flatten()", {5, 4, 3});
  round_trips("Input((6, 3)) >> GlobalMaxPooling1D()", {6, 3});
}

TEST(OnnxExport, DenseAndActivations) {
  round_trips("Input((5,)) >> Dense(4, activation='softmax')", {5});
  round_trips("Input((5,)) >> Dense(4, activation='sigmoid', use_bias=False) >> ReLU()", {5});
  round_trips("Input((5,)) >> Dense(4) >> LeakyReLU(alpha=0.25) >> Activation('tanh')", {5});
  round_trips("Input((5,)) >> ReLU(negative_slope=0.5) >> Softmax()", {5});
  round_trips("Input((3, 5)) >> Dense(4)", {3, 5});  // MatMul + Add on the last axis
  round_trips("Input((5,)) >> ReLU(max_value=1.5)", {5});
  round_trips("Input((5,)) >> ELU(alpha=0.5) >> PReLU()", {5});
  round_trips("Input((5,)) >> ThresholdedReLU(theta=0.5) >> PReLU()", {5});
  round_trips("Input((5,)) >> Activation('elu') >> Activation('softplus') >> Activation('swish')", {5});
}

TEST(OnnxExport, MergesKeepTheChannelsFirstForm) {
  const std::string spec = R"(x = Input((6, 5, 2))
a = Conv2D(3, 1, name="a")(x)
b = Conv2D(3, 1, name="b")(x)
c = Conv2D(3, 1, name="c")(x)
s = Add()([a, b, c])
d = Subtract()([a, b])
m = Multiply()([a, b, c])
v = Average()([s, d])
mx = Maximum()([v, m])
mn = Minimum()([mx, a])
y = Concatenate()([mn, s])
z = Conv2D(2, 1, name="z")(y)
Model(inputs=x, outputs=z)
)";
  Model m = built(spec, Shape{2, 6, 5, 2}, DType::f32);
  // One Transpose in, one out: every merge runs on the convolutions' NCHW outputs.
  const Ops ops = op_types(exported(m, Shape{2, 6, 5, 2}));
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "Transpose"), 2) << fmt::format("{}", fmt::join(ops, " "));
  round_trips(spec, {6, 5, 2});
}

TEST(OnnxExport, ReshapingAndSpatialOps) {
  round_trips("Input((4, 3, 2)) >> Flatten() >> Reshape((6, 4)) >> Permute((2, 1)) >> Dropout(0.5)", {4, 3, 2});
  round_trips("Input((4, 3, 2)) >> Identity() >> Conv2D(2, 1) >> Flatten()", {4, 3, 2});
  round_trips("Input((4, 3, 2)) >> ZeroPadding2D(((1, 0), (2, 1)))", {4, 3, 2});
  round_trips("Input((4, 3, 2)) >> UpSampling2D((2, 3))", {4, 3, 2});
  round_trips("Input((2, 4, 3)) >> UpSampling2D(2, data_format='channels_first', interpolation='bilinear')",
              {2, 4, 3});
  round_trips("Input((6, 5, 2)) >> Cropping2D(((1, 2), (0, 1)))", {6, 5, 2});
  round_trips("Input((6, 2)) >> ZeroPadding1D((2, 1)) >> UpSampling1D(2) >> Cropping1D((1, 0))", {6, 2});
  Model up = built("Input((4, 3, 2)) >> UpSampling2D(2) >> Activation('hard_sigmoid')", Shape{1, 4, 3, 2},
                   DType::f64);
  for (int64_t opset : {11, 12, 13, 17}) exported(up, Shape{1, 4, 3, 2}, {.opset = opset});  // Resize's roi input
}

// AlexNet's chain in miniature, channels_last as Keras: one Transpose at each end of the convolutional part.
TEST(OnnxExport, AlexNetStyleChain) {
  const std::string spec =
      "Input((31, 31, 3)) >> Conv2D(8, 5, strides=2, activation='relu') >> "
      "LocalResponseNorm.tensorflow(depth_radius=2, alpha=0.25, beta=0.75, bias=2) >> MaxPooling2D(3, strides=2) >> "
      "Conv2D(8, 3, padding='same', groups=2, activation='relu') >> "
      "LocalResponseNorm.pytorch(5, alpha=0.5, beta=0.75, k=2, data_format='channels_last') >> "
      "MaxPooling2D(3, strides=2) >> Flatten() >> Dense(16, activation='relu') >> Dropout(0.5) >> "
      "Dense(10, activation='softmax')";
  Model m = built(spec, Shape{2, 31, 31, 3}, DType::f32);
  const Ops ops = op_types(exported(m, Shape{2, 31, 31, 3}));
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "Transpose"), 2) << fmt::format("{}", fmt::join(ops, " "));
  for (int64_t opset : {11, 12, 17}) exported(m, Shape{2, 31, 31, 3}, {.opset = opset});
  round_trips(spec, {31, 31, 3});
}

// The GoogLeNet/ResNet graph of tests/model/test_googlenet_resnet.cpp. Its lrn2 has PyTorch's even size 4 (a
// Gather pair, read back as LocalResponseNorm.pytorch); with size 3 a plain LRN. Its BatchNorms' eps 1e-5 and its LRNs'
// alpha 0.3 are not f32 numbers (ONNX's attributes are): the round trips take eps = 2^-10 and alpha = 0.25.
TEST(OnnxExport, GoogLeNetResNetGraph) {
  std::string spec = locnet::testing::kGoogLeNetResNetSpec;
  for (size_t at = 0; (at = spec.find("BatchNorm2D.pytorch(12,", at)) != std::string::npos; ++at)
    spec.insert(at + 23, " eps=0.0009765625,");
  for (size_t at = 0; (at = spec.find("alpha=0.3,", at)) != std::string::npos; ++at) spec.replace(at, 9, "alpha=0.25");
  Model m = built(spec, Shape{2, 28, 28, 1}, DType::f32);
  exported(m, Shape{2, 28, 28, 1});
  std::string odd = spec;
  const std::string even_lrn = "LocalResponseNorm.pytorch(4";
  odd.replace(odd.find(even_lrn), even_lrn.size(), "LocalResponseNorm.pytorch(3");
  EXPECT_TRUE(round_trips(odd, {28, 28, 1}));
  EXPECT_TRUE(round_trips(spec, {28, 28, 1}));
}

// ONNX stores attributes as f32: an f64 model with alpha = 1e-4 or epsilon = 1e-5 comes back with those rounded.
TEST(OnnxExport, FloatAttributesRoundToF32) {
  Model m = built("Input((6, 4)) >> LocalResponseNorm.pytorch(3) >> BatchNorm1D.pytorch(6)", Shape{2, 6, 4},
                  DType::f64);
  const onnx::ModelProto p = exported(m, Shape{2, 6, 4});
  EXPECT_EQ(p.graph().node(0).attribute(1).f(), 1e-4f);
  round_trip(m, random(Shape{2, 6, 4}, DType::f64, 5), 1e-6);
}

using OnnxExportFile = TempDirTest;

TEST_F(OnnxExportFile, SaveOnnxWritesTheBytes) {
  Model m = built("Input((3,)) >> Dense(2)", Shape{2, 3}, DType::f64);
  save_onnx(m, path("m.onnx"));
  Model back = read_onnx(path("m.onnx"));
  const Tensor x = random(Shape{2, 3}, DType::f64, 1);
  EXPECT_TRUE(back.forward(x, Mode::Inference).equal(m.forward(x, Mode::Inference)));
}
