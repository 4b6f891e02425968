#include "locnet/layers/pooling.hpp"

#include <string_view>

#include "kernels/pooling/problem.hpp"
#include "kernels/registry.hpp"
#include "layers/spatial.hpp"

namespace locnet {
namespace {

// Rank R + 2 with known non-batch sizes.
void check_rank(const Shape& in, const std::string& where, int r, bool channels_last) {
  const char* layout = r == 1   ? (channels_last ? "(batch, steps, channels)" : "(batch, channels, steps)")
                       : channels_last ? "(batch, rows, cols, channels)"
                                       : "(batch, channels, rows, cols)";
  if (in.rank() != size_t(r + 2))
    raise<ShapeError>("{}: input rank must be {} {}, got shape {}", where, r + 2, layout, in.str());
  for (size_t i = 1; i < in.rank(); ++i)
    if (in[i] <= 0) raise<ShapeError>("{}: non-batch dimensions must be known and > 0, got shape {}", where, in.str());
}

// The input as (n, h, w, c) of the 2D machinery: a 1D input is one row.
kernels::PoolProblem plane(const Shape& in, int r, bool last, DType dtype) {
  kernels::PoolProblem p;
  p.dtype = dtype;
  p.n = std::max<int64_t>(in[0], 0);
  p.c = last ? in[size_t(r + 1)] : in[1];
  p.h = r == 1 ? 1 : in[last ? 1 : 2];
  p.w = in[size_t(last ? r : r + 1)];
  p.channels_last = last;
  return p;
}

// (n, [oh,] ow, c) or (n, c, [oh,] ow).
Shape pooled_shape(int64_t n, int r, bool last, int64_t c, int64_t oh, int64_t ow) {
  if (r == 1) return last ? Shape{n, ow, c} : Shape{n, c, ow};
  return last ? Shape{n, oh, ow, c} : Shape{n, c, oh, ow};
}

// The checked options of a pooling config, as the 2D machinery takes them (1D: rows of 1).
struct PoolingSetup {
  int64_t pool[2] = {1, 1}, step[2] = {1, 1};
  WindowPadding padding = WindowPadding::valid;
  int64_t pads[2][2] = {{0, 0}, {0, 0}};
  bool channels_last = true;
};

// An int or (for 2D) a (rows, cols) tuple of positive ints -> the (rows, cols) pair.
void sizes(const char* type, const char* name, int r, const std::vector<int64_t>& v, int64_t (&out)[2]) {
  if (r == 1 && v.size() != 1)
    raise<ConfigError>("{}: {} must be an int or a tuple of 1 int, got {}", type, name, detail::to_value(v).repr());
  spatial::size_pair(type, name, v, out);
  if (r == 1) out[0] = 1;
}

template <int R>
PoolingSetup setup(const char* type, const PoolingConfig<R>& c) {
  PoolingSetup s;
  sizes(type, "pool_size", R, c.pool_size, s.pool);
  sizes(type, "strides", R, c.strides.value_or(c.pool_size), s.step);
  const Value& pad = c.padding;
  const char* forms = R == 1 ? "an int or (left, right)" : "an int, (rows, cols) or ((top, bottom), (left, right))";
  if (pad.kind() == Value::Kind::Str && (pad.as_str() == "valid" || pad.as_str() == "same")) {
    s.padding = pad.as_str() == "same" ? WindowPadding::same : WindowPadding::valid;
  } else {
    if (pad.kind() == Value::Kind::Str || !spatial::explicit_padding(pad, R, s.pads))
      raise<ConfigError>("{}: padding must be \"valid\" or \"same\", {}, got {}", type, forms, pad.repr());
    s.padding = WindowPadding::explicit_;
    for (int a = 0; a < 2; ++a)
      for (int64_t side : s.pads[a])
        if (side < 0 || side >= s.pool[a])
          raise<ConfigError>("{}: explicit padding must be >= 0 and < pool_size along its axis (Caffe's rule), got "
                             "padding={} with pool_size={}",
                             type, pad.repr(), R == 1 ? fmt::format("{}", s.pool[1])
                                                          : fmt::format("({}, {})", s.pool[0], s.pool[1]));
  }
  if (c.ceil_mode && s.padding == WindowPadding::same)
    raise<ConfigError>("{}: ceil_mode applies to \"valid\" and explicit padding, got padding=\"same\"", type);
  s.channels_last = spatial::channels_last(type, c.data_format);
  return s;
}

bool is_max(const char* type) { return std::string_view(type).starts_with("Max"); }

}  // namespace

template <int R>
PoolingConfig<R> PoolingConfig<R>::validate(const char* type) const {
  const PoolingSetup s = setup(type, *this);
  if (count_include_pad && is_max(type))
    raise<ConfigError>("{}: count_include_pad applies to average pooling only, got True", type);
  PoolingConfig c = *this;
  // config() prints pool_size=(2, 2) as Keras's get_config does, never the (2,) a lone 2 was stored as.
  c.pool_size = R == 1 ? std::vector<int64_t>{s.pool[1]} : std::vector<int64_t>{s.pool[0], s.pool[1]};
  if (c.strides) c.strides = R == 1 ? std::vector<int64_t>{s.step[1]} : std::vector<int64_t>{s.step[0], s.step[1]};
  return c;
}
template struct PoolingConfig<1>;
template struct PoolingConfig<2>;

template <int R, bool Max>
Call PoolingOf<R, Max>::config() const {
  Call c = Base::config();
  std::erase_if(c.kwargs, [](const auto& kv) {
    return (kv.first == "ceil_mode" || kv.first == "count_include_pad") && kv.second == Value(false);
  });
  return c;
}
template class PoolingOf<1, true>;
template class PoolingOf<1, false>;
template class PoolingOf<2, true>;
template class PoolingOf<2, false>;

template <int R>
Pooling::Pooling(bool max, const PoolingConfig<R>& validated, std::string name)
    : Layer(std::move(name)), rank_(R), max_(max) {
  const PoolingSetup s = setup("", validated);
  window_.kh = s.pool[0], window_.kw = s.pool[1], window_.sh = s.step[0], window_.sw = s.step[1];
  padding_ = s.padding;
  std::copy(&s.pads[0][0], &s.pads[0][0] + 4, &pads_[0][0]);
  channels_last_ = s.channels_last;
  ceil_mode_ = validated.ceil_mode;
  count_include_pad_ = validated.count_include_pad;
}
template Pooling::Pooling(bool, const PoolingConfig<1>&, std::string);
template Pooling::Pooling(bool, const PoolingConfig<2>&, std::string);

kernels::PoolProblem Pooling::problem(const Shape& in) const {
  check_rank(in, where(), rank_, channels_last_);
  kernels::PoolProblem p = plane(in, rank_, channels_last_, dtype());
  p.kh = window_.kh, p.kw = window_.kw, p.sh = window_.sh, p.sw = window_.sw;
  p.count_include_pad = count_include_pad_;
  if (int a = p.fit(padding_, pads_, ceil_mode_); a >= 0) {
    const char* axis = rank_ == 1 ? "steps" : a == 0 ? "rows" : "cols";
    const int64_t n = a == 0 ? p.h : p.w, k = a == 0 ? p.kh : p.kw;
    if (padding_ == WindowPadding::explicit_)
      raise<ShapeError>("{}: pool_size along {} ({}) must be <= the padded input length ({} + {} + {}), got input "
                        "shape {}",
                        where(), axis, k, n, pads_[a][0], pads_[a][1], in.str());
    raise<ShapeError>("{}: pool_size along {} ({}) must be <= the input length ({}) with padding \"valid\", got "
                      "input shape {}",
                      where(), axis, k, n, in.str());
  }
  return p;
}

Shape Pooling::output_shape(const Shape& in) const {
  auto p = problem(in);
  return pooled_shape(in[0], rank_, channels_last_, p.c, p.oh, p.ow);
}

void Pooling::do_build(const Shape& in, Rng&) {
  require_float_dtype();
  auto p = problem(in);
  if (max_)
    max_impl_ = &kernels::choose<kernels::MaxPoolKernel>("max_pool", kernels::max_pool_kernels(), p);
  else
    avg_impl_ = &kernels::choose<kernels::AvgPoolKernel>("avg_pool", kernels::avg_pool_kernels(), p);
}

Tensor Pooling::forward(const Tensor& x, Mode mode) {
  check_input(x);
  auto p = problem(x.shape());
  Tensor y = Tensor::empty(pooled_shape(x.dim(0), rank_, channels_last_, p.c, p.oh, p.ow), dtype());
  const bool keep = mode == Mode::Training;
  std::vector<int64_t> scratch;  // inference writes no member: layers may serve several threads at once
  std::vector<int64_t>& argmax = keep ? argmax_ : scratch;
  if (max_) argmax.resize(size_t(y.numel()));
  if (max_)
    max_impl_->forward(p, x.raw(), y.raw(), argmax.data());
  else
    avg_impl_->forward(p, x.raw(), y.raw());
  if (keep) {
    x_shape_ = x.shape();
    y_shape_ = y.shape();
  }
  return y;
}

std::string Pooling::kernel() const {
  if (max_impl_) return max_impl_->name;
  return avg_impl_ ? avg_impl_->name : "ref";
}

Tensor Pooling::backward(const Tensor& dy) {
  if (!x_shape_.rank()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, y_shape_);
  auto p = problem(x_shape_);
  Tensor dx = Tensor::empty(x_shape_, dtype());
  if (max_)
    max_impl_->backward(p, dy.raw(), argmax_.data(), dx.raw());
  else
    avg_impl_->backward(p, dy.raw(), dx.raw());
  return dx;
}

// Global pooling: the whole plane (1D: the steps) as one window.

template <int R, bool Max>
void GlobalPoolingConfig<R, Max>::validate() const {
  (void)spatial::channels_last(kType, data_format);
}

template <int R, bool Max>
GlobalPooling<R, Max>::GlobalPooling(Config cfg, std::string name)
    : LayerOf<GlobalPooling, Config>(std::move(cfg), std::move(name)) {
  channels_last_ = spatial::channels_last(Config::kType, this->cfg_.data_format);
}

namespace {
kernels::PoolProblem global_problem(const Shape& in, int r, bool last, DType dtype) {
  kernels::PoolProblem p = plane(in, r, last, dtype);
  p.kh = p.h, p.kw = p.w;  // oh = ow = 1, no padding
  return p;
}
}  // namespace

template <int R, bool Max>
Shape GlobalPooling<R, Max>::output_shape(const Shape& in) const {
  check_rank(in, this->where(), R, channels_last_);
  const int64_t c = channels_last_ ? in[R + 1] : in[1];
  if (!this->cfg_.keepdims) return Shape{in[0], c};
  return pooled_shape(in[0], R, channels_last_, c, 1, 1);
}

template <int R, bool Max>
void GlobalPooling<R, Max>::do_build(const Shape& in, Rng&) {
  this->require_float_dtype();
  const auto p = global_problem(in, R, channels_last_, this->dtype());
  if constexpr (Max)
    max_impl_ = &kernels::choose<kernels::MaxPoolKernel>("max_pool", kernels::max_pool_kernels(), p);
  else
    avg_impl_ = &kernels::choose<kernels::AvgPoolKernel>("global_avg_pool", kernels::global_avg_pool_kernels(), p);
}

template <int R, bool Max>
std::string GlobalPooling<R, Max>::kernel() const {
  if (max_impl_) return max_impl_->name;
  return avg_impl_ ? avg_impl_->name : "ref";
}

template <int R, bool Max>
Tensor GlobalPooling<R, Max>::forward(const Tensor& x, Mode mode) {
  this->check_input(x);
  Tensor y = Tensor::empty(output_shape(x.shape()), this->dtype());  // every element assigned
  const auto p = global_problem(x.shape(), R, channels_last_, this->dtype());
  if constexpr (Max) {
    std::vector<int64_t> scratch;  // inference writes no member
    std::vector<int64_t>& argmax = mode == Mode::Training ? argmax_ : scratch;
    argmax.resize(size_t(y.numel()));
    max_impl_->forward(p, x.raw(), y.raw(), argmax.data());
  } else {
    avg_impl_->forward(p, x.raw(), y.raw());
  }
  if (mode == Mode::Training) x_shape_ = x.shape();
  return y;
}

template <int R, bool Max>
Tensor GlobalPooling<R, Max>::backward(const Tensor& dy) {
  if (!x_shape_.rank()) raise<ConfigError>("{}: backward must follow a training-mode forward", this->where());
  this->check_grad_output(dy, output_shape(x_shape_));
  Tensor dx = Tensor::empty(x_shape_, this->dtype());
  const auto p = global_problem(x_shape_, R, channels_last_, this->dtype());
  if constexpr (Max)
    max_impl_->backward(p, dy.raw(), argmax_.data(), dx.raw());
  else
    avg_impl_->backward(p, dy.raw(), dx.raw());
  return dx;
}

template struct GlobalPoolingConfig<1, false>;
template struct GlobalPoolingConfig<1, true>;
template struct GlobalPoolingConfig<2, false>;
template struct GlobalPoolingConfig<2, true>;
template class GlobalPooling<1, false>;
template class GlobalPooling<1, true>;
template class GlobalPooling<2, false>;
template class GlobalPooling<2, true>;

}  // namespace locnet
