// Dense (f32): the layer's forward and backward at typical shapes, and the registered kernels ("blas", "ref")
// called directly at a small shape, each as a fraction of the roofline (Limit::Sgemm: the time bound is the
// larger of bytes / memcpy bandwidth and flops / sgemm peak). See docs/benchmarks.md.
//
// Per iteration, with x (m, k), kernel (k, n), bias (n), y (m, n), 4-byte floats:
//   forward   flops 2 m k n;  bytes 4 (m k + k n + n + m n)                  read x, kernel, bias; write y
//   backward  flops 4 m k n;  bytes 4 (m n + 2 m k + 3 k n + 2 n)            read dy, x, kernel; write dx;
//                                                                            read+write dkernel and dbias
// The byte counts are the least traffic the op must cause; the layer's own extra work (allocating and zeroing
// its output tensor) counts against it.
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/dense/problem.hpp"
#include "locnet/locnet.hpp"
#include "roofline.hpp"

namespace {

using locnet::bench::Limit;
using locnet::bench::report_roofline;

const bool kLimitRows = locnet::bench::register_limit_rows(/*with_dgemm=*/false);

double forward_flops(double m, double k, double n) { return 2 * m * k * n; }
double forward_bytes(double m, double k, double n) { return 4 * (m * k + k * n + n + m * n); }
double backward_flops(double m, double k, double n) { return 4 * m * k * n; }
double backward_bytes(double m, double k, double n) { return 4 * (m * n + 2 * m * k + 3 * k * n + 2 * n); }

locnet::Tensor random_tensor(locnet::Shape shape, locnet::Rng& rng) {
  locnet::Tensor t(std::move(shape), locnet::DType::f32);
  for (float& v : t.span<float>()) v = float(rng.uniform(-1.0, 1.0));
  return t;
}

// state.range: batch m, input features k, units n.
struct DenseSetup {
  int64_t m, k, n;
  locnet::Rng rng{0};
  locnet::Dense layer;
  locnet::Tensor x;
  explicit DenseSetup(const benchmark::State& state)
      : m(state.range(0)), k(state.range(1)), n(state.range(2)), layer(n) {
    layer.build(locnet::Shape{m, k}, rng);
    x = random_tensor(locnet::Shape{m, k}, rng);
  }
};

void BM_dense_forward(benchmark::State& state) {
  DenseSetup s(state);
  for (auto _ : state) {
    locnet::Tensor y = s.layer.forward(s.x, locnet::Mode::Inference);
    benchmark::DoNotOptimize(y.raw());
  }
  report_roofline(state, forward_bytes(s.m, s.k, s.n), forward_flops(s.m, s.k, s.n), Limit::Sgemm);
}

// backward alone: one training-mode forward before the loop provides the caches; parameter gradients keep
// accumulating across iterations, which is what the contract says and costs the same as the first time.
void BM_dense_backward(benchmark::State& state) {
  DenseSetup s(state);
  (void)s.layer.forward(s.x, locnet::Mode::Training);
  locnet::Tensor dy = random_tensor(locnet::Shape{s.m, s.n}, s.rng);
  for (auto _ : state) {
    locnet::Tensor dx = s.layer.backward(dy);
    benchmark::DoNotOptimize(dx.raw());
  }
  report_roofline(state, backward_bytes(s.m, s.k, s.n), backward_flops(s.m, s.k, s.n), Limit::Sgemm);
}

const locnet::kernels::DenseKernel* find_kernel(const std::string& name) {
  for (const auto& k : locnet::kernels::dense_kernels())
    if (name == k.name) return &k;
  return nullptr;
}

// One registered kernel by name, on raw buffers: no layer, no allocation inside the loop.
void BM_dense_kernel(benchmark::State& state, const char* name, bool backward) {
  const auto* kernel = find_kernel(name);
  int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  locnet::kernels::DenseProblem p{m, k, n, locnet::DType::f32, true};
  std::string why;
  if (!kernel || !kernel->applicable(p, &why)) {
    state.SkipWithError(kernel ? ("not applicable: " + why).c_str() : "no such dense kernel");
    return;
  }
  locnet::Rng rng(0);
  auto fill = [&](int64_t count) {
    std::vector<float> v(static_cast<size_t>(count));
    for (float& e : v) e = float(rng.uniform(-1.0, 1.0));
    return v;
  };
  std::vector<float> x = fill(m * k), w = fill(k * n), b = fill(n), y(static_cast<size_t>(m * n));
  std::vector<float> dx(static_cast<size_t>(m * k)), dw(static_cast<size_t>(k * n)), db(static_cast<size_t>(n));
  for (auto _ : state) {
    if (backward)
      kernel->backward(p, y.data(), x.data(), w.data(), dx.data(), dw.data(), db.data());
    else
      kernel->forward(p, x.data(), w.data(), b.data(), y.data());
    benchmark::ClobberMemory();
  }
  if (backward)
    report_roofline(state, backward_bytes(m, k, n), backward_flops(m, k, n), Limit::Sgemm);
  else
    report_roofline(state, forward_bytes(m, k, n), forward_flops(m, k, n), Limit::Sgemm);
}

void layer_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch", "in", "units"});
  b->Args({64, 784, 256});
  b->Args({256, 1024, 1024});
  b->Args({32, 4096, 4096});
  b->UseRealTime()->Unit(benchmark::kMicrosecond);
}

// Small enough for the reference kernel (about a millisecond) yet the same shape for both kernels.
void kernel_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch", "in", "units"});
  b->Args({16, 256, 128});
  b->UseRealTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_dense_forward)->Apply(layer_shapes);
BENCHMARK(BM_dense_backward)->Apply(layer_shapes);
BENCHMARK_CAPTURE(BM_dense_kernel, forward_blas, "blas", false)->Apply(kernel_shapes);
BENCHMARK_CAPTURE(BM_dense_kernel, forward_ref, "ref", false)->Apply(kernel_shapes);
BENCHMARK_CAPTURE(BM_dense_kernel, backward_blas, "blas", true)->Apply(kernel_shapes);
BENCHMARK_CAPTURE(BM_dense_kernel, backward_ref, "ref", true)->Apply(kernel_shapes);

}  // namespace

int main(int argc, char** argv) { return locnet::bench::run_main(argc, argv); }
