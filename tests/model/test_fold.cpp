// fold_batch_norm: the folded model's inference output equals the original's (1e-5 relative in f32), for Dense
// and LocallyConnected in both layouts, with and without bias, with the BatchNorm's fused ReLU; pairs that cannot
// fold are kept.
#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/layers/batch_norm.hpp"
#include "locnet/model/fold.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

namespace {

// Builds the model, gives every BatchNorm running statistics from a few training batches, then folds.
void check_fold(const std::string& spec, const Shape& per_sample, size_t folded_size, DType dt) {
  SCOPED_TRACE(spec);
  Sequential model = parse_model(spec);
  model.build(per_sample.with_batch(Shape::kUnknown), 1, dt);
  for (uint64_t s = 0; s < 3; ++s)
    model.forward(random_tensor(per_sample.with_batch(5), dt, 40 + s, 2.0), Mode::Training);
  for (auto& [key, p] : model.named_params())
    if (key.find("gamma") != std::string::npos || key.find("beta") != std::string::npos)
      for (int64_t i = 0; i < p->value.numel(); ++i) p->value.set(i, 0.5 + 0.25 * double(i % 3) - 0.1 * double(i % 2));
  Sequential folded = fold_batch_norm(model);
  EXPECT_EQ(folded.size(), folded_size);
  Tensor x = random_tensor(per_sample.with_batch(4), dt, 50, 2.0);
  Tensor want = model.forward(x, Mode::Inference), got = folded.forward(x, Mode::Inference);
  double scale = 0;
  for (int64_t i = 0; i < want.numel(); ++i) scale = std::max(scale, std::abs(want.item(i)));
  double tol = dt == DType::f32 ? 1e-5 : 1e-12;
  EXPECT_LE(max_scaled_error(got, want, tol, tol * scale), 1.0);
}

}  // namespace

TEST(FoldBatchNorm, DenseAndLocallyConnected) {
  for (DType dt : {DType::f32, DType::f64}) {
    check_fold("Dense(6) >> BatchNorm1D.pytorch(6)", Shape{5}, 1, dt);
    check_fold("Dense(6, use_bias=False) >> BatchNorm1D(activation=\"relu\") >> Dense(2)", Shape{5}, 2, dt);
    check_fold("Dense(4) >> BatchNorm2D.keras()", Shape{3, 2, 5}, 1, dt);
    check_fold("LocallyConnected2D(4, (2, 2)) >> BatchNorm2D()", Shape{4, 5, 3}, 1, dt);
    check_fold(
        "LocallyConnected2D(4, 3, padding=\"same\", data_format=\"channels_first\", use_bias=False) >> "
        "BatchNorm2D.pytorch(4)",
        Shape{3, 4, 5}, 1, dt);
    check_fold("LocallyConnected1D(3, 2, data_format=\"channels_first\") >> BatchNorm1D.caffe()", Shape{2, 6}, 1, dt);
  }
}

TEST(FoldBatchNorm, KeepsWhatCannotFold) {
  // Non-linear activation before, a channel axis that is not Dense's units, batch statistics in inference.
  check_fold("Dense(4, activation=\"tanh\") >> BatchNorm1D()", Shape{3}, 2, DType::f64);
  check_fold("Dense(4) >> BatchNorm2D.pytorch(2)", Shape{2, 3, 5}, 2, DType::f64);
  check_fold("Dense(3) >> BatchNorm1D.pytorch(3, track_running_stats=False)", Shape{3}, 2, DType::f64);
  check_fold("BatchNorm1D() >> Dense(3)", Shape{3}, 2, DType::f64);
  EXPECT_THROW_MSG(fold_batch_norm(parse_model("Dense(3) >> BatchNorm1D()")), ConfigError, "must be built");
}

TEST(FoldBatchNorm, KerasChannelAxis) {
  // Keras's axis= folds only where it is the layer's output channel axis: the last one after Dense or a
  // channels_last LocallyConnected, axis 1 after a channels_first one.
  check_fold("Dense(4) >> BatchNorm2D.keras(axis=3)", Shape{3, 2, 5}, 1, DType::f64);
  check_fold("Dense(4) >> BatchNorm2D.keras(axis=1)", Shape{5}, 1, DType::f64);
  check_fold("LocallyConnected2D(4, 3, data_format=\"channels_first\") >> BatchNorm2D.keras(axis=1)", Shape{3, 5, 5},
             1, DType::f64);
  check_fold("LocallyConnected2D(4, 2) >> BatchNorm1D.keras(axis=2)", Shape{4, 5, 3}, 2, DType::f64);
  check_fold("Dense(4) >> BatchNorm2D.keras(axis=3)", Shape{2, 2, 3, 5}, 2, DType::f64);
  check_fold("Dense(4) >> BatchNorm2D.keras(axis=-2)", Shape{3, 2, 5}, 2, DType::f64);
}
