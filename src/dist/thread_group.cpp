#include "locnet/dist/thread_group.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "locnet/core/error.hpp"

namespace locnet::dist {
namespace {

enum class Op { sum_f64, sum_f32, max_f64, gather_f64, broadcast, barrier };
const char* op_name(Op op) {
  constexpr const char* names[] = {"all_reduce_sum", "all_reduce_sum", "all_reduce_max",
                                   "all_gather",     "broadcast",      "barrier"};
  return names[int(op)];
}

struct Slot {
  Op op = Op::barrier;
  void* data = nullptr;      // the rank's buffer (its output too)
  const void* in = nullptr;  // all_gather's input
  size_t count = 0;          // elements (bytes for broadcast)
  int root = 0;
};

// One rendezvous per operation: the last rank to arrive computes every rank's result, then releases them.
struct Shared {
  explicit Shared(int n, double timeout) : slots(size_t(n)), timeout_s(timeout) {}
  std::mutex m;
  std::condition_variable cv;
  std::vector<Slot> slots;
  int arrived = 0;
  uint64_t generation = 0;
  std::string failure;  // set once: every later operation fails with it
  double timeout_s;

  void run(int rank, const Slot& s) {
    std::unique_lock lock(m);
    if (!failure.empty()) throw DistError(failure);
    slots[size_t(rank)] = s;
    const uint64_t gen = generation;
    if (++arrived == int(slots.size())) {
      arrived = 0;
      std::string error = complete();
      ++generation;
      if (!error.empty()) failure = error;
      cv.notify_all();
      if (!error.empty()) throw ShapeError(error);
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    if (!cv.wait_until(lock, deadline, [&] { return generation != gen || !failure.empty(); })) {
      failure = fmt::format("{}: rank {} of {} waited {} s for the other ranks; the job stops", op_name(s.op), rank,
                            slots.size(), timeout_s);
      cv.notify_all();
      throw DistError(failure);
    }
    if (generation == gen) throw DistError(failure);
    if (!failure.empty() && failure.starts_with("thread group: ranks")) throw ShapeError(failure);
  }

  std::string complete() {
    const Slot& first = slots[0];
    for (size_t r = 1; r < slots.size(); ++r)
      if (slots[r].op != first.op || slots[r].count != first.count || slots[r].root != first.root)
        return fmt::format("thread group: ranks must call the same operation with the same length; rank 0 called {}"
                           " of {}, rank {} called {} of {}",
                           op_name(first.op), first.count, r, op_name(slots[r].op), slots[r].count);
    const size_t n = first.count;
    switch (first.op) {
      case Op::sum_f64: combine<double>(n, [](double a, double b) { return a + b; }); break;
      case Op::sum_f32: combine<float>(n, [](float a, float b) { return a + b; }); break;
      case Op::max_f64: combine<double>(n, [](double a, double b) { return std::max(a, b); }); break;
      case Op::gather_f64:
        for (const Slot& out : slots)
          for (size_t r = 0; r < slots.size(); ++r)
            std::memcpy(static_cast<double*>(out.data) + r * n, slots[r].in, n * sizeof(double));
        break;
      case Op::broadcast:
        for (const Slot& out : slots)
          if (out.data != slots[size_t(first.root)].data && n) std::memcpy(out.data, slots[size_t(first.root)].data, n);
        break;
      case Op::barrier: break;
    }
    return {};
  }

  template <class T, class F>
  void combine(size_t n, F f) {
    std::vector<T> acc(static_cast<const T*>(slots[0].data), static_cast<const T*>(slots[0].data) + n);
    for (size_t r = 1; r < slots.size(); ++r)
      for (size_t i = 0; i < n; ++i) acc[i] = f(acc[i], static_cast<const T*>(slots[r].data)[i]);
    for (const Slot& out : slots) std::copy(acc.begin(), acc.end(), static_cast<T*>(out.data));
  }
};

struct Done : Collective::Request {
  void wait() override {}
};

class ThreadRank : public Collective {
 public:
  ThreadRank(std::shared_ptr<Shared> s, int rank) : s_(std::move(s)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return int(s_->slots.size()); }
  void all_reduce_sum(std::span<double> d) override { s_->run(rank_, {Op::sum_f64, d.data(), nullptr, d.size()}); }
  void all_reduce_sum(std::span<float> d) override { s_->run(rank_, {Op::sum_f32, d.data(), nullptr, d.size()}); }
  void all_reduce_max(std::span<double> d) override { s_->run(rank_, {Op::max_f64, d.data(), nullptr, d.size()}); }
  void all_gather(std::span<const double> mine, std::span<double> all) override {
    if (all.size() != mine.size() * size_t(size()))
      raise<ShapeError>("all_gather: the output must hold {} values, got {}", mine.size() * size_t(size()),
                        all.size());
    s_->run(rank_, {Op::gather_f64, all.data(), mine.data(), mine.size()});
  }
  void broadcast(std::span<std::byte> d, int root) override {
    if (root < 0 || root >= size()) raise<ConfigError>("broadcast: root must be in [0, {}), got {}", size(), root);
    s_->run(rank_, {Op::broadcast, d.data(), nullptr, d.size(), root});
  }
  void barrier() override { s_->run(rank_, {Op::barrier}); }
  std::unique_ptr<Request> all_reduce_sum_async(std::span<float> d) override {
    all_reduce_sum(d);
    return std::make_unique<Done>();
  }
  std::unique_ptr<Request> all_reduce_sum_async(std::span<double> d) override {
    all_reduce_sum(d);
    return std::make_unique<Done>();
  }

 private:
  std::shared_ptr<Shared> s_;
  int rank_;
};

}  // namespace

std::vector<std::shared_ptr<Collective>> thread_group(int n, double timeout_s) {
  if (n < 1) raise<ConfigError>("thread_group: the number of ranks must be >= 1, got {}", n);
  if (!(timeout_s > 0)) raise<ConfigError>("thread_group: timeout_s must be > 0, got {}", timeout_s);
  auto shared = std::make_shared<Shared>(n, timeout_s);
  std::vector<std::shared_ptr<Collective>> ranks;
  for (int r = 0; r < n; ++r) ranks.push_back(std::make_shared<ThreadRank>(shared, r));
  return ranks;
}

}  // namespace locnet::dist
