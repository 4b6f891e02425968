// Keras weight files -> locnet (include/locnet/interop/keras.hpp): the LocallyConnected kernels of a file saved
// with implementation 2 or 3 become implementation 1, everything else passes through, and every error path.
// The per-kernel index formulas are tested in tests/layers/test_locally_connected.cpp.
#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/interop/keras.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/layers/locally_connected_keras.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

namespace {
const LocallyConnectedGeometry& geometry(Sequential& m, size_t i) {
  return static_cast<LocallyConnectedBase&>(m.layer(i)).geometry();
}
}  // namespace

// Each implementation's kernel comes back as the implementation-1 kernel it was made from, in its own dtype; the
// bias and the other layers' entries are untouched, and implementation 1 leaves the file as it is.
TEST(KerasWeights, ConvertsEveryLocallyConnectedKernel) {
  Sequential m = Input({6, 5, 2}) >> LocallyConnected2D(3, {2, 2}, "lc") >> Flatten() >> Dense(2, std::nullopt, "fc");
  m.build(Shape{Shape::kUnknown, 6, 5, 2}, uint64_t(0));
  const LocallyConnectedGeometry& g = geometry(m, 0);
  Tensor w1 = random_tensor(keras_kernel_shape(g, 1), DType::f64, 1), b = random_tensor(Shape{5, 4, 3}, DType::f64, 2);
  Tensor fc = random_tensor(Shape{60, 2}, DType::f64, 3);
  for (int impl : {2, 3}) {
    SCOPED_TRACE(impl);
    Tensor there = impl == 2 ? keras_impl1_to_impl2(g, w1) : keras_impl1_to_impl3(g, w1);
    TensorFile f{{{"lc.kernel", there.to(DType::f32)}, {"lc.bias", b}, {"fc.kernel", fc}}, {}};
    TensorFile out = keras_weights_to_impl1(m, f, impl);
    ASSERT_EQ(out.tensors.size(), 3u);
    EXPECT_EQ(out.tensors[0].second.dtype(), DType::f32);
    EXPECT_LE(max_scaled_error(out.tensors[0].second.to(DType::f64), w1, 1e-6, 1e-6), 1.0);
    EXPECT_EQ(out.tensors[1].second.raw(), b.raw());  // passed through, not copied
    EXPECT_EQ(out.tensors[2].second.raw(), fc.raw());
  }
  TensorFile same{{{"lc.kernel", Tensor(Shape{3})}}, {}};
  EXPECT_EQ(keras_weights_to_impl1(m, same, 1).tensors[0].second.shape(), (Shape{3}));
}

// A layer with its own implementation= is left for load_weights; a file of another implementation contradicts it.
TEST(KerasWeights, LayerWithItsOwnImplementation) {
  Sequential m = Input({6, 5, 2}) >> LocallyConnected2D({.filters = 3, .kernel_size = {2, 2}, .implementation = 2}, "lc");
  m.build(Shape{Shape::kUnknown, 6, 5, 2}, uint64_t(0));
  Tensor k2(keras_kernel_shape(geometry(m, 0), 2));
  TensorFile f{{{"lc.kernel", k2}}, {}};
  EXPECT_EQ(keras_weights_to_impl1(m, f, 2).tensors[0].second.raw(), k2.raw());
  EXPECT_THROW_MSG(keras_weights_to_impl1(m, f, 3), ConfigError,
                   "Keras weights: layer 'lc' says implementation=2, so its kernel must be read as implementation 2, "
                   "got 3 for the file");
}

TEST(KerasWeights, Errors) {
  Sequential m = Input({7, 8, 3}) >> LocallyConnected2D(4, {3, 2}, "lc");
  m.build(Shape{Shape::kUnknown, 7, 8, 3}, uint64_t(0));
  TensorFile f{{{"lc.kernel", Tensor(Shape{3})}, {"lc.bias", Tensor(Shape{5, 7, 4})}}, {}};
  EXPECT_THROW_MSG(keras_weights_to_impl1(m, f, 3), FormatError,
                   "weights: key 'lc.kernel' (Keras implementation 3) must have shape (2520,), got (3,)");
  EXPECT_THROW_MSG(keras_weights_to_impl1(m, f, 0), ConfigError, "implementation must be 1, 2 or 3, got 0");
  Sequential unbuilt = Input({7, 8, 3}) >> LocallyConnected2D(4, {3, 2}, "lc");
  EXPECT_THROW_MSG(keras_weights_to_impl1(unbuilt, f, 2), ConfigError, "the model must be built");
}
