// Every optimized activation kernel (today the relu loops, src/kernels/activation/relu.cpp) against the reference
// (src/kernels/activation/ref.cpp), bit for bit, for every activation it applies to, f32 and f64, at lengths
// around the vector lengths (0, 1, lanes - 1, lanes, lanes + 1 for 2 to 16 lanes, and long), with NaNs, signed
// zeros and infinities among the inputs and guard elements past n. Also: the layers' ActivationKind maps to the
// kernels' ActivationId of the same name.
#include <gtest/gtest.h>

#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/activation/problem.hpp"
#include "kernels/harness.hpp"
#include "locnet/layers/activations.hpp"

using namespace locnet;
using namespace locnet::kernels;

namespace {

using Sweep = locnet::testing::KernelSweep<ActivationKernel>;

template <class T>
void compare_with_reference(Sweep& sweep) {
  for (size_t id = 0; id < kActivationNames.size(); ++id)
    for (int64_t n : {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100003}) {
      const ActivationProblem p{ActivationId(id), n, n > 0 ? n : 1, dtype_v<T>};
      SCOPED_TRACE(::testing::Message() << kActivationNames[id] << " n=" << n);
      sweep.compare(p, [&](const ActivationKernel& k, const ActivationKernel& ref) {
        std::mt19937 rng{unsigned(n)};
        std::normal_distribution<T> nd(0, 3);
        const T specials[] = {std::numeric_limits<T>::quiet_NaN(), T(0), -T(0), std::numeric_limits<T>::infinity(),
                              -std::numeric_limits<T>::infinity()};
        const size_t size = size_t(n) + 5;
        std::vector<T> z(size), dy(size);
        for (size_t i = 0; i < size; ++i) {
          z[i] = i % 7 == 3 ? specials[i % 5] : nd(rng);
          dy[i] = nd(rng);
        }
        std::vector<T> y1(size, T(-7)), y2 = y1, dz1 = y1, dz2 = y1;
        k.forward(p, z.data(), y1.data());
        ref.forward(p, z.data(), y2.data());
        EXPECT_EQ(std::memcmp(y1.data(), y2.data(), size * sizeof(T)), 0);
        k.backward(p, z.data(), y2.data(), dy.data(), dz1.data());
        ref.backward(p, z.data(), y2.data(), dy.data(), dz2.data());
        EXPECT_EQ(std::memcmp(dz1.data(), dz2.data(), size * sizeof(T)), 0);
      });
    }
}

}  // namespace

TEST(ActivationKernels, OptimizedMatchReferenceBitForBit) {
  ASSERT_EQ(std::string(activation_kernels().back().name), "ref");
  Sweep sweep(activation_kernels(), {"relu"});
  compare_with_reference<float>(sweep);
  compare_with_reference<double>(sweep);
  EXPECT_GE(sweep.optimized(), 2 * 16);  // relu, every length, both dtypes
}

TEST(ActivationKernels, LayerKindsMapToKernelIdsByName) {
  for (size_t id = 0; id < kActivationNames.size(); ++id) {
    const ActivationFn fn = ActivationFn::by_name(kActivationNames[id]);
    EXPECT_EQ(size_t(fn.kind), id) << kActivationNames[id];
    EXPECT_EQ(fn.name(), kActivationNames[id]);
  }
  EXPECT_EQ(activation_names().size(), kActivationNames.size());
  using K = ActivationKind;  // the public enum, in the names' order
  const K kinds[] = {K::linear, K::relu,  K::leaky_relu, K::elu,   K::sigmoid,      K::tanh,       K::softmax,
                     K::softplus, K::gelu, K::selu,      K::swish, K::hard_sigmoid, K::exponential};
  ASSERT_EQ(std::size(kinds), kActivationNames.size());
  for (size_t id = 0; id < kActivationNames.size(); ++id)
    EXPECT_EQ(ActivationFn::by_name(kActivationNames[id]).kind, kinds[id]) << kActivationNames[id];
}
