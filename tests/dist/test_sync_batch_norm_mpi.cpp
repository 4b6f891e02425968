// SyncBatchNorm across the processes of an MPI job (dist::world(); any N, 1 alone): every rank compares its
// layer on its shard of a global batch with single-process BatchNorm on the whole batch, which each rank computes
// itself from the same seeds. The compact version of tests/layers/test_sync_batch_norm.cpp (ranks as threads);
// synthetic data, f64, tolerance 1e-10 (the two differ only in summation order).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "locnet/core/collective.hpp"
#include "locnet/core/error.hpp"
#include "locnet/core/rng.hpp"
#include "locnet/dist/data_parallel.hpp"
#include "locnet/dist/mpi.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/batch_norm.hpp"
#include "locnet/layers/registry.hpp"
#include "ranks.hpp"

using namespace locnet;

using locnet::testing::batch_rows;

namespace {

Tensor random_tensor(const Shape& s, DType dt, uint64_t seed, double scale = 1.0) {
  Tensor t(s, dt);
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, scale * (2 * rng.uniform() - 1));
  return t;
}

// max |a - b| / (atol + rtol |b|); <= 1: close (the same shapes).
double max_scaled_error(const Tensor& a, const Tensor& b, double rtol, double atol) {
  EXPECT_EQ(a.shape(), b.shape());
  double worst = 0;
  for (int64_t i = 0; i < a.numel() && a.shape() == b.shape(); ++i)
    worst = std::max(worst, std::abs(a.item(i) - b.item(i)) / (atol + rtol * std::abs(b.item(i))));
  return worst;
}

std::unique_ptr<Layer> layer_of(const std::string& spec) { return make_layer(parse_chain(spec).at(0)); }



}  // namespace

TEST(SyncBatchNormMpi, MatchesSingleProcessOnTheGlobalBatch) {
  auto world = dist::world();
  struct Case {
    const char* spec;
    Shape sample;
  };
  const Case cases[] = {
      {"BatchNorm2D()", {2, 2, 3}},
      {"BatchNorm2D.pytorch(3, momentum=None)", {3, 2, 2}},
      {"BatchNorm2D.keras(axis=2)", {2, 3, 2}},
      {"BatchNorm2D.caffe(data_format=\"channels_last\", activation=\"relu\")", {2, 2, 3}},
      // each convention in its other layout too
      {"BatchNorm2D(data_format=\"channels_first\")", {3, 2, 2}},
      {"BatchNorm2D.pytorch(3, data_format=\"channels_last\")", {2, 2, 3}},
      {"BatchNorm2D.keras()", {2, 2, 3}},
      {"BatchNorm2D.caffe()", {3, 2, 2}},
      {"BatchNorm1D.pytorch(3)", {3, 4}},
  };
  for (const Case& c : cases)
    for (int64_t total : {int64_t(7), int64_t(2)}) {  // 2: with 3 ranks, one holds no sample
      SCOPED_TRACE(fmt::format("{} global batch {} on {}", c.spec, total, world->where()));
      const Shape in = c.sample.with_batch(Shape::kUnknown);
      auto ref = layer_of(c.spec), mine = layer_of(c.spec);
      dynamic_cast<BatchNormBase&>(*mine).set_sync(true);
      Rng r1(3), r2(3);
      ref->build(in, r1, DType::f64);
      mine->build(in, r2, DType::f64);
      mine->set_collective(world);
      const dist::Shard mine_rows = dist::shard(total, world->rank(), world->size());
      const int64_t lo = mine_rows.offset, hi = lo + mine_rows.count;
      for (int step = 0; step < 2; ++step) {
        Tensor x = random_tensor(c.sample.with_batch(total), DType::f64, 10 + uint64_t(step), 2.0);
        Tensor dy = random_tensor(c.sample.with_batch(total), DType::f64, 20 + uint64_t(step));
        ref->zero_grad();
        mine->zero_grad();
        Tensor y_ref = ref->forward(x, Mode::Training), dx_ref = ref->backward(dy);
        Tensor y = mine->forward(batch_rows(x, lo, hi), Mode::Training), dx = mine->backward(batch_rows(dy, lo, hi));
        EXPECT_LE(max_scaled_error(y, batch_rows(y_ref, lo, hi), 1e-10, 1e-10), 1.0);
        EXPECT_LE(max_scaled_error(dx, batch_rows(dx_ref, lo, hi), 1e-10, 1e-10), 1.0);
        auto want = ref->params(), got = mine->params();
        for (size_t i = 0; i < got.size(); ++i) {
          std::vector<double> sum = got[i]->grad.to_vector();
          world->all_reduce_sum(std::span<double>(sum));
          for (size_t k = 0; k < sum.size(); ++k)
            EXPECT_NEAR(sum[k], want[i]->grad.item(int64_t(k)), 1e-10 * (1 + std::abs(sum[k])));
        }
      }
      auto want = ref->buffers(), got = mine->buffers();
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_LE(max_scaled_error(got[i]->value, want[i]->value, 1e-10, 1e-10), 1.0) << got[i]->name;
    }
}

// One value per channel in the global batch (PyTorch raises): every rank raises, whichever holds the sample.
TEST(SyncBatchNormMpi, OneValuePerChannelRaisesOnEveryRank) {
  auto world = dist::world();
  auto l = layer_of("BatchNorm1D.pytorch(3, sync=True)");
  Rng rng(3);
  l->build(Shape{Shape::kUnknown, 3}, rng, DType::f64);
  l->set_collective(world);
  const int64_t n = world->rank() == world->size() - 1 ? 1 : 0;
  EXPECT_THROW(l->forward(random_tensor(Shape{n, 3}, DType::f64, 1), Mode::Training), ConfigError);
  world->barrier();  // every rank is past the layer's collective
}
