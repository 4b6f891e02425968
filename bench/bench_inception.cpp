// GoogLeNet's inception (3a) block on a batch of 8 (28x28x192 in, channels_last, f32): 1x1 64; 1x1 96 -> 3x3 128;
// 1x1 16 -> 5x5 32; 3x3 max pool stride 1 -> 1x1 32; every conv with ReLU; Concatenate to 256 channels, then
// LocalResponseNorm.pytorch(5) (GoogLeNet's LRN sits after a concatenation in the same way). Rows:
//   BM_inception_forward / BM_inception_train   variant 0: the whole block; 1: without the LRN (branches +
//       Concatenate); 2: the four branches alone (a model with four outputs, nothing copied). Forward is an
//       inference forward; train is a training forward + backward (dx and every parameter gradient).
//       The difference between variants 1 and 2 is what the Concatenate copy costs inside the block.
//   BM_concatenate_forward / _backward          Concatenate alone on the four branch outputs (8x28x28x{64,128,32,32}
//       -> 8x28x28x256): reads and writes the output's bytes once each (backward: splits dy), so its roofline is
//       2 x 6.4 MB at this machine's memcpy bandwidth.
//   BM_lrn_forward / _backward                  the LRN layer alone on the 8x28x28x256 output.
// FLOPs are the convolutions' multiply-adds x 2 (forward; train counts 3x forward); "roofline" is against the
// sgemm peak (roofline.hpp). The PyTorch 1.13 counterpart is bench/inception_pytorch.py; how to compare:
// docs/benchmarks.md.
#include <cstdint>
#include <string>
#include <vector>

#include "locnet/locnet.hpp"
#include "roofline.hpp"

namespace {

using locnet::bench::Limit;
using locnet::bench::report_roofline;

constexpr int64_t kN = 8;
const locnet::Shape kIn{kN, 28, 28, 192};
const int64_t kBranchChannels[] = {64, 128, 32, 32};
// Multiply-adds per sample: 784 positions x (192*64 + 192*96 + 96*128*9 + 192*16 + 16*32*25 + 192*32).
constexpr double kForwardFlops =
    2.0 * kN * 784 * (192 * 64 + 192 * 96 + 96 * 128 * 9 + 192 * 16 + 16 * 32 * 25 + 192 * 32);
const bool kLimitRows = locnet::bench::register_limit_rows(/*with_dgemm=*/false);

// variant 0: block + LRN; 1: block (Concatenate last); 2: the four branches as four outputs.
std::string block_spec(int variant) {
  std::string s = R"(x = Input((28, 28, 192))
b1 = Conv2D(64, 1, activation="relu")(x)
b2r = Conv2D(96, 1, activation="relu")(x)
b2 = Conv2D(128, 3, padding="same", activation="relu")(b2r)
b3r = Conv2D(16, 1, activation="relu")(x)
b3 = Conv2D(32, 5, padding="same", activation="relu")(b3r)
b4p = MaxPooling2D(3, strides=1, padding="same")(x)
b4 = Conv2D(32, 1, activation="relu")(b4p)
)";
  if (variant == 2) return s + "Model(inputs=x, outputs=[b1, b2, b3, b4])\n";
  s += "y = Concatenate()([b1, b2, b3, b4])\n";
  if (variant == 1) return s + "Model(inputs=x, outputs=y)\n";
  return s + "n = LocalResponseNorm.pytorch(5, data_format=\"channels_last\")(y)\nModel(inputs=x, outputs=n)\n";
}

locnet::Tensor random(const locnet::Shape& shape, uint64_t seed) {
  locnet::Rng rng(seed);
  locnet::Tensor t(shape, locnet::DType::f32);
  for (float& v : t.span<float>()) v = float(rng.normal());
  return t;
}

std::vector<locnet::Shape> branch_shapes() {
  std::vector<locnet::Shape> s;
  for (int64_t c : kBranchChannels) s.push_back(locnet::Shape{kN, 28, 28, c});
  return s;
}
const double kOutBytes = 4.0 * kN * 28 * 28 * 256;

void BM_inception_forward(benchmark::State& state) {
  locnet::Model m = locnet::parse_model(block_spec(int(state.range(0))));
  m.build(kIn, 1);
  locnet::Tensor x = random(kIn, 2);
  for (auto _ : state) benchmark::DoNotOptimize(m.forward_many({x}, locnet::Mode::Inference).data());
  report_roofline(state, double(x.nbytes()) + kOutBytes, kForwardFlops, Limit::Sgemm);
}

void BM_inception_train(benchmark::State& state) {
  const int variant = int(state.range(0));
  locnet::Model m = locnet::parse_model(block_spec(variant));
  m.build(kIn, 1);
  locnet::Tensor x = random(kIn, 2);
  std::vector<locnet::Tensor> dys;
  if (variant == 2)
    for (const locnet::Shape& s : branch_shapes()) dys.push_back(random(s, 3));
  else
    dys.push_back(random(locnet::Shape{kN, 28, 28, 256}, 3));
  for (auto _ : state) {
    m.forward_many({x}, locnet::Mode::Training);
    benchmark::DoNotOptimize(m.backward_many(dys).data());
  }
  report_roofline(state, 2.0 * (double(x.nbytes()) + kOutBytes), 3.0 * kForwardFlops, Limit::Sgemm);
}

std::unique_ptr<locnet::Layer> layer(const char* spec, const std::vector<locnet::Shape>& in) {
  auto l = locnet::make_layer(locnet::parse_chain(spec).at(0));
  locnet::Rng rng(0);
  l->build_many(in, rng);
  return l;
}

void BM_concatenate_forward(benchmark::State& state) {
  auto cat = layer("Concatenate()", branch_shapes());
  std::vector<locnet::Tensor> xs;
  for (const locnet::Shape& s : branch_shapes()) xs.push_back(random(s, 4));
  for (auto _ : state) benchmark::DoNotOptimize(cat->forward_many(xs, locnet::Mode::Inference).raw());
  report_roofline(state, 2.0 * kOutBytes, 0, Limit::Memory);
}

void BM_concatenate_backward(benchmark::State& state) {
  auto cat = layer("Concatenate()", branch_shapes());
  std::vector<locnet::Tensor> xs;
  for (const locnet::Shape& s : branch_shapes()) xs.push_back(random(s, 4));
  cat->forward_many(xs, locnet::Mode::Training);
  locnet::Tensor dy = random(locnet::Shape{kN, 28, 28, 256}, 5);
  for (auto _ : state) benchmark::DoNotOptimize(cat->backward_many(dy).data());
  report_roofline(state, 2.0 * kOutBytes, 0, Limit::Memory);
}

void BM_lrn_forward(benchmark::State& state) {
  const locnet::Shape s{kN, 28, 28, 256};
  auto lrn = layer("LocalResponseNorm.pytorch(5, data_format='channels_last')", {s});
  locnet::Tensor x = random(s, 6);
  for (auto _ : state) benchmark::DoNotOptimize(lrn->forward(x, locnet::Mode::Inference).raw());
  report_roofline(state, 2.0 * kOutBytes, 0, Limit::Memory);
}

void BM_lrn_backward(benchmark::State& state) {
  const locnet::Shape s{kN, 28, 28, 256};
  auto lrn = layer("LocalResponseNorm.pytorch(5, data_format='channels_last')", {s});
  locnet::Tensor x = random(s, 6), dy = random(s, 7);
  lrn->forward(x, locnet::Mode::Training);
  for (auto _ : state) benchmark::DoNotOptimize(lrn->backward(dy).raw());
  report_roofline(state, 3.0 * kOutBytes, 0, Limit::Memory);
}

void variants(benchmark::internal::Benchmark* b) {
  b->ArgNames({"variant"});
  for (int v = 0; v < 3; ++v) b->Args({v});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}
void plain(benchmark::internal::Benchmark* b) { b->UseRealTime()->Unit(benchmark::kMillisecond); }

}  // namespace

BENCHMARK(BM_inception_forward)->Apply(variants);
BENCHMARK(BM_inception_train)->Apply(variants);
BENCHMARK(BM_concatenate_forward)->Apply(plain);
BENCHMARK(BM_concatenate_backward)->Apply(plain);
BENCHMARK(BM_lrn_forward)->Apply(plain);
BENCHMARK(BM_lrn_backward)->Apply(plain);

int main(int argc, char** argv) { return locnet::bench::run_main(argc, argv); }
