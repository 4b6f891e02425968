#include "locnet/core/parallel.hpp"

#include <omp.h>

#include <algorithm>
#include <exception>
#include <mutex>

namespace locnet {

int num_threads() { return omp_get_max_threads(); }

void set_num_threads(int n) {
  static const int default_threads = omp_get_max_threads();
  omp_set_num_threads(n > 0 ? n : default_threads);
}

void parallel_for(int64_t begin, int64_t end, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (end <= begin) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t n = end - begin;
  int64_t chunks = std::min<int64_t>(n / grain, omp_get_max_threads());  // every chunk >= grain
  if (chunks <= 1 || omp_in_parallel()) {
    fn(begin, end);
    return;
  }
  std::exception_ptr error;
  std::mutex mu;
#pragma omp parallel for num_threads(int(chunks)) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t lo = begin + n * c / chunks, hi = begin + n * (c + 1) / chunks;
    try {
      fn(lo, hi);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace locnet
