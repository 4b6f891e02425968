// The grouped conv2d reference against the ungrouped one run on the block-diagonal kernel (kh, kw, C, F) that is
// zero where channel and filter belong to different groups: y and dx equal, the grouped dW equals the expanded
// dW's blocks, db equal. Both layouts, explicit asymmetric padding, strides with dilation, groups = C, f32 and f64.
// The optimized grouped kernels are compared with this reference in tests/kernels/test_conv2d_kernels.cpp.
#include <gtest/gtest.h>

#include "gradcheck.hpp"
#include "kernels/conv2d/problem.hpp"
#include "kernels/registry.hpp"

using namespace locnet;
using namespace locnet::kernels;
using locnet::testing::random_tensor;

TEST(Conv2dKernels, GroupedRefIsTheBlockDiagonalUngroupedRef) {
  struct G {
    int64_t n, h, w, c, f, groups, kh, kw, sh, sw, dh, dw;
    int64_t pads[2][2];
  };
  const std::vector<G> shapes = {
      {2, 6, 5, 4, 6, 2, 3, 3, 1, 1, 1, 1, {{1, 1}, {1, 1}}}, {1, 7, 7, 6, 4, 2, 3, 2, 2, 2, 1, 2, {{0, 0}, {0, 0}}},
      {2, 5, 4, 3, 6, 3, 2, 2, 1, 1, 2, 1, {{0, 2}, {1, 1}}}, {3, 1, 1, 5, 10, 5, 3, 3, 1, 1, 1, 1, {{1, 1}, {1, 1}}},
      {1, 4, 9, 4, 4, 4, 1, 3, 1, 3, 1, 2, {{2, 0}, {0, 3}}},
  };
  const Conv2dKernel& ref = conv2d_kernels().back();
  for (const G& g : shapes)
    for (bool last : {true, false})
      for (DType dt : {DType::f32, DType::f64}) {
        SCOPED_TRACE(fmt::format("n={} {}x{}x{} f={} groups={} last={} {}", g.n, g.h, g.w, g.c, g.f, g.groups, last,
                                 dtype_name(dt)));
        Conv2dProblem p;
        p.n = g.n, p.h = g.h, p.w = g.w, p.c = g.c, p.f = g.f, p.kh = g.kh, p.kw = g.kw, p.sh = g.sh, p.sw = g.sw;
        p.dilation_h = g.dh, p.dilation_w = g.dw, p.channels_last = last, p.dtype = dt, p.groups = g.groups;
        ASSERT_EQ(p.fit(WindowPadding::explicit_, g.pads), -1);
        Conv2dProblem full = p;
        full.groups = 1;
        const int64_t cg = p.group_channels(), fg = p.group_filters(), taps = p.kh * p.kw;
        const int64_t in = p.n * p.in_sample(), out = p.n * p.positions() * p.f;
        Tensor x = random_tensor(Shape{in}, dt, 1), w = random_tensor(Shape{taps * cg * p.f}, dt, 2),
               b = random_tensor(Shape{p.f}, dt, 3), dy = random_tensor(Shape{out}, dt, 4);
        Tensor wf(Shape{taps * p.c * p.f}, dt);  // block-diagonal
        for (int64_t t = 0; t < taps; ++t)
          for (int64_t ch = 0; ch < p.c; ++ch)
            for (int64_t f = ch / cg * fg; f < (ch / cg + 1) * fg; ++f)
              wf.set((t * p.c + ch) * p.f + f, w.item((t * cg + ch % cg) * p.f + f));
        Tensor y(Shape{out}, dt), yf(Shape{out}, dt);
        ref.forward(p, x.raw(), w.raw(), b.raw(), y.raw());
        ref.forward(full, x.raw(), wf.raw(), b.raw(), yf.raw());
        const double tol = dt == DType::f32 ? 1e-6 : 1e-13;
        EXPECT_LE(max_scaled_error(y, yf, tol, tol), 1.0);
        Tensor dx(Shape{in}, dt), dxf(Shape{in}, dt), dw(w.shape(), dt), dwf(wf.shape(), dt), db(b.shape(), dt),
            dbf(b.shape(), dt);
        ref.backward(p, dy.raw(), x.raw(), w.raw(), dx.raw(), dw.raw(), db.raw());
        ref.backward(full, dy.raw(), x.raw(), wf.raw(), dxf.raw(), dwf.raw(), dbf.raw());
        EXPECT_LE(max_scaled_error(dx, dxf, tol, tol), 1.0);
        EXPECT_LE(max_scaled_error(db, dbf, tol, tol), 1.0);
        Tensor dw_blocks(w.shape(), dt);
        for (int64_t t = 0; t < taps; ++t)
          for (int64_t ch = 0; ch < p.c; ++ch)
            for (int64_t f = ch / cg * fg; f < (ch / cg + 1) * fg; ++f)
              dw_blocks.set((t * cg + ch % cg) * p.f + f, dwf.item((t * p.c + ch) * p.f + f));
        EXPECT_LE(max_scaled_error(dw, dw_blocks, tol, tol), 1.0);
      }
}
