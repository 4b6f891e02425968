// Backward passes that accumulate weight gradients over the batch, in parallel and reproducibly.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/blas.hpp"
#include "locnet/core/parallel.hpp"

namespace locnet::kernels {

// Cuts the batch [0, n) into one contiguous chunk per thread and runs fn(first, end, dw, db) for each: one chunk
// accumulates straight into dw/db; several get zeroed partial sums of `weights` and `biases` elements, added to
// dw/db in chunk order afterwards (db may be null), so the same thread count gives the same bits.
template <class T, class Fn>
void chunked_backward(int64_t n, int64_t weights, int64_t biases, T* dw, T* db, Fn&& fn) {
  const int64_t chunks = num_threads() > 1 ? std::min<int64_t>(n, num_threads()) : 1;
  if (chunks <= 1) {
    fn(int64_t(0), n, dw, db);
    return;
  }
  const int64_t stride = weights + biases;
  std::vector<T> parts(size_t(chunks * stride), T(0));
  {
    BlasSingleThreaded guard;
    parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        T* part = parts.data() + c * stride;
        fn(n * c / chunks, n * (c + 1) / chunks, part, part + weights);
      }
    });
  }
  for (int64_t c = 0; c < chunks; ++c) {
    const T* part = parts.data() + c * stride;
    for (int64_t i = 0; i < weights; ++i) dw[i] += part[i];
    if (db)
      for (int64_t i = 0; i < biases; ++i) db[i] += part[weights + i];
  }
}

}  // namespace locnet::kernels
