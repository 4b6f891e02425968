// A kernel test buffer of n elements with Guard sentinel elements on each side: kernels write data(), the test
// checks guards_intact() (no write outside [0, n)) and compares inner() with the reference.
#pragma once
#include <cstdint>
#include <cstring>

#include "locnet/core/tensor.hpp"

namespace locnet {

template <int64_t Guard>
struct GuardedBuffer {
  static constexpr double kSentinel = -1024.0;  // exact in every dtype
  Tensor t;
  int64_t n;
  GuardedBuffer(int64_t n, DType dt, const Tensor* init = nullptr) : t(Shape{n + 2 * Guard}, dt), n(n) {
    t.fill(kSentinel);
    if (init) std::memcpy(data(), init->raw(), init->nbytes());
  }
  void* data() { return static_cast<char*>(t.raw()) + Guard * dtype_size(t.dtype()); }
  Tensor inner() const {
    Tensor out(Shape{n}, t.dtype());
    std::memcpy(out.raw(), static_cast<const char*>(t.raw()) + Guard * dtype_size(t.dtype()), out.nbytes());
    return out;
  }
  bool guards_intact() const {
    for (int64_t g = 0; g < Guard; ++g)
      if (t.item(g) != kSentinel || t.item(t.numel() - 1 - g) != kSentinel) return false;
    return true;
  }
};

}  // namespace locnet
