// The machine's own limits, measured by the benchmark program itself, and the "roofline" counter that reports
// a benchmark as a fraction of them.
//
// Limits (each measured once, on first use, then cached for the life of the process):
//   memcpy_bandwidth()   bytes/s: a multithreaded (OpenMP, all threads) memcpy of a 256 MiB buffer, far larger
//                        than the last-level cache; each copy counts 2x its size (read + write). Best of 10.
//   sgemm_peak_flops()   FLOP/s of cblas_sgemm on a 2048^3 problem (2 n^3 flops). Best of 7.
//   dgemm_peak_flops()   the same for cblas_dgemm. Best of 7.
// Best rather than median: a limit is what the machine can do, and other processes only ever slow a run down.
// The first call of each takes about a second; it runs outside any timed loop (report_roofline is called after
// the loop), so it never pollutes a measurement.
//
// Roofline: for one iteration that moves `bytes` and computes `flops`, the fastest time the machine allows is
//   t_min = max(bytes / bandwidth, flops / peak)        (peak chosen by `which`; Limit::Memory ignores flops)
// and the counter "roofline" = t_min / t_actual, a fraction in (0, 1] (> 1 means the op beat the measured
// limit, e.g. because its working set fits in cache, where memcpy of 256 MiB cannot). The counter is a
// benchmark::Counter(iterations * t_min, kIsRate), so Google Benchmark divides it by the elapsed time itself.
// Register every benchmark that uses it with ->UseRealTime(): in Google Benchmark 1.7.1 rate counters are
// divided by the main thread's CPU time otherwise, which is wrong for multithreaded code.
#pragma once
#include <benchmark/benchmark.h>

#include <cstdint>

namespace locnet::bench {

enum class Limit {
  Memory,  // bandwidth-bound ops: t_min = bytes / memcpy_bandwidth()
  Sgemm,   // f32 compute: t_min = max(bytes / memcpy_bandwidth(), flops / sgemm_peak_flops())
  Dgemm,   // f64 compute: t_min = max(bytes / memcpy_bandwidth(), flops / dgemm_peak_flops())
};

double memcpy_bandwidth();  // bytes/s (read + write)
double sgemm_peak_flops();  // FLOP/s
double dgemm_peak_flops();  // FLOP/s

// Registers the rows that show the limits themselves: BM_memcpy, BM_sgemm_peak and, if asked, BM_dgemm_peak.
// Each bench_<op> program calls it from a namespace-scope initializer placed before its own BENCHMARK()s, so
// these rows come first in its output (and the limits are measured before anything else runs):
//   const bool kLimitRows = locnet::bench::register_limit_rows(/*with_dgemm=*/false);
// Their counter "limit_GB/s" / "limit_GFLOP/s" is the cached figure every roofline counter divides by; their
// own "roofline" is achieved / limit and should be close to 1 (how far from 1 shows the run-to-run noise).
bool register_limit_rows(bool with_dgemm);

// main() of every bench_<op> program (`int main(int argc, char** argv) { return locnet::bench::run_main(argc,
// argv); }`): Google Benchmark's own, with a reporter that holds the rows until the end of the run and adds
// "roofline_run" to each, the roofline against this run's own BM_memcpy (or BM_sgemm_peak) median rather than
// the limit measured at process start. Google Benchmark's flags work as with BENCHMARK_MAIN().
int run_main(int argc, char** argv);

// The memory traffic of an elementwise op with no arithmetic: `reads` passes that only read the inputs (one or
// two 64-byte aligned arrays of `bytes` each; in1 may be null), then one that reads them and writes `out` with
// streaming stores, each OpenMP thread over its contiguous part of every array (as the kernels' tasks). A
// BM_traffic_* row timed in the same run as an op's row shows how fast this machine moves that op's bytes in that
// pattern at that moment, which the memcpy limit (measured once, at another moment) cannot: on a shared machine
// bandwidth moves by tens of percent within minutes. A reference, not a bound: a kernel that orders its passes to
// reuse the cache can beat it.
void traffic_run(const void* in0, const void* in1, void* out, size_t bytes, int reads);
// The same three arrays moved in the order of a channels-first column walk (the LRN backward): arrays of `images`
// x `rows` x `pixels` f32 (pixels >= 16); for each image and each column of 16 pixels (the last one overlapping
// its neighbour), every row in turn: a 64-byte load of each input and an ordinary 64-byte store to out, with the
// lines 32 rows ahead prefetched, running on into the thread's next column. Columns go to the OpenMP threads in
// order, in contiguous ranges.
void traffic_columns_run(const float* in0, const float* in1, float* out, int64_t images, int64_t rows,
                         int64_t pixels);

// The fastest time (seconds) the limits allow for one iteration of `bytes` moved and `flops` computed.
double roofline_seconds(double bytes_per_iter, double flops_per_iter, Limit which);

// After the timed loop: SetBytesProcessed (bytes_per_second), SetItemsProcessed with items = FLOPs
// (items_per_second = FLOP/s; skipped when flops_per_iter is 0) and counters["roofline"] as described above.
void report_roofline(benchmark::State& state, double bytes_per_iter, double flops_per_iter, Limit which);

}  // namespace locnet::bench
