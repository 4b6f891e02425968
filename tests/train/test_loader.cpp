// The loader (train/loader.hpp): the same batches with and without prefetch (a transform included, its Rng from
// the seed, epoch and batch), a transform's exception reaching the caller, and destruction mid-epoch.
#include <atomic>

#include "expect_error.hpp"
#include "locnet/train/loader.hpp"

using namespace locnet;

namespace {

std::shared_ptr<Dataset> counting(int64_t n) {
  Tensor x(Shape{n, 2});
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) x.set(2 * i, double(i)), x.set(2 * i + 1, -double(i)), y.push_back(i % 3);
  return tensor_dataset(x, y);
}

// Adds a random offset to every value; fails on a batch holding sample `fail_at`.
struct Jitter : BatchTransform {
  int64_t fail_at = -1;
  void apply(Batch& b, Rng& rng) const override {
    for (int64_t i = 0; i < b.x.numel(); ++i) {
      if (fail_at >= 0 && b.x.item(i) == double(fail_at)) raise<FormatError>("jitter: sample {} is broken", fail_at);
      b.x.set(i, b.x.item(i) + rng.uniform());
    }
  }
};

std::vector<std::vector<double>> all_batches(const Dataset& d, const BatchTransform* t, bool prefetch) {
  std::vector<int64_t> order = {4, 0, 6, 2, 1, 5, 3};
  Loader loader(d, order, 3, t, 7, 2, prefetch);
  std::vector<std::vector<double>> out;
  for (Batch b; loader.next(b);) out.push_back(b.x.to_vector());
  return out;
}

}  // namespace

TEST(Loader, SameBatchesWithAndWithoutPrefetch) {
  auto d = counting(7);
  auto plain = all_batches(*d, nullptr, false);
  ASSERT_EQ(plain.size(), 3u);  // 3 + 3 + 1
  EXPECT_EQ(plain[0], (std::vector<double>{4, -4, 0, 0, 6, -6}));
  EXPECT_EQ(plain[2], (std::vector<double>{3, -3}));
  EXPECT_EQ(all_batches(*d, nullptr, true), plain);
  Jitter jitter;
  auto jittered = all_batches(*d, &jitter, false);
  EXPECT_EQ(all_batches(*d, &jitter, true), jittered);
  EXPECT_NE(jittered, plain);
  EXPECT_NE(batch_seed(7, 2, 0), batch_seed(7, 2, 1));
  EXPECT_NE(batch_seed(7, 2, 0), batch_seed(7, 3, 0));
}

TEST(Loader, TransformErrorReachesTheCaller) {
  auto d = counting(7);
  Jitter broken;
  broken.fail_at = 5;  // in the second batch (1, 5, 3)
  for (bool prefetch : {false, true}) {
    Loader loader(*d, {0, 2, 4, 1, 5, 3, 6}, 3, &broken, 0, 1, prefetch);
    Batch b;
    EXPECT_TRUE(loader.next(b));
    EXPECT_THROW_MSG(loader.next(b), FormatError, "jitter: sample 5 is broken");
  }
}

TEST(Loader, StopsCleanlyMidEpoch) {
  auto d = counting(50);
  std::vector<int64_t> order(50);
  for (int64_t i = 0; i < 50; ++i) order[size_t(i)] = i;
  {
    Loader loader(*d, order, 4, nullptr, 0, 1, true);  // the first batch is in flight, never taken
  }
  Loader loader(*d, order, 4, nullptr, 0, 1, true);
  Batch b;
  EXPECT_TRUE(loader.next(b));
  EXPECT_EQ(loader.batches(), 13);
  // leaving the scope with batch 2 in flight joins it
}
