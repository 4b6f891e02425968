// The LocallyConnected test configurations shared by tests/layers/test_locally_connected.cpp and
// tests/layers/test_locally_connected_keras.cpp: a Case (rank, layout, sizes, padding, strides, dilation), every
// mode the tests sweep, a direct loop written from Keras's implementation-1 formula, and a build-and-run helper.
#pragma once
#include <cmath>
#include <vector>

#include "gradcheck.hpp"
#include "locnet/layers/locally_connected.hpp"

namespace lc_cases {
using namespace locnet;
using locnet::testing::random_tensor;

// One test configuration, 1D as rows = 1.
struct Case {
  int rank = 2;
  bool last = true;
  int64_t batch = 2, h = 7, w = 8, c = 3, f = 4;
  int64_t kh = 3, kw = 2, sh = 1, sw = 1, dh = 1, dw = 1;
  std::string padding = "valid";        // valid, same, causal, explicit
  int64_t pad[2][2] = {{0, 0}, {0, 0}};  // explicit (before, after) per axis

  std::string str() const {
    return fmt::format("{}D {} n={} {}x{}x{} f={} k={}x{} s={}x{} d={}x{} {} ({},{})({},{})", rank,
                       last ? "channels_last" : "channels_first", batch, h, w, c, f, kh, kw, sh, sw, dh, dw, padding,
                       pad[0][0], pad[0][1], pad[1][0], pad[1][1]);
  }
  Shape in_shape() const {
    if (rank == 1) return last ? Shape{batch, w, c} : Shape{batch, c, w};
    return last ? Shape{batch, h, w, c} : Shape{batch, c, h, w};
  }
  template <int R>
  LocallyConnectedConfig<R> config() const {
    LocallyConnectedConfig<R> cfg;
    cfg.filters = f;
    cfg.kernel_size = R == 1 ? std::vector<int64_t>{kw} : std::vector<int64_t>{kh, kw};
    cfg.strides = R == 1 ? std::vector<int64_t>{sw} : std::vector<int64_t>{sh, sw};
    cfg.dilation_rate = R == 1 ? std::vector<int64_t>{dw} : std::vector<int64_t>{dh, dw};
    if (padding == "explicit")
      cfg.padding = R == 1 ? Value::tuple({pad[1][0], pad[1][1]})
                           : Value::tuple({Value::tuple({pad[0][0], pad[0][1]}), Value::tuple({pad[1][0], pad[1][1]})});
    else
      cfg.padding = padding;
    if (!last) cfg.data_format = "channels_first";
    cfg.bias_initializer = "random_normal";
    return cfg;
  }
  std::unique_ptr<Layer> make() const {
    if (rank == 1) return std::make_unique<LocallyConnected1D>(config<1>());
    return std::make_unique<LocallyConnected2D>(config<2>());
  }
};

// The padding table of locally_connected.hpp, per axis: zeros before, output length.
inline void axis(const Case& t, int a, int64_t& before, int64_t& out) {
  int64_t n = a == 0 ? t.h : t.w, k = a == 0 ? t.kh : t.kw, s = a == 0 ? t.sh : t.sw, d = a == 0 ? t.dh : t.dw;
  int64_t e = (k - 1) * d + 1;
  if (t.padding == "valid") {
    before = 0;
    out = (n - e) / s + 1;
  } else if (t.padding == "same") {
    before = e / 2;
    out = (n + s - 1) / s;
  } else if (t.padding == "causal") {
    before = e - 1;
    out = (n + s - 1) / s;
  } else {
    before = t.pad[a][0];
    out = (n + t.pad[a][0] + t.pad[a][1] - e) / s + 1;
  }
}

// Keras implementation 1 (docs/locally_connected.md, Layouts) with taps outside the input left out:
//   y[n, r, c, f] = bias_flat[(r*OW + c)*F + f] + sum x[n, iy, ix, ch] W1[r*OW + c, (dy*kw + dx)*C + ch, f]
//   y[n, f, r, c] = bias_flat[f*OH*OW + r*OW + c] + sum x[n, ch, iy, ix] W1[r*OW + c, (ch*kh + dy)*kw + dx, f]
// with iy = r*sh + dy*dh - before_rows, ix = c*sw + dx*dw - before_cols.
inline Tensor keras_formula(const Case& t, const Tensor& x, const Tensor& kernel, const Tensor* bias) {
  int64_t bt, oh, bl, ow;
  axis(t, 0, bt, oh);
  axis(t, 1, bl, ow);
  const int64_t P = oh * ow, K = t.kh * t.kw * t.c, F = t.f, H = t.h, W = t.w, C = t.c;
  std::vector<int64_t> dims{t.batch};
  if (!t.last) dims.push_back(F);
  if (t.rank == 2) dims.push_back(oh);
  dims.push_back(ow);
  if (t.last) dims.push_back(F);
  Tensor y(Shape(dims), DType::f64);
  for (int64_t n = 0; n < t.batch; ++n)
    for (int64_t r = 0; r < oh; ++r)
      for (int64_t c = 0; c < ow; ++c)
        for (int64_t f = 0; f < F; ++f) {
          int64_t p = r * ow + c;
          double acc = bias ? bias->item(t.last ? p * F + f : f * P + p) : 0.0;
          for (int64_t dy = 0; dy < t.kh; ++dy)
            for (int64_t dx = 0; dx < t.kw; ++dx)
              for (int64_t ch = 0; ch < C; ++ch) {
                int64_t iy = r * t.sh + dy * t.dh - bt, ix = c * t.sw + dx * t.dw - bl;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                int64_t xi = t.last ? ((n * H + iy) * W + ix) * C + ch : ((n * C + ch) * H + iy) * W + ix;
                int64_t q = t.last ? (dy * t.kw + dx) * C + ch : (ch * t.kh + dy) * t.kw + dx;
                acc += x.item(xi) * kernel.item((p * K + q) * F + f);
              }
          y.set(t.last ? ((n * oh + r) * ow + c) * F + f : ((n * F + f) * oh + r) * ow + c, acc);
        }
  return y;
}

// Every padding mode, strides 1-3 and dilation 1-2 on each axis, both formats, 1D and 2D.
inline std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (int rank : {1, 2})
    for (bool last : {true, false})
      for (const char* pad : {"valid", "same", "causal", "explicit"})
        for (int64_t s : {1, 2, 3})
          for (int64_t d : {1, 2}) {
            if (rank == 2 && std::string(pad) == "causal") continue;
            Case t;
            t.rank = rank;
            t.last = last;
            t.padding = pad;
            t.sw = s;
            t.dw = d;
            if (rank == 2) {
              t.sh = 4 - s;
              t.dh = 3 - d;
              t.pad[0][0] = 1;
              t.pad[0][1] = 2;
            } else {
              t.h = 1;
              t.kh = 1;
              t.kw = 3;
            }
            t.pad[1][0] = 2;
            t.pad[1][1] = 0;
            out.push_back(t);
          }
  return out;
}

inline Tensor run(Layer& l, const Tensor& x) {
  Rng rng(7);
  l.build(x.shape().with_dim(0, Shape::kUnknown), rng, x.dtype());
  return l.forward(x, Mode::Inference);
}

}  // namespace lc_cases
