// PReLU reference (Keras's PReLU; PyTorch's prelu is the case of one alpha per channel or one in all):
//   y = z > 0 ? z : alpha[a] z
//   dz = z > 0 ? dy : alpha[a] dy       (PyTorch's rule at z = 0; Keras's relu-based graph gives 0 there)
//   dalpha[a] += sum over the elements i with alpha_index[i % sample] = a of dy[i] min(z[i], 0)
// dz runs in parallel; the alpha gradient's sums run in one thread, in element order (alphas are shared).
#include <algorithm>

#include "kernels/activation/problem.hpp"
#include "locnet/core/parallel.hpp"

namespace locnet::kernels {

template <class T>
void prelu_forward_ref(const PReluProblem& p, const T* z, const T* alpha, T* y) {
  parallel_for(0, p.n, 1 << 14, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) y[i] = z[i] > 0 ? z[i] : alpha[p.alpha_index[i % p.sample]] * z[i];
  });
}

template <class T>
void prelu_backward_ref(const PReluProblem& p, const T* z, const T* alpha, const T* dy, T* dz, T* dalpha) {
  parallel_for(0, p.n, 1 << 14, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) dz[i] = z[i] > 0 ? dy[i] : alpha[p.alpha_index[i % p.sample]] * dy[i];
  });
  for (int64_t i = 0; i < p.n; ++i) dalpha[p.alpha_index[i % p.sample]] += dy[i] * std::min(z[i], T(0));
}

template void prelu_forward_ref<float>(const PReluProblem&, const float*, const float*, float*);
template void prelu_forward_ref<double>(const PReluProblem&, const double*, const double*, double*);
template void prelu_backward_ref<float>(const PReluProblem&, const float*, const float*, const float*, float*,
                                        float*);
template void prelu_backward_ref<double>(const PReluProblem&, const double*, const double*, const double*,
                                         double*, double*);

}  // namespace locnet::kernels
