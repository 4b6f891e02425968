// Reference 2D convolution, the spec the optimized kernels are tested against: the windowed product of
// src/kernels/window_ref.hpp with one kernel shared by every output position. With iy = oy*sh + tap_r*dilation_h
// - pad_top, ix = ox*sw + tap_c*dilation_w - pad_left and only taps with 0 <= iy < H, 0 <= ix < W:
//   y[n, oy, ox, f] = b[f] + sum_{tap_r, tap_c, ch} x[n, iy, ix, ch] W[tap_r, tap_c, ch, f]
// Grouped, with cg = C/groups and fg = F/groups, the sums over ch and f run only within one group: channel ch
// meets filters [(ch / cg) fg, (ch / cg + 1) fg) through W[tap_r, tap_c, ch % cg, f].
//   dx[n, iy, ix, ch] = sum_{(oy, ox, tap_r, tap_c) reaching (iy, ix)} sum_f dy[n, oy, ox, f] W[tap_r, tap_c, ch, f]
//   dW[tap_r, tap_c, ch, f] += sum_{n, oy, ox} x[n, iy, ix, ch] dy[n, oy, ox, f]
//   db[f] += sum_{n, oy, ox} dy[n, oy, ox, f]
// (indices written channels_last; channels_first only changes where x and y live in memory, not W).
#include "kernels/conv2d/problem.hpp"
#include "kernels/window_ref.hpp"

namespace locnet::kernels {
namespace {

// Keras's (kh, kw, C/groups, F) kernel and (F,) bias, whatever the data format.
struct SharedKernel {
  static int64_t weight_row(const Conv2dProblem& p, int64_t, int64_t tap_r, int64_t tap_c, int64_t ch) {
    return ((tap_r * p.kw + tap_c) * p.group_channels() + ch % p.group_channels()) * p.f;
  }
  static int64_t bias_index(const Conv2dProblem&, int64_t, int64_t f) { return f; }
  static int64_t weights(const Conv2dProblem& p) { return p.kh * p.kw * p.group_channels() * p.f; }
  static int64_t biases(const Conv2dProblem& p) { return p.f; }
  static std::pair<int64_t, int64_t> filter_range(const Conv2dProblem& p, int64_t ch) {
    const int64_t g = ch / p.group_channels();
    return {g * p.group_filters(), (g + 1) * p.group_filters()};
  }
};

template <class T>
using Ref = WindowRef<T, SharedKernel>;

}  // namespace

extern const Conv2dKernel kConv2dRef = typed_kernel<Conv2dKernel, Ref>("ref");

}  // namespace locnet::kernels
