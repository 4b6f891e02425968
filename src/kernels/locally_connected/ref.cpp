// Reference locally connected kernel, the spec the optimized ones are tested against: the windowed product of
// src/kernels/window_ref.hpp with one kernel per output position. With p = oy*OW + ox,
// iy = oy*sh + tap_r*dilation_h - pad_top, ix = ox*sw + tap_c*dilation_w - pad_left and only the taps with
// 0 <= iy < H, 0 <= ix < W:
//   y[n, o(p, f)] = b[o(p, f)] + sum_{tap_r, tap_c, ch} x[n, i(iy, ix, ch)] W[p, q(tap_r, tap_c, ch), f]
//   dx[n, i] = sum_{(p, tap_r, tap_c) reaching i} sum_f dy[n, o(p, f)] W[p, q, f]
//   dW[p, q, f] += sum_n x[n, i] dy[n, o(p, f)]          db[o] += sum_n dy[n, o]
// channels_last:  o(p, f) = p*F + f,  q = (tap_r*kw + tap_c)*C + ch,  i = (iy*W + ix)*C + ch
// channels_first: o(p, f) = f*P + p,  q = (ch*kh + tap_r)*kw + tap_c,  i = (ch*H + iy)*W + ix
// (o is the output's own memory order: Keras adds its (OH, OW, F) bias buffer flat, whatever the format.)
#include "kernels/locally_connected/problem.hpp"
#include "kernels/window_ref.hpp"

namespace locnet::kernels {
namespace {

// Keras implementation 1's (P, K, F) kernel, K in the data format's order, and the bias in the output's order.
struct KernelPerPosition {
  static int64_t weight_row(const WindowProblem& p, int64_t pos, int64_t tap_r, int64_t tap_c, int64_t ch) {
    const int64_t q = p.channels_last ? (tap_r * p.kw + tap_c) * p.c + ch : (ch * p.kh + tap_r) * p.kw + tap_c;
    return (pos * p.patch() + q) * p.f;
  }
  static int64_t bias_index(const WindowProblem& p, int64_t pos, int64_t f) { return p.out_index(pos, f); }
  static int64_t weights(const WindowProblem& p) { return p.positions() * p.patch() * p.f; }
  static int64_t biases(const WindowProblem& p) { return p.positions() * p.f; }
};

template <class T>
using Ref = WindowRef<T, KernelPerPosition>;

}  // namespace

extern const LcKernel kLcRef = typed_kernel<LcKernel, Ref>("ref");

}  // namespace locnet::kernels
