// Data-parallel training (dist/data_parallel.hpp, FitOptions::collective) with ranks as threads
// (dist/thread_group.hpp): shard rules, parameter broadcast and replica checks, the gradient reducer as a plain sum,
// and fit/evaluate on N = 1, 2, 3 ranks against the single process on the same data. Synthetic data (random
// tensors from fixed seeds), except the Fashion-MNIST test (real images, skipped without the data set).
#include <gtest/gtest.h>

#include "expect_error.hpp"
#include "fashion_mnist.hpp"
#include "gradcheck.hpp"
#include "locnet/dist/data_parallel.hpp"
#include "locnet/dist/sync_batch_norm.hpp"
#include "locnet/dist/thread_group.hpp"
#include "locnet/layers/dense.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/train/trainer.hpp"
#include "ranks.hpp"

using namespace locnet;
using locnet::testing::random_tensor;

namespace {

using locnet::testing::on_ranks;

// Conv2D, LRN, pooling, LocallyConnected2D and Dense: the default network without BatchNorm, scaled down.
const char* const kSmallNet =
    "Input((8, 8, 1)) >> Conv2D(4, 3, padding='same', activation='relu') >> LocalResponseNorm()"
    " >> MaxPooling2D(2) >> LocallyConnected2D(3, 2) >> Activation('relu') >> Flatten() >> Dense(3)";

LabeledData small_data(int64_t n, uint64_t seed) {
  Tensor x = random_tensor(Shape{n, 8, 8, 1}, DType::f32, seed);
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[size_t(i)] = (i * 7 + int64_t(seed)) % 3;
  return {x, y};
}

Sequential small_net() {
  Sequential m = parse_model(kSmallNet);
  m.build(Shape{-1, 8, 8, 1}, 11);
  return m;
}

void expect_same_params(Model& a, Model& b, double rtol, double atol) {
  auto pa = a.named_params(), pb = b.named_params();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_LE(max_scaled_error(pa[i].second->value, pb[i].second->value, rtol, atol), 1.0) << pa[i].first;
}

// Adds U(-0.5, 0.5) noise per element from the batch's Rng: slicing before the transform would change the samples.
class Noise : public BatchTransform {
 public:
  void apply(Batch& b, Rng& rng) const override {
    for (float& v : b.x.span<float>()) v += float(rng.uniform(-0.5, 0.5));
  }
};

}  // namespace

TEST(DataParallel, ShardRules) {
  // 10 over 3: 4, 3, 3 contiguous; 2 over 3: 1, 1, 0.
  const int64_t off10[] = {0, 4, 7}, cnt10[] = {4, 3, 3}, off2[] = {0, 1, 2}, cnt2[] = {1, 1, 0};
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(dist::shard(10, r, 3).offset, off10[r]);
    EXPECT_EQ(dist::shard(10, r, 3).count, cnt10[r]);
    EXPECT_EQ(dist::shard(2, r, 3).offset, off2[r]);
    EXPECT_EQ(dist::shard(2, r, 3).count, cnt2[r]);
  }
  EXPECT_EQ(dist::shard(5, 0, 1).count, 5);
  EXPECT_THROW_MSG(dist::shard(5, 3, 3), ConfigError, "rank must be in [0, size) with size >= 1, got rank 3 of 3");
  EXPECT_THROW_MSG(dist::shard(5, 0, 0), ConfigError, "got rank 0 of 0");
  EXPECT_THROW_MSG(dist::shard(-1, 0, 2), ConfigError, "the number of samples must be >= 0, got -1");
}

TEST(DataParallel, BroadcastMakesReplicasEqual) {
  auto group = dist::thread_group(3);
  on_ranks(group, [](const std::shared_ptr<Collective>& g) {
    Sequential m = parse_model("Input((4,)) >> Dense(3) >> BatchNorm1D() >> Dense(2)");
    m.build(Shape{-1, 4}, uint64_t(g->rank()));  // different weights on every rank
    for (auto& [name, p] : m.named_params())
      if (name.find("moving") != std::string::npos) p->value.fill(double(g->rank()));  // buffers differ too
    const uint64_t before = dist::parameter_hash(m);
    if (g->rank() == 0) {
      EXPECT_THROW_MSG(dist::check_replicas(m, *g), DistError, "got different ones on ranks 1, 2");
    } else {
      EXPECT_THROW(dist::check_replicas(m, *g), DistError);
    }
    dist::broadcast_parameters(m, *g);
    EXPECT_EQ(dist::parameter_hash(m) == before, g->rank() == 0);
    EXPECT_NO_THROW(dist::check_replicas(m, *g));
    Sequential rank0 = parse_model("Input((4,)) >> Dense(3) >> BatchNorm1D() >> Dense(2)");
    rank0.build(Shape{-1, 4}, 0);
    for (auto& [name, p] : rank0.named_params())
      if (name.find("moving") != std::string::npos) p->value.fill(0.0);
    EXPECT_EQ(dist::parameter_hash(m), dist::parameter_hash(rank0));
  });
}

TEST(DataParallel, HashSeesEveryByte) {
  Sequential m = small_net();
  const uint64_t h = dist::parameter_hash(m);
  EXPECT_EQ(dist::parameter_hash(m), h);
  auto params = m.named_params();
  Tensor& last = params.back().second->value;
  float* v = last.data<float>() + last.numel() - 1;
  *v = std::nextafter(*v, 1e9f);
  EXPECT_NE(dist::parameter_hash(m), h);
}

// The reducer's result is the sum of every rank's own gradient (computed here without it), for buckets of one
// parameter each and one bucket for all, on a graph whose unused branch never runs backward.
TEST(DataParallel, ReducerIsThePlainSum) {
  auto graph = [] {
    Model m;
    NodeId x = m.input({4});
    NodeId h = m.add(Dense(5, "tanh", "h"), {x});
    m.add(Dense(2, std::nullopt, "unused"), {x});
    NodeId out = m.add(Dense(3, std::nullopt, "out"), {h});
    m.set_outputs({out});
    m.build_from_inputs(5);
    return m;
  };
  auto input = [](int r) { return random_tensor(Shape{int64_t(3 + r), 4}, DType::f32, uint64_t(100 + r)); };
  auto dy = [](int r) { return random_tensor(Shape{int64_t(3 + r), 3}, DType::f32, uint64_t(200 + r)); };
  for (int64_t bucket : {int64_t(1), int64_t(1) << 20}) {
    auto group = dist::thread_group(3);
    on_ranks(group, [&](const std::shared_ptr<Collective>& g) {
      // Expected: the ranks' gradients summed in rank order, in f32 like the reducer.
      Model ref = graph();
      std::vector<std::vector<float>> sum;
      for (int r = 0; r < g->size(); ++r) {
        ref.zero_grad();
        ref.forward(input(r), Mode::Training);
        ref.backward(dy(r));
        auto ps = ref.named_params(false);
        sum.resize(ps.size());
        for (size_t i = 0; i < ps.size(); ++i) {
          auto gv = ps[i].second->grad.span<float>();
          if (r == 0) sum[i].assign(gv.begin(), gv.end());
          else
            for (size_t j = 0; j < gv.size(); ++j) sum[i][j] += gv[j];
        }
      }
      Model m = graph();
      {
        dist::GradientReducer reducer(m, g, bucket);
        for (int step = 0; step < 2; ++step) {  // the reducer is reusable step after step
          m.zero_grad();
          m.forward(input(g->rank()), Mode::Training);
          m.backward(dy(g->rank()));
          reducer.finish();
          auto ps = m.named_params(false);
          for (size_t i = 0; i < ps.size(); ++i) {
            auto gv = ps[i].second->grad.span<float>();
            for (size_t j = 0; j < gv.size(); ++j) EXPECT_FLOAT_EQ(gv[j], sum[i][j]) << ps[i].first << " " << j;
          }
        }
        const auto st = reducer.stats();
        EXPECT_EQ(st.buckets, bucket == 1 ? 6 : 1);  // 3 Dense layers x (kernel, bias)
        EXPECT_EQ(st.bytes_per_step, (4 * 5 + 5 + 4 * 2 + 2 + 5 * 3 + 3) * 4);
        EXPECT_GE(st.wait_seconds, 0.0);
      }
    });
  }
}

TEST(DataParallel, Errors) {
  Sequential m = small_net();
  EXPECT_THROW_MSG(dist::GradientReducer(m, local_collective(), 0), ConfigError,
                   "GradientReducer: bucket_bytes must be >= 1, got 0");
  EXPECT_THROW_MSG(dist::GradientReducer(m, nullptr), ConfigError, "the collective must be set, got none");
  auto opt = make_optimizer("SGD(0.1)");
  const LabeledData d = small_data(4, 1);
  EXPECT_THROW_MSG(fit(m, *opt, d, nullptr, {.batch_size = 2, .bucket_bytes = 0}), ConfigError,
                   "fit: bucket_bytes must be >= 1, got 0");
}

// fit on N ranks = fit on one process: 22 samples in global batches of 10 (10 does not divide by 3; the last batch
// of 2 leaves rank 2 without samples), momentum, validation, two epochs. Equal up to the order of float sums.
TEST(DataParallel, FitMatchesSingleProcess) {
  const LabeledData train = small_data(22, 1), val = small_data(7, 2);
  for (bool augment : {false, true}) {
    FitOptions o{.epochs = 2, .batch_size = 10, .seed = 3, .metrics = {"top2_accuracy", "f1"}};
    if (augment) o.augment = std::make_shared<Noise>();
    Sequential single = small_net();
    auto sopt = make_optimizer("SGD(0.05, momentum=0.9)");
    const FitResult want = fit(single, *sopt, train, &val, o);
    for (int n : {1, 2, 3}) {
      SCOPED_TRACE(fmt::format("{} ranks, augment {}", n, augment));
      auto group = dist::thread_group(n);
      std::vector<FitResult> got(static_cast<size_t>(n));
      on_ranks(group, [&](const std::shared_ptr<Collective>& g) {
        Sequential m = small_net();
        auto opt = make_optimizer("SGD(0.05, momentum=0.9)");
        FitOptions mine = o;
        mine.collective = g;
        mine.check_replicas = true;
        mine.bucket_bytes = 256;
        got[size_t(g->rank())] = fit(m, *opt, train, &val, mine);
        expect_same_params(m, single, 1e-4, 1e-5);
      });
      for (int r = 0; r < n; ++r) {
        const FitResult& res = got[size_t(r)];
        ASSERT_EQ(res.history.size(), 2u);
        for (size_t e = 0; e < 2; ++e) {
          EXPECT_NEAR(res.history[e].loss, want.history[e].loss, 1e-5);
          EXPECT_EQ(res.history[e].accuracy, want.history[e].accuracy);
          EXPECT_EQ(res.history[e].metrics.at("top2_accuracy"), want.history[e].metrics.at("top2_accuracy"));
          EXPECT_NEAR(res.history[e].validation->loss, want.history[e].validation->loss, 1e-5);
          EXPECT_EQ(res.history[e].validation->confusion, want.history[e].validation->confusion);
          EXPECT_EQ(res.history[e].metrics.at("loss"), got[0].history[e].metrics.at("loss"));  // the same everywhere
        }
        EXPECT_EQ(res.communication.steps, 6);
        if (n > 1) {
          EXPECT_GT(res.communication.buckets, 1);
          EXPECT_GT(res.communication.bytes_per_step, 0);
        }
      }
    }
  }
}

// A single process given a group of one rank runs exactly as without it.
TEST(DataParallel, OneRankIsBitIdentical) {
  const LabeledData train = small_data(9, 4);
  Sequential a = small_net(), b = small_net();
  auto oa = make_optimizer("Adam(0.01)"), ob = make_optimizer("Adam(0.01)");
  const FitResult ra = fit(a, *oa, train, nullptr, {.epochs = 2, .batch_size = 4});
  const FitResult rb = fit(b, *ob, train, nullptr, {.epochs = 2, .batch_size = 4, .collective = local_collective()});
  EXPECT_EQ(ra.history[1].loss, rb.history[1].loss);
  EXPECT_EQ(dist::parameter_hash(a), dist::parameter_hash(b));
}

// evaluate on 3 ranks (7 samples in batches of 3: the last batch leaves two ranks empty) returns the single-process
// result on every rank.
TEST(DataParallel, EvaluateMatchesSingleProcess) {
  const LabeledData data = small_data(7, 5);
  const auto ds = tensor_dataset(data.x, data.y);
  Sequential single = small_net();
  const EvalResult want = evaluate(single, *ds, 3, "", {"precision"});
  auto group = dist::thread_group(3);
  on_ranks(group, [&](const std::shared_ptr<Collective>& g) {
    Sequential m = small_net();
    const EvalResult got = evaluate(m, *ds, 3, "", {"precision"}, g);
    EXPECT_NEAR(got.loss, want.loss, 1e-6);
    EXPECT_EQ(got.accuracy, want.accuracy);
    EXPECT_EQ(got.confusion, want.confusion);
    EXPECT_EQ(got.metrics.at("precision"), want.metrics.at("precision"));
  });
}

// Optimizer state from before fit (a resumed run) starts from rank 0's too: here each rank's momentum comes from
// its own single-process fit on other data, yet the replicas stay equal (check_replicas after each epoch).
TEST(DataParallel, OptimizerStateIsBroadcast) {
  auto group = dist::thread_group(2);
  on_ranks(group, [&](const std::shared_ptr<Collective>& g) {
    Sequential m = small_net();
    auto opt = make_optimizer("SGD(0.05, momentum=0.9)");
    fit(m, *opt, small_data(5, uint64_t(20 + g->rank())), nullptr, {.batch_size = 5});  // alone: differs per rank
    EXPECT_NO_THROW(fit(m, *opt, small_data(8, 7), nullptr,
                        {.epochs = 2, .batch_size = 4, .collective = g, .check_replicas = true}));
    EXPECT_EQ(opt->iterations(), 1 + 4);
  });
}

// A rank's replica that drifted is caught after the epoch by check_replicas.
TEST(DataParallel, CheckReplicasCatchesDrift) {
  const LabeledData train = small_data(6, 6);
  auto group = dist::thread_group(2);
  EXPECT_THROW(on_ranks(group,
                        [&](const std::shared_ptr<Collective>& g) {
                          Sequential m = small_net();
                          auto opt = make_optimizer(g->rank() == 0 ? "SGD(0.1)" : "SGD(0.2)");
                          fit(m, *opt, train, nullptr,
                              {.batch_size = 3, .collective = g, .check_replicas = true});
                        }),
               DistError);
}

// The default network (`locnet train`'s: Conv2D, BatchNorm2D, LRN, MaxPooling2D, LocallyConnected2D, Dense) with
// SyncBatchNorm on 2 and 3 ranks equals the single process with BatchNorm on real images: 52 samples in global
// batches of 25 (the last batch of 2 leaves the third rank empty), Adam, one epoch, then evaluate.
TEST(DataParallel, FashionMnistDefaultNetworkWithSyncBatchNorm) {
  const std::string dir = locnet::testing::fashion_mnist_dir();
  if (!locnet::testing::has_fashion_mnist(dir)) GTEST_SKIP() << "no Fashion-MNIST in " << dir;
  MnistData data = load_mnist(dir);
  const LabeledData train = locnet::testing::first_samples(data.train, 52);
  const LabeledData test = locnet::testing::first_samples(data.test, 40);
  const char* spec = locnet::testing::kReadmeNetworkSpec;
  const FitOptions o{.epochs = 1, .batch_size = 25, .seed = 2};
  Sequential single = parse_model(spec);
  auto sopt = make_optimizer("Adam(0.002)");
  const FitResult want = fit(single, *sopt, train, &test, o);
  for (int n : {2, 3}) {
    SCOPED_TRACE(fmt::format("{} ranks", n));
    auto group = dist::thread_group(n);
    on_ranks(group, [&](const std::shared_ptr<Collective>& g) {
      Sequential m = parse_model(spec);
      EXPECT_EQ(dist::convert_sync_batchnorm(m), 3);
      auto opt = make_optimizer("Adam(0.002)");
      FitOptions mine = o;
      mine.collective = g;
      mine.check_replicas = true;
      const FitResult got = fit(m, *opt, train, &test, mine);
      EXPECT_NEAR(got.history[0].loss, want.history[0].loss, 1e-4);
      EXPECT_EQ(got.history[0].accuracy, want.history[0].accuracy);
      EXPECT_NEAR(got.history[0].validation->loss, want.history[0].validation->loss, 1e-4);
      expect_same_params(m, single, 1e-3, 1e-4);  // the running statistics (buffers) included
    });
  }
}
