// Reference Batch Normalization, the specification the optimized kernels are tested against. Computes in double
// whatever the storage type (f32, f64). Per channel c over its m = n * S elements:
//   statistics (two-pass):  mean = (1/m) sum x,   var = (1/m) sum (x - mean)^2      (biased, long double)
//   normalize:              z = gamma (x - mean) invstd + beta,  invstd = 1/sqrt(var + eps),  y = act(z)
//   backward (g = dy * act'(z), act' = [z > 0] for relu, else 1; at a NaN z, g = dy):
//     dbeta  = sum g,   dgamma = invstd sum g (x - mean)
//     training (statistics from x):  dx = gamma invstd (g - dbeta/m - (x - mean) invstd dgamma/m)
//     inference (statistics given):  dx = gamma invstd g
#include <cmath>
#include <vector>

#include "kernels/batch_norm/problem.hpp"
#include "locnet/core/parallel.hpp"

namespace locnet::kernels {
namespace {

// Calls f(offset) for every element of channel ch.
template <class F>
void for_channel(const BatchNormProblem& p, int64_t ch, F&& f) {
  for (int64_t b = 0; b < p.n; ++b)
    for (int64_t s = 0; s < p.s; ++s) f(p.channels_last ? (b * p.s + s) * p.c + ch : (b * p.c + ch) * p.s + s);
}

double act(const BatchNormProblem& p, double z) { return p.relu ? std::max(z, 0.0) : z; }  // max(NaN, 0) = NaN

template <class T>
void normalize(const BatchNormProblem& p, const T* x, const double* mean, const double* invstd, const double* gamma,
               const double* beta, T* y) {
  parallel_for(0, p.c, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t ch = lo; ch < hi; ++ch)
      for_channel(p, ch,
                  [&](int64_t o) { y[o] = T(act(p, gamma[ch] * (double(x[o]) - mean[ch]) * invstd[ch] + beta[ch])); });
  });
}

template <class T>
void forward_training_t(const BatchNormProblem& p, const void* xv, const double* gamma, const double* beta, double eps,
                        void* yv, double* mean, double* var) {
  auto x = static_cast<const T*>(xv);
  const double m = double(p.count());
  std::vector<double> invstd(size_t(p.c));
  parallel_for(0, p.c, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t ch = lo; ch < hi; ++ch) {
      // Two-pass in long double; the second pass also corrects the mean by mean(x - mu) (Chan, Golub, LeVeque).
      long double sum = 0, d1 = 0, d2 = 0;
      for_channel(p, ch, [&](int64_t o) { sum += x[o]; });
      const long double mu = sum / m;
      for_channel(p, ch, [&](int64_t o) {
        d1 += x[o] - mu;
        d2 += (x[o] - mu) * (x[o] - mu);
      });
      mean[ch] = double(mu + d1 / m);
      var[ch] = double(d2 / m - (d1 / m) * (d1 / m));
      invstd[size_t(ch)] = 1 / std::sqrt(var[ch] + eps);
    }
  });
  normalize(p, x, mean, invstd.data(), gamma, beta, static_cast<T*>(yv));
}

template <class T>
void forward_inference_t(const BatchNormProblem& p, const void* x, const double* mean, const double* invstd,
                         const double* gamma, const double* beta, void* y) {
  normalize(p, static_cast<const T*>(x), mean, invstd, gamma, beta, static_cast<T*>(y));
}

template <class T>
void backward_t(const BatchNormProblem& p, const void* xv, const void* dyv, const double* mean, const double* invstd,
                const double* gamma, const double* beta, bool batch_stats, void* dxv, double* dgamma, double* dbeta) {
  auto x = static_cast<const T*>(xv);
  auto dy = static_cast<const T*>(dyv);
  auto dx = static_cast<T*>(dxv);
  const double m = double(p.count());
  parallel_for(0, p.c, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t ch = lo; ch < hi; ++ch) {
      auto g = [&](int64_t o) {
        double z = gamma[ch] * (double(x[o]) - mean[ch]) * invstd[ch] + beta[ch];
        return p.relu && z <= 0 ? 0.0 : double(dy[o]);  // NaN z passes dy, as PyTorch's relu backward
      };
      double sum_g = 0, sum_gx = 0;
      for_channel(p, ch, [&](int64_t o) {
        sum_g += g(o);
        sum_gx += g(o) * (double(x[o]) - mean[ch]);
      });
      dbeta[ch] = sum_g;
      dgamma[ch] = invstd[ch] * sum_gx;
      double k = gamma[ch] * invstd[ch];
      for_channel(p, ch, [&](int64_t o) {
        double v = g(o);
        if (batch_stats) v -= sum_g / m + (double(x[o]) - mean[ch]) * invstd[ch] * dgamma[ch] / m;
        dx[o] = T(k * v);
      });
    }
  });
}

void forward_training(const BatchNormProblem& p, const void* x, const double* gamma, const double* beta, double eps,
                      void* y, double* mean, double* var) {
  visit_float(p.dtype, [&](auto t) { forward_training_t<decltype(t)>(p, x, gamma, beta, eps, y, mean, var); });
}
void forward_inference(const BatchNormProblem& p, const void* x, const double* mean, const double* invstd,
                       const double* gamma, const double* beta, void* y) {
  visit_float(p.dtype, [&](auto t) { forward_inference_t<decltype(t)>(p, x, mean, invstd, gamma, beta, y); });
}
void backward(const BatchNormProblem& p, const void* x, const void* dy, const double* mean, const double* invstd,
              const double* gamma, const double* beta, bool batch_stats, void* dx, double* dgamma, double* dbeta) {
  visit_float(p.dtype, [&](auto t) {
    backward_t<decltype(t)>(p, x, dy, mean, invstd, gamma, beta, batch_stats, dx, dgamma, dbeta);
  });
}

}  // namespace

extern const BatchNormKernel kBatchNormRef{"ref", f32_or_f64, forward_training, forward_inference, backward};

}  // namespace locnet::kernels
