// Tensor layout conversions the importers share (ONNX, PyTorch state_dicts): axis permutation, and PyTorch/ONNX
// convolution weights (F, C/groups, k...) -> locnet's Keras kernel layout (k..., C/groups, F).
#pragma once
#include <algorithm>
#include <vector>

#include "locnet/core/dtype.hpp"
#include "locnet/core/tensor.hpp"

namespace locnet::interop {

// y with y.dim(a) = t.dim(perm[a]) and y[i_0, ...] = t[i at perm positions]; a fresh contiguous tensor. Typed
// loops: a 100 MB Gemm weight is transposed in a fraction of a second (bench/bench_import.cpp); a matrix in
// 64 x 64 tiles, so both sides stay in cache.
inline Tensor transpose(const Tensor& t, const std::vector<size_t>& perm) {
  const Tensor src = t.is_contiguous() ? t : t.clone();
  std::vector<int64_t> dims;
  for (size_t p : perm) dims.push_back(src.dim(int64_t(p)));
  Tensor y = Tensor::empty(Shape(dims), src.dtype());
  const auto& st = src.strides();
  visit_dtype(src.dtype(), [&](auto v) {
    using T = decltype(v);
    const T* in = src.data<T>();
    T* out = y.data<T>();
    if (perm == std::vector<size_t>{1, 0}) {
      const int64_t rows = dims[0], cols = dims[1], tile = 64;  // out (rows, cols) = in (cols, rows)'
      for (int64_t r0 = 0; r0 < rows; r0 += tile)
        for (int64_t c0 = 0; c0 < cols; c0 += tile)
          for (int64_t r = r0; r < std::min(rows, r0 + tile); ++r)
            for (int64_t c = c0; c < std::min(cols, c0 + tile); ++c) out[r * cols + c] = in[c * rows + r];
      return;
    }
    std::vector<int64_t> idx(perm.size(), 0);  // the output index, row-major; `at` its source offset
    int64_t at = 0;
    for (int64_t o = 0; o < y.numel(); ++o) {
      out[o] = in[at];
      for (size_t a = perm.size(); a-- > 0;) {
        at += st[perm[a]];
        if (++idx[a] < dims[a]) break;
        at -= idx[a] * st[perm[a]];
        idx[a] = 0;
      }
    }
  });
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
