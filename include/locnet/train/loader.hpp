// Batches of a Dataset (train/dataset.hpp) in an epoch's order, for fit: batch b holds the samples
// order[b * batch_size, (b + 1) * batch_size) (the last one smaller), gathered and then changed by an optional
// BatchTransform drawing from Rng(batch_seed(seed, epoch, b)), so a batch does not depend on threads or on
// prefetching. With prefetch, the next batch is prepared on another thread (std::thread, one batch ahead) while
// the caller trains on the current one. An exception from gather or the transform reaches the caller from next()
// for the batch it belongs to; destroying a Loader mid-epoch (early stop, an exception in the caller) waits for
// the one batch in flight and never hangs.
// Data-parallel training (rank of size ranks): each batch above is the global batch and the Loader yields this
// rank's part, dist::shard() of it (possibly 0 samples). With a transform, the whole global batch is gathered and
// transformed with the same Rng as a single process, then sliced, so the ranks together see exactly the
// single-process samples; without one, only the rank's part is gathered.
#pragma once
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

#include "locnet/train/dataset.hpp"

namespace locnet {

uint64_t batch_seed(uint64_t seed, int64_t epoch, int64_t batch);

class Loader {
 public:
  Loader(const Dataset& data, std::vector<int64_t> order, int64_t batch_size, const BatchTransform* transform,
         uint64_t seed, int64_t epoch, bool prefetch, int rank = 0, int size = 1);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;
  int64_t batches() const { return batches_; }
  bool next(Batch& out);  // false after the last batch

 private:
  void prepare(int64_t b, Batch& out) const;
  void start(int64_t b);

  const Dataset& data_;
  std::vector<int64_t> order_;
  int64_t batch_size_, batches_, next_ = 0;
  const BatchTransform* transform_;
  uint64_t seed_;
  int64_t epoch_;
  bool prefetch_;
  int rank_, size_;
  std::thread worker_;  // preparing ahead_ for batch next_
  Batch ahead_;
  std::exception_ptr error_;
};

}  // namespace locnet
