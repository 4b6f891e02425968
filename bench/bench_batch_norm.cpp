// Batch Normalization (f32, eps 1e-5, gamma/beta): locnet's chosen kernel on preallocated buffers (training
// forward = statistics + normalize, inference forward, training backward), and oneDNN's batch_normalization
// primitive (forward_training, forward_inference with use_global_stats, backward; use_scale | use_shift) when
// libdnnl is installed, on N=32, C=64, 56x56 and N=256, C=512, 7x7 in both layouts. Bytes per iteration are the
// least each op MUST move: forward reads x once and writes y (2 x size; the statistics pass's second read of x is
// not counted), backward reads x and dy and writes dx (3 x size). "roofline" = that traffic at this machine's
// memcpy bandwidth / the measured time (roofline.hpp). The BM_traffic_* rows move the same bytes with no
// arithmetic, in the kernels' passes, a same-run reference (roofline.hpp).
#include <cstring>
#include <vector>

#include "kernels/batch_norm/problem.hpp"
#include "kernels/registry.hpp"
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
const Shape4 kShapes[] = {{32, 64, 56, 56}, {256, 512, 7, 7}};
const bool kLimitRows = locnet::bench::register_limit_rows(/*with_dgemm=*/false);

locnet::kernels::BatchNormProblem problem(const Shape4& s, bool last, bool relu = false) {
  locnet::kernels::BatchNormProblem p;
  p.n = s.n;
  p.c = s.c;
  p.s = s.h * s.w;
  p.channels_last = last;
  p.relu = relu;
  p.dtype = locnet::DType::f32;
  return p;
}

locnet::Tensor random(int64_t count, uint64_t seed) {
  locnet::Rng rng(seed);
  locnet::Tensor t(locnet::Shape{count}, locnet::DType::f32);
  for (float& v : t.span<float>()) v = float(rng.normal(0.5, 2.0));
  return t;
}

struct Fixture {
  locnet::kernels::BatchNormProblem p;
  locnet::Tensor x, y, dy, dx;
  std::vector<double> gamma, beta, mean, var, invstd;
  const locnet::kernels::BatchNormKernel* k;
  explicit Fixture(const benchmark::State& state)
      : p(problem(kShapes[state.range(0)], state.range(1), state.range(2))) {
    int64_t count = p.n * p.c * p.s;
    x = random(count, 1);
    dy = random(count, 2);
    y = locnet::Tensor(locnet::Shape{count});
    dx = locnet::Tensor(locnet::Shape{count});
    size_t C = size_t(p.c);
    gamma.assign(C, 1.25);
    beta.assign(C, 0.5);
    mean.assign(C, 0);
    var.assign(C, 0);
    invstd.assign(C, 0);
    k = &locnet::kernels::choose<locnet::kernels::BatchNormKernel>("batch_norm", locnet::kernels::batch_norm_kernels(),
                                                                   p);
    k->forward_training(p, x.raw(), gamma.data(), beta.data(), 1e-5, y.raw(), mean.data(), var.data());
    for (size_t c = 0; c < C; ++c) invstd[c] = 1 / std::sqrt(var[c] + 1e-5);
  }
};

void BM_bn_forward_training(benchmark::State& state) {
  Fixture f(state);
  for (auto _ : state)
    f.k->forward_training(f.p, f.x.raw(), f.gamma.data(), f.beta.data(), 1e-5, f.y.raw(), f.mean.data(), f.var.data());
  state.SetLabel(f.k->name);
  report_roofline(state, 2.0 * double(f.x.nbytes()), 0, Limit::Memory);
}

void BM_bn_forward_inference(benchmark::State& state) {
  Fixture f(state);
  for (auto _ : state)
    f.k->forward_inference(f.p, f.x.raw(), f.mean.data(), f.invstd.data(), f.gamma.data(), f.beta.data(), f.y.raw());
  state.SetLabel(f.k->name);
  report_roofline(state, 2.0 * double(f.x.nbytes()), 0, Limit::Memory);
}

void BM_bn_backward(benchmark::State& state) {
  Fixture f(state);
  std::vector<double> dgamma(size_t(f.p.c)), dbeta(size_t(f.p.c));
  for (auto _ : state)
    f.k->backward(f.p, f.x.raw(), f.dy.raw(), f.mean.data(), f.invstd.data(), f.gamma.data(), f.beta.data(), true,
                  f.dx.raw(), dgamma.data(), dbeta.data());
  state.SetLabel(f.k->name);
  report_roofline(state, 3.0 * double(f.x.nbytes()), 0, Limit::Memory);
}

// The same bytes moved with no arithmetic (roofline.hpp): training forward reads x twice (statistics pass, then
// output pass), backward reads x and dy twice, inference reads x once.
// range(0): shape index; reads: read-only passes before the pass that writes; two_inputs: x and dy (backward).
void traffic(benchmark::State& state, int reads, bool two_inputs) {
  const Shape4& s = kShapes[state.range(0)];
  const int64_t count = s.n * s.c * s.h * s.w;
  locnet::Tensor x = random(count, 1), dy = random(count, 2), y(locnet::Shape{count});
  for (auto _ : state)
    locnet::bench::traffic_run(x.raw(), two_inputs ? dy.raw() : nullptr, y.raw(), size_t(x.nbytes()), reads);
  report_roofline(state, (two_inputs ? 3.0 : 2.0) * double(x.nbytes()), 0, Limit::Memory);
}
void BM_traffic_forward_training(benchmark::State& state) { traffic(state, 1, false); }
void BM_traffic_forward_inference(benchmark::State& state) { traffic(state, 0, false); }
void BM_traffic_backward(benchmark::State& state) { traffic(state, 1, true); }

#if LOCNET_HAVE_DNNL
struct DnnlBn {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::memory::desc md, cd;
  // The tensors' own buffers, so both libraries read and write memory allocated alike (huge pages included).
  locnet::Tensor x, y, dy, dx;
  dnnl::memory src, dst, diff_dst, diff_src, mean, var, scale, shift, diff_scale, diff_shift;
  DnnlBn(const Shape4& s, bool last) {
    using tag = dnnl::memory::format_tag;
    md = dnnl::memory::desc({s.n, s.c, s.h, s.w}, dnnl::memory::data_type::f32, last ? tag::nhwc : tag::nchw);
    cd = dnnl::memory::desc({s.c}, dnnl::memory::data_type::f32, tag::x);
    const int64_t count = s.n * s.c * s.h * s.w;
    x = random(count, 1);
    dy = random(count, 2);
    y = locnet::Tensor(locnet::Shape{count});
    dx = locnet::Tensor(locnet::Shape{count});
    src = dnnl::memory(md, eng, x.raw());
    dst = dnnl::memory(md, eng, y.raw());
    diff_dst = dnnl::memory(md, eng, dy.raw());
    diff_src = dnnl::memory(md, eng, dx.raw());
    for (dnnl::memory* m : {&mean, &var, &scale, &shift, &diff_scale, &diff_shift}) *m = dnnl::memory(cd, eng);
    std::vector<float> ones(size_t(s.c), 1.25f), halves(size_t(s.c), 0.5f);
    std::memcpy(scale.get_data_handle(), ones.data(), ones.size() * 4);
    std::memcpy(shift.get_data_handle(), halves.data(), halves.size() * 4);
  }
  dnnl::batch_normalization_forward::primitive_desc fwd(dnnl::prop_kind prop, dnnl::normalization_flags extra) {
    auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift | extra;
    return {dnnl::batch_normalization_forward::desc(prop, md, 1e-5f, flags), eng};
  }
  std::unordered_map<int, dnnl::memory> args() {
    return {{DNNL_ARG_SRC, src},
            {DNNL_ARG_DST, dst},
            {DNNL_ARG_MEAN, mean},
            {DNNL_ARG_VARIANCE, var},
            {DNNL_ARG_SCALE, scale},
            {DNNL_ARG_SHIFT, shift},
            {DNNL_ARG_DIFF_DST, diff_dst},
            {DNNL_ARG_DIFF_SRC, diff_src},
            {DNNL_ARG_DIFF_SCALE, diff_scale},
            {DNNL_ARG_DIFF_SHIFT, diff_shift}};
  }
};

void BM_onednn_bn_forward_training(benchmark::State& state) {
  DnnlBn d(kShapes[state.range(0)], state.range(1));
  auto pd = d.fwd(dnnl::prop_kind::forward_training, dnnl::normalization_flags::none);
  dnnl::batch_normalization_forward prim(pd);
  auto args = d.args();
  for (auto _ : state) {
    prim.execute(d.strm, args);
    d.strm.wait();
  }
  state.SetLabel(pd.impl_info_str());
  report_roofline(state, 2.0 * double(d.md.get_size()), 0, Limit::Memory);
}

void BM_onednn_bn_forward_inference(benchmark::State& state) {
  DnnlBn d(kShapes[state.range(0)], state.range(1));
  dnnl::batch_normalization_forward(d.fwd(dnnl::prop_kind::forward_training, dnnl::normalization_flags::none))
      .execute(d.strm, d.args());  // statistics to use as global ones
  auto pd = d.fwd(dnnl::prop_kind::forward_inference, dnnl::normalization_flags::use_global_stats);
  dnnl::batch_normalization_forward prim(pd);
  auto args = d.args();
  for (auto _ : state) {
    prim.execute(d.strm, args);
    d.strm.wait();
  }
  state.SetLabel(pd.impl_info_str());
  report_roofline(state, 2.0 * double(d.md.get_size()), 0, Limit::Memory);
}

void BM_onednn_bn_backward(benchmark::State& state) {
  DnnlBn d(kShapes[state.range(0)], state.range(1));
  auto fwd_pd = d.fwd(dnnl::prop_kind::forward_training, dnnl::normalization_flags::none);
  dnnl::batch_normalization_forward(fwd_pd).execute(d.strm, d.args());
  auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  auto pd = dnnl::batch_normalization_backward::primitive_desc(
      dnnl::batch_normalization_backward::desc(dnnl::prop_kind::backward, d.md, d.md, 1e-5f, flags), d.eng, fwd_pd);
  dnnl::batch_normalization_backward prim(pd);
  auto args = d.args();
  for (auto _ : state) {
    prim.execute(d.strm, args);
    d.strm.wait();
  }
  state.SetLabel(pd.impl_info_str());
  report_roofline(state, 3.0 * double(d.md.get_size()), 0, Limit::Memory);
}
#endif

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "channels_last"});
  for (int s = 0; s < 2; ++s)
    for (int last = 0; last < 2; ++last) b->Args({s, last});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}
// locnet's rows also with the fused ReLU (relu:1).
void shapes_relu(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "channels_last", "relu"});
  for (int s = 0; s < 2; ++s)
    for (int last = 0; last < 2; ++last)
      for (int relu = 0; relu < 2; ++relu) b->Args({s, last, relu});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}
void layout_free_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape"});
  for (int s = 0; s < 2; ++s) b->Args({s});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_bn_forward_training)->Apply(shapes_relu);
BENCHMARK(BM_bn_forward_inference)->Apply(shapes_relu);
BENCHMARK(BM_bn_backward)->Apply(shapes_relu);
BENCHMARK(BM_traffic_forward_training)->Apply(layout_free_shapes);
BENCHMARK(BM_traffic_forward_inference)->Apply(layout_free_shapes);
BENCHMARK(BM_traffic_backward)->Apply(layout_free_shapes);
#if LOCNET_HAVE_DNNL
BENCHMARK(BM_onednn_bn_forward_training)->Apply(shapes);
BENCHMARK(BM_onednn_bn_forward_inference)->Apply(shapes);
BENCHMARK(BM_onednn_bn_backward)->Apply(shapes);
#endif

int main(int argc, char** argv) { return locnet::bench::run_main(argc, argv); }
