#include "locnet/layers/lrn.hpp"

#include <cmath>

#include "kernels/lrn/problem.hpp"
#include "kernels/registry.hpp"

namespace locnet {
namespace {

struct Scalars {
  const char *alpha, *beta, *k;
};

// alpha, beta, k finite and >= 0; k > 0 when beta > 0, since N = k + ... is 0 for an all-zero window.
LrnCanonical base(const char* type, Scalars names, double alpha, double beta, double k, const std::string& data_format,
                  bool k_used = true) {
  auto check = [&](const char* name, double v) {
    if (!std::isfinite(v) || v < 0) raise<ConfigError>("{}: {} must be a finite number >= 0, got {}", type, name, v);
  };
  check(names.alpha, alpha);
  check(names.beta, beta);
  if (k_used) {
    check(names.k, k);
    if (k == 0 && beta > 0)
      raise<ConfigError>("{}: {} must be > 0 when {} > 0 (N = {} + alpha*S is 0 for an all-zero window), got {} = 0",
                         type, names.k, names.beta, names.k, names.k);
  }
  if (data_format != "channels_last" && data_format != "channels_first")
    raise<ConfigError>("{}: data_format must be \"channels_last\" or \"channels_first\", got \"{}\"", type, data_format);
  LrnCanonical c;
  c.alpha = alpha;
  c.beta = beta;
  c.k = k;
  c.channels_last = data_format == "channels_last";
  return c;
}

// The across/within choice of Caffe's norm_region and oneDNN's alg_kind.
bool is_within(const char* type, const char* name, const std::string& value, const char* across, const char* within) {
  if (value != across && value != within)
    raise<ConfigError>("{}: {} must be \"{}\" or \"{}\", got \"{}\"", type, name, across, within, value);
  return value == within;
}

void check_window(const char* type, const char* name, int64_t n, int64_t min, bool odd) {
  if (n < min || (odd && n % 2 == 0))
    raise<ConfigError>("{}: {} must be {} >= {}, got {}", type, name, odd ? "an odd integer" : "an integer", min, n);
}

}  // namespace

LrnCanonical NeupyLrnConfig::validate() const {
  LrnCanonical c = base(kType, {"alpha", "beta", "k"}, alpha, beta, k, data_format);
  check_window(kType, "depth_radius", depth_radius, 1, true);
  c.behind = c.ahead = (depth_radius - 1) / 2;
  c.divisor = 1;
  return c;
}

LrnCanonical TensorFlowLrnConfig::validate() const {
  LrnCanonical c = base(kType, {"alpha", "beta", "bias"}, alpha, beta, bias, data_format);
  check_window(kType, "depth_radius", depth_radius, 0, false);
  c.behind = c.ahead = depth_radius;
  c.divisor = 1;
  return c;
}

LrnCanonical PyTorchLrnConfig::validate() const {
  LrnCanonical c = base(kType, {"alpha", "beta", "k"}, alpha, beta, k, data_format);
  check_window(kType, "size", size, 1, false);
  c.behind = size / 2;
  c.ahead = (size - 1) / 2;
  c.divisor = double(size);
  return c;
}

LrnCanonical CaffeLrnConfig::validate() const {
  const bool within = is_within(kType, "norm_region", norm_region, "ACROSS_CHANNELS", "WITHIN_CHANNEL");
  // Caffe's WITHIN_CHANNEL is built from a Power layer whose shift is fixed at 1: k plays no part.
  LrnCanonical c = base(kType, {"alpha", "beta", "k"}, alpha, beta, within ? 1.0 : k, data_format, !within);
  if (within && (!std::isfinite(k) || k < 0))
    raise<ConfigError>("{}: k must be a finite number >= 0, got {}", kType, k);
  check_window(kType, "local_size", local_size, 1, true);
  c.within = within;
  c.within_size = local_size;
  c.behind = c.ahead = (local_size - 1) / 2;
  c.divisor = double(local_size);
  return c;
}

LrnCanonical WolframLrnConfig::validate() const {
  LrnCanonical c = base(kType, {"Alpha", "Beta", "Bias"}, Alpha, Beta, Bias, data_format);
  check_window(kType, "ChannelWindowSize", ChannelWindowSize, 0, false);
  c.behind = c.ahead = ChannelWindowSize;
  c.divisor = double(2 * ChannelWindowSize + 1);
  c.min_channels = 2 * ChannelWindowSize + 1;
  return c;
}

LrnCanonical OnnxLrnConfig::validate() const {
  LrnCanonical c = base(kType, {"alpha", "beta", "bias"}, alpha, beta, bias, data_format);
  check_window(kType, "size", size, 1, false);
  c.behind = (size - 1) / 2;
  c.ahead = size / 2;
  c.divisor = double(size);
  return c;
}

LrnCanonical OneDnnLrnConfig::validate() const {
  const bool within = is_within(kType, "alg_kind", alg_kind, "lrn_across_channels", "lrn_within_channel");
  LrnCanonical c = base(kType, {"alpha", "beta", "k"}, alpha, beta, k, data_format);
  check_window(kType, "local_size", local_size, 1, false);
  c.within = within;
  c.within_size = local_size;
  c.behind = c.ahead = (local_size - 1) / 2;  // even sizes take n-1 taps but still divide by n
  c.divisor = double(local_size);
  return c;
}

LrnCanonical MxnetLrnConfig::validate() const {
  LrnCanonical c = base(kType, {"alpha", "beta", "knorm"}, alpha, beta, knorm, data_format);
  check_window(kType, "nsize", nsize, 1, true);
  c.behind = c.ahead = (nsize - 1) / 2;
  c.divisor = double(nsize);
  c.min_channels = nsize;
  return c;
}

LrnBase::LrnBase(LrnCanonical canonical, std::string name) : Layer(std::move(name)), c_(canonical) {}

Shape LrnBase::output_shape(const Shape& in) const {
  if (in.rank() < 2 || in.rank() > 5)
    raise<ShapeError>("{}: input rank must be 2 to 5 ((N, C) plus 0 to 3 spatial axes), got shape {}", where(),
                      in.str());
  if (c_.within && in.rank() < 3)
    raise<ShapeError>("{}: within-channel normalization needs 1 to 3 spatial axes, got shape {}", where(), in.str());
  int64_t ch = c_.channels_last ? in.dim(-1) : in[1];
  if (ch == 0) raise<ShapeError>("{}: the channel axis must be > 0, got shape {}", where(), in.str());
  if (ch > 0 && ch < c_.min_channels)
    raise<ShapeError>("{}: the number of channels must be >= {} (the window size), got {} in shape {}", where(),
                      c_.min_channels, ch, in.str());
  for (size_t i = 1; i < in.rank(); ++i)
    if (in[i] < 0) raise<ShapeError>("{}: non-batch dimensions must be known, got shape {}", where(), in.str());
  return in;
}

namespace {
kernels::LrnProblem problem(const LrnCanonical& c, const Shape& s, DType dt) {
  kernels::LrnProblem p;
  p.n = s[0] < 0 ? 1 : s[0];
  p.channels_last = c.channels_last;
  p.c = c.channels_last ? s.dim(-1) : s[1];
  p.nsp = int(s.rank()) - 2;
  size_t first = c.channels_last ? 1 : 2;
  for (int d = 0; d < p.nsp; ++d) p.sp[3 - p.nsp + d] = s[first + size_t(d)];
  p.within = c.within;
  // Windows are clipped to [0, C) anyway; clamping keeps index arithmetic far from overflow.
  p.behind = std::min(c.behind, p.c);
  p.ahead = std::min(c.ahead, p.c);
  p.half = (c.within_size - 1) / 2;
  p.divisor = c.within ? std::pow(double(c.within_size), p.nsp) : c.divisor;
  p.alpha = c.alpha;
  p.beta = c.beta;
  p.k = c.k;
  p.dtype = dt;
  return p;
}
}  // namespace

void LrnBase::do_build(const Shape& in, Rng&) {
  impl_ = &kernels::choose<kernels::LrnKernel>("lrn", kernels::lrn_kernels(), problem(c_, in, dtype()));
}

Tensor LrnBase::forward(const Tensor& x, Mode mode) {
  check_input(x);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  if (x.numel() > 0) impl_->forward(problem(c_, x.shape(), x.dtype()), x.raw(), y.raw());
  if (mode == Mode::Training) x_cache_ = x;
  return y;
}

Tensor LrnBase::backward(const Tensor& dy) {
  if (!x_cache_.defined()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, x_cache_.shape());
  Tensor dx = Tensor::empty(dy.shape(), dy.dtype());
  if (dy.numel() > 0) impl_->backward(problem(c_, dy.shape(), dy.dtype()), x_cache_.raw(), dy.raw(), dx.raw());
  return dx;
}

Tensor LrnBase::operator()(const Tensor& x) {
  bool unbatched = accepts_unbatched() && x.rank() == 3;
  Tensor xb = unbatched ? x.reshape(x.shape().with_batch(1)) : x;
  if (!built() || input_shape().rank() != xb.rank() || dtype() != xb.dtype() ||
      input_shape().without_batch() != xb.shape().without_batch()) {
    Rng rng(0);
    build(xb.shape().with_dim(0, Shape::kUnknown), rng, xb.dtype());
  }
  Tensor y = forward(xb, Mode::Inference);
  return unbatched ? y.reshape(x.shape()) : y;
}

std::string LrnBase::kernel() const { return impl_ ? impl_->name : "none"; }

}  // namespace locnet
