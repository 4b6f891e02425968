// The Dataset interface's in-memory source, subsets and Keras's validation_split (synthetic data).
#include <gtest/gtest.h>

#include "expect_error.hpp"
#include "locnet/train/dataset.hpp"

using namespace locnet;

TEST(Dataset, TensorDatasetGathersRowsAndLabelsInOrder) {
  Tensor x = Tensor::from<double>({0, 1, 2, 3, 4, 5}, Shape{3, 2});
  auto d = tensor_dataset(x, {2, 0, 1});
  EXPECT_EQ(d->size(), 3);
  EXPECT_EQ(d->sample_shape(), (Shape{2}));
  EXPECT_EQ(d->classes(), 3);
  Batch b;
  std::vector<int64_t> idx{2, 0};
  d->gather(idx, b);
  ASSERT_EQ(b.x.dtype(), DType::f32);
  EXPECT_EQ(b.x.shape(), (Shape{2, 2}));
  EXPECT_EQ(b.x.data<float>()[0], 4.0f);
  EXPECT_EQ(b.x.data<float>()[3], 1.0f);
  EXPECT_EQ(b.labels, (std::vector<int64_t>{1, 2}));
}

TEST(Dataset, TargetsAndErrors) {
  auto d = tensor_dataset(Tensor(Shape{4, 3}), Tensor(Shape{4, 2}));
  EXPECT_EQ(d->target_kind(), TargetKind::values);
  EXPECT_EQ(d->target_shape(), (Shape{2}));
  EXPECT_THROW_MSG(tensor_dataset(Tensor(Shape{4, 3}), Tensor(Shape{3, 2})), ShapeError,
                   "data: the number of targets must be 4 (one per sample), got 3");
  EXPECT_THROW_MSG(tensor_dataset(Tensor(Shape{2, 3}), std::vector<int64_t>{0, -1}), ShapeError,
                   "data: label 1 must be >= 0, got -1");
  Batch b;
  std::vector<int64_t> bad{4};
  EXPECT_THROW_MSG(d->gather(bad, b), ShapeError, "data: sample index must be in [0, 4), got 4");
}

TEST(Dataset, ValidationSplitTakesTheLastFractionAsKerasDoes) {
  Tensor x(Shape{10, 1});
  for (int i = 0; i < 10; ++i) x.data<float>()[i] = float(i);
  auto split = validation_split(tensor_dataset(x, std::vector<int64_t>(10, 0)), 0.15);
  EXPECT_EQ(split.train->size(), 8);  // floor(10 * 0.85)
  EXPECT_EQ(split.validation->size(), 2);
  Batch b;
  std::vector<int64_t> first{0};
  split.validation->gather(first, b);
  EXPECT_EQ(b.x.data<float>()[0], 8.0f);
  EXPECT_EQ(split.validation->name(), "arrays[8:10]");
  EXPECT_THROW_MSG(validation_split(split.train, 1.0), ConfigError, "validation_split must be in (0, 1), got 1");
  EXPECT_THROW_MSG(validation_split(tensor_dataset(Tensor(Shape{1, 1}), std::vector<int64_t>{0}), 0.5), ConfigError,
                   "leaves 0 for training and 1 for validation");
}
