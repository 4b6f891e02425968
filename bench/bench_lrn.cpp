// LRN (across channels, size 5, PyTorch/oneDNN alpha=1e-4, beta=0.75, k=1): locnet's chosen kernel on
// preallocated buffers, the layer (allocation included), and oneDNN's primitive when libdnnl is installed, on
// AlexNet's shapes (N=16, C=96, 55x55 and N=16, C=256, 27x27), both layouts. Bytes per iteration are the least the
// op must move: forward reads x and writes y (2 x numel x itemsize); backward reads x and dy and writes dx (3x).
// "roofline" = that traffic at this machine's memcpy bandwidth / the measured time (see roofline.hpp). The
// BM_traffic_* rows move the same bytes with no arithmetic, a same-run reference (roofline.hpp).
#include <cstdint>
#include <string>

#include "kernels/lrn/problem.hpp"
#include "kernels/registry.hpp"
#include "kernels/stream.hpp"
#include "locnet/locnet.hpp"
#include "roofline.hpp"
#if LOCNET_HAVE_DNNL
#include <dnnl.hpp>
#endif

namespace {

using locnet::bench::Limit;
using locnet::bench::report_roofline;

struct Shape4 {
  int64_t n, c, h, w;
};
const Shape4 kShapes[] = {{16, 96, 55, 55}, {16, 256, 27, 27}};
const bool kLimitRows = locnet::bench::register_limit_rows(/*with_dgemm=*/false);

locnet::kernels::LrnProblem problem(const Shape4& s, bool last, locnet::DType dt) {
  locnet::PyTorchLrnConfig cfg{.size = 5, .data_format = last ? "channels_last" : "channels_first"};
  locnet::kernels::LrnProblem p;
  p.n = s.n;
  p.c = s.c;
  p.nsp = 2;
  p.sp[1] = s.h;
  p.sp[2] = s.w;
  p.channels_last = last;
  p.behind = p.ahead = 2;
  p.divisor = 5;
  p.alpha = cfg.alpha;
  p.beta = cfg.beta;
  p.k = cfg.k;
  p.dtype = dt;
  return p;
}

locnet::Tensor random(int64_t count, locnet::DType dt, uint64_t seed) {
  locnet::Rng rng(seed);
  locnet::Tensor t(locnet::Shape{count}, locnet::DType::f32);
  for (float& v : t.span<float>()) v = float(rng.normal());
  return t.to(dt);
}

const locnet::kernels::LrnKernel& chosen(const locnet::kernels::LrnProblem& p) {
  return locnet::kernels::choose<locnet::kernels::LrnKernel>("lrn", locnet::kernels::lrn_kernels(), p);
}

// state.range(0): shape index; range(1): 1 = channels_last; range(2): streaming (non-temporal) stores for the
// output, 1 always, 0 never (by default the library streams outputs of at least kernels::stream_min_bytes(),
// channels_first f32/f64 only: bf16 rows never stream).
void BM_lrn_forward(benchmark::State& state, locnet::DType dt) {
  auto p = problem(kShapes[state.range(0)], state.range(1), dt);
  locnet::kernels::StreamMinBytesScope stream(state.range(2) ? 0 : INT64_MAX);
  int64_t count = p.n * p.c * p.spatial();
  locnet::Tensor x = random(count, dt, 1), y(locnet::Shape{count}, dt);
  const auto& k = chosen(p);
  for (auto _ : state) k.forward(p, x.raw(), y.raw());
  state.SetLabel(k.name);
  report_roofline(state, 2.0 * double(x.nbytes()), 0, Limit::Memory);
}

void BM_lrn_backward(benchmark::State& state) {
  auto p = problem(kShapes[state.range(0)], state.range(1), locnet::DType::f32);
  int64_t count = p.n * p.c * p.spatial();
  locnet::Tensor x = random(count, p.dtype, 1), dy = random(count, p.dtype, 2), dx(locnet::Shape{count});
  const auto& k = chosen(p);
  for (auto _ : state) k.backward(p, x.raw(), dy.raw(), dx.raw());
  state.SetLabel(k.name);
  report_roofline(state, 3.0 * double(x.nbytes()), 0, Limit::Memory);
}

// The same bytes moved with no arithmetic (roofline.hpp), f32 or bf16 sized; range(0): shape index.
void BM_traffic_forward(benchmark::State& state, locnet::DType dt) {
  const Shape4& s = kShapes[state.range(0)];
  int64_t count = s.n * s.c * s.h * s.w;
  locnet::Tensor x = random(count, dt, 1), y(locnet::Shape{count}, dt);
  for (auto _ : state) locnet::bench::traffic_run(x.raw(), nullptr, y.raw(), size_t(x.nbytes()), 0);
  report_roofline(state, 2.0 * double(x.nbytes()), 0, Limit::Memory);
}

void BM_traffic_backward(benchmark::State& state) {
  const Shape4& s = kShapes[state.range(0)];
  int64_t count = s.n * s.c * s.h * s.w;
  locnet::Tensor x = random(count, locnet::DType::f32, 1), dy = random(count, locnet::DType::f32, 2);
  locnet::Tensor dx(locnet::Shape{count});
  for (auto _ : state) locnet::bench::traffic_run(x.raw(), dy.raw(), dx.raw(), size_t(x.nbytes()), 0);
  report_roofline(state, 3.0 * double(x.nbytes()), 0, Limit::Memory);
}

// The backward's bytes moved in the channels-first column walk's order (no arithmetic): with BM_traffic_backward,
// splits the kernel's distance from the roofline into what its access order costs and what its arithmetic adds.
void BM_traffic_backward_columns(benchmark::State& state) {
  const Shape4& s = kShapes[state.range(0)];
  int64_t count = s.n * s.c * s.h * s.w;
  locnet::Tensor x = random(count, locnet::DType::f32, 1), dy = random(count, locnet::DType::f32, 2);
  locnet::Tensor dx(locnet::Shape{count});
  for (auto _ : state)
    locnet::bench::traffic_columns_run(x.data<float>(), dy.data<float>(), dx.data<float>(), s.n, s.c, s.h * s.w);
  report_roofline(state, 3.0 * double(x.nbytes()), 0, Limit::Memory);
}

// The layer, as a user calls it: output allocated per call.
void BM_lrn_layer_forward(benchmark::State& state) {
  const Shape4& s = kShapes[state.range(0)];
  bool last = state.range(1);
  locnet::PyTorchLocalResponseNorm lrn({.size = 5, .data_format = last ? "channels_last" : "channels_first"});
  locnet::Shape shape = last ? locnet::Shape{s.n, s.h, s.w, s.c} : locnet::Shape{s.n, s.c, s.h, s.w};
  locnet::Rng rng(0);
  lrn.build(shape, rng);
  locnet::Tensor x = random(shape.numel(), locnet::DType::f32, 1).reshape(shape);
  for (auto _ : state) benchmark::DoNotOptimize(lrn.forward(x, locnet::Mode::Inference).raw());
  report_roofline(state, 2.0 * double(x.nbytes()), 0, Limit::Memory);
}

#if LOCNET_HAVE_DNNL
struct DnnlLrn {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::memory::desc md;
  dnnl::lrn_forward::primitive_desc fwd_pd;
  // The tensors' own buffers, so both libraries read and write memory allocated alike (huge pages included).
  locnet::Tensor x, y, dy, dx;
  dnnl::memory src, dst, ws, diff_dst, diff_src;
  DnnlLrn(const Shape4& s, bool last, dnnl::prop_kind prop) {
    using tag = dnnl::memory::format_tag;
    md = dnnl::memory::desc({s.n, s.c, s.h, s.w}, dnnl::memory::data_type::f32, last ? tag::nhwc : tag::nchw);
    fwd_pd = dnnl::lrn_forward::primitive_desc(
        dnnl::lrn_forward::desc(prop, dnnl::algorithm::lrn_across_channels, md, 5, 1e-4f, 0.75f, 1.0f), eng);
    const int64_t count = s.n * s.c * s.h * s.w;
    x = random(count, locnet::DType::f32, 1);
    dy = random(count, locnet::DType::f32, 1);
    y = locnet::Tensor(locnet::Shape{count});
    dx = locnet::Tensor(locnet::Shape{count});
    src = dnnl::memory(md, eng, x.raw());
    dst = dnnl::memory(md, eng, y.raw());
    ws = dnnl::memory(fwd_pd.workspace_desc(), eng);
    diff_dst = dnnl::memory(md, eng, dy.raw());
    diff_src = dnnl::memory(md, eng, dx.raw());
  }
};

void BM_onednn_lrn_forward(benchmark::State& state) {
  DnnlLrn d(kShapes[state.range(0)], state.range(1), dnnl::prop_kind::forward_inference);
  dnnl::lrn_forward fwd(d.fwd_pd);
  for (auto _ : state) {
    fwd.execute(d.strm, {{DNNL_ARG_SRC, d.src}, {DNNL_ARG_DST, d.dst}});
    d.strm.wait();
  }
  state.SetLabel(d.fwd_pd.impl_info_str());
  report_roofline(state, 2.0 * double(d.md.get_size()), 0, Limit::Memory);
}

void BM_onednn_lrn_backward(benchmark::State& state) {
  DnnlLrn d(kShapes[state.range(0)], state.range(1), dnnl::prop_kind::forward_training);
  dnnl::lrn_forward(d.fwd_pd).execute(d.strm, {{DNNL_ARG_SRC, d.src}, {DNNL_ARG_DST, d.dst}, {DNNL_ARG_WORKSPACE, d.ws}});
  auto bwd_pd = dnnl::lrn_backward::primitive_desc(
      dnnl::lrn_backward::desc(dnnl::algorithm::lrn_across_channels, d.md, d.md, 5, 1e-4f, 0.75f, 1.0f), d.eng,
      d.fwd_pd);
  dnnl::lrn_backward bwd(bwd_pd);
  for (auto _ : state) {
    bwd.execute(d.strm, {{DNNL_ARG_SRC, d.src}, {DNNL_ARG_DIFF_DST, d.diff_dst}, {DNNL_ARG_DIFF_SRC, d.diff_src},
                         {DNNL_ARG_WORKSPACE, d.ws}});
    d.strm.wait();
  }
  state.SetLabel(bwd_pd.impl_info_str());
  report_roofline(state, 3.0 * double(d.md.get_size()), 0, Limit::Memory);
}
#endif

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "channels_last"});
  for (int s = 0; s < 2; ++s)
    for (int last = 0; last < 2; ++last) b->Args({s, last});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}
void shapes_only(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape"});
  for (int s = 0; s < 2; ++s) b->Args({s});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}
void shapes_stream(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "channels_last", "stream"});
  for (int s = 0; s < 2; ++s)
    for (int last = 0; last < 2; ++last)
      for (int stream = 0; stream < 2; ++stream) b->Args({s, last, stream});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK_CAPTURE(BM_lrn_forward, f32, locnet::DType::f32)->Apply(shapes_stream);
BENCHMARK_CAPTURE(BM_lrn_forward, bf16, locnet::DType::bf16)->Apply(shapes_stream);
BENCHMARK(BM_lrn_backward)->Apply(shapes);
BENCHMARK(BM_lrn_layer_forward)->Apply(shapes);
BENCHMARK_CAPTURE(BM_traffic_forward, f32, locnet::DType::f32)->Apply(shapes_only);
BENCHMARK_CAPTURE(BM_traffic_forward, bf16, locnet::DType::bf16)->Apply(shapes_only);
BENCHMARK(BM_traffic_backward)->Apply(shapes_only);
BENCHMARK(BM_traffic_backward_columns)->Apply(shapes_only);
#if LOCNET_HAVE_DNNL
BENCHMARK(BM_onednn_lrn_forward)->Apply(shapes);
BENCHMARK(BM_onednn_lrn_backward)->Apply(shapes);
#endif

int main(int argc, char** argv) { return locnet::bench::run_main(argc, argv); }
