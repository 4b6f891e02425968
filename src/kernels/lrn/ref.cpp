// Reference LRN, the specification the optimized kernels are tested against. Computes in double whatever the
// storage type. With W(c) = [c - B, c + A] clipped to [0, C) (across) or the box [p - h, p + h] per spatial axis
// clipped (within):
//   S = sum_{j in W} x_j^2,  N = k + (alpha / D) S,  y = x N^-beta
//   dx_i = g_i N_i^-beta - (2 alpha beta / D) x_i sum_{c : i in W(c)} g_c x_c N_c^(-beta-1)
#include <cmath>
#include <vector>

#include "kernels/lrn/problem.hpp"
#include "locnet/core/parallel.hpp"

namespace locnet::kernels {
namespace {

template <class T>
double load(const T* p, int64_t i) {
  if constexpr (std::is_same_v<T, bf16> || std::is_same_v<T, f16>)
    return to_float(p[i]);
  else
    return double(p[i]);
}
template <class T>
void store(T* p, int64_t i, double v) {
  if constexpr (std::is_same_v<T, bf16>)
    p[i] = to_bf16(float(v));
  else if constexpr (std::is_same_v<T, f16>)
    p[i] = to_f16(float(v));
  else
    p[i] = T(v);
}

// Element offset of (batch b, channel ch, flat spatial s).
int64_t offset(const LrnProblem& p, int64_t b, int64_t ch, int64_t s) {
  int64_t S = p.spatial();
  return p.channels_last ? (b * S + s) * p.c + ch : (b * p.c + ch) * S + s;
}

// Calls f(flat spatial index) for every position of the box around s (within-channel window).
template <class F>
void for_box(const LrnProblem& p, int64_t s, F&& f) {
  int64_t pos[3], lo[3], hi[3];
  int64_t rem = s;
  for (int d = 2; d >= 0; --d) {
    pos[d] = rem % p.sp[d];
    rem /= p.sp[d];
  }
  for (int d = 0; d < 3; ++d) {
    int64_t h = d >= 3 - p.nsp ? p.half : 0;
    lo[d] = std::max<int64_t>(0, pos[d] - h);
    hi[d] = std::min<int64_t>(p.sp[d] - 1, pos[d] + h);
  }
  for (int64_t a = lo[0]; a <= hi[0]; ++a)
    for (int64_t b = lo[1]; b <= hi[1]; ++b)
      for (int64_t c = lo[2]; c <= hi[2]; ++c) f((a * p.sp[1] + b) * p.sp[2] + c);
}

template <class T>
double scale_n(const LrnProblem& p, const T* x, int64_t b, int64_t ch, int64_t s) {
  double sum = 0;
  if (p.within) {
    for_box(p, s, [&](int64_t q) {
      double v = load(x, offset(p, b, ch, q));
      sum += v * v;
    });
  } else {
    for (int64_t j = std::max<int64_t>(0, ch - p.behind); j <= std::min(p.c - 1, ch + p.ahead); ++j) {
      double v = load(x, offset(p, b, j, s));
      sum += v * v;
    }
  }
  return p.k + p.alpha / p.divisor * sum;
}

template <class T>
void forward_t(const LrnProblem& p, const void* xv, void* yv) {
  auto x = static_cast<const T*>(xv);
  auto y = static_cast<T*>(yv);
  int64_t S = p.spatial();
  parallel_for(0, p.n * S, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t bs = lo; bs < hi; ++bs) {
      int64_t b = bs / S, s = bs % S;
      for (int64_t ch = 0; ch < p.c; ++ch) {
        int64_t o = offset(p, b, ch, s);
        store(y, o, load(x, o) * std::pow(scale_n(p, x, b, ch, s), -p.beta));
      }
    }
  });
}

template <class T>
void backward_t(const LrnProblem& p, const void* xv, const void* dyv, void* dxv) {
  auto x = static_cast<const T*>(xv);
  auto g = static_cast<const T*>(dyv);
  auto dx = static_cast<T*>(dxv);
  int64_t S = p.spatial();
  double coef = 2 * p.alpha * p.beta / p.divisor;
  // t = g x N^(-beta-1) for every element, then the transposed-window sums.
  std::vector<double> t(size_t(p.n * p.c * S)), nb(t.size());
  parallel_for(0, p.n * S, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t bs = lo; bs < hi; ++bs) {
      int64_t b = bs / S, s = bs % S;
      for (int64_t ch = 0; ch < p.c; ++ch) {
        int64_t o = offset(p, b, ch, s);
        double n = scale_n(p, x, b, ch, s);
        nb[size_t(o)] = std::pow(n, -p.beta);
        t[size_t(o)] = load(g, o) * load(x, o) * nb[size_t(o)] / n;
      }
    }
  });
  parallel_for(0, p.n * S, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t bs = lo; bs < hi; ++bs) {
      int64_t b = bs / S, s = bs % S;
      for (int64_t i = 0; i < p.c; ++i) {
        double sum = 0;
        if (p.within) {  // the box is symmetric, so it is its own transpose
          for_box(p, s, [&](int64_t q) { sum += t[size_t(offset(p, b, i, q))]; });
        } else {
          for (int64_t ch = std::max<int64_t>(0, i - p.ahead); ch <= std::min(p.c - 1, i + p.behind); ++ch)
            sum += t[size_t(offset(p, b, ch, s))];
        }
        int64_t o = offset(p, b, i, s);
        store(dx, o, load(g, o) * nb[size_t(o)] - coef * load(x, o) * sum);
      }
    }
  });
}

bool applicable(const LrnProblem&, std::string*) { return true; }
void forward(const LrnProblem& p, const void* x, void* y) {
  visit_dtype(p.dtype, [&](auto t) { forward_t<decltype(t)>(p, x, y); });
}
void backward(const LrnProblem& p, const void* x, const void* dy, void* dx) {
  visit_dtype(p.dtype, [&](auto t) { backward_t<decltype(t)>(p, x, dy, dx); });
}

}  // namespace

extern const LrnKernel kLrnRef{"ref", applicable, forward, backward};

}  // namespace locnet::kernels
