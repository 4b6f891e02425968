// The reference of a windowed product (src/kernels/window_problem.hpp), the loops the conv2d and
// locally_connected references share. Direct loops, double accumulation whatever T is. Layout says where the
// weights and bias live: weight_row(p, pos, tap_r, tap_c, ch) is the offset of the F weights that tap
// (tap_r, tap_c, ch) of output position pos multiplies, bias_index(p, pos, f) the bias entry of output (pos, f),
// weights(p) / biases(p) their counts. Over the taps (pos, tap) that land inside the input, reading input offset
// i, with o = out_index(pos, f) and row = weight_row(pos, tap):
//   y[n, o] = b[bias_index(pos, f)] + sum_tap x[n, i] W[row + f]
//   dx[n, i] = sum_{(pos, tap) reading i} sum_f dy[n, o] W[row + f]
//   dW[row + f] += sum_n x[n, i] dy[n, o]          db[bias_index(pos, f)] += sum_n dy[n, o]
// A Layout may also give filter_range(p, ch), the filters input channel ch feeds (grouped convolution); all F
// otherwise. The functions take the op's own problem type.
#pragma once
#include <utility>
#include <vector>

#include "kernels/window_problem.hpp"

namespace locnet::kernels {

// Calls fn(pos, tap_r, tap_c, iy, ix) for every tap of every output position that lands inside the input.
template <class Fn>
void for_each_inside_tap(const WindowProblem& p, Fn&& fn) {
  for (int64_t oy = 0; oy < p.oh; ++oy)
    for (int64_t ox = 0; ox < p.ow; ++ox)
      for (int64_t tap_r = 0; tap_r < p.kh; ++tap_r) {
        const int64_t iy = p.in_row(oy, tap_r);
        if (iy < 0 || iy >= p.h) continue;
        for (int64_t tap_c = 0; tap_c < p.kw; ++tap_c) {
          const int64_t ix = p.in_col(ox, tap_c);
          if (ix >= 0 && ix < p.w) fn(oy * p.ow + ox, tap_r, tap_c, iy, ix);
        }
      }
}

// Calls fn(pos, tap_r, tap_c, ch, i) for every channel of every tap of every output position that lands inside the
// input; i is the tap's input offset within a sample.
template <class Fn>
void for_each_tap(const WindowProblem& p, Fn&& fn) {
  for_each_inside_tap(p, [&](int64_t pos, int64_t tap_r, int64_t tap_c, int64_t iy, int64_t ix) {
    for (int64_t ch = 0; ch < p.c; ++ch) fn(pos, tap_r, tap_c, ch, p.in_index(iy, ix, ch));
  });
}

template <class Layout, class Problem>
std::pair<int64_t, int64_t> filter_range(const Problem& p, int64_t ch) {
  if constexpr (requires { Layout::filter_range(p, ch); }) return Layout::filter_range(p, ch);
  else return {0, p.f};
}

template <class T, class Layout>
struct WindowRef {
  template <class Problem>
  static void forward(const Problem& p, const T* x, const T* w, const T* b, T* y) {
    const int64_t F = p.f, out = p.positions() * F, in = p.in_sample();
    std::vector<double> acc(static_cast<size_t>(out));
    for (int64_t n = 0; n < p.n; ++n) {
      for (int64_t pos = 0; pos < p.positions(); ++pos)
        for (int64_t f = 0; f < F; ++f)
          acc[size_t(p.out_index(pos, f))] = p.has_bias ? double(b[Layout::bias_index(p, pos, f)]) : 0.0;
      for_each_tap(p, [&](int64_t pos, int64_t tap_r, int64_t tap_c, int64_t ch, int64_t i) {
        const double xi = double(x[n * in + i]);
        const T* row = w + Layout::weight_row(p, pos, tap_r, tap_c, ch);
        const auto [lo, hi] = filter_range<Layout>(p, ch);
        for (int64_t f = lo; f < hi; ++f) acc[size_t(p.out_index(pos, f))] += xi * double(row[f]);
      });
      for (int64_t o = 0; o < out; ++o) y[n * out + o] = T(acc[size_t(o)]);
    }
  }

  template <class Problem>
  static void backward(const Problem& p, const T* dy, const T* x, const T* w, T* dx, T* dw, T* db) {
    const int64_t F = p.f, out = p.positions() * F, in = p.in_sample();
    std::vector<double> dxa(size_t(p.n * in), 0.0), dwa(size_t(Layout::weights(p)), 0.0),
        dba(size_t(Layout::biases(p)), 0.0);
    for (int64_t n = 0; n < p.n; ++n) {
      for (int64_t pos = 0; pos < p.positions(); ++pos)
        for (int64_t f = 0; f < F; ++f)
          dba[size_t(Layout::bias_index(p, pos, f))] += double(dy[n * out + p.out_index(pos, f)]);
      for_each_tap(p, [&](int64_t pos, int64_t tap_r, int64_t tap_c, int64_t ch, int64_t i) {
        const int64_t row = Layout::weight_row(p, pos, tap_r, tap_c, ch);
        double xi = double(x[n * in + i]), sum = 0;
        const auto [lo, hi] = filter_range<Layout>(p, ch);
        for (int64_t f = lo; f < hi; ++f) {
          double g = double(dy[n * out + p.out_index(pos, f)]);
          sum += g * double(w[row + f]);
          dwa[size_t(row + f)] += xi * g;
        }
        dxa[size_t(n * in + i)] += sum;
      });
    }
    for (size_t i = 0; i < dxa.size(); ++i) dx[i] = T(dxa[i]);
    for (size_t i = 0; i < dwa.size(); ++i) dw[i] += T(dwa[i]);
    if (p.has_bias)
      for (size_t i = 0; i < dba.size(); ++i) db[i] += T(dba[i]);
  }
};

}  // namespace locnet::kernels
