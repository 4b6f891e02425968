// Threads: OpenMP underneath. parallel_for splits [begin, end) into contiguous chunks of at least `grain`
// items and calls fn(lo, hi) on each chunk; it runs inline when the range is small or when called from inside
// another parallel region. Exceptions thrown by fn are re-thrown on the calling thread (first one wins).
#pragma once
#include <cstdint>
#include <functional>

namespace locnet {

int num_threads();
void set_num_threads(int n);  // n <= 0 restores the default (OMP_NUM_THREADS or the core count)

void parallel_for(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace locnet
