#include "locnet/layers/pooling.hpp"

#include "kernels/pooling/problem.hpp"
#include "kernels/registry.hpp"
#include "layers/spatial.hpp"

namespace locnet {
namespace {

void check_rank4(const Shape& in, const std::string& where, bool channels_last) {
  if (in.rank() != 4)
    raise<ShapeError>("{}: input rank must be 4 {}, got shape {}", where,
                      channels_last ? "(batch, rows, cols, channels)" : "(batch, channels, rows, cols)", in.str());
  for (size_t i = 1; i < 4; ++i)
    if (in[i] <= 0) raise<ShapeError>("{}: non-batch dimensions must be known and > 0, got shape {}", where, in.str());
}

}  // namespace

Pooling2DConfig Pooling2DConfig::validate(const char* type) const {
  Pooling2DConfig c = *this;
  int64_t pool[2], step[2];
  spatial::size_pair(type, "pool_size", pool_size, pool);
  spatial::size_pair(type, "strides", strides.value_or(pool_size), step);
  // config() prints pool_size=(2, 2) as Keras's get_config does, never the (2,) a lone 2 was stored as.
  c.pool_size = {pool[0], pool[1]};
  if (c.strides) c.strides = std::vector<int64_t>{step[0], step[1]};
  spatial::check_padding(type, padding);
  (void)spatial::channels_last(type, data_format);
  return c;
}

Pooling2D::Pooling2D(bool max, Config validated, std::string name)
    : Layer(std::move(name)), cfg_(std::move(validated)), max_(max) {
  spatial::size_pair("", "pool_size", cfg_.pool_size, pool_);
  spatial::size_pair("", "strides", cfg_.strides.value_or(cfg_.pool_size), strides_);
  channels_last_ = spatial::channels_last("", cfg_.data_format);
}

namespace {
kernels::PoolProblem pool_problem(const Shape& in, bool last, const int64_t (&k)[2], const int64_t (&s)[2],
                                  const std::string& padding, const std::string& where, DType dtype) {
  check_rank4(in, where, last);
  kernels::PoolProblem p;
  p.dtype = dtype;
  p.n = std::max<int64_t>(in[0], 0);
  p.h = last ? in[1] : in[2];
  p.w = last ? in[2] : in[3];
  p.c = last ? in[3] : in[1];
  p.kh = k[0], p.kw = k[1], p.sh = s[0], p.sw = s[1];
  p.channels_last = last;
  if (int a = p.fit(padding == "same" ? WindowPadding::same : WindowPadding::valid); a >= 0)
    raise<ShapeError>("{}: pool_size along {} ({}) must be <= the input length ({}) with padding \"valid\", got "
                      "input shape {}",
                      where, a == 0 ? "rows" : "cols", k[a], a == 0 ? p.h : p.w, in.str());
  return p;
}
}  // namespace

Shape Pooling2D::output_shape(const Shape& in) const {
  auto p = pool_problem(in, channels_last_, pool_, strides_, cfg_.padding, where(), dtype());
  return channels_last_ ? Shape{in[0], p.oh, p.ow, p.c} : Shape{in[0], p.c, p.oh, p.ow};
}

void Pooling2D::do_build(const Shape& in, Rng&) {
  require_float_dtype();
  auto p = pool_problem(in, channels_last_, pool_, strides_, cfg_.padding, where(), dtype());
  if (max_)
    max_impl_ = &kernels::choose<kernels::MaxPoolKernel>("max_pool", kernels::max_pool_kernels(), p);
  else
    avg_impl_ = &kernels::choose<kernels::AvgPoolKernel>("avg_pool", kernels::avg_pool_kernels(), p);
}

Tensor Pooling2D::forward(const Tensor& x, Mode mode) {
  check_input(x);
  auto p = pool_problem(x.shape(), channels_last_, pool_, strides_, cfg_.padding, where(), dtype());
  Tensor y = Tensor::empty(output_shape(x.shape()), dtype());
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

std::string Pooling2D::kernel() const {
  if (max_impl_) return max_impl_->name;
  return avg_impl_ ? avg_impl_->name : "ref";
}

Tensor Pooling2D::backward(const Tensor& dy) {
  if (!x_shape_.rank()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, y_shape_);
  auto p = pool_problem(x_shape_, channels_last_, pool_, strides_, cfg_.padding, where(), dtype());
  Tensor dx = Tensor::empty(x_shape_, dtype());
  if (max_)
    max_impl_->backward(p, dy.raw(), argmax_.data(), dx.raw());
  else
    avg_impl_->backward(p, dy.raw(), dx.raw());
  return dx;
}

void GlobalAveragePooling2DConfig::validate() const {
  (void)spatial::channels_last("GlobalAveragePooling2D", data_format);
}

GlobalAveragePooling2D::GlobalAveragePooling2D(Config cfg, std::string name)
    : LayerOf(std::move(cfg), std::move(name)) {
  channels_last_ = spatial::channels_last(Config::kType, cfg_.data_format);
}

Shape GlobalAveragePooling2D::output_shape(const Shape& in) const {
  check_rank4(in, where(), channels_last_);
  int64_t c = channels_last_ ? in[3] : in[1];
  if (!cfg_.keepdims) return Shape{in[0], c};
  return channels_last_ ? Shape{in[0], 1, 1, c} : Shape{in[0], c, 1, 1};
}

namespace {
// The whole (rows, cols) plane as one window (src/kernels/pooling/problem.hpp).
kernels::PoolProblem global_problem(const Shape& in, bool last, DType dtype) {
  kernels::PoolProblem p;
  p.n = std::max<int64_t>(in[0], 0);
  p.h = last ? in[1] : in[2];
  p.w = last ? in[2] : in[3];
  p.c = last ? in[3] : in[1];
  p.kh = p.h, p.kw = p.w;
  p.channels_last = last;
  p.dtype = dtype;
  return p;
}
}  // namespace

void GlobalAveragePooling2D::do_build(const Shape& in, Rng&) {
  require_float_dtype();
  impl_ = &kernels::choose<kernels::AvgPoolKernel>("global_avg_pool", kernels::global_avg_pool_kernels(),
                                                   global_problem(in, channels_last_, dtype()));
}

Tensor GlobalAveragePooling2D::forward(const Tensor& x, Mode mode) {
  check_input(x);
  Tensor y = Tensor::empty(output_shape(x.shape()), dtype());  // every element assigned
  impl_->forward(global_problem(x.shape(), channels_last_, dtype()), x.raw(), y.raw());
  if (mode == Mode::Training) x_shape_ = x.shape();
  return y;
}

Tensor GlobalAveragePooling2D::backward(const Tensor& dy) {
  if (!x_shape_.rank()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, output_shape(x_shape_));
  Tensor dx = Tensor::empty(x_shape_, dtype());
  impl_->backward(global_problem(x_shape_, channels_last_, dtype()), dy.raw(), dx.raw());
  return dx;
}

}  // namespace locnet
