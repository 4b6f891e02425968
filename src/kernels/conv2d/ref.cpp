// Reference 2D convolution, the spec the optimized kernels are tested against. Direct loops, double accumulation
// whatever T is. With iy = oy*sh + dy*dh - pt, ix = ox*sw + dx*dw - pl and only taps with 0 <= iy < H, 0 <= ix < W:
//   y[n, oy, ox, f] = b[f] + sum_{dy, dx, ch} x[n, iy, ix, ch] W[dy, dx, ch, f]
//   dx[n, iy, ix, ch] = sum_{(oy, ox, dy, dx) reaching (iy, ix)} sum_f dy[n, oy, ox, f] W[dy, dx, ch, f]
//   dW[dy, dx, ch, f] += sum_{n, oy, ox} x[n, iy, ix, ch] dy[n, oy, ox, f]      db[f] += sum_{n, oy, ox} dy[n, oy, ox, f]
// (indices written channels_last; channels_first only changes where x and y live in memory).
#include <vector>

#include "kernels/conv2d/problem.hpp"

namespace locnet::kernels {
namespace {

struct Index {
  const Conv2dProblem& p;
  int64_t in(int64_t iy, int64_t ix, int64_t ch) const {
    return p.channels_last ? (iy * p.w + ix) * p.c + ch : (ch * p.h + iy) * p.w + ix;
  }
  int64_t out(int64_t pos, int64_t f) const { return p.channels_last ? pos * p.f + f : f * p.positions() + pos; }
};

// Calls fn(pos, q, i) for every tap that lands inside the input: output position, kernel row q, input index.
template <class Fn>
void for_each_tap(const Conv2dProblem& p, Fn&& fn) {
  Index ix{p};
  for (int64_t oy = 0; oy < p.oh; ++oy)
    for (int64_t ox = 0; ox < p.ow; ++ox)
      for (int64_t dy = 0; dy < p.kh; ++dy) {
        int64_t iy = oy * p.sh + dy * p.dh - p.pt;
        if (iy < 0 || iy >= p.h) continue;
        for (int64_t dx = 0; dx < p.kw; ++dx) {
          int64_t ixx = ox * p.sw + dx * p.dw - p.pl;
          if (ixx < 0 || ixx >= p.w) continue;
          for (int64_t ch = 0; ch < p.c; ++ch) fn(oy * p.ow + ox, (dy * p.kw + dx) * p.c + ch, ix.in(iy, ixx, ch));
        }
      }
}

template <class T>
void forward_ref(const Conv2dProblem& p, const void* xv, const void* wv, const void* bv, void* yv) {
  auto x = static_cast<const T*>(xv);
  auto w = static_cast<const T*>(wv);
  auto b = static_cast<const T*>(bv);
  auto y = static_cast<T*>(yv);
  const int64_t F = p.f, out = p.positions() * F, in = p.in_sample();
  Index ix{p};
  std::vector<double> acc(static_cast<size_t>(out));
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t pos = 0; pos < p.positions(); ++pos)
      for (int64_t f = 0; f < F; ++f) acc[size_t(ix.out(pos, f))] = p.has_bias ? double(b[f]) : 0.0;
    for_each_tap(p, [&](int64_t pos, int64_t q, int64_t i) {
      double xi = double(x[n * in + i]);
      for (int64_t f = 0; f < F; ++f) acc[size_t(ix.out(pos, f))] += xi * double(w[q * F + f]);
    });
    for (int64_t o = 0; o < out; ++o) y[n * out + o] = T(acc[size_t(o)]);
  }
}

template <class T>
void backward_ref(const Conv2dProblem& p, const void* dyv, const void* xv, const void* wv, void* dxv, void* dwv,
                  void* dbv) {
  auto dy = static_cast<const T*>(dyv);
  auto x = static_cast<const T*>(xv);
  auto w = static_cast<const T*>(wv);
  auto dx = static_cast<T*>(dxv);
  auto dw = static_cast<T*>(dwv);
  auto db = static_cast<T*>(dbv);
  const int64_t F = p.f, out = p.positions() * F, in = p.in_sample();
  Index ix{p};
  std::vector<double> dxa(size_t(p.n * in), 0.0), dwa(size_t(p.patch() * F), 0.0), dba(size_t(F), 0.0);
  for (int64_t n = 0; n < p.n; ++n) {
    for (int64_t pos = 0; pos < p.positions(); ++pos)
      for (int64_t f = 0; f < F; ++f) dba[size_t(f)] += double(dy[n * out + ix.out(pos, f)]);
    for_each_tap(p, [&](int64_t pos, int64_t q, int64_t i) {
      double xi = double(x[n * in + i]), sum = 0;
      for (int64_t f = 0; f < F; ++f) {
        double g = double(dy[n * out + ix.out(pos, f)]);
        sum += g * double(w[q * F + f]);
        dwa[size_t(q * F + f)] += xi * g;
      }
      dxa[size_t(n * in + i)] += sum;
    });
  }
  for (size_t i = 0; i < dxa.size(); ++i) dx[i] = T(dxa[i]);
  for (size_t i = 0; i < dwa.size(); ++i) dw[i] += T(dwa[i]);
  if (p.has_bias)
    for (size_t i = 0; i < dba.size(); ++i) db[i] += T(dba[i]);
}

bool ref_applicable(const Conv2dProblem& p, std::string* why) {
  if (p.dtype == DType::f32 || p.dtype == DType::f64) return true;
  *why = "dtype must be f32 or f64";
  return false;
}

void forward(const Conv2dProblem& p, const void* x, const void* w, const void* b, void* y) {
  visit_float(p.dtype, [&](auto t) { forward_ref<decltype(t)>(p, x, w, b, y); });
}
void backward(const Conv2dProblem& p, const void* dy, const void* x, const void* w, void* dx, void* dw, void* db) {
  visit_float(p.dtype, [&](auto t) { backward_ref<decltype(t)>(p, dy, x, w, dx, dw, db); });
}

}  // namespace

extern const Conv2dKernel kConv2dRef{"ref", ref_applicable, forward, backward};

}  // namespace locnet::kernels
