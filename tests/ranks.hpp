// Ranks in tests: threads for dist/thread_group.hpp (every rank's exception kept) and a rank's rows of a batch.
#pragma once
#include <cstring>
#include <exception>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include "locnet/core/collective.hpp"
#include "locnet/core/tensor.hpp"

namespace locnet::testing {

// Runs f(r) for r = 0 .. n - 1, each on its own thread; returns each rank's exception (null where f returned).
template <class F>
std::vector<std::exception_ptr> rank_threads(int n, F f) {
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r)
    threads.emplace_back([&, r] {
      try {
        f(r);
      } catch (...) {
        errors[size_t(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  return errors;
}

inline void rethrow_first(const std::vector<std::exception_ptr>& errors) {
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// f(rank's Collective&) or f(rank's shared_ptr) on every rank of `group`; rethrows the lowest rank's exception.
template <class F>
void on_ranks(const std::vector<std::shared_ptr<Collective>>& group, F f) {
  rethrow_first(rank_threads(int(group.size()), [&](int r) {
    if constexpr (std::is_invocable_v<F&, Collective&>) f(*group[size_t(r)]);
    else f(group[size_t(r)]);
  }));
}

// Samples [lo, hi) of t (a rank's part of a global batch), as a fresh tensor; hi == lo gives (0, ...).
inline Tensor batch_rows(const Tensor& t, int64_t lo, int64_t hi) {
  Tensor out = Tensor::empty(t.shape().with_dim(0, hi - lo), t.dtype());
  if (hi > lo) {
    const size_t row = t.nbytes() / size_t(t.dim(0));
    std::memcpy(out.raw(), static_cast<const std::byte*>(t.raw()) + size_t(lo) * row, size_t(hi - lo) * row);
  }
  return out;
}

}  // namespace locnet::testing
