#include "locnet/train/loader.hpp"

#include <span>

#include "locnet/core/error.hpp"

namespace locnet {

uint64_t batch_seed(uint64_t seed, int64_t epoch, int64_t batch) {
  // splitmix64 steps over the three numbers: distinct (seed, epoch, batch) give unrelated streams
  uint64_t h = seed;
  for (uint64_t v : {uint64_t(epoch), uint64_t(batch)}) {
    h += 0x9e3779b97f4a7c15ULL + v;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    h ^= h >> 31;
  }
  return h;
}

Loader::Loader(const Dataset& data, std::vector<int64_t> order, int64_t batch_size, const BatchTransform* transform,
               uint64_t seed, int64_t epoch, bool prefetch)
    : data_(data), order_(std::move(order)), batch_size_(batch_size),
      batches_((int64_t(order_.size()) + batch_size - 1) / std::max<int64_t>(batch_size, 1)), transform_(transform),
      seed_(seed), epoch_(epoch), prefetch_(prefetch) {
  if (batch_size < 1) raise<ConfigError>("loader: batch_size must be >= 1, got {}", batch_size);
  if (prefetch_ && batches_ > 0) start(0);
}

Loader::~Loader() {
  if (worker_.joinable()) worker_.join();
}

void Loader::prepare(int64_t b, Batch& out) const {
  const int64_t lo = b * batch_size_, hi = std::min(int64_t(order_.size()), lo + batch_size_);
  data_.gather(std::span<const int64_t>(order_).subspan(size_t(lo), size_t(hi - lo)), out);
  if (transform_) {
    Rng rng(batch_seed(seed_, epoch_, b));
    transform_->apply(out, rng);
  }
}

void Loader::start(int64_t b) {
  error_ = nullptr;
  worker_ = std::thread([this, b] {
    try {
      prepare(b, ahead_);
    } catch (...) {
      error_ = std::current_exception();
    }
  });
}

bool Loader::next(Batch& out) {
  if (next_ >= batches_) return false;
  const int64_t b = next_++;
  if (!prefetch_) {
    prepare(b, out);
    return true;
  }
  worker_.join();
  if (error_) {
    next_ = batches_;  // nothing more after a failed batch
    std::rethrow_exception(error_);
  }
  std::swap(out, ahead_);
  if (next_ < batches_) start(next_);
  return true;
}

}  // namespace locnet
