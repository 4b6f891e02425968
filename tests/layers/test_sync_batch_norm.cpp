// SyncBatchNorm (sync=True, layers/batch_norm.hpp; dist/sync_batch_norm.hpp) with ranks as threads
// (dist/thread_group.hpp): each rank's forward output and dx equal its slice of single-process BatchNorm's on the
// concatenated batch, the ranks' dgamma/dbeta sum to the single-process ones, every rank's running statistics
// equal the single-process ones after 3 steps, and errors are raised on every rank alike. The reference is the
// single-process layer (itself tested against each framework in test_batch_norm.cpp); the data are synthetic.
// f64 with tolerance 1e-10 (relative, plus 1e-10 absolute): the two differ only in summation order.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include <fmt/ranges.h>

#include "expect_error.hpp"
#include "gradcheck.hpp"
#include "locnet/core/collective.hpp"
#include "locnet/dist/sync_batch_norm.hpp"
#include "locnet/dist/thread_group.hpp"
#include "locnet/io/spec.hpp"
#include "locnet/layers/batch_norm.hpp"
#include "locnet/layers/registry.hpp"
#include "locnet/model/from_spec.hpp"
#include "ranks.hpp"

using namespace locnet;
using locnet::testing::max_scaled_error;
using locnet::testing::random_tensor;
using locnet::testing::rank_threads;
using locnet::testing::rethrow_first;

using locnet::testing::batch_rows;

namespace {

constexpr double kTol = 1e-10;


std::unique_ptr<Layer> layer_of(const std::string& spec) { return make_layer(parse_chain(spec).at(0)); }
BatchNormBase& bn(Layer& l) { return dynamic_cast<BatchNormBase&>(l); }


void expect_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  EXPECT_LE(max_scaled_error(got, want, kTol, kTol), 1.0) << what;
}

std::vector<Tensor> grads(Layer& l) {
  std::vector<Tensor> out;
  for (Param* p : l.params()) out.push_back(p->grad.clone());
  return out;
}
std::vector<Tensor> buffer_values(Layer& l) {
  std::vector<Tensor> out;
  for (Param* p : l.buffers()) out.push_back(p->value.clone());
  return out;
}

struct Case {
  std::string spec;
  Shape sample;  // one sample's shape
};

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"BatchNorm2D()", {2, 3, 3}},
      {"BatchNorm2D(data_format=\"channels_first\", activation=\"relu\")", {3, 2, 2}},
      {"BatchNorm1D()", {3}},
      {"BatchNorm1D(data_format=\"channels_first\")", {3, 4}},
      {"BatchNorm2D.pytorch(3)", {3, 2, 2}},
      {"BatchNorm2D.pytorch(3, momentum=None, data_format=\"channels_last\", activation=\"relu\")", {2, 2, 3}},
      {"BatchNorm1D.pytorch(3)", {3}},
      {"BatchNorm2D.pytorch(3, track_running_stats=False)", {3, 2, 2}},
      {"BatchNorm2D.keras()", {2, 2, 3}},
      {"BatchNorm2D.keras(axis=1)", {3, 2, 2}},
      {"BatchNorm2D.keras(axis=2, keras2_variance_scale=True)", {2, 3, 2}},
      {"BatchNorm1D.keras()", {3}},
      {"BatchNorm2D.caffe()", {3, 2, 2}},
      {"BatchNorm2D.caffe(data_format=\"channels_last\", use_global_stats=False)", {2, 2, 3}},
      {"BatchNorm1D.caffe()", {3}},
  };
  return all;
}

// Three training steps of the single-process layer on the whole batch and of `split.size()` sync=True layers on
// their slices; compares as the file's opening comment says. A split whose global batch the single-process layer
// rejects must raise the same error type on every rank, before any running statistic changes.
void compare(const Case& c, const std::vector<int64_t>& split) {
  const int n = int(split.size());
  std::vector<int64_t> offset{0};
  for (int64_t k : split) offset.push_back(offset.back() + k);
  const int64_t total = offset.back();
  const Shape in = c.sample.with_batch(Shape::kUnknown);
  auto ref = layer_of(c.spec);
  Rng rng(3);
  ref->build(in, rng, DType::f64);
  auto group = dist::thread_group(n, 20.0);
  std::vector<std::unique_ptr<Layer>> ranks;
  for (int r = 0; r < n; ++r) {
    ranks.push_back(layer_of(c.spec));
    bn(*ranks.back()).set_sync(true);
    Rng same(3);  // the same initial weights as ref
    ranks.back()->build(in, same, DType::f64);
    ranks.back()->set_collective(group[size_t(r)]);
  }
  for (int step = 0; step < 3; ++step) {
    SCOPED_TRACE(fmt::format("step {}", step));
    const Shape global = c.sample.with_batch(total);
    Tensor x = random_tensor(global, DType::f64, 100 + uint64_t(step), 2.0);
    Tensor dy = random_tensor(global, DType::f64, 200 + uint64_t(step));
    ref->zero_grad();
    Tensor y_ref, dx_ref;
    std::exception_ptr ref_error;
    try {
      y_ref = ref->forward(x, Mode::Training);
      dx_ref = ref->backward(dy);
    } catch (...) {
      ref_error = std::current_exception();
    }
    auto y = std::vector<Tensor>(size_t(n)), dx = std::vector<Tensor>(size_t(n));
    auto before = std::vector<std::vector<Tensor>>(size_t(n));
    for (int r = 0; r < n; ++r) before[size_t(r)] = buffer_values(*ranks[size_t(r)]);
    auto errors = rank_threads(n, [&](int r) {
      Layer& l = *ranks[size_t(r)];
      l.zero_grad();
      y[size_t(r)] = l.forward(batch_rows(x, offset[size_t(r)], offset[size_t(r) + 1]), Mode::Training);
      dx[size_t(r)] = l.backward(batch_rows(dy, offset[size_t(r)], offset[size_t(r) + 1]));
    });
    if (ref_error) {
      for (int r = 0; r < n; ++r) {
        ASSERT_TRUE(errors[size_t(r)]) << "rank " << r << " raised nothing";
        try {
          std::rethrow_exception(errors[size_t(r)]);
        } catch (const ConfigError& e) {
          EXPECT_NE(std::string(e.what()).find("more than 1 value per channel"), std::string::npos) << e.what();
        } catch (const std::exception& e) {
          ADD_FAILURE() << "rank " << r << ": " << e.what();
        }
        auto now = buffer_values(*ranks[size_t(r)]);
        for (size_t i = 0; i < now.size(); ++i) EXPECT_EQ(max_scaled_error(now[i], before[size_t(r)][i], 0, 0), 0);
      }
      return;  // the single-process layer raised too (checked by the caller's choice of splits)
    }
    for (int r = 0; r < n; ++r)
      if (errors[size_t(r)]) std::rethrow_exception(errors[size_t(r)]);
    std::vector<Tensor> want = grads(*ref);
    std::vector<Tensor> sum = grads(*ranks[0]);
    for (int r = 0; r < n; ++r) {
      const std::string who = fmt::format("rank {}", r);
      expect_close(y[size_t(r)], batch_rows(y_ref, offset[size_t(r)], offset[size_t(r) + 1]), who + " y");
      expect_close(dx[size_t(r)], batch_rows(dx_ref, offset[size_t(r)], offset[size_t(r) + 1]), who + " dx");
      if (r > 0) {
        auto g = grads(*ranks[size_t(r)]);
        for (size_t i = 0; i < g.size(); ++i)
          for (int64_t k = 0; k < g[i].numel(); ++k) sum[i].set(k, sum[i].item(k) + g[i].item(k));
      }
    }
    ASSERT_EQ(sum.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) expect_close(sum[i], want[i], fmt::format("param {} grad", i));
  }
  auto want = buffer_values(*ref);
  for (int r = 0; r < n; ++r) {
    auto got = buffer_values(*ranks[size_t(r)]);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) expect_close(got[i], want[i], fmt::format("rank {} buffer {}", r, i));
  }
}

}  // namespace

TEST(SyncBatchNorm, MatchesSingleProcessOnTheConcatenatedBatch) {
  const std::vector<std::vector<int64_t>> splits = {{5, 0, 2}, {3, 3}, {1, 1, 1}, {0, 4}, {2, 1}};
  for (const Case& c : cases())
    for (const auto& split : splits) {
      SCOPED_TRACE(fmt::format("{} split {}", c.spec, fmt::join(split, ",")));
      compare(c, split);
    }
}

// Global batches the single-process layer rejects: every rank raises, none waits (thread_group times out after
// 20 s otherwise), and no running statistic moves.
TEST(SyncBatchNorm, TooFewValuesRaiseOnEveryRank) {
  for (const char* spec : {"BatchNorm1D.pytorch(3)", "BatchNorm1D()", "BatchNorm1D.caffe()"}) {
    SCOPED_TRACE(spec);
    compare({spec, {3}}, {0, 0, 0});  // m = 0: every convention
  }
  compare({"BatchNorm1D.pytorch(3)", {3}}, {0, 1, 0});  // m = 1 with PyTorch
  compare({"BatchNorm1D.caffe()", {3}}, {0, 1});        // Caffe at m = 1: factor 1, no error
}

TEST(SyncBatchNorm, NonFiniteStatisticsOnOneRankRaiseOnEveryRank) {
  auto group = dist::thread_group(3, 20.0);
  std::vector<std::unique_ptr<Layer>> ranks;
  for (int r = 0; r < 3; ++r) {
    ranks.push_back(layer_of("BatchNorm2D.keras(sync=True)"));
    Rng rng(3);
    ranks.back()->build(Shape{Shape::kUnknown, 2, 2, 3}, rng, DType::f32);
    ranks.back()->set_collective(group[size_t(r)]);
  }
  auto errors = rank_threads(3, [&](int r) {
    Tensor x = random_tensor(Shape{2, 2, 2, 3}, DType::f32, uint64_t(r));
    if (r == 1) x.set(4, std::nan(""));
    ranks[size_t(r)]->forward(x, Mode::Training);
  });
  for (int r = 0; r < 3; ++r) {
    ASSERT_TRUE(errors[size_t(r)]) << r;
    EXPECT_THROW_MSG(std::rethrow_exception(errors[size_t(r)]), ConfigError,
                     "batch statistics must be finite in training mode");
    EXPECT_EQ(ranks[size_t(r)]->buffers()[0]->value.item(1), 0.0);  // moving_mean untouched
  }
}

// Alone (no collective, or a group of one) sync=True is sync=False bit for bit (f32, where rounding would show).
TEST(SyncBatchNorm, AloneIsPlainBatchNormBitForBit) {
  for (const char* spec : {"BatchNorm2D.pytorch(3, data_format=\"channels_last\")", "BatchNorm2D.keras(axis=1)"}) {
    SCOPED_TRACE(spec);
    for (bool with_group : {false, true}) {
      auto plain = layer_of(spec), sync = layer_of(spec);
      bn(*sync).set_sync(true);
      Rng r1(5), r2(5);
      const Shape in{Shape::kUnknown, 3, 4, 3};
      plain->build(in, r1, DType::f32);
      sync->build(in, r2, DType::f32);
      if (with_group) sync->set_collective(dist::thread_group(1)[0]);
      for (int step = 0; step < 2; ++step) {
        Tensor x = random_tensor(Shape{4, 3, 4, 3}, DType::f32, uint64_t(step), 3.0);
        Tensor dy = random_tensor(Shape{4, 3, 4, 3}, DType::f32, uint64_t(10 + step));
        EXPECT_EQ(max_scaled_error(sync->forward(x, Mode::Training), plain->forward(x, Mode::Training), 0, 0), 0);
        EXPECT_EQ(max_scaled_error(sync->backward(dy), plain->backward(dy), 0, 0), 0);
      }
      auto a = grads(*sync), b = grads(*plain);
      for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(max_scaled_error(a[i], b[i], 0, 0), 0);
      auto sa = buffer_values(*sync), sb = buffer_values(*plain);
      for (size_t i = 0; i < sa.size(); ++i) EXPECT_EQ(max_scaled_error(sa[i], sb[i], 0, 0), 0);
    }
  }
}

// Inference mode, a frozen layer and use_global_stats=True use the running statistics: no collective operation,
// so rank 0 runs alone in a group of 2 (a collective would time out after 0.5 s with a DistError).
TEST(SyncBatchNorm, RunningStatisticsNeedNoCollective) {
  struct Use {
    const char* spec;
    Mode mode;
    bool freeze;
  };
  for (const Use& u : {Use{"BatchNorm2D(sync=True)", Mode::Inference, false},
                       Use{"BatchNorm2D.pytorch(3, sync=True)", Mode::Training, true},
                       Use{"BatchNorm2D.caffe(use_global_stats=True, sync=True)", Mode::Training, false}}) {
    SCOPED_TRACE(u.spec);
    auto group = dist::thread_group(2, 0.5);
    auto sync = layer_of(u.spec);
    const bool last = bn(*sync).canonical().channels_last;
    const Shape in = last ? Shape{Shape::kUnknown, 2, 2, 3} : Shape{Shape::kUnknown, 3, 2, 2};
    auto plain = layer_of(u.spec);
    bn(*plain).set_sync(false);
    Rng r1(1), r2(1);
    sync->build(in, r1, DType::f64);
    plain->build(in, r2, DType::f64);
    sync->set_collective(group[0]);
    if (u.freeze) {
      bn(*sync).freeze();
      bn(*plain).freeze();
    }
    Tensor x = random_tensor(in.with_dim(0, 3), DType::f64, 7);
    EXPECT_EQ(max_scaled_error(sync->forward(x, u.mode), plain->forward(x, u.mode), 0, 0), 0);
  }
}

TEST(SyncBatchNorm, SpecConfigAndConvert) {
  // sync= is a catalog field of every convention: spec text in, config() out.
  for (const char* spec : {"BatchNorm3D(sync=True)", "BatchNorm2D.pytorch(4, sync=True)",
                           "BatchNorm1D.keras(sync=True)", "BatchNorm2D.caffe(sync=True)"}) {
    auto l = layer_of(spec);
    EXPECT_TRUE(bn(*l).canonical().sync) << spec;
    const std::string text = l->config().repr();
    EXPECT_NE(text.find("sync=True"), std::string::npos) << text;
    EXPECT_TRUE(bn(*layer_of(text)).canonical().sync) << text;
  }
  EXPECT_FALSE(bn(*layer_of("BatchNorm2D()")).canonical().sync);
  EXPECT_THROW(layer_of("BatchNorm2D(sync=2.5)"), ConfigError);

  Model m = parse_model(
      "Input((4,)) >> Dense(3) >> BatchNorm1D() >> Dense(2) >> BatchNorm1D.pytorch(2) >> "
      "BatchNorm1D.keras(sync=True)");
  m.build(Shape{Shape::kUnknown, 4}, uint64_t(3), DType::f64);
  m.forward(random_tensor(Shape{5, 4}, DType::f64, 1), Mode::Training);  // running statistics move off their start
  std::vector<std::pair<std::string, Tensor>> before;
  for (auto& [name, p] : m.named_params()) before.emplace_back(name, p->value.clone());
  EXPECT_EQ(dist::convert_sync_batchnorm(m), 2);  // the Keras one was sync already
  EXPECT_EQ(dist::convert_sync_batchnorm(m), 0);
  auto after = m.named_params();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].first, before[i].first);
    EXPECT_EQ(max_scaled_error(after[i].second->value, before[i].second, 0, 0), 0) << before[i].first;
  }
  for (size_t i = 0; i < m.size(); ++i)
    if (auto* b = dynamic_cast<BatchNormBase*>(&m.layer(i))) {
      EXPECT_TRUE(b->canonical().sync);
      EXPECT_NE(b->config().repr().find("sync=True"), std::string::npos);
    }
}

// f32 through the optimized kernels, both layouts, with an empty rank: tolerance 2e-5 relative (f32 rounding of
// the two summation orders on values of order 1).
TEST(SyncBatchNorm, F32BothLayouts) {
  for (const char* spec : {"BatchNorm2D.pytorch(8)", "BatchNorm2D.pytorch(8, data_format=\"channels_last\")"}) {
    SCOPED_TRACE(spec);
    const bool last = std::string(spec).find("last") != std::string::npos;
    const Shape sample = last ? Shape{5, 6, 8} : Shape{8, 5, 6};
    const std::vector<int64_t> split{3, 0, 2};
    auto ref = layer_of(spec);
    Rng rng(3);
    ref->build(sample.with_batch(Shape::kUnknown), rng, DType::f32);
    Tensor x = random_tensor(sample.with_batch(5), DType::f32, 1, 3.0), dy = random_tensor(sample.with_batch(5),
                                                                                            DType::f32, 2);
    Tensor y_ref = ref->forward(x, Mode::Training), dx_ref = ref->backward(dy);
    auto group = dist::thread_group(3, 20.0);
    auto y = std::vector<Tensor>(3), dx = std::vector<Tensor>(3);
    auto layers = std::vector<std::unique_ptr<Layer>>(3);
    rethrow_first(rank_threads(3, [&](int r) {
      layers[size_t(r)] = layer_of(spec);
      Layer& l = *layers[size_t(r)];
      bn(l).set_sync(true);
      Rng same(3);
      l.build(sample.with_batch(Shape::kUnknown), same, DType::f32);
      l.set_collective(group[size_t(r)]);
      const int64_t lo = r == 0 ? 0 : 3, hi = r == 0 ? 3 : r == 1 ? 3 : 5;
      y[size_t(r)] = l.forward(batch_rows(x, lo, hi), Mode::Training);
      dx[size_t(r)] = l.backward(batch_rows(dy, lo, hi));
    }));
    const int64_t lo[] = {0, 3, 3}, hi[] = {3, 3, 5};
    for (int r = 0; r < 3; ++r) {
      EXPECT_LE(max_scaled_error(y[size_t(r)], batch_rows(y_ref, lo[r], hi[r]), 2e-5, 2e-5), 1.0) << r;
      EXPECT_LE(max_scaled_error(dx[size_t(r)], batch_rows(dx_ref, lo[r], hi[r]), 2e-5, 2e-5), 1.0) << r;
      auto got = buffer_values(*layers[size_t(r)]), want = buffer_values(*ref);
      for (size_t i = 0; i < got.size(); ++i) EXPECT_LE(max_scaled_error(got[i], want[i], 2e-5, 2e-5), 1.0) << r;
    }
  }
}
