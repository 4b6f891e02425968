#include "locnet/layers/reshape.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

namespace locnet {

void ReshapeConfig::validate() const {
  auto got = detail::to_value(target_shape).repr();
  if (target_shape.empty()) raise<ConfigError>("Reshape: target_shape must be a non-empty tuple, got {}", got);
  for (int64_t d : target_shape)
    if (d == 0 || d < -1) raise<ConfigError>("Reshape: target_shape entries must be > 0 or -1, got {}", got);
  if (std::count(target_shape.begin(), target_shape.end(), -1) > 1)
    raise<ConfigError>("Reshape: target_shape may hold at most one -1, got {}", got);
}

Shape Reshape::output_shape(const Shape& in) const {
  if (in.rank() < 1) raise<ShapeError>("{}: input rank must be >= 1, got shape {}", where(), in.str());
  Shape per_sample = in.without_batch();
  if (!per_sample.known()) raise<ShapeError>("{}: non-batch dimensions must be known, got shape {}", where(), in.str());
  const int64_t total = per_sample.numel();
  const auto misfit = [&] {
    raise<ShapeError>("{}: the input's {} values per sample must fit target_shape {}, got shape {}", where(), total,
                      detail::to_value(cfg_.target_shape).repr(), in.str());
  };
  // The product of the given entries, given up once past total (it cannot fit then, and could overflow int64);
  // only an empty input with a -1 to infer still fits then.
  int64_t known = 1;
  for (int64_t d : cfg_.target_shape)
    if (d > 0 && known > 0) known = known > total / d ? -1 : known * d;
  const bool infer = std::count(cfg_.target_shape.begin(), cfg_.target_shape.end(), -1) == 1;
  if (known < 0 && !(total == 0 && infer)) misfit();
  std::vector<int64_t> out{in[0]};
  for (int64_t d : cfg_.target_shape) out.push_back(d > 0 ? d : (known > 0 ? total / known : 0));
  Shape result(out);
  if (result.without_batch().numel() != total) misfit();
  return result;
}

Tensor MoveLayer::forward(const Tensor& x, Mode mode) {
  check_input(x);
  if (mode == Mode::Training) last_in_ = x.shape();
  return move(x);
}

Tensor MoveLayer::backward(const Tensor& dy) {
  if (!last_in_.rank()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, output_shape(last_in_));
  return move_back(dy, last_in_);
}

Tensor ReshapeBase::move(const Tensor& x) const { return x.reshape(output_shape(x.shape())).clone(); }
Tensor ReshapeBase::move_back(const Tensor& dy, const Shape& in) const { return dy.reshape(in).clone(); }

Shape Flatten::output_shape(const Shape& in) const {
  if (in.rank() < 2) raise<ShapeError>("{}: input rank must be >= 2, got shape {}", where(), in.str());
  int64_t rest = 1;
  for (size_t i = 1; i < in.rank(); ++i) {
    if (in[i] < 0) raise<ShapeError>("{}: non-batch dimensions must be known, got shape {}", where(), in.str());
    rest = Shape({rest, in[i]}).numel();
  }
  return Shape({in[0], rest});
}

void PermuteConfig::validate() const {
  std::vector<int64_t> sorted = dims, want(dims.size());
  std::sort(sorted.begin(), sorted.end());
  std::iota(want.begin(), want.end(), int64_t(1));
  if (dims.empty() || sorted != want)
    raise<ConfigError>("Permute: dims must be a permutation of 1..{} (the 1-based non-batch axes), got {}",
                       std::max<size_t>(dims.size(), 1), detail::to_value(dims).repr());
}

Shape Permute::output_shape(const Shape& in) const {
  if (in.rank() != cfg_.dims.size() + 1)
    raise<ShapeError>("{}: input rank must be {} (the batch and len(dims) axes), got shape {}", where(),
                      cfg_.dims.size() + 1, in.str());
  Shape out = in;
  for (size_t j = 0; j < cfg_.dims.size(); ++j) out = out.with_dim(j + 1, in[size_t(cfg_.dims[j])]);
  return out;
}

namespace {

// y = x with its axes reordered: output axis j is input axis perm[j] (0-based, the batch included), that is
// y[i_perm[0], ..., i_perm[k-1]] = x[i_0, ..., i_{k-1}]. An odometer over y's indices walks x's offset.
template <class T>
void permute_ref(const T* x, T* y, const Shape& in, const std::vector<size_t>& perm) {
  const size_t k = perm.size();
  std::vector<int64_t> in_stride(k, 1), out_dims(k), stride(k), idx(k, 0);
  for (size_t a = k - 1; a > 0; --a) in_stride[a - 1] = in_stride[a] * in[a];
  for (size_t j = 0; j < k; ++j) {
    out_dims[j] = in[perm[j]];
    stride[j] = in_stride[perm[j]];
  }
  int64_t src = 0;
  for (int64_t i = 0, total = in.numel(); i < total; ++i) {
    y[i] = x[src];
    for (size_t j = k; j-- > 0;) {
      if (++idx[j] < out_dims[j]) {
        src += stride[j];
        break;
      }
      src -= stride[j] * (out_dims[j] - 1);
      idx[j] = 0;
    }
  }
}

Tensor permuted(const Tensor& x, const Shape& out, const std::vector<size_t>& perm) {
  Tensor y = Tensor::empty(out, x.dtype());
  visit_dtype(x.dtype(), [&](auto t) {
    using T = decltype(t);
    permute_ref<T>(x.data<T>(), y.data<T>(), x.shape(), perm);
  });
  return y;
}

}  // namespace

Tensor Permute::move(const Tensor& x) const {
  std::vector<size_t> perm{0};
  for (int64_t d : cfg_.dims) perm.push_back(size_t(d));
  return permuted(x, output_shape(x.shape()), perm);
}

Tensor Permute::move_back(const Tensor& dy, const Shape& in) const {
  std::vector<size_t> inverse(cfg_.dims.size() + 1, 0);
  for (size_t j = 0; j < cfg_.dims.size(); ++j) inverse[size_t(cfg_.dims[j])] = j + 1;
  return permuted(dy, in, inverse);
}

void RepeatVectorConfig::validate() const {
  if (n < 1) raise<ConfigError>("RepeatVector: n must be an int >= 1, got {}", n);
}

Shape RepeatVector::output_shape(const Shape& in) const {
  if (in.rank() != 2) raise<ShapeError>("{}: input rank must be 2 (N, features), got shape {}", where(), in.str());
  if (in[1] > 0 && cfg_.n > std::numeric_limits<int64_t>::max() / in[1])
    raise<ShapeError>("{}: n * features ({} * {}) must fit in int64, got shape {}", where(), cfg_.n, in[1], in.str());
  return Shape({in[0], cfg_.n, in[1]});
}

// y[b, r, f] = x[b, f] for r < n; backward dx[b, f] = sum_r dy[b, r, f].
Tensor RepeatVector::move(const Tensor& x) const {
  const int64_t batch = x.shape()[0], f = x.shape()[1];
  Tensor y = Tensor::empty(output_shape(x.shape()), dtype());
  visit_float(dtype(), [&](auto t) {
    using T = decltype(t);
    const T* xs = x.data<T>();
    T* ys = y.data<T>();
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t r = 0; r < cfg_.n; ++r) std::copy(xs + b * f, xs + (b + 1) * f, ys + (b * cfg_.n + r) * f);
  });
  return y;
}

Tensor RepeatVector::move_back(const Tensor& dy, const Shape& in) const {
  const int64_t batch = in[0], f = in[1];
  Tensor dx = Tensor::empty(in, dtype());
  visit_float(dtype(), [&](auto t) {
    using T = decltype(t);
    const T* g = dy.data<T>();
    T* d = dx.data<T>();
    std::fill(d, d + batch * f, T(0));
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t r = 0; r < cfg_.n; ++r)
        for (int64_t i = 0; i < f; ++i) d[b * f + i] += g[(b * cfg_.n + r) * f + i];
  });
  return dx;
}

}  // namespace locnet
