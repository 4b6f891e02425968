// Window2D (include/locnet/core/window.hpp): the output-size arithmetic of every padding rule, checked against
// values worked out by hand and against a brute-force count of window positions.
#include <gtest/gtest.h>

#include "locnet/core/window.hpp"

using namespace locnet;

namespace {

// A window over a 1 x n input along cols (rows stay 1 x 1), kernel k, stride s, dilation d.
Window2D cols(int64_t n, int64_t k, int64_t s, int64_t d) {
  Window2D g;
  g.w = n, g.kw = k, g.sw = s, g.dilation_w = d;
  return g;
}

}  // namespace

TEST(Window2D, EveryPaddingRuleByHand) {
  // n = 10, k = 3, s = 2, d = 2: extent 5.
  Window2D g = cols(10, 3, 2, 2);
  EXPECT_EQ(g.extent(1), 5);
  EXPECT_EQ(g.fit(WindowPadding::valid), -1);
  EXPECT_EQ(g.ow, 3);  // floor((10 - 5) / 2) + 1
  EXPECT_EQ(g.pad_left, 0);
  EXPECT_EQ(g.fit(WindowPadding::same), -1);
  EXPECT_EQ(g.ow, 5);        // ceil(10 / 2)
  EXPECT_EQ(g.pad_left, 1);  // total = (5 - 1) * 2 + 5 - 10 = 3, floor(3 / 2) before
  EXPECT_EQ(g.fit(WindowPadding::centered), -1);
  EXPECT_EQ(g.ow, 5);
  EXPECT_EQ(g.pad_left, 2);  // floor(5 / 2)
  EXPECT_EQ(g.fit(WindowPadding::causal), -1);
  EXPECT_EQ(g.ow, 5);
  EXPECT_EQ(g.pad_left, 4);  // e - 1
  const int64_t pads[2][2] = {{0, 0}, {3, 1}};
  EXPECT_EQ(g.fit(WindowPadding::explicit_, pads), -1);
  EXPECT_EQ(g.ow, 5);  // floor((10 + 3 + 1 - 5) / 2) + 1
  EXPECT_EQ(g.pad_left, 3);
  // The rows axis (1 x 1 input, kernel 1) gives one output row without padding under every rule.
  EXPECT_EQ(g.oh, 1);
  EXPECT_EQ(g.pad_top, 0);
}

TEST(Window2D, ReportsTheAxisThatDoesNotFit) {
  Window2D g = cols(4, 3, 1, 2);  // extent 5 > 4
  EXPECT_EQ(g.fit(WindowPadding::valid), 1);
  EXPECT_EQ(g.fit(WindowPadding::same), -1);
  const int64_t pads[2][2] = {{0, 0}, {1, 0}};
  EXPECT_EQ(g.fit(WindowPadding::explicit_, pads), -1);  // padded to 5
  EXPECT_EQ(g.ow, 1);
  Window2D tall;
  tall.h = 2, tall.kh = 3, tall.w = 1, tall.kw = 2;  // both axes too short: rows reported first
  EXPECT_EQ(tall.fit(WindowPadding::valid), 0);
}

// valid / explicit: the output length is the number of window starts whose taps all land in the padded input.
TEST(Window2D, MatchesACountOfWindowPositions) {
  for (int64_t n = 1; n <= 9; ++n)
    for (int64_t k = 1; k <= 4; ++k)
      for (int64_t s = 1; s <= 3; ++s)
        for (int64_t d = 1; d <= 3; ++d)
          for (int64_t before = 0; before <= 2; ++before) {
            const int64_t after = 2 - before, pads[2][2] = {{0, 0}, {before, after}};
            int64_t count = 0;
            for (int64_t start = -before; start + (k - 1) * d < n + after; start += s) ++count;
            Window2D g = cols(n, k, s, d);
            const int axis = g.fit(WindowPadding::explicit_, pads);
            SCOPED_TRACE(::testing::Message() << "n=" << n << " k=" << k << " s=" << s << " d=" << d);
            EXPECT_EQ(axis, count == 0 ? 1 : -1);
            if (count > 0) {
              EXPECT_EQ(g.ow, count);
            }
          }
}

TEST(Window2D, TapsInsideTheInput) {
  Window2D g = cols(6, 3, 2, 2);
  g.pad_left = 2;
  // Output 0 reads cols -2, 0, 2: taps [1, 3). Output 3 reads 4, 6, 8: taps [0, 1).
  int64_t lo, hi;
  g.col_taps(0, lo, hi);
  EXPECT_EQ(lo, 1);
  EXPECT_EQ(hi, 3);
  g.col_taps(3, lo, hi);
  EXPECT_EQ(lo, 0);
  EXPECT_EQ(hi, 1);
  EXPECT_EQ(g.in_col(3, 1), 6);
  EXPECT_EQ(g.in_row(0, 0), 0);
  g.row_taps(0, lo, hi);
  EXPECT_EQ(lo, 0);
  EXPECT_EQ(hi, 1);
}

// ceil_mode (PyTorch, ONNX, Caffe pooling): out = ceil((n + before + after - e) / s) + 1, less one when the last
// window would start at or past n + before; fit() also sets the padding after (pad_right here).
TEST(Window2D, CeilModeAndPaddingAfter) {
  struct C {
    int64_t n, k, s, before, after;
    bool ceil;
    int64_t out;
  };
  const C cases[] = {
      {7, 3, 2, 1, 1, false, 4},  // floor(6 / 2) + 1
      {6, 3, 2, 1, 1, false, 3},  // floor(5 / 2) + 1
      {6, 3, 2, 1, 1, true, 4},   // ceil(5 / 2) + 1; the last window starts at 5 < 6 + 1
      {5, 2, 2, 1, 1, true, 3},   // ceil(5 / 2) + 1 = 4 would start at 6 = 5 + 1 (in the padding after): 3
      {5, 2, 2, 0, 0, true, 3},   // valid: ceil(3 / 2) + 1 = 3, starts at 4 < 5
      {7, 2, 3, 0, 0, true, 3},   // ceil(5 / 3) + 1 = 3, starts at 6 < 7
      {1, 1, 1, 0, 0, true, 1},
      {4, 3, 2, 2, 0, true, 3},  // asymmetric: ceil(3 / 2) + 1 = 3, starts at 4 - 2 = 2 < 4
  };
  for (const C& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.n << " k" << c.k << " s" << c.s << " pads " << c.before << "," << c.after
                                      << " ceil " << c.ceil);
    Window2D g = cols(c.n, c.k, c.s, 1);
    const int64_t pads[2][2] = {{0, 0}, {c.before, c.after}};
    ASSERT_EQ(g.fit(WindowPadding::explicit_, pads, c.ceil), -1);
    EXPECT_EQ(g.ow, c.out);
    EXPECT_EQ(g.pad_left, c.before);
    EXPECT_EQ(g.pad_right, c.after);
  }
  // Against a count: window i (starting at i s - before) is added while window i - 1 ends before the padded input
  // does and window i starts inside the input or the padding before it.
  for (int64_t n = 1; n <= 9; ++n)
    for (int64_t k = 1; k <= 4; ++k)
      for (int64_t s = 1; s <= 4; ++s)
        for (int64_t d = 1; d <= 2; ++d)
          for (int64_t before = 0; before < k; ++before)
            for (int64_t after = 0; after < k; ++after) {
              Window2D g = cols(n, k, s, d);
              const int64_t e = g.extent(1), padded = n + before + after;
              if (padded < e) continue;
              int64_t count = 1;
              while ((count - 1) * s + e < padded && count * s < n + before) ++count;
              const int64_t pads[2][2] = {{0, 0}, {before, after}};
              ASSERT_EQ(g.fit(WindowPadding::explicit_, pads, true), -1);
              EXPECT_EQ(g.ow, count) << n << " k" << k << " s" << s << " d" << d << " " << before << "," << after;
            }
  // The computed rules set the padding after too: TensorFlow SAME, n 5, k 3, s 2: out 3, total 2 = 1 + 1.
  Window2D same = cols(5, 3, 2, 1);
  ASSERT_EQ(same.fit(WindowPadding::same), -1);
  EXPECT_EQ(same.ow, 3);
  EXPECT_EQ(same.pad_left, 1);
  EXPECT_EQ(same.pad_right, 1);
  EXPECT_EQ(same.pad_bottom, 0);  // the 1 x 1 rows axis
}
