// Measures the machine's limits once per process and provides the rows that show them (see roofline.hpp).
#include "roofline.hpp"

#include <cblas.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

namespace locnet::bench {
namespace {

constexpr size_t kCopyBytes = size_t(256) << 20;  // 256 MiB per buffer: far beyond any last-level cache
constexpr int kCopyReps = 10;
constexpr int kGemmN = 2048;
constexpr int kGemmReps = 7;

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// A limit is what the machine can do, and other processes only ever slow a run down: take the best run.
double best(const std::vector<double>& rates) { return *std::max_element(rates.begin(), rates.end()); }

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<std::byte[], FreeDeleter>;

Buffer allocate(size_t bytes) {
  constexpr size_t kAlign = size_t(2) << 20;  // 2 MiB, so transparent huge pages can back it
  size_t size = (bytes + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, size);
  if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  (void)madvise(p, size, MADV_HUGEPAGE);  // THP is often "madvise" only; fewer TLB misses, steadier bandwidth
#endif
  return Buffer(static_cast<std::byte*>(p));
}

// Every OpenMP thread copies (or fills) its own contiguous, cache-line aligned slice.
template <class Fn>
void for_each_slice(size_t bytes, Fn fn) {
#pragma omp parallel
  {
    size_t t = size_t(omp_get_thread_num()), nt = size_t(omp_get_num_threads());
    size_t lo = bytes * t / nt / 64 * 64, hi = t + 1 == nt ? bytes : bytes * (t + 1) / nt / 64 * 64;
    fn(lo, hi);
  }
}

// Two buffers, first touched by the threads that will copy them (page placement follows the first touch).
struct CopyBuffers {
  Buffer src = allocate(kCopyBytes), dst = allocate(kCopyBytes);
  CopyBuffers() {
    for_each_slice(kCopyBytes, [&](size_t lo, size_t hi) {
      std::memset(src.get() + lo, 1, hi - lo);
      std::memset(dst.get() + lo, 0, hi - lo);
    });
  }
  void copy() {
    for_each_slice(kCopyBytes, [&](size_t lo, size_t hi) { std::memcpy(dst.get() + lo, src.get() + lo, hi - lo); });
    benchmark::ClobberMemory();
  }
};

template <class T>
struct Gemm {
  std::vector<T> a, b, c;
  Gemm() : a(size_t(kGemmN) * kGemmN), b(a.size()), c(a.size()) {
    for (size_t i = 0; i < a.size(); ++i) {
      a[i] = T(int(i % 17) - 8) / T(16);
      b[i] = T(int(i % 13) - 6) / T(16);
    }
  }
  void run() {
    if constexpr (std::is_same_v<T, float>)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, kGemmN, kGemmN, kGemmN, 1.0f, a.data(), kGemmN, b.data(),
                  kGemmN, 0.0f, c.data(), kGemmN);
    else
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, kGemmN, kGemmN, kGemmN, 1.0, a.data(), kGemmN, b.data(),
                  kGemmN, 0.0, c.data(), kGemmN);
    benchmark::ClobberMemory();
  }
  static constexpr double flops() { return 2.0 * kGemmN * kGemmN * kGemmN; }
};

double measure_memcpy() {
  CopyBuffers buf;
  buf.copy();  // warm-up
  std::vector<double> rates;
  for (int r = 0; r < kCopyReps; ++r) {
    double t0 = now();
    buf.copy();
    rates.push_back(2.0 * double(kCopyBytes) / (now() - t0));
  }
  return best(rates);
}

template <class T>
double measure_gemm() {
  Gemm<T> g;
  g.run();  // warm-up: OpenBLAS starts its threads and allocates its buffers on the first call
  std::vector<double> rates;
  for (int r = 0; r < kGemmReps; ++r) {
    double t0 = now();
    g.run();
    rates.push_back(Gemm<T>::flops() / (now() - t0));
  }
  return best(rates);
}

// The bandwidth is measured before any GEMM has run: OpenBLAS's pthread workers keep spinning for a while
// after each call and would take cores away from the OpenMP copy threads.
struct Limits {
  double bandwidth = measure_memcpy();
  double sgemm = measure_gemm<float>();
};

const Limits& limits() {
  static const Limits l;
  return l;
}

// Context lines at the top of every report (cheap: nothing is measured here).
const bool kContextAdded = [] {
  const char* parallel[] = {"sequential", "pthreads", "openmp"};
  int p = openblas_get_parallel();
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::AddCustomContext("openblas_parallel", p >= 0 && p <= 2 ? parallel[p] : std::to_string(p));
  benchmark::AddCustomContext("openblas_threads", std::to_string(openblas_get_num_threads()));
  benchmark::AddCustomContext("omp_max_threads", std::to_string(omp_get_max_threads()));
  return true;
}();

// One thread's pass over bytes [lo, hi) (multiples of 64) of the inputs; writes out (an OR of the inputs) with
// streaming stores if `write`. AVX-512 where the CPU has it, as the kernels: SSE2's 16-byte loads fall behind.
using TrafficPass = void (*)(const char*, const char*, char*, size_t, size_t, bool);
#if defined(__x86_64__)
__attribute__((target("avx512f"))) void traffic_pass_avx512(const char* in0, const char* in1, char* out, size_t lo,
                                                           size_t hi, bool write) {
  __m512i acc = _mm512_setzero_si512();
  for (size_t i = lo; i < hi; i += 64) {
    __m512i v = _mm512_load_si512(in0 + i);
    if (in1) v = _mm512_or_si512(v, _mm512_load_si512(in1 + i));
    if (write) _mm512_stream_si512(reinterpret_cast<__m512i*>(out + i), v);
    else acc = _mm512_or_si512(acc, v);
  }
  _mm_sfence();
  benchmark::DoNotOptimize(acc);
}
void traffic_pass_sse2(const char* in0, const char* in1, char* out, size_t lo, size_t hi, bool write) {
  __m128i acc = _mm_setzero_si128();
  for (size_t i = lo; i < hi; i += 16) {
    __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(in0 + i));
    if (in1) v = _mm_or_si128(v, _mm_load_si128(reinterpret_cast<const __m128i*>(in1 + i)));
    if (write) _mm_stream_si128(reinterpret_cast<__m128i*>(out + i), v);
    else acc = _mm_or_si128(acc, v);
  }
  _mm_sfence();
  benchmark::DoNotOptimize(acc);
}
const TrafficPass kTrafficPass = __builtin_cpu_supports("avx512f") ? traffic_pass_avx512 : traffic_pass_sse2;
#else
void traffic_pass_plain(const char* in0, const char* in1, char* out, size_t lo, size_t hi, bool write) {
  uint64_t acc = 0;
  for (size_t i = lo; i < hi; i += 8) {
    uint64_t v, w = 0;
    std::memcpy(&v, in0 + i, 8);
    if (in1) std::memcpy(&w, in1 + i, 8);
    if (write) v |= w, std::memcpy(out + i, &v, 8);
    else acc |= v | w;
  }
  benchmark::DoNotOptimize(acc);
}
const TrafficPass kTrafficPass = traffic_pass_plain;
#endif

// One column of 16 f32 pixels down `rows` rows `stride` floats apart, the lines 32 rows ahead prefetched, running
// on into the column `next` floats on (0: none), as the kernel does (see traffic_columns_run).
using ColumnPass = void (*)(const float*, const float*, float*, int64_t, int64_t, int64_t);
constexpr int64_t kColumnAhead = 32;
#if defined(__x86_64__)
__attribute__((target("avx512f"))) void column_pass_avx512(const float* in0, const float* in1, float* out,
                                                          int64_t rows, int64_t stride, int64_t next) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t a = r + kColumnAhead;
    const int64_t o = a < rows ? a * stride : next && a < 2 * rows ? next + (a - rows) * stride : -1;
    if (o >= 0) {
      _mm_prefetch(reinterpret_cast<const char*>(in0 + o + 15), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(in1 + o + 15), _MM_HINT_T0);
      __builtin_prefetch(out + o + 15, 1, 3);  // for writing, as the kernel
    }
    const __m512i v = _mm512_or_si512(_mm512_loadu_si512(in0 + r * stride), _mm512_loadu_si512(in1 + r * stride));
    _mm512_storeu_si512(out + r * stride, v);
  }
}
#endif
void column_pass_plain(const float* in0, const float* in1, float* out, int64_t rows, int64_t stride, int64_t) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < 16; ++i) {
      uint32_t a, b;
      std::memcpy(&a, in0 + r * stride + i, 4);
      std::memcpy(&b, in1 + r * stride + i, 4);
      a |= b;
      std::memcpy(out + r * stride + i, &a, 4);
    }
}
#if defined(__x86_64__)
const ColumnPass kColumnPass = __builtin_cpu_supports("avx512f") ? column_pass_avx512 : column_pass_plain;
#else
const ColumnPass kColumnPass = column_pass_plain;
#endif

}  // namespace

void traffic_columns_run(const float* in0, const float* in1, float* out, int64_t images, int64_t rows,
                         int64_t pixels) {
  const int64_t columns = (pixels + 15) / 16, total = images * columns;
  const auto start = [&](int64_t j) { return j / columns * rows * pixels + std::min(j % columns * 16, pixels - 16); };
  const ColumnPass pass = kColumnPass;
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t lo = total * t / nt, hi = total * (t + 1) / nt;
    for (int64_t j = lo; j < hi; ++j) {
      const int64_t at = start(j);
      pass(in0 + at, in1 + at, out + at, rows, pixels, j + 1 < hi ? start(j + 1) - at : 0);
    }
  }
  benchmark::ClobberMemory();
}

void traffic_run(const void* in0, const void* in1, void* out, size_t bytes, int reads) {
  const auto* a = static_cast<const char*>(in0);
  const auto* b = static_cast<const char*>(in1);
  auto* y = static_cast<char*>(out);
  const TrafficPass pass = kTrafficPass;
#pragma omp parallel
  {
    size_t t = size_t(omp_get_thread_num()), nt = size_t(omp_get_num_threads());
    size_t lo = bytes * t / nt / 64 * 64, hi = bytes * (t + 1) / nt / 64 * 64;
    for (int r = 0; r < reads; ++r) {
      pass(a, b, y, lo, hi, false);
#pragma omp barrier
    }
    pass(a, b, y, lo, hi, true);
  }
  benchmark::ClobberMemory();
}

double memcpy_bandwidth() { return limits().bandwidth; }
double sgemm_peak_flops() { return limits().sgemm; }
double dgemm_peak_flops() {
  memcpy_bandwidth();  // keep the order: bandwidth first (see Limits)
  static const double peak = measure_gemm<double>();
  return peak;
}

double roofline_seconds(double bytes_per_iter, double flops_per_iter, Limit which) {
  double t = bytes_per_iter / memcpy_bandwidth();
  if (which == Limit::Sgemm) t = std::max(t, flops_per_iter / sgemm_peak_flops());
  if (which == Limit::Dgemm) t = std::max(t, flops_per_iter / dgemm_peak_flops());
  return t;
}

void report_roofline(benchmark::State& state, double bytes_per_iter, double flops_per_iter, Limit which) {
  double iters = double(state.iterations());
  state.SetBytesProcessed(int64_t(iters * bytes_per_iter));
  if (flops_per_iter > 0) state.SetItemsProcessed(int64_t(iters * flops_per_iter));
  // kIsRate divides by the elapsed (real, with UseRealTime) seconds: iterations * t_min / elapsed.
  state.counters["roofline"] =
      benchmark::Counter(iters * roofline_seconds(bytes_per_iter, flops_per_iter, which), benchmark::Counter::kIsRate);
}

namespace {

// The limits themselves, as rows: "limit" is the cached figure the roofline counters divide by (GB/s or
// GFLOP/s), and "roofline" of these rows should be close to 1 (how far from 1 shows the run-to-run noise).
void BM_memcpy(benchmark::State& state) {
  double limit = memcpy_bandwidth();
  CopyBuffers buf;
  for (auto _ : state) buf.copy();
  report_roofline(state, 2.0 * double(kCopyBytes), 0, Limit::Memory);
  state.counters["limit_GB/s"] = limit / 1e9;
  state.SetLabel("256 MiB, all OpenMP threads, read+write bytes");
}

template <class T>
void BM_gemm_peak(benchmark::State& state) {
  const bool f32 = std::is_same_v<T, float>;
  double limit = f32 ? sgemm_peak_flops() : dgemm_peak_flops();
  Gemm<T> g;
  for (auto _ : state) g.run();
  double n = kGemmN;
  report_roofline(state, double(sizeof(T)) * 3 * n * n, Gemm<T>::flops(), f32 ? Limit::Sgemm : Limit::Dgemm);
  state.counters["limit_GFLOP/s"] = limit / 1e9;
  state.SetLabel(f32 ? "cblas_sgemm 2048^3" : "cblas_dgemm 2048^3");
}

// Holds every report until the end of the run, adds "roofline_run" to each row, then hands them all to `inner`.
// roofline_run is the row's roofline against the median of this run's own limit row (BM_memcpy, or BM_sgemm_peak
// for a row that its FLOPs bound) instead of the best-of-N limit measured at process start: with
// --benchmark_enable_random_interleaving, the limit row and the op's row sample the same moments of a shared
// machine, so their ratio is steadier than either figure. Rows that ran without the limit row keep roofline only.
class SameRunReporter : public benchmark::BenchmarkReporter {
 public:
  explicit SameRunReporter(std::unique_ptr<benchmark::BenchmarkReporter> inner) : inner_(std::move(inner)) {}
  bool ReportContext(const Context& context) override {
    inner_->SetOutputStream(&GetOutputStream());
    inner_->SetErrorStream(&GetErrorStream());
    return inner_->ReportContext(context);
  }
  void ReportRuns(const std::vector<Run>& runs) override { groups_.push_back(runs); }
  void Finalize() override {
    const double memcpy_run = run_median("BM_memcpy", "bytes_per_second");
    for (auto& runs : groups_) {
      for (auto& r : runs) add_same_run(r, memcpy_run);
      inner_->ReportRuns(runs);
    }
    inner_->Finalize();
  }

 private:
  // The median of a limit row's counter in this run: its "median" aggregate, else the median of its repetitions
  // (0 when the row did not run).
  double run_median(const std::string& row, const char* counter) const {
    std::vector<double> values;
    for (const auto& runs : groups_)
      for (const auto& r : runs) {
        if (r.run_name.function_name != row || r.error_occurred || !r.counters.count(counter)) continue;
        const double v = r.counters.at(counter).value;
        if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") return v;
        if (r.run_type == Run::RT_Iteration) values.push_back(v);
      }
    if (values.empty()) return 0;
    std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
    return values[values.size() / 2];
  }
  void add_same_run(Run& r, double memcpy_run) const {
    auto roof = r.counters.find("roofline");
    auto bytes = r.counters.find("bytes_per_second");
    if (roof == r.counters.end() || r.error_occurred) return;
    double scale = 0;  // limit at start / limit in this run, for the limit that bounds this row
    const bool memory_bound =
        bytes != r.counters.end() && std::abs(bytes->second.value / memcpy_bandwidth() - roof->second.value) <=
                                         1e-9 * std::abs(roof->second.value);
    if (memory_bound) {
      if (memcpy_run > 0) scale = memcpy_bandwidth() / memcpy_run;
    } else if (const double flops_run = run_median("BM_sgemm_peak", "items_per_second"); flops_run > 0) {
      scale = sgemm_peak_flops() / flops_run;
    }
    if (scale <= 0) return;
    // A cv aggregate is a ratio, the same for both counters.
    const bool ratio = r.run_type == Run::RT_Aggregate && r.aggregate_unit == benchmark::kPercentage;
    r.counters["roofline_run"] = benchmark::Counter(roof->second.value * (ratio ? 1.0 : scale));
  }
  std::unique_ptr<benchmark::BenchmarkReporter> inner_;
  std::vector<std::vector<Run>> groups_;
};

// The reporter Google Benchmark would make for --benchmark_format / --benchmark_out_format (read before
// Initialize, which strips its flags from argv); `tabular`: --benchmark_counters_tabular=true.
std::unique_ptr<benchmark::BenchmarkReporter> make_reporter(const std::string& format, bool tabular) {
  if (format == "json") return std::make_unique<benchmark::JSONReporter>();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  if (format == "csv") return std::make_unique<benchmark::CSVReporter>();
#pragma GCC diagnostic pop
  return std::make_unique<benchmark::ConsoleReporter>(tabular ? benchmark::ConsoleReporter::OO_Tabular
                                                               : benchmark::ConsoleReporter::OO_None);
}

std::string flag_value(int argc, char** argv, const std::string& flag, const std::string& fallback) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind(flag + "=", 0) == 0) return a.substr(flag.size() + 1);
  }
  return fallback;
}

}  // namespace

int run_main(int argc, char** argv) {
  const std::string display = flag_value(argc, argv, "--benchmark_format", "console");
  const bool to_file = !flag_value(argc, argv, "--benchmark_out", "").empty();
  const std::string file = flag_value(argc, argv, "--benchmark_out_format", "json");
  const bool tabular = flag_value(argc, argv, "--benchmark_counters_tabular", "false") == "true";
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SameRunReporter display_reporter(make_reporter(display, tabular));
  if (to_file) {
    SameRunReporter file_reporter(make_reporter(file, false));
    benchmark::RunSpecifiedBenchmarks(&display_reporter, &file_reporter);
  } else {
    benchmark::RunSpecifiedBenchmarks(&display_reporter);
  }
  benchmark::Shutdown();
  return 0;
}

bool register_limit_rows(bool with_dgemm) {
  benchmark::RegisterBenchmark("BM_memcpy", BM_memcpy)->UseRealTime()->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_sgemm_peak", BM_gemm_peak<float>)->UseRealTime()->Unit(benchmark::kMillisecond);
  if (with_dgemm)
    benchmark::RegisterBenchmark("BM_dgemm_peak", BM_gemm_peak<double>)->UseRealTime()->Unit(benchmark::kMillisecond);
  return true;
}

}  // namespace locnet::bench
