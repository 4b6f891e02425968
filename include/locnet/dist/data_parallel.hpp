// The pieces of data-parallel training (docs/distributed.md) that fit (train/trainer.hpp) uses when
// FitOptions::collective has several ranks; each works with any Collective (MPI, threads, the single process).
//   shard: rank r's part [offset, offset + count) of a global batch of n samples: counts differ by at most one,
//     the first n % size ranks take one more (a rank may get 0 when n < size).
//   broadcast_parameters: every parameter and buffer from rank `root` to all ranks (replicas start identical).
//   parameter_hash / check_replicas: a hash of every parameter's and buffer's bytes; check_replicas is a DistError
//     naming the ranks whose hash differs from rank 0's.
//   GradientReducer: sums every trainable parameter's gradient over the ranks, in buckets of about bucket_bytes
//     (parameters in reverse layer order, as backward produces them). Installed as the model's backward hook, it
//     starts a bucket's asynchronous all-reduce as soon as backward has passed every layer in it, so communication
//     overlaps the backward of earlier layers (PyTorch DDP's reducer); finish() waits for the rest and writes the
//     sums back. Each rank scales its loss gradient by its share count / n of the global batch, so the sum is the
//     gradient of the global batch's loss. Buckets never mix dtypes (f32 or f64 flat buffers); buckets of layers
//     that did not run backward (feeding no output) start in finish(), in bucket order on every rank.
// Errors: ConfigError for shard's rank outside [0, size), size < 1 or n < 0, and for bucket_bytes < 1 or a null
// group; NotSupported for a gradient neither f32 nor f64; DistError from the collective (finish, check_replicas).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "locnet/core/collective.hpp"
#include "locnet/model/model.hpp"

namespace locnet::dist {

struct Shard {
  int64_t offset = 0, count = 0;
};
Shard shard(int64_t n, int rank, int size);

void broadcast_parameters(Model& model, Collective& group, int root = 0);
uint64_t parameter_hash(Model& model);
void check_replicas(Model& model, Collective& group);

class GradientReducer {
 public:
  GradientReducer(Model& model, std::shared_ptr<Collective> group, int64_t bucket_bytes = 1 << 20);
  ~GradientReducer();  // detaches the hook (waiting for pending operations)
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;
  void finish();  // after backward: every bucket summed and written back into Param::grad
  struct Stats {
    int64_t buckets = 0, bytes_per_step = 0;
    double wait_seconds = 0;  // time finish() spent waiting (communication not hidden by backward)
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace locnet::dist
