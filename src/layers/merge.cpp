#include "locnet/layers/merge.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "locnet/core/dtype.hpp"

namespace locnet {

// ---- MergeLayer

Shape MergeLayer::output_shape(const Shape&) const {
  check_arity(1);  // every merge layer takes 2 or more: the arity message
  raise<ShapeError>("{}: takes its inputs through output_shape_many", where());
}
Tensor MergeLayer::forward(const Tensor&, Mode) {
  check_arity(1);
  raise<ShapeError>("{}: takes its inputs through forward_many", where());
}
Tensor MergeLayer::backward(const Tensor&) {
  raise<ShapeError>("{}: gives one gradient per input: call backward_many, got a one-input backward", where());
}
void MergeLayer::do_build(const Shape& in, Rng&) { (void)output_shape(in); }
void MergeLayer::do_build_many(std::span<const Shape>, Rng&) {
  if (computes()) require_float_dtype();
}

Shape MergeLayer::output_shape_many(std::span<const Shape> in) const {
  check_arity(in.size());
  for (size_t k = 1; k < in.size(); ++k)
    if (in[k].rank() && in[0].rank() && in[k][0] >= 0 && in[0][0] >= 0 && in[k][0] != in[0][0])
      mismatch(in, 0, k, "equal batch sizes");
  return merged_shape(in);
}

void MergeLayer::mismatch(std::span<const Shape> in, size_t a, size_t b, std::string_view rule) const {
  raise<ShapeError>("{}: inputs must have {}, got {} (input {}) and {} (input {})", where(), rule, in[a].str(), a,
                    in[b].str(), b);
}

Tensor MergeLayer::forward_many(std::span<const Tensor> xs, Mode mode) {
  if (!built()) raise<ConfigError>("{}: layer must be built before forward, got an unbuilt layer", where());
  check_arity(xs.size());
  if (xs.size() != input_shapes().size())
    raise<ShapeError>("{}: takes the {} inputs it was built with, got {}", where(), input_shapes().size(), xs.size());
  std::vector<Shape> shapes;
  for (size_t k = 0; k < xs.size(); ++k) {
    if (!xs[k].defined()) raise<ShapeError>("{}: input {} must be a tensor, got an empty tensor", where(), k);
    const Shape& want = input_shapes()[k];
    bool ok = xs[k].rank() == want.rank();
    for (size_t i = 1; ok && i < want.rank(); ++i) ok = want[i] < 0 || want[i] == xs[k].shape()[i];
    if (!ok)
      raise<ShapeError>("{}: input {} shape must be {} (as built), got {}", where(), k, want.str(),
                        xs[k].shape().str());
    if (xs[k].dtype() != dtype())
      raise<ShapeError>("{}: input {} dtype must be {} (as built), got {}", where(), k, dtype_name(dtype()),
                        dtype_name(xs[k].dtype()));
    shapes.push_back(xs[k].shape());
  }
  (void)output_shape_many(shapes);  // equal batch sizes, and shapes that fit together at this batch
  if (mode == Mode::Training) last_shapes_ = shapes;
  return merge(xs, mode == Mode::Training);
}

std::vector<Tensor> MergeLayer::backward_many(const Tensor& dy) {
  if (last_shapes_.empty()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, merged_shape(last_shapes_));
  return unmerge(dy);
}

LayerWork MergeLayer::work(const Shape& in) const {
  std::vector<Shape> shapes = input_shapes();
  double x = 0;
  for (Shape& s : shapes) {
    if (s.rank() && in.rank()) s[0] = in[0];
    x += double(s.numel());
  }
  const double e = double(dtype_size(dtype())), y = double(merged_shape(shapes).numel());
  return {{0, (x + y) * e}, {0, (x + y) * e}};
}

// ---- Concatenate

void ConcatenateConfig::validate() const {
  if (axis == 0) raise<ConfigError>("Concatenate: axis must not be 0 (the batch axis), got 0");
}

size_t Concatenate::axis_index(size_t rank) const {
  if (rank < 2)
    raise<ShapeError>("{}: inputs must have rank >= 2 (a batch axis and one to join along), got rank {}", where(),
                      rank);
  const int64_t r = int64_t(rank), a = cfg_.axis < 0 ? cfg_.axis + r : cfg_.axis;
  if (a < 1 || a >= r)
    raise<ShapeError>("{}: axis must name a non-batch axis of the rank-{} inputs (1 to {} or -{} to -1), got {}",
                      where(), rank, r - 1, r - 1, cfg_.axis);
  return size_t(a);
}

Shape Concatenate::merged_shape(std::span<const Shape> in) const {
  const size_t axis = axis_index(in[0].rank());
  Shape out = in[0];
  const std::string rule = fmt::format("equal shapes except on axis {}", cfg_.axis);
  for (size_t k = 1; k < in.size(); ++k) {
    if (in[k].rank() != out.rank()) mismatch(in, 0, k, rule);
    for (size_t i = 1; i < out.rank(); ++i)
      if (i != axis && in[k][i] != out[i]) mismatch(in, 0, k, rule);
    if (out[0] < 0) out[0] = in[k][0];
    out[axis] = out[axis] < 0 || in[k][axis] < 0 ? Shape::kUnknown : out[axis] + in[k][axis];
  }
  return out;
}

namespace {
// Row-major bytes of a tensor of `shape` seen as (outer, inner): outer = the dimensions before `axis`.
struct Blocks {
  int64_t outer, inner_bytes;
};
Blocks blocks(const Shape& shape, size_t axis, DType dt) {
  int64_t outer = 1, inner = 1;
  for (size_t i = 0; i < shape.rank(); ++i) (i < axis ? outer : inner) *= shape[i];
  return {outer, inner * int64_t(dtype_size(dt))};
}
}  // namespace

// y[o, off_k + j] = x_k[o, j] over (outer, inner) blocks, where off_k sums the inner sizes of the inputs before k.
Tensor Concatenate::merge(std::span<const Tensor> xs, bool) {
  std::vector<Shape> shapes;
  for (const Tensor& x : xs) shapes.push_back(x.shape());
  const size_t axis = axis_index(shapes[0].rank());
  Tensor y = Tensor::empty(merged_shape(shapes), dtype());
  const int64_t row = blocks(y.shape(), axis, dtype()).inner_bytes;
  auto* out = static_cast<char*>(y.raw());
  int64_t offset = 0;
  for (const Tensor& x : xs) {
    const Blocks b = blocks(x.shape(), axis, dtype());
    const auto* in = static_cast<const char*>(x.raw());
    for (int64_t o = 0; o < b.outer; ++o) std::memcpy(out + o * row + offset, in + o * b.inner_bytes, size_t(b.inner_bytes));
    offset += b.inner_bytes;
  }
  return y;
}

// dx_k[o, j] = dy[o, off_k + j].
std::vector<Tensor> Concatenate::unmerge(const Tensor& dy) {
  const size_t axis = axis_index(dy.rank());
  const int64_t row = blocks(dy.shape(), axis, dtype()).inner_bytes;
  const auto* in = static_cast<const char*>(dy.raw());
  std::vector<Tensor> dxs;
  int64_t offset = 0;
  for (const Shape& s : last_shapes()) {
    Tensor dx = Tensor::empty(s, dtype());
    const Blocks b = blocks(s, axis, dtype());
    auto* out = static_cast<char*>(dx.raw());
    for (int64_t o = 0; o < b.outer; ++o) std::memcpy(out + o * b.inner_bytes, in + o * row + offset, size_t(b.inner_bytes));
    offset += b.inner_bytes;
    dxs.push_back(std::move(dx));
  }
  return dxs;
}

// ---- The elementwise merges

Shape ElementwiseMerge::merged_shape(std::span<const Shape> in) const {
  Shape out = in[0];
  for (size_t k = 1; k < in.size(); ++k) {
    if (in[k].rank() != out.rank()) mismatch(in, 0, k, "equal shapes");
    for (size_t i = 1; i < out.rank(); ++i)
      if (in[k][i] != out[i]) mismatch(in, 0, k, "equal shapes");
    if (out.rank() && out[0] < 0) out[0] = in[k][0];
  }
  return out;
}

namespace {

// The reference kernels over n elements of K inputs:
//   add: y = sum_k x_k; subtract: y = x_0 - x_1; multiply: y = prod_k x_k; average: y = sum_k x_k / K;
//   maximum / minimum: y = x_w with w the first k of the largest / smallest x_k (recorded in winner).
template <class T>
void merge_ref(MergeOp op, const std::vector<const T*>& x, T* y, int64_t n, uint32_t* winner) {
  const size_t K = x.size();
  for (int64_t i = 0; i < n; ++i) {
    T acc = x[0][i];
    uint32_t w = 0;
    for (size_t k = 1; k < K; ++k) {
      const T v = x[k][i];
      switch (op) {
        case MergeOp::add:
        case MergeOp::average: acc += v; break;
        case MergeOp::subtract: acc -= v; break;
        case MergeOp::multiply: acc *= v; break;
        case MergeOp::maximum: if (v > acc) acc = v, w = uint32_t(k); break;
        case MergeOp::minimum: if (v < acc) acc = v, w = uint32_t(k); break;
      }
    }
    y[i] = op == MergeOp::average ? acc / T(K) : acc;
    if (winner) winner[i] = w;
  }
}

// dx_k for input k of K (the derivatives of merge_ref):
//   add: dy; subtract: +dy (k = 0), -dy (k = 1); average: dy / K; multiply: dy * prod_{j != k} x_j;
//   maximum / minimum: dy where winner == k, else 0.
template <class T>
void unmerge_ref(MergeOp op, size_t k, size_t K, const T* dy, const std::vector<const T*>& x, const uint32_t* winner,
                 T* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    switch (op) {
      case MergeOp::add: dx[i] = dy[i]; break;
      case MergeOp::subtract: dx[i] = k == 0 ? dy[i] : -dy[i]; break;
      case MergeOp::average: dx[i] = dy[i] / T(K); break;
      case MergeOp::multiply: {
        T p = dy[i];
        for (size_t j = 0; j < K; ++j)
          if (j != k) p *= x[j][i];
        dx[i] = p;
        break;
      }
      case MergeOp::maximum:
      case MergeOp::minimum: dx[i] = winner[i] == k ? dy[i] : T(0); break;
    }
  }
}

}  // namespace

Tensor ElementwiseMerge::merge(std::span<const Tensor> xs, bool training) {
  Tensor y(xs[0].shape(), dtype());
  const int64_t n = y.numel();
  const bool picks = op() == MergeOp::maximum || op() == MergeOp::minimum;
  std::vector<uint32_t> winner(picks ? size_t(n) : 0);
  std::vector<Tensor> inputs;
  for (const Tensor& x : xs) inputs.push_back(x);
  visit_float(dtype(), where(), [&](auto t) {
    using T = decltype(t);
    std::vector<const T*> ptrs;
    for (const Tensor& x : inputs) ptrs.push_back(x.data<T>());
    merge_ref<T>(op(), ptrs, y.data<T>(), n, picks ? winner.data() : nullptr);
  });
  if (training) {
    winner_ = std::move(winner);
    inputs_ = op() == MergeOp::multiply ? std::move(inputs) : std::vector<Tensor>{};
  }
  return y;
}

std::vector<Tensor> ElementwiseMerge::unmerge(const Tensor& dy) {
  const size_t K = last_shapes().size();
  std::vector<Tensor> dxs;
  for (size_t k = 0; k < K; ++k) {
    Tensor dx(last_shapes()[k], dtype());
    visit_float(dtype(), where(), [&](auto t) {
      using T = decltype(t);
      std::vector<const T*> ptrs;
      for (const Tensor& x : inputs_) ptrs.push_back(x.data<T>());
      unmerge_ref<T>(op(), k, K, dy.data<T>(), ptrs, winner_.data(), dx.data<T>(), dx.numel());
    });
    dxs.push_back(std::move(dx));
  }
  return dxs;
}

// ---- Dot

void DotConfig::validate() const {
  const std::string got = detail::to_value(axes).repr();
  if (axes.empty() || axes.size() > 2) raise<ConfigError>("Dot: axes must be an int or a pair of ints, got {}", got);
  for (int64_t a : axes)
    if (a == 0) raise<ConfigError>("Dot: axes must not name the batch axis 0, got {}", got);
}

Dot::Geometry Dot::geometry(std::span<const Shape> in) const {
  Geometry g{};
  size_t axis[2];
  for (size_t k = 0; k < 2; ++k) {
    const Shape& s = in[k];
    const int64_t r = int64_t(s.rank()), want = cfg_.axes[cfg_.axes.size() == 1 ? 0 : k];
    const int64_t a = want < 0 ? want + r : want;
    if (a < 1 || a >= r)
      raise<ShapeError>("{}: axes must name a non-batch axis of each input, got {} for input {} of shape {}", where(),
                        want, k, s.str());
    axis[k] = size_t(a);
    g.step[k] = 1;
    for (size_t d = axis[k] + 1; d < s.rank(); ++d) g.step[k] *= s[d];
  }
  if (in[0][axis[0]] != in[1][axis[1]])
    mismatch(in, 0, 1, fmt::format("equal sizes on the dot axes {} and {}", axis[0], axis[1]));
  g.size = in[0][axis[0]];
  for (size_t k = 0; k < 2; ++k) {
    const Shape& s = in[k];
    g.rest[k] = {0};
    int64_t stride = 1;
    std::vector<int64_t> strides(s.rank());
    for (size_t d = s.rank(); d-- > 1;) strides[d] = stride, stride *= s[d];
    g.sample[k] = stride;
    for (size_t d = 1; d < s.rank(); ++d) {
      if (d == axis[k]) continue;
      std::vector<int64_t> next;
      for (int64_t o : g.rest[k])
        for (int64_t i = 0; i < s[d]; ++i) next.push_back(o + i * strides[d]);
      g.rest[k] = std::move(next);
    }
  }
  return g;
}

Shape Dot::merged_shape(std::span<const Shape> in) const {
  (void)geometry(in);  // checks the axes and their sizes
  std::vector<int64_t> dims{in[0][0] >= 0 ? in[0][0] : in[1][0]};
  for (size_t k = 0; k < 2; ++k) {
    const int64_t a = cfg_.axes[cfg_.axes.size() == 1 ? 0 : k];
    const size_t axis = size_t(a < 0 ? a + int64_t(in[k].rank()) : a);
    for (size_t d = 1; d < in[k].rank(); ++d)
      if (d != axis) dims.push_back(in[k][d]);
  }
  if (dims.size() == 1) dims.push_back(1);  // Keras: (N, 1) for two vectors per sample
  return Shape(dims);
}

namespace {

constexpr double kNormEpsilon = 1e-12;  // Keras's l2_normalize epsilon on the sum of squares

// u[n, r + c*step] = x[n, r + c*step] / norm[n, r], norm = sqrt(max(sum_c x^2, eps)), per fiber (n, r).
template <class T>
void l2_normalize(const T* x, T* u, int64_t batch, const Dot::Geometry& g, size_t k, std::vector<double>& norm) {
  norm.clear();
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t r : g.rest[k]) {
      const int64_t base = n * g.sample[k] + r;
      double ss = 0;
      for (int64_t c = 0; c < g.size; ++c) ss += double(x[base + c * g.step[k]]) * double(x[base + c * g.step[k]]);
      const double nr = std::sqrt(std::max(ss, kNormEpsilon));
      for (int64_t c = 0; c < g.size; ++c) u[base + c * g.step[k]] = T(double(x[base + c * g.step[k]]) / nr);
      norm.push_back(ss > kNormEpsilon ? nr : -nr);  // negative: clamped, the norm is a constant there
    }
}

// The derivative of l2_normalize: dx = (du - u * sum_c(du * u)) / norm, or du / norm where the norm was clamped.
template <class T>
void l2_normalize_backward(T* du, const T* u, int64_t batch, const Dot::Geometry& g, size_t k,
                           const std::vector<double>& norm) {
  size_t f = 0;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t r : g.rest[k]) {
      const int64_t base = n * g.sample[k] + r;
      const double nr = norm[f++];
      double dot = 0;
      if (nr > 0)
        for (int64_t c = 0; c < g.size; ++c) dot += double(du[base + c * g.step[k]]) * double(u[base + c * g.step[k]]);
      for (int64_t c = 0; c < g.size; ++c) {
        const int64_t e = base + c * g.step[k];
        du[e] = T((double(du[e]) - double(u[e]) * dot) / std::abs(nr));
      }
    }
}

// y[n, i, j] = sum_c u0[n, rest0[i] + c*step0] * u1[n, rest1[j] + c*step1]; with `dy`, the derivatives:
//   du0[n, rest0[i] + c*step0] = sum_j dy[n, i, j] u1[...],  du1[n, rest1[j] + c*step1] = sum_i dy[n, i, j] u0[...]
template <class T>
void dot_ref(const T* u0, const T* u1, T* y, int64_t batch, const Dot::Geometry& g) {
  const int64_t A = int64_t(g.rest[0].size()), B = int64_t(g.rest[1].size());
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t i = 0; i < A; ++i)
      for (int64_t j = 0; j < B; ++j) {
        const T* a = u0 + n * g.sample[0] + g.rest[0][size_t(i)];
        const T* b = u1 + n * g.sample[1] + g.rest[1][size_t(j)];
        T acc = 0;
        for (int64_t c = 0; c < g.size; ++c) acc += a[c * g.step[0]] * b[c * g.step[1]];
        y[(n * A + i) * B + j] = acc;
      }
}
template <class T>
void dot_backward_ref(const T* u0, const T* u1, const T* dy, T* du0, T* du1, int64_t batch, const Dot::Geometry& g) {
  const int64_t A = int64_t(g.rest[0].size()), B = int64_t(g.rest[1].size());
  std::fill(du0, du0 + batch * g.sample[0], T(0));
  std::fill(du1, du1 + batch * g.sample[1], T(0));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t i = 0; i < A; ++i)
      for (int64_t j = 0; j < B; ++j) {
        const int64_t a = n * g.sample[0] + g.rest[0][size_t(i)], b = n * g.sample[1] + g.rest[1][size_t(j)];
        const T d = dy[(n * A + i) * B + j];
        for (int64_t c = 0; c < g.size; ++c) {
          du0[a + c * g.step[0]] += d * u1[b + c * g.step[1]];
          du1[b + c * g.step[1]] += d * u0[a + c * g.step[0]];
        }
      }
}

}  // namespace

Tensor Dot::merge(std::span<const Tensor> xs, bool training) {
  const Shape shapes[2] = {xs[0].shape(), xs[1].shape()};
  const Geometry g = geometry(shapes);
  const int64_t batch = shapes[0][0];
  Tensor y(merged_shape(shapes), dtype());
  Tensor u[2] = {xs[0], xs[1]};
  std::vector<double> norm[2];
  visit_float(dtype(), where(), [&](auto t) {
    using T = decltype(t);
    if (cfg_.normalize)
      for (size_t k = 0; k < 2; ++k) {
        u[k] = Tensor::empty(shapes[k], dtype());
        l2_normalize<T>(xs[k].data<T>(), u[k].data<T>(), batch, g, k, norm[k]);
      }
    dot_ref<T>(u[0].data<T>(), u[1].data<T>(), y.data<T>(), batch, g);
  });
  if (training)
    for (size_t k = 0; k < 2; ++k) u_[k] = u[k], norm_[k] = std::move(norm[k]);
  return y;
}

std::vector<Tensor> Dot::unmerge(const Tensor& dy) {
  const Geometry g = geometry(last_shapes());
  const int64_t batch = last_shapes()[0][0];
  std::vector<Tensor> dxs{Tensor::empty(last_shapes()[0], dtype()), Tensor::empty(last_shapes()[1], dtype())};
  visit_float(dtype(), where(), [&](auto t) {
    using T = decltype(t);
    dot_backward_ref<T>(u_[0].data<T>(), u_[1].data<T>(), dy.data<T>(), dxs[0].data<T>(), dxs[1].data<T>(), batch, g);
    if (cfg_.normalize)
      for (size_t k = 0; k < 2; ++k) l2_normalize_backward<T>(dxs[k].data<T>(), u_[k].data<T>(), batch, g, k, norm_[k]);
  });
  return dxs;
}

}  // namespace locnet
