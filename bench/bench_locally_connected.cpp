// LocallyConnected1D/2D (f32, valid, no activation, channels_last unless noted) through the layer, forward and
// backward, on the target shapes: Keras's documented example 64x32x32x3 -> 64 filters 3x3 and 64x30x30x64 -> 32
// filters 3x3, a 1D 64x128x32 -> 64 filters k=5, batch 1 of the second, and the two 2D batch-64 shapes in
// channels_first (the layout locnet.torch uses). See docs/benchmarks.md and src/kernels/locally_connected/README.md.
//
// Per iteration, with P positions, K = kh kw C, F filters, X = N H W C inputs, Y = N P F outputs:
//   forward   flops 2 N P K F;  bytes 4 (X + P K F + P F + Y)            read x, kernel, bias; write y
//   backward  flops 4 N P K F;  bytes 4 (Y + 2 X + 3 P K F + 2 P F)       read dy, x, kernel; write dx;
//                                                                        read + write dkernel and dbias
// Counters besides "roofline" (roofline.hpp; batch 64 rows use Limit::Sgemm, batch 1 rows Limit::Memory):
//   sgemm_frac   achieved FLOP/s / the 2048^3 sgemm peak       (target: >= 0.5 at batch 64)
//   weights_bw   kernel bytes read per second / memcpy bandwidth (read + write), the weight-streaming rate
//                (target: >= 0.7 at batch 1)
#include <cstdint>
#include <memory>

#include "locnet/locnet.hpp"
#include "roofline.hpp"

namespace {

using locnet::bench::Limit;

const bool kLimitRows = locnet::bench::register_limit_rows(/*with_dgemm=*/false);

struct LcShape {
  int rank;
  int64_t n, h, w, c, f, k;  // 1D: h = 1
  bool first = false;         // channels_first
};
const LcShape kShapes[] = {
    {2, 64, 32, 32, 3, 64, 3},   // 0: the example's first layer
    {2, 64, 30, 30, 64, 32, 3},  // 1: the example's second layer
    {1, 64, 1, 128, 32, 64, 5},  // 2: 1D
    {2, 1, 30, 30, 64, 32, 3},   // 3: batch 1 of shape 1
    {2, 64, 32, 32, 3, 64, 3, true},   // 4: shape 0, channels_first
    {2, 64, 30, 30, 64, 32, 3, true},  // 5: shape 1, channels_first
};

struct Setup {
  LcShape s;
  std::unique_ptr<locnet::Layer> layer;
  locnet::Tensor x;
  double p, kk, flops_fwd, weights, in, out;
  explicit Setup(const benchmark::State& state) : s(kShapes[state.range(0)]) {
    locnet::Shape shape = s.rank == 1 ? locnet::Shape{s.n, s.w, s.c}
                          : s.first   ? locnet::Shape{s.n, s.c, s.h, s.w}
                                      : locnet::Shape{s.n, s.h, s.w, s.c};
    if (s.rank == 1)
      layer = std::make_unique<locnet::LocallyConnected1D>(s.f, std::vector<int64_t>{s.k});
    else
      layer = std::make_unique<locnet::LocallyConnected2D>(locnet::LocallyConnected2D::Config{
          .filters = s.f,
          .kernel_size = {s.k, s.k},
          .data_format = s.first ? "channels_first" : "channels_last"});
    locnet::Rng rng(0);
    layer->build(shape, rng);
    x = locnet::Tensor::empty(shape);
    for (float& v : x.span<float>()) v = float(rng.uniform(-1.0, 1.0));
    int64_t oh = s.rank == 1 ? 1 : s.h - s.k + 1, ow = s.w - s.k + 1;
    p = double(oh * ow);
    kk = double(s.rank == 1 ? s.k * s.c : s.k * s.k * s.c);
    weights = p * kk * double(s.f);
    flops_fwd = 2 * double(s.n) * weights;
    in = double(s.n * s.h * s.w * s.c);
    out = double(s.n) * p * double(s.f);
  }
  void report(benchmark::State& state, bool backward) const {
    double bytes = backward ? 4 * (out + 2 * in + 3 * weights + 2 * p * double(s.f))
                            : 4 * (in + weights + p * double(s.f) + out);
    double flops = backward ? 2 * flops_fwd : flops_fwd;
    locnet::bench::report_roofline(state, bytes, flops, s.n == 1 ? Limit::Memory : Limit::Sgemm);
    double iters = double(state.iterations());
    state.counters["sgemm_frac"] =
        benchmark::Counter(iters * flops / locnet::bench::sgemm_peak_flops(), benchmark::Counter::kIsRate);
    state.counters["weights_bw"] = benchmark::Counter(iters * 4 * weights / locnet::bench::memcpy_bandwidth(),
                                                      benchmark::Counter::kIsRate);
  }
};

void BM_lc_forward(benchmark::State& state) {
  Setup s(state);
  for (auto _ : state) {
    locnet::Tensor y = s.layer->forward(s.x, locnet::Mode::Inference);
    benchmark::DoNotOptimize(y.raw());
  }
  s.report(state, false);
}

// backward alone, after one training forward; parameter gradients keep accumulating, which costs the same.
void BM_lc_backward(benchmark::State& state) {
  Setup s(state);
  locnet::Tensor y = s.layer->forward(s.x, locnet::Mode::Training);
  locnet::Tensor dy = y.clone();
  for (auto _ : state) {
    locnet::Tensor dx = s.layer->backward(dy);
    benchmark::DoNotOptimize(dx.raw());
  }
  s.report(state, true);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape"});
  for (int i = 0; i < 6; ++i) b->Arg(i);
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_lc_forward)->Apply(shapes);
BENCHMARK(BM_lc_backward)->Apply(shapes);

}  // namespace

int main(int argc, char** argv) { return locnet::bench::run_main(argc, argv); }
