// Ranks as threads in tests (dist/thread_group.hpp): one thread per rank, every rank's exception kept.
#pragma once
#include <exception>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include "locnet/core/collective.hpp"

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

}  // namespace locnet::testing
