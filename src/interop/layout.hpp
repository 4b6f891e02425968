// Tensor layout conversions the importers share (ONNX, PyTorch state_dicts): axis permutation, and PyTorch/ONNX
// convolution weights (F, C/groups, k...) -> locnet's Keras kernel layout (k..., C/groups, F).
#pragma once
#include <vector>

#include "locnet/core/tensor.hpp"

namespace locnet::interop {

// y with y.dim(a) = t.dim(perm[a]) and y[i_0, ...] = t[i at perm positions]; a fresh contiguous tensor.
inline Tensor transpose(const Tensor& t, const std::vector<size_t>& perm) {
  std::vector<int64_t> dims;
  for (size_t p : perm) dims.push_back(t.dim(int64_t(p)));
  Tensor y(Shape(dims), t.dtype());
  std::vector<int64_t> idx(perm.size(), 0);  // the output index, row-major
  const auto& st = t.strides();
  for (int64_t o = 0; o < y.numel(); ++o) {
    int64_t src = 0;
    for (size_t a = 0; a < perm.size(); ++a) src += idx[a] * st[perm[a]];
    y.set(o, t.item(src));
    for (size_t a = perm.size(); a-- > 0;) {
      if (++idx[a] < dims[a]) break;
      idx[a] = 0;
    }
  }
  return y;
}

// The axis order taking an OIHW weight of rank r + 2 to (k..., C/groups, F): (2, [3,] 1, 0).
inline std::vector<size_t> oihw_to_kernel_order(size_t r) {
  std::vector<size_t> perm;
  for (size_t i = 0; i < r; ++i) perm.push_back(i + 2);
  perm.insert(perm.end(), {1, 0});
  return perm;
}

}  // namespace locnet::interop
