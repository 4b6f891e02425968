// Loading a real PyTorch BatchNorm2d state_dict (tests/conformance/bn_pytorch_state_dict/generate.py writes it with
// torch's own tensors: PyTorch's key names and num_batches_tracked as an I64 scalar of shape ()) into
// BatchNorm2D.pytorch, with and without num_batches_tracked, against PyTorch's outputs saved by the same script.
#include <gtest/gtest.h>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/model/weights.hpp"

using namespace locnet;

namespace {
const std::string kDir = std::string(LOCNET_SOURCE_DIR) + "/tests/conformance/bn_pytorch_state_dict/";

Sequential pytorch_bn(DType dt) {
  Sequential m = parse_model("Input((3, 4, 5)) >> BatchNorm2D.pytorch(3, momentum=None, name='bn')");
  m.build(*m.input_shape(), uint64_t(0), dt);
  return m;
}
Tensor npy(const std::string& name) { return read_npy(kDir + name + ".npy"); }
Tensor& buffer(Sequential& m, const std::string& key) {
  for (auto& [k, p] : m.named_params())
    if (k == key) return p->value;
  throw std::logic_error("no " + key);
}
}  // namespace

TEST(BnPyTorchStateDict, LoadsWithNumBatchesTrackedAndMatchesEvalAndNextStep) {
  TensorFile file = read_safetensors(kDir + "state_dict.safetensors");
  ASSERT_TRUE(file.int64.count("bn.num_batches_tracked"));
  ASSERT_EQ(file.find("bn.num_batches_tracked")->rank(), 0u);
  for (DType dt : {DType::f32, DType::f64}) {
    SCOPED_TRACE(dtype_name(dt));
    Sequential m = pytorch_bn(dt);
    load_weights(m, file);
    EXPECT_EQ(buffer(m, "bn.num_batches_tracked").item(0), 3.0);
    Tensor y = m.forward(npy("x_eval").to(dt), Mode::Inference);
    EXPECT_LE(max_scaled_error(y, npy("y_eval"), 1e-5, 1e-5), 1.0);
    // momentum=None averages over every batch so far: the loaded count 3 weighs the next batch by 1/4.
    (void)m.forward(npy("x_next").to(dt), Mode::Training);
    EXPECT_LE(max_scaled_error(buffer(m, "bn.moving_mean"), npy("running_mean_next"), 1e-5, 1e-5), 1.0);
    EXPECT_LE(max_scaled_error(buffer(m, "bn.moving_variance"), npy("running_var_next"), 1e-5, 1e-5), 1.0);
  }
}

TEST(BnPyTorchStateDict, NumBatchesTrackedIsOptionalForInference) {
  TensorFile file = read_safetensors(kDir + "state_dict.safetensors");
  std::erase_if(file.tensors, [](const auto& kv) { return kv.first == "bn.num_batches_tracked"; });
  Sequential m = pytorch_bn(DType::f32);
  buffer(m, "bn.num_batches_tracked").fill(5.0);  // absent means 0, whatever was there
  load_weights(m, file);
  EXPECT_EQ(buffer(m, "bn.num_batches_tracked").item(0), 0.0);
  Tensor y = m.forward(npy("x_eval"), Mode::Inference);
  EXPECT_LE(max_scaled_error(y, npy("y_eval"), 1e-5, 1e-5), 1.0);
}

TEST(BnPyTorchStateDict, WrongCounterShapeOrValueAndI64ElsewhereAreFormatErrors) {
  const TensorFile good = read_safetensors(kDir + "state_dict.safetensors");
  auto with = [&](const std::string& key, Tensor t, bool i64) {
    TensorFile f = good;
    for (auto& [k, v] : f.tensors)
      if (k == key) v = std::move(t);
    if (i64) f.int64.insert(key);
    else f.int64.erase(key);
    return f;
  };
  Sequential m = pytorch_bn(DType::f32);
  EXPECT_THROW_MSG(load_weights(m, with("bn.num_batches_tracked", Tensor(Shape{2}, DType::f64), true)), FormatError,
                   "weights: key 'bn.num_batches_tracked' must have shape (1,) or (), got (2,)");
  EXPECT_THROW_MSG(load_weights(m, with("bn.num_batches_tracked", Tensor::from<double>({-1}, Shape{}), true)),
                   FormatError, "must be a count (an integer >= 0), got -1");
  EXPECT_THROW_MSG(load_weights(m, with("bn.running_var", Tensor(Shape{3}, DType::f64), true)), FormatError,
                   "weights: key 'bn.running_var' must be a floating-point tensor (F32, F64, BF16 or F16), got I64");
  // locnet's own name and PyTorch's for the same buffer is one too many.
  TensorFile twice = good;
  twice.tensors.emplace_back("bn.moving_variance", Tensor(Shape{3}));
  EXPECT_THROW_MSG(load_weights(m, twice), FormatError,
                   "weights: parameter 'bn.moving_variance' must be given once, got keys 'bn.running_var' and "
                   "'bn.moving_variance'");
}
