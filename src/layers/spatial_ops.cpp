#include "locnet/layers/spatial_ops.hpp"

#include <limits>

#include "kernels/resample/resample.hpp"
#include "layers/spatial.hpp"

namespace locnet {
namespace {

using spatial::kMaxWindow;

void check_amount(const char* type, const char* name, int64_t v, const std::string& got) {
  if (v < 0 || v > kMaxWindow)
    raise<ConfigError>("{}: {} entries must be ints in [0, {}], got {}", type, name, kMaxWindow, got);
}

// An int or (before, after) -> out.
void pair_1d(const char* type, const char* name, const std::vector<int64_t>& v, int64_t (&out)[2]) {
  const std::string got = detail::to_value(v).repr();
  if (v.size() != 1 && v.size() != 2)
    raise<ConfigError>("{}: {} must be an int or a tuple of 2 ints (before, after), got {}", type, name, got);
  for (int i = 0; i < 2; ++i) {
    out[i] = v[v.size() == 1 ? 0 : size_t(i)];
    check_amount(type, name, out[i], got);
  }
}

// Keras's three forms: an int, (rows, cols) symmetric, or ((top, bottom), (left, right)).
// `pad` picks the sides to set: ResampleAxis::pad, else ResampleAxis::crop.
void pairs_2d(const char* type, const char* name, const Value& v, ResampleAxis (&axes)[2], bool pad) {
  const std::string got = v.repr();
  const auto bad = [&] {
    raise<ConfigError>("{}: {} must be an int, a tuple of 2 ints or a tuple of 2 (before, after) tuples of ints, "
                       "got {}",
                       type, name, got);
  };
  const auto amount = [&](const Value& e) {
    if (e.kind() != Value::Kind::Int) bad();
    check_amount(type, name, e.as_int(), got);
    return e.as_int();
  };
  for (int a = 0; a < 2; ++a) {
    int64_t* sides = pad ? axes[a].pad : axes[a].crop;
    if (v.kind() == Value::Kind::Int) {
      sides[0] = sides[1] = amount(v);
      continue;
    }
    if (v.kind() != Value::Kind::Tuple || v.items().size() != 2) bad();
    const Value& e = v.items()[size_t(a)];
    if (e.kind() == Value::Kind::Tuple) {
      if (e.items().size() != 2) bad();
      sides[0] = amount(e.items()[0]);
      sides[1] = amount(e.items()[1]);
    } else {
      sides[0] = sides[1] = amount(e);
    }
  }
}

Value pairs_value(const ResampleAxis (&axes)[2], bool pad) {
  std::vector<Value> rows;
  for (const ResampleAxis& a : axes) {
    const int64_t* sides = pad ? a.pad : a.crop;
    rows.push_back(Value::tuple({sides[0], sides[1]}));
  }
  return Value::tuple(std::move(rows));
}

}  // namespace

ResampleGeometry ZeroPadding1DConfig::validate() const {
  ResampleGeometry g{.rank = 1, .channels_last = spatial::channels_last(kType, data_format)};
  pair_1d(kType, "padding", padding, g.axis[0].pad);
  return g;
}

ResampleGeometry Cropping1DConfig::validate() const {
  ResampleGeometry g{.rank = 1};
  pair_1d(kType, "cropping", cropping, g.axis[0].crop);
  return g;
}

ResampleGeometry ZeroPadding2DConfig::validate() const {
  ResampleGeometry g{.channels_last = spatial::channels_last(kType, data_format)};
  pairs_2d(kType, "padding", padding, g.axis, true);
  return g;
}

ResampleGeometry Cropping2DConfig::validate() const {
  ResampleGeometry g{.channels_last = spatial::channels_last(kType, data_format)};
  pairs_2d(kType, "cropping", cropping, g.axis, false);
  return g;
}

ResampleGeometry UpSampling1DConfig::validate() const {
  if (size < 1 || size > kMaxWindow)
    raise<ConfigError>("{}: size must be an int in [1, {}], got {}", kType, kMaxWindow, size);
  ResampleGeometry g{.rank = 1};
  g.axis[0].size = size;
  return g;
}

ResampleGeometry UpSampling2DConfig::validate() const {
  ResampleGeometry g{.channels_last = spatial::channels_last(kType, data_format)};
  if (interpolation != "nearest" && interpolation != "bilinear")
    raise<ConfigError>("{}: interpolation must be \"nearest\" or \"bilinear\", got \"{}\"", kType, interpolation);
  g.bilinear = interpolation == "bilinear";
  int64_t s[2];
  spatial::size_pair(kType, "size", size, s);
  g.axis[0].size = s[0];
  g.axis[1].size = s[1];
  return g;
}

// The constructors keep the config in Keras's get_config form.
ZeroPadding1D::ZeroPadding1D(Config cfg, std::string name) : LayerOf(std::move(cfg), std::move(name)) {
  cfg_.padding = {geometry().axis[0].pad[0], geometry().axis[0].pad[1]};
}
Cropping1D::Cropping1D(Config cfg, std::string name) : LayerOf(std::move(cfg), std::move(name)) {
  cfg_.cropping = {geometry().axis[0].crop[0], geometry().axis[0].crop[1]};
}
ZeroPadding2D::ZeroPadding2D(Config cfg, std::string name) : LayerOf(std::move(cfg), std::move(name)) {
  cfg_.padding = pairs_value(geometry().axis, true);
}
Cropping2D::Cropping2D(Config cfg, std::string name) : LayerOf(std::move(cfg), std::move(name)) {
  cfg_.cropping = pairs_value(geometry().axis, false);
}
UpSampling1D::UpSampling1D(Config cfg, std::string name) : LayerOf(std::move(cfg), std::move(name)) {}
UpSampling2D::UpSampling2D(Config cfg, std::string name) : LayerOf(std::move(cfg), std::move(name)) {
  cfg_.size = {geometry().axis[0].size, geometry().axis[1].size};
}

Resample::Resample(ResampleGeometry g, std::string name) : MoveLayer(std::move(name)), g_(g) {}

namespace {
// The input dimension of spatial axis a (0 rows / steps, 1 cols).
size_t spatial_dim(const ResampleGeometry& g, int a) { return size_t(g.channels_last ? 1 + a : 2 + a); }
}  // namespace

Shape Resample::output_shape(const Shape& in) const {
  const size_t rank = size_t(g_.rank) + 2;
  if (in.rank() != rank)
    raise<ShapeError>("{}: input rank must be {} ({}), got shape {}", where(), rank,
                      g_.rank == 1 ? (g_.channels_last ? "(N, steps, channels)" : "(N, channels, steps)")
                      : g_.channels_last ? "(N, rows, cols, channels)"
                                         : "(N, channels, rows, cols)",
                      in.str());
  if (!in.without_batch().known())
    raise<ShapeError>("{}: non-batch dimensions must be known, got shape {}", where(), in.str());
  Shape out = in;
  for (int a = 0; a < g_.rank; ++a) {
    const ResampleAxis& ax = g_.axis[a];
    const int64_t n = in[spatial_dim(g_, a)];
    const char* axis_name = g_.rank == 1 ? "steps" : a == 0 ? "rows" : "cols";
    if (ax.crop[0] + ax.crop[1] >= n && (ax.crop[0] || ax.crop[1]))
      raise<ShapeError>("{}: cropping ({}, {}) must leave at least one of the input's {} {}, got shape {}", where(),
                        ax.crop[0], ax.crop[1], n, axis_name, in.str());
    if (n > (std::numeric_limits<int64_t>::max() - ax.pad[0] - ax.pad[1]) / ax.size)
      raise<ShapeError>("{}: the output's {} ({} * {} + {} + {}) must fit in int64, got shape {}", where(), axis_name,
                        n, ax.size, ax.pad[0], ax.pad[1], in.str());
    out = out.with_dim(spatial_dim(g_, a), ax.out(n));
  }
  return out;
}

void Resample::do_build(const Shape& in, Rng&) {
  require_float_dtype();
  auto p = std::make_shared<kernels::ResampleProblem>();
  const auto taps = [&](int a) {
    const ResampleAxis& ax = g_.axis[a];
    const int64_t n = in[spatial_dim(g_, a)];
    return kernels::axis_taps(n, ax.size, ax.crop[0] - ax.pad[0], ax.out(n), g_.bilinear);
  };
  (g_.channels_last ? p->inner : p->channels_per_sample) = in[g_.channels_last ? size_t(g_.rank) + 1 : 1];
  if (g_.rank == 1) {  // one row of w = L steps
    p->w = in[spatial_dim(g_, 0)];
    p->rows = {kernels::AxisTaps{1, {0, 0}, {1.0, 0.0}}};
    p->cols = taps(0);
  } else {
    p->h = in[spatial_dim(g_, 0)];
    p->w = in[spatial_dim(g_, 1)];
    p->rows = taps(0);
    p->cols = taps(1);
  }
  problem_ = std::move(p);
}

Tensor Resample::move(const Tensor& x) const {
  Tensor y = Tensor::empty(output_shape(x.shape()), dtype());
  visit_float(dtype(), [&](auto t) {
    using T = decltype(t);
    kernels::resample_forward<T>(*problem_, x.shape()[0], x.data<T>(), y.data<T>());
  });
  return y;
}

Tensor Resample::move_back(const Tensor& dy, const Shape& in) const {
  Tensor dx = Tensor::empty(in, dtype());
  visit_float(dtype(), [&](auto t) {
    using T = decltype(t);
    kernels::resample_backward<T>(*problem_, in[0], dy.data<T>(), dx.data<T>());
  });
  return dx;
}

}  // namespace locnet
