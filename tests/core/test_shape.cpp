#include "expect_error.hpp"
#include "locnet/core/shape.hpp"
#include "locnet/core/error.hpp"

using namespace locnet;

TEST(Shape, PrintsLikeKeras) {
  EXPECT_EQ(Shape({Shape::kUnknown, 28, 28, 1}).str(), "(None, 28, 28, 1)");
  EXPECT_EQ(Shape({5}).str(), "(5,)");
  EXPECT_EQ(Shape().str(), "()");
  EXPECT_EQ(fmt::format("{}", Shape({2, 3})), "(2, 3)");
}

TEST(Shape, NumelAndOverflow) {
  EXPECT_EQ(Shape({2, 3, 4}).numel(), 24);
  EXPECT_EQ(Shape().numel(), 1);
  EXPECT_EQ(Shape({0, 5}).numel(), 0);
  EXPECT_THROW_MSG(Shape({int64_t(1) << 40, int64_t(1) << 40}).numel(), ShapeError, "fit in int64");
  EXPECT_THROW_MSG(Shape({Shape::kUnknown, 3}).numel(), ShapeError, "must be known");
}

TEST(Shape, BatchHelpersAndNegativeAxes) {
  Shape s{10, 10, 12};
  EXPECT_EQ(s.with_batch(Shape::kUnknown).str(), "(None, 10, 10, 12)");
  EXPECT_EQ(s.with_batch(4).without_batch(), s);
  EXPECT_EQ(s.dim(-1), 12);
  EXPECT_EQ(s.dim(0), 10);
  EXPECT_FALSE(s.with_batch(Shape::kUnknown).known());
  EXPECT_THROW_MSG(s.dim(3), ShapeError, "axis must be in [-3, 3), got 3");
  EXPECT_THROW_MSG(Shape().without_batch(), ShapeError, "batch dimension");
}
