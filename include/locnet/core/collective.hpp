// The processes of one data-parallel job as layers and the trainer see them (docs/distributed.md): ranks
// 0 .. size() - 1 that call the same collective operations in the same order with the same lengths.
// Implementations: the single process (local_collective(): size 1, every operation a no-op copy), ranks as threads
// of one process (dist/thread_group.hpp, for tests) and MPI processes (dist/mpi.hpp).
// Sums over ranks are formed in rank order on every rank, so every rank gets the same bits.
// Asynchronous sums start at once and complete by Request::wait(); every operation, blocking or not, runs in the
// order its rank issued it, and the buffer of a pending one must stay alive and untouched until it is waited on.
// Errors: DistError (core/error.hpp) when an operation cannot complete (a peer died, or did not arrive within
// the implementation's timeout), naming the operation and this rank; ShapeError for lengths that differ.
#pragma once
#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace locnet {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "rank 1 of 3" (messages; "" for a single process).
  std::string where() const;

  virtual void all_reduce_sum(std::span<double> data) = 0;
  virtual void all_reduce_sum(std::span<float> data) = 0;
  virtual void all_reduce_max(std::span<double> data) = 0;
  // all[r * mine.size() + i] = rank r's mine[i]; all.size() == size() * mine.size().
  virtual void all_gather(std::span<const double> mine, std::span<double> all) = 0;
  // Rank root's bytes to every rank.
  virtual void broadcast(std::span<std::byte> data, int root) = 0;
  virtual void barrier() = 0;

  class Request {
   public:
    virtual ~Request() = default;
    virtual void wait() = 0;  // idempotent; rethrows the operation's DistError
  };
  virtual std::unique_ptr<Request> all_reduce_sum_async(std::span<float> data) = 0;
  virtual std::unique_ptr<Request> all_reduce_sum_async(std::span<double> data) = 0;
};

// The single-process group (size 1).
std::shared_ptr<Collective> local_collective();

}  // namespace locnet
