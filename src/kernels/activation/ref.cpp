// Reference activation kernels, the spec the others are tested against; the forward formulas are in
// include/locnet/layers/activations.hpp.
// Derivatives (z: input, y = f(z)):
//   relu' = [z > 0]   leaky_relu' = z > 0 ? 1 : 0.2   elu' = z > 0 ? 1 : y + alpha   sigmoid' = y (1 - y)
//   tanh' = 1 - y^2   softplus' = sigmoid(z)   gelu' = Phi(z) + z phi(z)
//   selu' = z > 0 ? scale : y + scale alpha   swish' = s (1 + z (1 - s)), s = sigmoid(z)
//   hard_sigmoid' = 0.2 inside [-2.5, 2.5] (TensorFlow's clip gradient keeps the ends), else 0   exponential' = y
//   softmax: dz = y * (dy - sum(dy * y)) per row
//   relu_keras' = z > threshold ? [z < max_value] : negative_slope   (Keras's backend.relu: x * [x > threshold],
//             clipped to [0, max_value], minus negative_slope * relu(threshold - x); relu6's zero gradient at 6)
// NaN: relu tests z < 0 (forward) and z <= 0 (backward), not z > 0, so that NaN passes (y = NaN; dz = dy, as
// PyTorch's threshold_backward; TensorFlow's ReluGrad gives dy * 0 there). The other formulas give NaN for NaN.
#include <algorithm>
#include <cmath>

#include "kernels/activation/problem.hpp"
#include "locnet/core/parallel.hpp"

namespace locnet::kernels {
namespace {
constexpr double kLeakySlope = 0.2;
constexpr double kSeluAlpha = 1.6732632423543772848170429916717, kSeluScale = 1.0507009873554804934193349852946;
template <class T>
T sigmoid(T z) {
  // Branches keep exp() from overflowing for large |z|.
  return z >= 0 ? T(1) / (T(1) + std::exp(-z)) : std::exp(z) / (T(1) + std::exp(z));
}
}  // namespace

namespace {
// Row r of a softmax starts here; its elements lie p.inner apart.
int64_t row_start(const ActivationProblem& p, int64_t r) { return r / p.inner * p.last * p.inner + r % p.inner; }
}  // namespace

template <class T>
void activation_forward_ref(const ActivationProblem& p, const T* z, T* y) {
  using K = ActivationId;
  if (p.kind == K::softmax) {
    const int64_t s = p.inner;
    parallel_for(0, p.n / p.last, 64, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* zr = z + row_start(p, r);
        T* yr = y + row_start(p, r);
        T mx = zr[0];
        for (int64_t i = 1; i < p.last; ++i) mx = std::max(mx, zr[i * s]);
        T sum = 0;
        for (int64_t i = 0; i < p.last; ++i) sum += yr[i * s] = std::exp(zr[i * s] - mx);
        for (int64_t i = 0; i < p.last; ++i) yr[i * s] /= sum;
      }
    });
    return;
  }
  const T alpha = T(p.alpha), slope = T(p.negative_slope), max_value = T(p.max_value), threshold = T(p.threshold);
  parallel_for(0, p.n, 1 << 14, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      T v = z[i];
      switch (p.kind) {
        case K::linear: y[i] = v; break;
        case K::relu: y[i] = v < 0 ? T(0) : v; break;
        case K::leaky_relu: y[i] = v > 0 ? v : T(kLeakySlope) * v; break;
        case K::elu: y[i] = v > 0 ? v : alpha * std::expm1(v); break;
        case K::sigmoid: y[i] = sigmoid(v); break;
        case K::tanh: y[i] = std::tanh(v); break;
        case K::softplus: y[i] = std::max(v, T(0)) + std::log1p(std::exp(-std::abs(v))); break;
        case K::gelu: y[i] = T(0.5) * v * (T(1) + std::erf(v * T(M_SQRT1_2))); break;
        case K::selu: y[i] = T(kSeluScale) * (v > 0 ? v : T(kSeluAlpha) * std::expm1(v)); break;
        case K::swish: y[i] = v * sigmoid(v); break;
        case K::hard_sigmoid: {
          T u = T(0.2) * v + T(0.5);
          y[i] = u < 0 ? T(0) : u > 1 ? T(1) : u;  // NaN fails both tests
          break;
        }
        case K::exponential: y[i] = std::exp(v); break;
        case K::relu_keras: y[i] = v > threshold ? std::min(v, max_value) : slope * (v - threshold); break;
        case K::softmax: break;
      }
    }
  });
}

template <class T>
void activation_backward_ref(const ActivationProblem& p, const T* z, const T* y, const T* dy, T* dz) {
  using K = ActivationId;
  if (p.kind == K::softmax) {
    const int64_t s = p.inner;
    parallel_for(0, p.n / p.last, 64, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t o = row_start(p, r);
        T dot = 0;
        for (int64_t i = o; i < o + p.last * s; i += s) dot += dy[i] * y[i];
        for (int64_t i = o; i < o + p.last * s; i += s) dz[i] = y[i] * (dy[i] - dot);
      }
    });
    return;
  }
  const T alpha = T(p.alpha), slope = T(p.negative_slope), max_value = T(p.max_value), threshold = T(p.threshold);
  parallel_for(0, p.n, 1 << 14, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      T v = z[i], g = dy[i];
      switch (p.kind) {
        case K::linear: dz[i] = g; break;
        case K::relu: dz[i] = v <= 0 ? T(0) : g; break;
        case K::leaky_relu: dz[i] = v > 0 ? g : T(kLeakySlope) * g; break;
        case K::elu: dz[i] = v > 0 ? g : g * (y[i] + alpha); break;
        case K::sigmoid: dz[i] = g * y[i] * (T(1) - y[i]); break;
        case K::tanh: dz[i] = g * (T(1) - y[i] * y[i]); break;
        case K::softplus: dz[i] = g * sigmoid(v); break;
        case K::gelu: {
          T cdf = T(0.5) * (T(1) + std::erf(v * T(M_SQRT1_2)));
          T pdf = std::exp(T(-0.5) * v * v) * T(0.3989422804014327);
          dz[i] = g * (cdf + v * pdf);
          break;
        }
        case K::selu: dz[i] = v > 0 ? g * T(kSeluScale) : g * (y[i] + T(kSeluScale * kSeluAlpha)); break;
        case K::swish: {
          T s = sigmoid(v);
          dz[i] = g * s * (T(1) + v * (T(1) - s));
          break;
        }
        case K::hard_sigmoid: {
          T u = T(0.2) * v + T(0.5);  // the forward's clip, on the same rounded value
          dz[i] = u < 0 || u > 1 ? T(0) : T(0.2) * g;
          break;
        }
        case K::exponential: dz[i] = g * y[i]; break;
        case K::relu_keras: dz[i] = v > threshold ? (v < max_value ? g : T(0)) : slope * g; break;
        case K::softmax: break;
      }
    }
  });
}

template void activation_forward_ref<float>(const ActivationProblem&, const float*, float*);
template void activation_forward_ref<double>(const ActivationProblem&, const double*, double*);
template void activation_backward_ref<float>(const ActivationProblem&, const float*, const float*, const float*,
                                             float*);
template void activation_backward_ref<double>(const ActivationProblem&, const double*, const double*, const double*,
                                              double*);

namespace {
bool applicable(const ActivationProblem& p, std::string* why) {
  if (p.dtype == DType::f32 || p.dtype == DType::f64) return true;
  *why = "dtype must be f32 or f64";
  return false;
}
void forward(const ActivationProblem& p, const void* z, void* y) {
  visit_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    activation_forward_ref(p, static_cast<const T*>(z), static_cast<T*>(y));
  });
}
void backward(const ActivationProblem& p, const void* z, const void* y, const void* dy, void* dz) {
  visit_float(p.dtype, [&](auto t) {
    using T = decltype(t);
    activation_backward_ref(p, static_cast<const T*>(z), static_cast<const T*>(y), static_cast<const T*>(dy),
                            static_cast<T*>(dz));
  });
}
}  // namespace

extern const ActivationKernel kActivationRef{"ref", applicable, forward, backward};

}  // namespace locnet::kernels
