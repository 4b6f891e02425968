// Data-parallel fit/evaluate over dist::world() (MPI ranks under mpirun, or the single process): every rank also
// runs the single-process fit locally and compares. Synthetic data (random tensors from fixed seeds), and real
// Fashion-MNIST images in the last test. Passes for any number of ranks; 22 samples in global batches of 10 leave a
// rank without samples in the last batch for N = 3.
#include <gtest/gtest.h>

#include <cmath>

#include "locnet/core/rng.hpp"
#include "locnet/dist/data_parallel.hpp"
#include "locnet/dist/mpi.hpp"
#include "locnet/dist/sync_batch_norm.hpp"
#include "locnet/model/from_spec.hpp"
#include "locnet/train/trainer.hpp"
#include "fashion_mnist.hpp"

using namespace locnet;

namespace {

LabeledData data(int64_t n, uint64_t seed) {
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) y[size_t(i)] = (i * 5 + int64_t(seed)) % 3;
  Rng rng(seed);
  std::vector<float> x(static_cast<size_t>(n * 64));
  for (float& v : x) v = float(rng.normal());
  return {Tensor::from(x, Shape{n, 8, 8, 1}), y};
}

Sequential net() {
  Sequential m = parse_model(
      "Input((8, 8, 1)) >> Conv2D(4, 3, padding='same', activation='relu') >> LocalResponseNorm()"
      " >> MaxPooling2D(2) >> LocallyConnected2D(3, 2) >> Activation('relu') >> Flatten() >> Dense(3)");
  m.build(Shape{-1, 8, 8, 1}, 7);
  return m;
}

void expect_same_params(Model& got, Model& want, double atol, double rtol) {
  auto pa = got.named_params(), pb = want.named_params();  // buffers (running statistics) included
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    const std::vector<double> a = pa[i].second->value.to_vector(), b = pb[i].second->value.to_vector();
    for (size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(a[j], b[j], atol + rtol * std::abs(b[j])) << pa[i].first;
  }
}

}  // namespace

TEST(DataParallelMpi, FitAndEvaluateMatchSingleProcess) {
  const std::shared_ptr<Collective> world = dist::world();
  const LabeledData train = data(22, 1), val = data(7, 2);
  const FitOptions o{.epochs = 2, .batch_size = 10, .seed = 4};
  Sequential single = net();
  auto sopt = make_optimizer("SGD(0.05, momentum=0.9)");
  const FitResult want = fit(single, *sopt, train, &val, o);

  Sequential m = net();
  auto opt = make_optimizer("SGD(0.05, momentum=0.9)");
  FitOptions mine = o;
  mine.collective = world;
  mine.check_replicas = true;
  mine.bucket_bytes = 512;
  const FitResult got = fit(m, *opt, train, &val, mine);
  ASSERT_EQ(got.history.size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_NEAR(got.history[e].loss, want.history[e].loss, 1e-5);
    EXPECT_EQ(got.history[e].accuracy, want.history[e].accuracy);
    EXPECT_NEAR(got.history[e].validation->loss, want.history[e].validation->loss, 1e-5);
    EXPECT_EQ(got.history[e].validation->confusion, want.history[e].validation->confusion);
  }
  auto pa = m.named_params(), pb = single.named_params();
  for (size_t i = 0; i < pa.size(); ++i) {
    const std::vector<double> a = pa[i].second->value.to_vector(), b = pb[i].second->value.to_vector();
    for (size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(a[j], b[j], 1e-5 + 1e-4 * std::abs(b[j])) << pa[i].first;
  }

  const auto ds = tensor_dataset(val.x, val.y);
  const EvalResult e1 = evaluate(single, *ds, 3), en = evaluate(m, *ds, 3, "", {}, world);
  EXPECT_NEAR(en.loss, e1.loss, 1e-5);
  EXPECT_EQ(en.confusion.size(), 3u);
}

// The README network (the CLI's default) with SyncBatchNorm on real Fashion-MNIST images: 52 samples in global
// batches of 25, so 3 steps, the last of 2 samples (one rank of 3 gets none); the single process on the same data
// is the reference. Skipped without the data set.
TEST(DataParallelMpi, DefaultNetworkOnFashionMnistMatchesSingleProcess) {
  const std::string dir = locnet::testing::fashion_mnist_dir();
  if (!locnet::testing::has_fashion_mnist(dir)) GTEST_SKIP() << "no Fashion-MNIST in " << dir;
  const MnistData data = load_mnist(dir);
  const LabeledData train = locnet::testing::first_samples(data.train, 52);
  const LabeledData test = locnet::testing::first_samples(data.test, 40);
  const char* spec = locnet::testing::kReadmeNetworkSpec;
  const FitOptions o{.epochs = 1, .batch_size = 25, .seed = 2};
  Sequential single = parse_model(spec);
  auto sopt = make_optimizer("Adam(0.002)");
  const FitResult want = fit(single, *sopt, train, &test, o);

  Sequential m = parse_model(spec);
  EXPECT_EQ(dist::convert_sync_batchnorm(m), 3);
  auto opt = make_optimizer("Adam(0.002)");
  FitOptions mine = o;
  mine.collective = dist::world();
  mine.check_replicas = true;
  const FitResult got = fit(m, *opt, train, &test, mine);
  ASSERT_EQ(got.history.size(), 1u);
  EXPECT_NEAR(got.history[0].loss, want.history[0].loss, 1e-4);
  EXPECT_EQ(got.history[0].accuracy, want.history[0].accuracy);
  EXPECT_NEAR(got.history[0].validation->loss, want.history[0].validation->loss, 1e-4);
  expect_same_params(m, single, 1e-3, 1e-4);
}
