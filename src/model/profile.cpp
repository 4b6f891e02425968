#include "locnet/model/profile.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>

#include "kernels/blas.hpp"
#include "locnet/core/parallel.hpp"

namespace locnet {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The best of `reps` timed runs of fn, after one untimed run (page faults, thread start-up).
template <class Fn>
double best_seconds(int reps, Fn&& fn) {
  fn();
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const auto start = Clock::now();
    fn();
    best = std::min(best, seconds_since(start));
  }
  return best;
}

std::string rate(double amount, double seconds, const char* unit) {
  return seconds > 0 ? fmt::format("{:.2f} {}", amount / seconds / 1e9, unit) : std::string("-");
}

}  // namespace

void Profiler::add(size_t index, const Layer& layer, const Shape& in, bool backward, double seconds) {
  if (layers_.size() <= index) layers_.resize(index + 1);
  LayerProfile& p = layers_[index];
  if (p.name.empty()) p = {layer.name(), layer.type(), layer.kernel()};
  const LayerWork w = layer.work(in);
  const PassWork& pass = backward ? w.backward : w.forward;
  PassWork& sum = backward ? p.backward_work : p.forward_work;
  sum.flops += pass.flops;
  sum.bytes += pass.bytes;
  (backward ? p.backward_seconds : p.forward_seconds) += seconds;
  ++(backward ? p.backwards : p.forwards);
}

void Profiler::add_step(double seconds) {
  ++steps_;
  step_seconds_ += seconds;
}

MachineLimits measure_machine_limits() {
  MachineLimits m;
  constexpr int64_t kCopyBytes = int64_t(32) << 20, kChunk = int64_t(1) << 20;
  auto src = std::make_unique<char[]>(size_t(kCopyBytes)), dst = std::make_unique<char[]>(size_t(kCopyBytes));
  std::memset(src.get(), 1, size_t(kCopyBytes));
  const double copy = best_seconds(4, [&] {
    parallel_for(0, kCopyBytes / kChunk, 1, [&](int64_t lo, int64_t hi) {
      std::memcpy(dst.get() + lo * kChunk, src.get() + lo * kChunk, size_t((hi - lo) * kChunk));
    });
  });
  m.bytes_per_second = 2.0 * double(kCopyBytes) / copy;

  constexpr int64_t n = 512;
  std::vector<float> a(size_t(n * n), 0.5f), b(size_t(n * n), 0.25f), c(size_t(n * n));
  const double gemm = best_seconds(4, [&] { kernels::gemm<float>(false, false, n, n, n, a.data(), n, b.data(), n,
                                                                 0.0f, c.data(), n); });
  m.flops_per_second = 2.0 * double(n) * double(n) * double(n) / gemm;
  return m;
}

void profile_steps(Model& model, const Tensor& x, Mode mode, const Tensor& dy, int64_t runs, Profiler& profiler) {
  const bool backward = dy.defined();
  if (backward && mode != Mode::Training)
    raise<ConfigError>("profile: backward must follow a training forward, got mode inference");
  auto step = [&] {
    (void)model.forward(x, mode);
    if (backward) model.backward(dy);
  };
  step();
  model.set_profiler(&profiler);
  try {
    for (int64_t r = 0; r < runs; ++r) {
      const auto start = Clock::now();
      step();
      profiler.add_step(seconds_since(start));
    }
  } catch (...) {
    model.set_profiler(nullptr);
    throw;
  }
  model.set_profiler(nullptr);
}

std::string profile_table(const Profiler& profiler, const MachineLimits& limits) {
  const int64_t steps = profiler.steps();
  if (steps < 1) raise<ConfigError>("profile: at least one profiled step is needed, got {}", steps);
  struct Row {
    std::string name, type, kernel, fwd, bwd, share, achieved, roofline;
  };
  std::vector<Row> rows;
  double layers_seconds = 0, fwd_total = 0, bwd_total = 0;
  for (const LayerProfile& p : profiler.layers()) layers_seconds += p.forward_seconds + p.backward_seconds;
  const double step_seconds = std::max(profiler.step_seconds(), layers_seconds);
  auto ms = [&](double s) { return fmt::format("{:.3f}", s / double(steps) * 1e3); };
  auto share = [&](double s) { return fmt::format("{:.1f}", step_seconds > 0 ? 100.0 * s / step_seconds : 0.0); };
  for (const LayerProfile& p : profiler.layers()) {
    const double t = p.forward_seconds + p.backward_seconds;
    const double flops = p.forward_work.flops + p.backward_work.flops;
    const double bytes = p.forward_work.bytes + p.backward_work.bytes;
    double t_min = bytes / limits.bytes_per_second;
    if (flops > 0) t_min = std::max(t_min, flops / limits.flops_per_second);
    fwd_total += p.forward_seconds;
    bwd_total += p.backward_seconds;
    rows.push_back({p.name, p.type, p.kernel, ms(p.forward_seconds), p.backwards ? ms(p.backward_seconds) : "-",
                    share(t), flops > 0 ? rate(flops, t, "GFLOP/s") : rate(bytes, t, "GB/s"),
                    t > 0 ? fmt::format("{:.3f}", t_min / t) : std::string("-")});
  }
  rows.push_back({"(other)", "-", "-", "-", "-", share(step_seconds - layers_seconds), "-", "-"});
  rows.push_back({"total", "", "", ms(fwd_total), ms(bwd_total), share(step_seconds), "", ""});

  const Row head{"layer", "type", "kernel", "fwd ms", "bwd ms", "% step", "achieved", "roofline"};
  size_t w[8] = {};
  auto widen = [&](const Row& r) {
    const std::string* cells[] = {&r.name, &r.type, &r.kernel, &r.fwd, &r.bwd, &r.share, &r.achieved, &r.roofline};
    for (size_t i = 0; i < 8; ++i) w[i] = std::max(w[i], cells[i]->size());
  };
  widen(head);
  for (const Row& r : rows) widen(r);
  auto line = [&](const Row& r) {
    std::string s = fmt::format("{:<{}}  {:<{}}  {:<{}}  {:>{}}  {:>{}}  {:>{}}  {:>{}}  {:>{}}", r.name, w[0], r.type,
                                w[1], r.kernel, w[2], r.fwd, w[3], r.bwd, w[4], r.share, w[5], r.achieved, w[6],
                                r.roofline, w[7]);
    s.erase(s.find_last_not_of(' ') + 1);  // the total row's empty cells
    return s + "\n";
  };
  std::string out = fmt::format("profile: {} step(s), {:.3f} ms per step\n", steps, step_seconds / double(steps) * 1e3);
  out += line(head);
  for (const Row& r : rows) out += line(r);
  out += fmt::format("roofline: memcpy {:.2f} GB/s, sgemm {:.2f} GFLOP/s (measured at start; {} threads)\n",
                     limits.bytes_per_second / 1e9, limits.flops_per_second / 1e9, num_threads());
  return out;
}

}  // namespace locnet
