// ZeroPadding1D/2D, Cropping1D/2D, UpSampling1D/2D (include/locnet/layers/spatial_ops.hpp) and Permute,
// RepeatVector, Identity (include/locnet/layers/reshape.hpp): hand-derived values (synthetic references; the
// PyTorch data is tests/conformance/test_upsample_pytorch.cpp), gradient checks in double at the edges (padding 0,
// asymmetric, crop to 1x1, size 1, 1x1 bilinear input, batch 1, both data formats), every ConfigError and
// ShapeError message (overflow included), and the spec -> layer -> config() -> spec round trip.
#include <limits>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/layers/reshape.hpp"
#include "locnet/layers/spatial_ops.hpp"
#include "locnet/model/from_spec.hpp"

using namespace locnet;
using locnet::testing::check_layer;
using locnet::testing::random_tensor;

namespace {

std::unique_ptr<Layer> layer(const std::string& spec) { return make_layer(parse_chain(spec)[0]); }

// forward of a built-for-`x` copy of the layer `spec`, in f64.
Tensor run(const std::string& spec, const Tensor& x) {
  auto l = layer(spec);
  Rng rng(0);
  l->build(x.shape(), rng, x.dtype());
  return l->forward(x, Mode::Training);
}

Tensor iota(const Shape& s) {
  std::vector<double> v(size_t(s.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = double(i);
  return Tensor::from(v, s);
}

}  // namespace

TEST(ZeroPadding, ShapesFormsAndValues) {
  EXPECT_EQ(layer("ZeroPadding2D()")->output_shape(Shape{-1, 3, 4, 2}).str(), "(None, 5, 6, 2)");
  EXPECT_EQ(layer("ZeroPadding2D(2)")->output_shape(Shape{1, 3, 4, 2}), (Shape{1, 7, 8, 2}));
  EXPECT_EQ(layer("ZeroPadding2D((0, 2))")->output_shape(Shape{1, 3, 4, 2}), (Shape{1, 3, 8, 2}));
  EXPECT_EQ(layer("ZeroPadding2D(((1, 0), (0, 3)), data_format='channels_first')")->output_shape(Shape{1, 2, 3, 4}),
            (Shape{1, 2, 4, 7}));
  EXPECT_EQ(layer("ZeroPadding1D(3)")->output_shape(Shape{2, 5, 1}), (Shape{2, 11, 1}));
  // (1, 1, 2, 1) channels_last, padding ((1, 0), (0, 1)): the 1x2 row [0 1] in the bottom-left of a 2x3 of zeros.
  EXPECT_EQ(run("ZeroPadding2D(((1, 0), (0, 1)))", iota(Shape{1, 1, 2, 1})).to_vector(),
            (std::vector<double>{0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(run("ZeroPadding1D((0, 2))", iota(Shape{1, 2, 2})).to_vector(),
            (std::vector<double>{0, 1, 2, 3, 0, 0, 0, 0}));
  // channels_first (N, C, L) (Keras 3): (1, 2, 2) [[0 1] [2 3]] padded (1, 0) along L: [[0 0 1] [0 2 3]].
  EXPECT_EQ(layer("ZeroPadding1D(2, data_format='channels_first')")->output_shape(Shape{-1, 3, 5}).str(),
            "(None, 3, 9)");
  EXPECT_EQ(run("ZeroPadding1D((1, 0), data_format='channels_first')", iota(Shape{1, 2, 2})).to_vector(),
            (std::vector<double>{0, 0, 1, 0, 2, 3}));
  Tensor x = random_tensor(Shape{2, 3, 4, 2}, DType::f64, 1);
  EXPECT_TRUE(run("ZeroPadding2D(0)", x).equal(x)) << "padding 0 is the identity";
}

TEST(Cropping, ShapesAndValues) {
  EXPECT_EQ(layer("Cropping2D()")->output_shape(Shape{-1, 3, 4, 2}).str(), "(None, 3, 4, 2)");
  EXPECT_EQ(layer("Cropping2D(1)")->output_shape(Shape{1, 3, 4, 2}), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(layer("Cropping2D(((2, 0), (1, 2)), data_format='channels_first')")->output_shape(Shape{1, 2, 3, 4}),
            (Shape{1, 2, 1, 1}));
  EXPECT_EQ(layer("Cropping1D()")->output_shape(Shape{1, 3, 2}), (Shape{1, 1, 2}));
  // (1, 3, 3, 1) holding 0..8, cropping ((1, 1), (0, 1)): row 1, cols 0..1 = [3 4].
  EXPECT_EQ(run("Cropping2D(((1, 1), (0, 1)))", iota(Shape{1, 3, 3, 1})).to_vector(), (std::vector<double>{3, 4}));
  EXPECT_EQ(run("Cropping1D((2, 0))", iota(Shape{1, 3, 2})).to_vector(), (std::vector<double>{4, 5}));
}

TEST(UpSampling, NearestRepeatsRowsAndCols) {
  EXPECT_EQ(layer("UpSampling2D()")->output_shape(Shape{-1, 3, 4, 2}).str(), "(None, 6, 8, 2)");
  EXPECT_EQ(layer("UpSampling1D(3)")->output_shape(Shape{1, 3, 2}), (Shape{1, 9, 2}));
  // (1, 2, 2, 1) [[0 1] [2 3]], size (1, 2): [[0 0 1 1] [2 2 3 3]]; channels_first (1, 1, 2, 2) the same.
  const std::vector<double> want{0, 0, 1, 1, 2, 2, 3, 3};
  EXPECT_EQ(run("UpSampling2D((1, 2))", iota(Shape{1, 2, 2, 1})).to_vector(), want);
  EXPECT_EQ(run("UpSampling2D((1, 2), data_format='channels_first')", iota(Shape{1, 1, 2, 2})).to_vector(), want);
  EXPECT_EQ(run("UpSampling1D(2)", iota(Shape{1, 2, 2})).to_vector(), (std::vector<double>{0, 1, 0, 1, 2, 3, 2, 3}));
}

TEST(UpSampling, BilinearHalfPixelCentersAndClampedEdges) {
  // Row [0 1] x2: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1) -> [0 0.25 0.75 1].
  EXPECT_EQ(run("UpSampling2D((1, 2), interpolation='bilinear')", iota(Shape{1, 1, 2, 1})).to_vector(),
            (std::vector<double>{0, 0.25, 0.75, 1}));
  // A 1x1 input is constant whatever the size.
  Tensor one = Tensor::from(std::vector<double>{2.5, -1}, Shape{1, 2, 1, 1});
  EXPECT_EQ(run("UpSampling2D(3, data_format='channels_first', interpolation='bilinear')", one).to_vector(),
            (std::vector<double>{2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, -1, -1, -1, -1, -1, -1, -1, -1, -1}));
  // size 1 along an axis leaves it as it is.
  Tensor x = random_tensor(Shape{2, 3, 4, 2}, DType::f64, 2);
  EXPECT_TRUE(run("UpSampling2D(1, interpolation='bilinear')", x).equal(x));
}

TEST(SpatialOps, Gradients) {
  for (const char* spec : {
           "ZeroPadding1D()", "ZeroPadding1D((0, 2))", "ZeroPadding1D((2, 1), data_format='channels_first')",
           "ZeroPadding2D()", "ZeroPadding2D(0)",
           "ZeroPadding2D(((2, 0), (1, 3)))", "ZeroPadding2D(((0, 1), (2, 0)), data_format='channels_first')",
           "Cropping1D()", "Cropping1D((0, 4))", "Cropping2D()", "Cropping2D(((1, 3), (0, 2)))",
           "Cropping2D(((2, 2), (1, 2)), data_format='channels_first')", "UpSampling1D()", "UpSampling1D(1)",
           "UpSampling2D((2, 3))", "UpSampling2D(1, data_format='channels_first')",
           "UpSampling2D((3, 2), interpolation='bilinear')",
           "UpSampling2D((1, 4), data_format='channels_first', interpolation='bilinear')"}) {
    SCOPED_TRACE(spec);
    auto l = layer(spec);
    const bool one_d = std::string(spec).find("1D") != std::string::npos;
    const bool first = std::string(spec).find("channels_first") != std::string::npos;
    for (int64_t batch : {1, 2}) {
      SCOPED_TRACE(batch);
      auto copy = l->clone();
      check_layer(*copy, one_d ? Shape{batch, 5, 3} : first ? Shape{batch, 3, 5, 4} : Shape{batch, 5, 4, 3});
    }
  }
  // A 1x1 input upsampled bilinearly: every output position reads the one pixel.
  auto bilinear = layer("UpSampling2D((2, 3), interpolation='bilinear')");
  check_layer(*bilinear, Shape{2, 1, 1, 3});
}

TEST(SpatialOps, ConfigErrors) {
  EXPECT_THROW_MSG(layer("ZeroPadding1D((1, 2, 3))"), ConfigError,
                   "ZeroPadding1D: padding must be an int or a tuple of 2 ints (before, after), got (1, 2, 3)");
  EXPECT_THROW_MSG(layer("ZeroPadding1D(-1)"), ConfigError,
                   "ZeroPadding1D: padding entries must be ints in [0, 2147483647], got (-1,)");
  EXPECT_THROW_MSG(layer("Cropping1D((1, -2))"), ConfigError, "Cropping1D: cropping entries must be ints in [0,");
  const char* forms = "must be an int, a tuple of 2 ints or a tuple of 2 (before, after) tuples of ints, got ";
  EXPECT_THROW_MSG(layer("ZeroPadding2D((1, 2, 3))"), ConfigError,
                   std::string("ZeroPadding2D: padding ") + forms + "(1, 2, 3)");
  EXPECT_THROW_MSG(layer("ZeroPadding2D(((1, 2), (3,)))"), ConfigError, std::string("padding ") + forms);
  EXPECT_THROW_MSG(layer("ZeroPadding2D('same')"), ConfigError, std::string("padding ") + forms + "\"same\"");
  EXPECT_THROW_MSG(layer("ZeroPadding2D(((1, 2), (3, 0.5)))"), ConfigError, std::string("padding ") + forms);
  EXPECT_THROW_MSG(layer("Cropping2D(((1, 2), (-3, 0)))"), ConfigError,
                   "Cropping2D: cropping entries must be ints in [0, 2147483647], got ((1, 2), (-3, 0))");
  EXPECT_THROW_MSG(layer("Cropping2D(data_format='NHWC')"), ConfigError,
                   "Cropping2D: data_format must be None, \"channels_last\" or \"channels_first\", got \"NHWC\"");
  EXPECT_THROW_MSG(layer("ZeroPadding1D(data_format='NCW')"), ConfigError,
                   "ZeroPadding1D: data_format must be None, \"channels_last\" or \"channels_first\", got \"NCW\"");
  EXPECT_THROW_MSG(layer("Cropping1D(data_format='channels_first')"), ConfigError,
                   "Cropping1D (column 1): unknown argument 'data_format'; expected one of: cropping, name");
  EXPECT_THROW_MSG(layer("UpSampling1D(0)"), ConfigError,
                   "UpSampling1D: size must be an int in [1, 2147483647], got 0");
  EXPECT_THROW_MSG(layer("UpSampling2D((2, 0))"), ConfigError,
                   "UpSampling2D: size must be positive integers <= 2147483647, got (2, 0)");
  EXPECT_THROW_MSG(layer("UpSampling2D((2, 2, 2))"), ConfigError,
                   "UpSampling2D: size must be an int or a tuple of 2 ints, got (2, 2, 2)");
  EXPECT_THROW_MSG(layer("UpSampling2D(interpolation='bicubic')"), ConfigError,
                   "UpSampling2D: interpolation must be \"nearest\" or \"bilinear\", got \"bicubic\"");
  EXPECT_THROW_MSG(layer("UpSampling2D(size='2')"), ConfigError,
                   "UpSampling2D (column 1): argument 'size' must be int or tuple of ints, got string \"2\"");
}

TEST(SpatialOps, ShapeErrors) {
  EXPECT_THROW_MSG(layer("ZeroPadding2D()")->output_shape(Shape{1, 3, 4}), ShapeError,
                   "input rank must be 4 ((N, rows, cols, channels)), got shape (1, 3, 4)");
  EXPECT_THROW_MSG(layer("Cropping2D(data_format='channels_first')")->output_shape(Shape{1, 3}), ShapeError,
                   "input rank must be 4 ((N, channels, rows, cols))");
  EXPECT_THROW_MSG(layer("UpSampling1D()")->output_shape(Shape{1, 3, 4, 5}), ShapeError,
                   "input rank must be 3 ((N, steps, channels)), got shape (1, 3, 4, 5)");
  EXPECT_THROW_MSG(layer("ZeroPadding1D(data_format='channels_first')")->output_shape(Shape{1, 3}), ShapeError,
                   "input rank must be 3 ((N, channels, steps)), got shape (1, 3)");
  EXPECT_THROW_MSG(layer("UpSampling2D()")->output_shape(Shape{1, -1, 4, 2}), ShapeError,
                   "non-batch dimensions must be known, got shape (1, None, 4, 2)");
  EXPECT_THROW_MSG(layer("Cropping1D((2, 1))")->output_shape(Shape{1, 3, 4}), ShapeError,
                   "(Cropping1D): cropping (2, 1) must leave at least one of the input's 3 steps, "
                   "got shape (1, 3, 4)");
  EXPECT_THROW_MSG(layer("Cropping2D(((0, 0), (4, 0)))")->output_shape(Shape{1, 3, 4, 2}), ShapeError,
                   "cropping (4, 0) must leave at least one of the input's 4 cols");
  EXPECT_THROW_MSG(layer("Cropping2D(((3, 0), (0, 0)), data_format='channels_first')")->output_shape(Shape{1, 5, 3, 9}),
                   ShapeError, "cropping (3, 0) must leave at least one of the input's 3 rows");
  EXPECT_THROW_MSG(layer("UpSampling1D(2147483647)")->output_shape(Shape{1, int64_t(1) << 40, 1}), ShapeError,
                   "(UpSampling1D): the output's steps (1099511627776 * 2147483647 + 0 + 0) must fit in int64, got "
                   "shape (1, 1099511627776, 1)");
  const int64_t big = std::numeric_limits<int64_t>::max() - 1;
  EXPECT_THROW_MSG(layer("ZeroPadding2D(((0, 0), (1, 1)))")->output_shape(Shape{1, 2, big, 1}), ShapeError,
                   fmt::format("the output's cols ({} * 1 + 1 + 1) must fit in int64", big));
  // The built shape and dtype, and backward only after a training forward.
  auto l = layer("UpSampling2D()");
  Rng rng(0);
  l->build(Shape{-1, 2, 2, 1}, rng, DType::f64);
  EXPECT_THROW_MSG(l->forward(Tensor(Shape{1, 2, 3, 1}, DType::f64), Mode::Training), ShapeError,
                   "input shape must be (None, 2, 2, 1) (as built)");
  l->forward(Tensor(Shape{1, 2, 2, 1}, DType::f64), Mode::Inference);
  EXPECT_THROW_MSG(l->backward(Tensor(Shape{1, 4, 4, 1}, DType::f64)), ConfigError,
                   "backward must follow a training-mode forward");
  l->forward(Tensor(Shape{1, 2, 2, 1}, DType::f64), Mode::Training);
  EXPECT_THROW_MSG(l->backward(Tensor(Shape{1, 4, 3, 1}, DType::f64)), ShapeError,
                   "output gradient shape must be (1, 4, 4, 1)");
  EXPECT_THROW_MSG(layer("ZeroPadding1D()")->build(Shape{1, 2, 2}, rng, DType::bf16), NotSupported,
                   "dtype must be f32 or f64, got bf16");
}

TEST(Permute, ValuesGradientsAndErrors) {
  auto p = layer("Permute((2, 3, 1))");
  EXPECT_EQ(p->output_shape(Shape{-1, 2, 3, 4}).str(), "(None, 3, 4, 2)");
  // (1, 2, 3) [[0 1 2] [3 4 5]] transposed by the default dims (2, 1): [[0 3] [1 4] [2 5]].
  EXPECT_EQ(run("Permute()", iota(Shape{1, 2, 3})).to_vector(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  // y[n, j, k, i] = x[n, i, j, k] with dims (2, 3, 1).
  Tensor x = random_tensor(Shape{2, 2, 3, 4}, DType::f64, 3);
  Tensor y = run("Permute((2, 3, 1))", x);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        for (int64_t k = 0; k < 4; ++k)
          ASSERT_EQ(y.item(((n * 3 + j) * 4 + k) * 2 + i), x.item(((n * 2 + i) * 3 + j) * 4 + k));
  for (const char* spec : {"Permute((2, 3, 1))", "Permute((3, 1, 2))", "Permute((1, 2, 3))"}) {
    auto l = layer(spec);
    check_layer(*l, Shape{2, 2, 3, 4});
  }
  auto single = layer("Permute((1,))");
  check_layer(*single, Shape{1, 5});
  // Any element type: values move, no arithmetic.
  auto b = layer("Permute()");
  Rng rng(0);
  b->build(Shape{1, 2, 3}, rng, DType::bf16);
  EXPECT_EQ(b->forward(iota(Shape{1, 2, 3}).to(DType::bf16), Mode::Training).to_vector(),
            (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_THROW_MSG(layer("Permute((1, 3))"), ConfigError,
                   "Permute: dims must be a permutation of 1..2 (the 1-based non-batch axes), got (1, 3)");
  EXPECT_THROW_MSG(layer("Permute((0, 1))"), ConfigError, "got (0, 1)");
  EXPECT_THROW_MSG(layer("Permute((2, 2))"), ConfigError, "got (2, 2)");
  EXPECT_THROW_MSG(Permute(std::vector<int64_t>{}), ConfigError, "dims must be a permutation of 1..1");
  EXPECT_THROW_MSG(p->output_shape(Shape{1, 2, 3}), ShapeError,
                   "input rank must be 4 (the batch and len(dims) axes), got shape (1, 2, 3)");
}

TEST(RepeatVector, ValuesGradientsAndErrors) {
  EXPECT_EQ(layer("RepeatVector(3)")->output_shape(Shape{-1, 4}).str(), "(None, 3, 4)");
  EXPECT_EQ(run("RepeatVector(2)", iota(Shape{2, 2})).to_vector(), (std::vector<double>{0, 1, 0, 1, 2, 3, 2, 3}));
  for (const char* spec : {"RepeatVector(3)", "RepeatVector(1)"}) {
    auto l = layer(spec);
    check_layer(*l, Shape{2, 5});
  }
  EXPECT_THROW_MSG(layer("RepeatVector(0)"), ConfigError, "RepeatVector: n must be an int >= 1, got 0");
  EXPECT_THROW_MSG(layer("RepeatVector()"), ConfigError, "argument 'n' is required");
  EXPECT_THROW_MSG(layer("RepeatVector(2)")->output_shape(Shape{1, 2, 3}), ShapeError,
                   "input rank must be 2 (N, features), got shape (1, 2, 3)");
  EXPECT_THROW_MSG(layer("RepeatVector(4611686018427387904)")->output_shape(Shape{-1, 2}), ShapeError,
                   "(RepeatVector): n * features (4611686018427387904 * 2) must fit in int64, got shape (None, 2)");
}

TEST(Identity, PassesValuesAndGradients) {
  auto l = layer("Identity()");
  check_layer(*l, Shape{2, 3, 1, 2});
  auto b = layer("Identity()");
  Rng rng(0);
  b->build(Shape{-1, 3}, rng, DType::f16);
  Tensor x = iota(Shape{2, 3}).to(DType::f16);
  EXPECT_TRUE(b->forward(x, Mode::Inference).equal(x));
  EXPECT_THROW_MSG(b->backward(x), ConfigError, "backward must follow a training-mode forward");
}

TEST(SpatialOps, SpecRoundTripKeepsKerasConfigForms) {
  Sequential m = parse_model(
      "Input((6, 5, 2)) >> ZeroPadding2D(1) >> Cropping2D(((1, 2), 1)) >> UpSampling2D(2, interpolation='bilinear') "
      ">> ZeroPadding2D((1, 0), data_format='channels_first') >> Identity() >> Permute((3, 1, 2)) >> "
      "Reshape((-1, 4)) >> UpSampling1D(1) >> ZeroPadding1D(2) >> Cropping1D(1) >> Flatten() >> RepeatVector(2)");
  EXPECT_EQ(m.output_shape().str(), "(None, 2, 248)");
  for (size_t i = 0; i < m.size(); ++i) {
    Call c = m.layer(i).config();
    auto again = make_layer(parse_value(c.repr()).call());
    again->set_name(m.layer(i).name());
    EXPECT_EQ(again->config(), c) << c.repr();
  }
  EXPECT_EQ(m.layer(0).config().repr(),
            "ZeroPadding2D(padding=((1, 1), (1, 1)), data_format=None, name=\"zero_padding2d_1\")");
  EXPECT_EQ(m.layer(1).config().repr(),
            "Cropping2D(cropping=((1, 2), (1, 1)), data_format=None, name=\"cropping2d_1\")");
  EXPECT_EQ(m.layer(2).config().repr(),
            "UpSampling2D(size=(2, 2), data_format=None, interpolation=\"bilinear\", name=\"up_sampling2d_1\")");
  EXPECT_EQ(m.layer(8).config().repr(), "ZeroPadding1D(padding=(2, 2), data_format=None, name=\"zero_padding1d_1\")");
  EXPECT_EQ(m.layer(5).config().repr(), "Permute(dims=(3, 1, 2), name=\"permute_1\")");
  EXPECT_EQ(m.layer(11).config().repr(), "RepeatVector(n=2, name=\"repeat_vector_1\")");
}
