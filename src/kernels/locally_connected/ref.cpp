// Reference locally connected kernel, the spec the optimized ones are tested against. Direct loops, double
// accumulation whatever T is. With p = oy*OW + ox, iy = oy*sh + dy*dh - pt, ix = ox*sw + dx*dw - pl and only
// the taps with 0 <= iy < H, 0 <= ix < W:
//   y[n, o(p, f)] = b[o(p, f)] + sum_{dy, dx, ch} x[n, i(iy, ix, ch)] W[p, q(dy, dx, ch), f]
//   dx[n, i] = sum_{(p, dy, dx) reaching i} sum_f dy[n, o(p, f)] W[p, q, f]
//   dW[p, q, f] += sum_n x[n, i] dy[n, o(p, f)]          db[o] += sum_n dy[n, o]
// channels_last:  o(p, f) = p*F + f,  q = (dy*kw + dx)*C + ch,  i = (iy*W + ix)*C + ch
// channels_first: o(p, f) = f*P + p,  q = (ch*kh + dy)*kw + dx,  i = (ch*H + iy)*W + ix
// (o is the output's own memory order: Keras adds its (OH, OW, F) bias buffer flat, whatever the format.)
#include <vector>

#include "kernels/locally_connected/problem.hpp"

namespace locnet::kernels {
namespace {

struct Index {
  const LcProblem& p;
  int64_t out(int64_t pos, int64_t f) const { return p.channels_last ? pos * p.f + f : f * p.positions() + pos; }
  int64_t patch(int64_t dy, int64_t dx, int64_t ch) const {
    return p.channels_last ? (dy * p.kw + dx) * p.c + ch : (ch * p.kh + dy) * p.kw + dx;
  }
  int64_t in(int64_t iy, int64_t ix, int64_t ch) const {
    return p.channels_last ? (iy * p.w + ix) * p.c + ch : (ch * p.h + iy) * p.w + ix;
  }
};

// Calls fn(pos, q, i) for every tap of every position that lands inside the input.
template <class Fn>
void for_each_tap(const LcProblem& p, Fn&& fn) {
  Index ix{p};
  for (int64_t oy = 0; oy < p.oh; ++oy)
    for (int64_t ox = 0; ox < p.ow; ++ox)
      for (int64_t dy = 0; dy < p.kh; ++dy) {
        int64_t iy = oy * p.sh + dy * p.dh - p.pt;
        if (iy < 0 || iy >= p.h) continue;
        for (int64_t dx = 0; dx < p.kw; ++dx) {
          int64_t ixx = ox * p.sw + dx * p.dw - p.pl;
          if (ixx < 0 || ixx >= p.w) continue;
          for (int64_t ch = 0; ch < p.c; ++ch) fn(oy * p.ow + ox, ix.patch(dy, dx, ch), ix.in(iy, ixx, ch));
        }
      }
}

template <class T>
void forward_ref(const LcProblem& p, const void* xv, const void* wv, const void* bv, void* yv) {
  auto x = static_cast<const T*>(xv);
  auto w = static_cast<const T*>(wv);
  auto b = static_cast<const T*>(bv);
  auto y = static_cast<T*>(yv);
  const int64_t P = p.positions(), K = p.patch(), F = p.f, out = P * F, in = p.in_sample();
  Index ix{p};
  std::vector<double> acc(static_cast<size_t>(out));
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t o = 0; o < out; ++o) acc[size_t(o)] = p.has_bias ? double(b[o]) : 0.0;
    for_each_tap(p, [&](int64_t pos, int64_t q, int64_t i) {
      double xv_ = double(x[n * in + i]);
      for (int64_t f = 0; f < F; ++f) acc[size_t(ix.out(pos, f))] += xv_ * double(w[(pos * K + q) * F + f]);
    });
    for (int64_t o = 0; o < out; ++o) y[n * out + o] = T(acc[size_t(o)]);
  }
}

template <class T>
void backward_ref(const LcProblem& p, const void* dyv, const void* xv, const void* wv, void* dxv, void* dwv,
                  void* dbv) {
  auto dy = static_cast<const T*>(dyv);
  auto x = static_cast<const T*>(xv);
  auto w = static_cast<const T*>(wv);
  auto dx = static_cast<T*>(dxv);
  auto dw = static_cast<T*>(dwv);
  auto db = static_cast<T*>(dbv);
  const int64_t P = p.positions(), K = p.patch(), F = p.f, out = P * F, in = p.in_sample();
  Index ix{p};
  std::vector<double> dxa(size_t(p.n * in), 0.0), dwa(size_t(P * K * F), 0.0), dba(size_t(out), 0.0);
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t o = 0; o < out; ++o) dba[size_t(o)] += double(dy[n * out + o]);
    for_each_tap(p, [&](int64_t pos, int64_t q, int64_t i) {
      double xv_ = double(x[n * in + i]), sum = 0;
      for (int64_t f = 0; f < F; ++f) {
        double g = double(dy[n * out + ix.out(pos, f)]);
        sum += g * double(w[(pos * K + q) * F + f]);
        dwa[size_t((pos * K + q) * F + f)] += xv_ * g;
      }
      dxa[size_t(n * in + i)] += sum;
    });
  }
  for (size_t i = 0; i < dxa.size(); ++i) dx[i] = T(dxa[i]);
  for (size_t i = 0; i < dwa.size(); ++i) dw[i] += T(dwa[i]);
  if (p.has_bias)
    for (size_t i = 0; i < dba.size(); ++i) db[i] += T(dba[i]);
}

bool ref_applicable(const LcProblem& p, std::string* why) {
  if (p.dtype == DType::f32 || p.dtype == DType::f64) return true;
  *why = "dtype must be f32 or f64";
  return false;
}

void forward(const LcProblem& p, const void* x, const void* w, const void* b, void* y) {
  visit_float(p.dtype, [&](auto t) { forward_ref<decltype(t)>(p, x, w, b, y); });
}
void backward(const LcProblem& p, const void* dy, const void* x, const void* w, void* dx, void* dw, void* db) {
  visit_float(p.dtype, [&](auto t) { backward_ref<decltype(t)>(p, dy, x, w, dx, dw, db); });
}

}  // namespace

extern const LcKernel kLcRef{"ref", ref_applicable, forward, backward};

}  // namespace locnet::kernels
