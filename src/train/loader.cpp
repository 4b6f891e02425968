#include "locnet/train/loader.hpp"

#include <span>

#include <cstring>

#include "locnet/core/error.hpp"
#include "locnet/dist/data_parallel.hpp"

namespace locnet {
namespace {

Tensor rows(const Tensor& t, int64_t offset, int64_t count) {
  if (!t.defined()) return t;
  const size_t row = t.dim(0) > 0 ? t.nbytes() / size_t(t.dim(0)) : 0;
  Tensor out = Tensor::empty(t.shape().with_dim(0, count), t.dtype());
  if (count > 0) std::memcpy(out.raw(), static_cast<const char*>(t.raw()) + size_t(offset) * row, size_t(count) * row);
  return out;
}

// Rows [offset, offset + count) of every part of b.
void slice(Batch& b, int64_t offset, int64_t count) {
  b.x = rows(b.x, offset, count);
  b.targets = rows(b.targets, offset, count);
  b.weights = rows(b.weights, offset, count);
  if (!b.labels.empty())
    b.labels = std::vector<int64_t>(b.labels.begin() + offset, b.labels.begin() + offset + count);
}

}  // namespace

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
               uint64_t seed, int64_t epoch, bool prefetch, int rank, int size)
    : data_(data), order_(std::move(order)), batch_size_(batch_size),
      batches_((int64_t(order_.size()) + batch_size - 1) / std::max<int64_t>(batch_size, 1)), transform_(transform),
      seed_(seed), epoch_(epoch), prefetch_(prefetch), rank_(rank), size_(size) {
  if (batch_size < 1) raise<ConfigError>("loader: batch_size must be >= 1, got {}", batch_size);
  if (prefetch_ && batches_ > 0) start(0);
}

Loader::~Loader() {
  if (worker_.joinable()) worker_.join();
}

void Loader::prepare(int64_t b, Batch& out) const {
  const int64_t lo = b * batch_size_, hi = std::min(int64_t(order_.size()), lo + batch_size_);
  const std::span<const int64_t> global = std::span<const int64_t>(order_).subspan(size_t(lo), size_t(hi - lo));
  const dist::Shard part = dist::shard(hi - lo, rank_, size_);
  if (size_ > 1 && !transform_) {
    data_.gather(global.subspan(size_t(part.offset), size_t(part.count)), out);
    return;
  }
  data_.gather(global, out);
  if (transform_) {
    Rng rng(batch_seed(seed_, epoch_, b));
    transform_->apply(out, rng);
  }
  if (size_ > 1) slice(out, part.offset, part.count);
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
