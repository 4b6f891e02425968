// Every layer type on inputs and output gradients that start past a 64-byte boundary, as Tensor::borrow gives
// the Python module's NumPy arrays (NumPy aligns to 16 bytes, slices to the element): the outputs, input gradients
// and parameter gradients equal those of aligned inputs (to rounding: a kernel may split its vectors differently),
// so no kernel assumes an aligned x or dy. f32 and f64 for every model, bf16 and f16 for the parameter-free ones.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "every_layer_models.hpp"
#include "locnet/core/error.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/model.hpp"

using namespace locnet;
using locnet::testing::filled;
using locnet::testing::kEveryLayerModels;

namespace {

// A copy of t whose data starts `offset` bytes past a 64-byte boundary (borrowed, as the Python module does).
Tensor shifted(const Tensor& t, size_t offset) {
  auto holder = std::make_shared<Tensor>(Shape{t.numel() + 64}, t.dtype());
  std::byte* data = static_cast<std::byte*>(holder->raw()) + offset;
  std::memcpy(data, t.raw(), t.nbytes());
  return Tensor::borrow(data, holder, t.shape(), t.dtype());
}

void expect_close(const Tensor& want, const Tensor& got, double tol, const std::string& what) {
  ASSERT_EQ(want.shape(), got.shape()) << what;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double a = want.item(i), b = got.item(i);
    if (std::isnan(a) && std::isnan(b)) continue;
    ASSERT_LE(std::abs(a - b), tol * (1 + std::abs(a))) << what << " at " << i;
  }
}

double tolerance(DType t) {
  switch (t) {
    case DType::f64: return 1e-12;
    case DType::f32: return 1e-5;
    default: return 1e-2;  // bf16/f16: one unit in the last place
  }
}

// Builds two equal models, runs a training forward and a backward on aligned and on shifted x and dy; false when
// the model cannot compute in `dtype` (layers with parameters refuse bf16/f16).
bool same_on_shifted_inputs(const char* spec, DType dtype, size_t offset) {
  Model aligned = parse_model(spec), moved = parse_model(spec);
  const Shape in = aligned.input_shape()->with_dim(0, 3);
  try {
    aligned.build(in, uint64_t(7), dtype);
  } catch (const NotSupported&) {
    return false;
  }
  moved.build(in, uint64_t(7), dtype);
  const Tensor x = filled(in, 1, dtype);
  const Tensor y = aligned.forward(x, Mode::Training);
  const Tensor y_moved = moved.forward(shifted(x, offset), Mode::Training);
  const double tol = tolerance(dtype);
  expect_close(y, y_moved, tol, "y");
  const Tensor dy = filled(y.shape(), 2, dtype);
  expect_close(aligned.backward(dy), moved.backward(shifted(dy, offset)), tol, "dx");
  auto want = aligned.named_params(false), got = moved.named_params(false);
  for (size_t i = 0; i < want.size(); ++i)
    if (want[i].second->grad.defined()) expect_close(want[i].second->grad, got[i].second->grad, tol, want[i].first);
  // Inference reads x too (BatchNorm's running statistics path).
  expect_close(aligned.forward(x, Mode::Inference), moved.forward(shifted(x, offset), Mode::Inference), tol,
               "inference y");
  return true;
}

}  // namespace

// Wide enough that the vector loops of the optimized kernels run full vectors over channels and pixels.
const char* const kWideModels[] = {
    "Input((12, 12, 40)) >> LocalResponseNorm() >> BatchNorm2D() >> LocallyConnected2D(24, 3) >> "
    "Conv2D(20, 3, activation='relu') >> MaxPooling2D(2) >> Flatten() >> Dense(33)",
    "Input((40, 12, 12)) >> LocalResponseNorm.pytorch(5) >> BatchNorm2D.pytorch(40) >> "
    "LocalResponseNorm.caffe(local_size=3, norm_region='WITHIN_CHANNEL')",
    "Input((40, 35)) >> LocallyConnected1D(24, 3) >> BatchNorm1D.keras() >> LocalResponseNorm.tensorflow()",
};

TEST(UnalignedInputs, EveryLayerComputesTheSameAtAnyElementAlignedAddress) {
  int low_precision_runs = 0;
  std::vector<const char*> specs(std::begin(kEveryLayerModels), std::end(kEveryLayerModels));
  specs.insert(specs.end(), std::begin(kWideModels), std::end(kWideModels));
  for (const char* spec : specs) {
    for (DType dtype : {DType::f32, DType::f64, DType::bf16, DType::f16}) {
      const size_t element = dtype_size(dtype);
      for (size_t offset : {element, size_t(16), size_t(64) - element}) {
        SCOPED_TRACE(std::string(spec) + " " + std::string(dtype_name(dtype)) + " offset " + std::to_string(offset));
        const bool ran = same_on_shifted_inputs(spec, dtype, offset);
        if (element == 2) {
          low_precision_runs += ran;
        } else {
          EXPECT_TRUE(ran);  // every model computes in f32 and f64
        }
      }
    }
  }
  EXPECT_GE(low_precision_runs, 6);  // the LRN models run in bf16 and f16
}
