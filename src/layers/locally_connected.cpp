#include "locnet/layers/locally_connected.hpp"

#include <algorithm>
#include <cctype>

#include "kernels/locally_connected/problem.hpp"
#include "kernels/registry.hpp"
#include "locnet/io/safetensors.hpp"
#include "locnet/model/sequential.hpp"
#include "locnet/params/initializers.hpp"
#include "layers/spatial.hpp"

namespace locnet {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Explicit padding as ZeroPadding1D/2D take it: p, 1D (left, right), 2D (rows, cols) or ((top, bottom), (left,
// right)). Returns false for any other form.
bool explicit_padding(const Value& v, int rank, int64_t (&pad)[2][2]) {
  auto is_int = [](const Value& e) { return e.kind() == Value::Kind::Int; };
  auto pair = [&](const Value& e, int64_t (&out)[2]) {
    if (is_int(e)) {
      out[0] = out[1] = e.as_int();
      return true;
    }
    if (e.kind() != Value::Kind::Tuple || e.items().size() != 2 || !is_int(e.items()[0]) || !is_int(e.items()[1]))
      return false;
    out[0] = e.items()[0].as_int();
    out[1] = e.items()[1].as_int();
    return true;
  };
  if (is_int(v)) {
    for (int a = 2 - rank; a < 2; ++a) pad[a][0] = pad[a][1] = v.as_int();
    return true;
  }
  if (v.kind() != Value::Kind::Tuple) return false;
  if (rank == 1) {
    if (v.items().size() != 2 || !is_int(v.items()[0]) || !is_int(v.items()[1])) return false;
    return pair(v, pad[1]);
  }
  return v.items().size() == 2 && pair(v.items()[0], pad[0]) && pair(v.items()[1], pad[1]);
}

kernels::LcProblem problem(const LocallyConnectedGeometry& g, int64_t n, DType dt, bool bias) {
  kernels::LcProblem p;
  p.n = n;
  p.h = g.h;
  p.w = g.w;
  p.c = g.c;
  p.f = g.f;
  p.kh = g.kh;
  p.kw = g.kw;
  p.sh = g.sh;
  p.sw = g.sw;
  p.dh = g.dh;
  p.dw = g.dw;
  p.pt = g.pad_top;
  p.pl = g.pad_left;
  p.oh = g.oh;
  p.ow = g.ow;
  p.channels_last = g.channels_last;
  p.has_bias = bias;
  p.dtype = dt;
  return p;
}

}  // namespace

template <int R>
LocallyConnectedSpec LocallyConnectedConfig<R>::spec() const {
  const char* type = kType;
  LocallyConnectedSpec s;
  s.rank = R;
  if (filters <= 0) raise<ConfigError>("{}: filters must be a positive integer, got {}", type, filters);
  s.filters = filters;
  // int or R-tuple of positive ints -> the (rows, cols) pair; 1D keeps rows at 1.
  auto sizes = [&](const char* name, const std::vector<int64_t>& v, int64_t (&out)[2]) {
    std::string got = detail::to_value(v).repr();
    if (v.size() != 1 && v.size() != size_t(R))
      raise<ConfigError>("{}: {} must be an int or a tuple of {} int{}, got {}", type, name, R, R == 1 ? "" : "s", got);
    for (int i = 0; i < R; ++i) {
      int64_t e = v[v.size() == 1 ? 0 : size_t(i)];
      if (e <= 0 || e > spatial::kMaxWindow)
        raise<ConfigError>("{}: {} must be positive integers <= {}, got {}", type, name, spatial::kMaxWindow, got);
      out[2 - R + i] = e;
    }
  };
  sizes("kernel_size", kernel_size, s.kernel);
  sizes("strides", strides, s.strides);
  sizes("dilation_rate", dilation_rate, s.dilation);

  if (padding.kind() == Value::Kind::Str) {
    s.padding = lower(padding.as_str());
    if (s.padding == "causal" && R == 2)
      raise<ConfigError>("{}: padding must be \"valid\", \"same\" or explicit (\"causal\" is for 1D), got \"causal\"",
                         type);
    if (s.padding != "valid" && s.padding != "same" && s.padding != "causal")
      raise<ConfigError>("{}: padding must be \"valid\", \"same\"{} or explicit zeros, got {}", type,
                         R == 1 ? ", \"causal\"" : "", padding.repr());
  } else {
    s.padding = "explicit";
    if (!explicit_padding(padding, R, s.pad))
      raise<ConfigError>("{}: padding must be \"valid\", \"same\"{}, an int or {}, got {}", type,
                         R == 1 ? ", \"causal\"" : "",
                         R == 1 ? "(left, right)" : "(rows, cols) or ((top, bottom), (left, right))", padding.repr());
    for (auto& side : s.pad)
      if (side[0] < 0 || side[1] < 0)
        raise<ConfigError>("{}: explicit padding must be >= 0 on every side, got {}", type, padding.repr());
  }

  std::string fmt_name = lower(data_format.value_or("channels_last"));
  if (fmt_name != "channels_last" && fmt_name != "channels_first")
    raise<ConfigError>("{}: data_format must be None, \"channels_last\" or \"channels_first\", got \"{}\"", type,
                       *data_format);
  s.channels_last = fmt_name == "channels_last";
  s.activation = activation.value_or("linear");
  (void)ActivationFn::by_name(s.activation, type);
  s.use_bias = use_bias;
  if (implementation < 1 || implementation > 3)
    raise<ConfigError>("{}: implementation must be 1, 2 or 3, got {}", type, implementation);
  s.implementation = int(implementation);
  check_initializer(kernel_initializer, fmt::format("{}: kernel_initializer", type));
  check_initializer(bias_initializer, fmt::format("{}: bias_initializer", type));
  s.kernel_initializer = kernel_initializer;
  s.bias_initializer = bias_initializer;
  auto arg = [&](const char* name) { return fmt::format("{}: {}", type, name); };
  s.kernel_regularizer = make_regularizer(kernel_regularizer, arg("kernel_regularizer"));
  s.bias_regularizer = make_regularizer(bias_regularizer, arg("bias_regularizer"));
  s.activity_regularizer = make_regularizer(activity_regularizer, arg("activity_regularizer"));
  s.kernel_constraint = make_constraint(kernel_constraint, arg("kernel_constraint"));
  s.bias_constraint = make_constraint(bias_constraint, arg("bias_constraint"));
  return s;
}

template struct LocallyConnectedConfig<1>;
template struct LocallyConnectedConfig<2>;

LocallyConnectedBase::LocallyConnectedBase(LocallyConnectedSpec spec, std::string name)
    : Layer(std::move(name)),
      spec_(std::move(spec)),
      act_(ActivationFn::by_name(spec_.activation, "activation")),
      activity_{spec_.activity_regularizer} {}

LocallyConnectedGeometry LocallyConnectedBase::geometry(const Shape& in) const {
  const int R = spec_.rank;
  const bool last = spec_.channels_last;
  if (in.rank() != size_t(R + 2))
    raise<ShapeError>("{}: input rank must be {} {}, got shape {}", where(), R + 2,
                      R == 1 ? (last ? "(batch, steps, channels)" : "(batch, channels, steps)")
                             : (last ? "(batch, rows, cols, channels)" : "(batch, channels, rows, cols)"),
                      in.str());
  for (size_t i = 1; i < in.rank(); ++i)
    if (in[i] <= 0)
      raise<ShapeError>("{}: non-batch dimensions must be known and > 0, got shape {}", where(), in.str());
  LocallyConnectedGeometry g;
  g.rank = R;
  g.channels_last = last;
  g.c = last ? in[size_t(R + 1)] : in[1];
  g.f = spec_.filters;
  int64_t size[2] = {1, 1}, out[2], before[2];
  for (int i = 0; i < R; ++i) size[2 - R + i] = in[size_t((last ? 1 : 2) + i)];
  for (int a = 0; a < 2; ++a) {
    int64_t n = size[a], s = spec_.strides[a], e = (spec_.kernel[a] - 1) * spec_.dilation[a] + 1;
    const std::string& mode = spec_.padding;
    if (mode == "same" || mode == "causal") {
      before[a] = mode == "same" ? e / 2 : e - 1;
      out[a] = (n + s - 1) / s;
      continue;
    }
    before[a] = mode == "explicit" ? spec_.pad[a][0] : 0;
    int64_t padded = mode == "explicit" ? n + spec_.pad[a][0] + spec_.pad[a][1] : n;
    if (padded < e) {
      const char* axis = R == 1 ? "steps" : (a == 0 ? "rows" : "cols");
      raise<ShapeError>("{}: the kernel extent along {} ((kernel - 1) * dilation + 1 = {}) must be <= the {}input "
                        "length ({}), got input shape {}",
                        where(), axis, e, mode == "explicit" ? "padded " : "", padded, in.str());
    }
    out[a] = (padded - e) / s + 1;
  }
  g.h = size[0];
  g.w = size[1];
  g.oh = out[0];
  g.ow = out[1];
  g.kh = spec_.kernel[0];
  g.kw = spec_.kernel[1];
  g.sh = spec_.strides[0];
  g.sw = spec_.strides[1];
  g.dh = spec_.dilation[0];
  g.dw = spec_.dilation[1];
  g.pad_top = before[0];
  g.pad_left = before[1];
  return g;
}

const LocallyConnectedGeometry& LocallyConnectedBase::geometry() const {
  if (!built()) raise<ConfigError>("{}: geometry needs a built layer, got an unbuilt layer", where());
  return geo_;
}

Shape LocallyConnectedBase::output_shape(const Shape& in) const {
  LocallyConnectedGeometry g = geometry(in);
  std::vector<int64_t> d{in[0]};
  if (!g.channels_last) d.push_back(g.f);
  if (g.rank == 2) d.push_back(g.oh);
  d.push_back(g.ow);
  if (g.channels_last) d.push_back(g.f);
  return Shape(std::move(d));
}

void LocallyConnectedBase::do_build(const Shape& in, Rng& rng) {
  require_float_dtype();
  geo_ = geometry(in);
  (void)Shape{geo_.oh, geo_.ow, geo_.kh, geo_.kw, geo_.c, geo_.f}.numel();  // ShapeError if P * K * F overflows
  const int64_t P = geo_.positions(), K = geo_.patch(), F = geo_.f;
  kernel_.value = Tensor(Shape{P, K, F}, dtype());
  kernel_.grad = Tensor(Shape{P, K, F}, dtype());
  // Keras initializes the kernel of its implementation, with that shape's fans (and layout, for Orthogonal).
  if (spec_.implementation == 1) {
    initialize(spec_.kernel_initializer, kernel_.value, rng, where() + " kernel_initializer");
  } else {
    Tensor k(keras_kernel_shape(geo_, spec_.implementation), dtype());
    initialize(spec_.kernel_initializer, k, rng, where() + " kernel_initializer");
    Tensor k1 = spec_.implementation == 2 ? keras_impl2_to_impl1(geo_, k) : keras_impl3_to_impl1(geo_, k);
    kernel_.value = k1.to(dtype());
  }
  kernel_.regularizer = spec_.kernel_regularizer;
  kernel_.constraint = spec_.kernel_constraint;
  if (kernel_.constraint) kernel_.constraint->check(kernel_.value.shape(), where() + " kernel_constraint");
  if (spec_.use_bias) {
    Shape bs = geo_.rank == 1 ? Shape{geo_.ow, F} : Shape{geo_.oh, geo_.ow, F};
    bias_.value = Tensor(bs, dtype());
    bias_.grad = Tensor(bs, dtype());
    initialize(spec_.bias_initializer, bias_.value, rng, where() + " bias_initializer");
    bias_.regularizer = spec_.bias_regularizer;
    bias_.constraint = spec_.bias_constraint;
    if (bias_.constraint) bias_.constraint->check(bs, where() + " bias_constraint");
  } else {
    bias_ = Param{"bias", {}, {}};
  }
  impl_ = &kernels::choose<kernels::LcKernel>("locally_connected", kernels::lc_kernels(),
                                              problem(geo_, 1, dtype(), spec_.use_bias));
}

std::vector<Param*> LocallyConnectedBase::params() {
  if (!built()) return {};
  if (spec_.use_bias) return {&kernel_, &bias_};
  return {&kernel_};
}

Tensor LocallyConnectedBase::forward(const Tensor& x, Mode mode) {
  int64_t n = check_input(x);
  Tensor z = Tensor::empty(output_shape(x.shape()), dtype());
  if (n > 0)
    impl_->forward(problem(geo_, n, dtype(), spec_.use_bias), x.raw(), kernel_.value.raw(),
                   spec_.use_bias ? bias_.value.raw() : nullptr, z.raw());
  Tensor y = z;
  if (!act_.is_linear()) {
    y = Tensor::empty(z.shape(), dtype());
    act_.forward(z, y);
  }
  if (mode == Mode::Training) {
    activity_.record(y, true);
    x_cache_ = x;
    z_cache_ = z;
    y_cache_ = y;
  }
  return y;
}

Tensor LocallyConnectedBase::backward(const Tensor& dy) {
  if (!x_cache_.defined()) raise<ConfigError>("{}: backward must follow a training-mode forward", where());
  check_grad_output(dy, y_cache_.shape());
  Tensor dyr = activity_.add_grad(y_cache_, dy);  // the activity penalty's gradient joins dy here
  Tensor dz = dyr;
  if (!act_.is_linear()) {
    dz = Tensor::empty(dy.shape(), dtype());
    act_.backward(z_cache_, y_cache_, dyr, dz);
  }
  Tensor dx = Tensor::empty(x_cache_.shape(), dtype());
  int64_t n = x_cache_.dim(0);
  if (n > 0)
    impl_->backward(problem(geo_, n, dtype(), spec_.use_bias), dz.raw(), x_cache_.raw(), kernel_.value.raw(),
                    dx.raw(), kernel_.grad.raw(), spec_.use_bias ? bias_.grad.raw() : nullptr);
  return dx;
}

// ---- Keras implementation 2 / 3 layouts ----

namespace {

// Calls fn(p, q, iy, ix, ch) for every tap inside the input, in Keras implementation 3's order within a
// position: channels_last (dy, dx, ch), channels_first (ch, dy, dx); q is the implementation-1 patch index.
template <class Fn>
void for_each_valid_tap(const LocallyConnectedGeometry& g, int64_t pos, Fn&& fn) {
  int64_t oy = pos / g.ow, ox = pos % g.ow, y0, y1, x0, x1;
  kernels::LcProblem::taps(oy, g.sh, g.dh, g.pad_top, g.kh, g.h, y0, y1);
  kernels::LcProblem::taps(ox, g.sw, g.dw, g.pad_left, g.kw, g.w, x0, x1);
  auto iy = [&](int64_t dy) { return oy * g.sh + dy * g.dh - g.pad_top; };
  auto ix = [&](int64_t dx) { return ox * g.sw + dx * g.dw - g.pad_left; };
  if (g.channels_last) {
    for (int64_t dy = y0; dy < y1; ++dy)
      for (int64_t dx = x0; dx < x1; ++dx)
        for (int64_t ch = 0; ch < g.c; ++ch) fn((dy * g.kw + dx) * g.c + ch, iy(dy), ix(dx), ch);
  } else {
    for (int64_t ch = 0; ch < g.c; ++ch)
      for (int64_t dy = y0; dy < y1; ++dy)
        for (int64_t dx = x0; dx < x1; ++dx) fn((ch * g.kh + dy) * g.kw + dx, iy(dy), ix(dx), ch);
  }
}

int64_t valid_taps(const LocallyConnectedGeometry& g, int64_t pos) {
  int64_t oy = pos / g.ow, ox = pos % g.ow, y0, y1, x0, x1;
  kernels::LcProblem::taps(oy, g.sh, g.dh, g.pad_top, g.kh, g.h, y0, y1);
  kernels::LcProblem::taps(ox, g.sw, g.dw, g.pad_left, g.kw, g.w, x0, x1);
  return (y1 - y0) * (x1 - x0);
}

int64_t nnz(const LocallyConnectedGeometry& g) {
  int64_t total = 0;
  for (int64_t pos = 0; pos < g.positions(); ++pos) total += valid_taps(g, pos);
  return total * g.c * g.f;
}

// Flat index of implementation 2's entry [input (iy, ix, ch), output (pos, f)].
int64_t index2(const LocallyConnectedGeometry& g, int64_t iy, int64_t ix, int64_t ch, int64_t pos, int64_t f) {
  return g.channels_last ? (((iy * g.w + ix) * g.c + ch) * g.positions() + pos) * g.f + f
                         : (((ch * g.h + iy) * g.w + ix) * g.f + f) * g.positions() + pos;
}

void check_shape(const LocallyConnectedGeometry& g, const Tensor& t, int implementation) {
  Shape want = keras_kernel_shape(g, implementation);
  if (!t.defined() || t.shape() != want)
    raise<ShapeError>("LocallyConnected{}D: a Keras implementation-{} kernel must have shape {}, got {}", g.rank,
                      implementation, want.str(), t.defined() ? t.shape().str() : std::string("an empty tensor"));
}

// Runs fn<T>() with T the element type to compute in: f64 stays f64, everything else is done in f32.
template <class Fn>
Tensor typed(const Tensor& t, Fn&& fn) {
  return t.dtype() == DType::f64 ? fn.template operator()<double>(t) : fn.template operator()<float>(t.to(DType::f32));
}

}  // namespace

Shape keras_kernel_shape(const LocallyConnectedGeometry& g, int implementation) {
  const bool last = g.channels_last;
  switch (implementation) {
    case 1:
      return Shape{g.positions(), g.patch(), g.f};
    case 2:
      if (g.rank == 1) return last ? Shape{g.w, g.c, g.ow, g.f} : Shape{g.c, g.w, g.f, g.ow};
      return last ? Shape{g.h, g.w, g.c, g.oh, g.ow, g.f} : Shape{g.c, g.h, g.w, g.f, g.oh, g.ow};
    case 3:
      return Shape{nnz(g)};
  }
  raise<ConfigError>("Keras LocallyConnected: implementation must be 1, 2 or 3, got {}", implementation);
}

Tensor keras_impl2_to_impl1(const LocallyConnectedGeometry& g, const Tensor& kernel2) {
  check_shape(g, kernel2, 2);
  return typed(kernel2, [&]<class T>(const Tensor& src) {
    Tensor out(keras_kernel_shape(g, 1), dtype_v<T>);
    const T* w2 = src.data<T>();
    T* w1 = out.data<T>();
    const int64_t K = g.patch(), F = g.f;
    for (int64_t pos = 0; pos < g.positions(); ++pos)
      for_each_valid_tap(g, pos, [&](int64_t q, int64_t iy, int64_t ix, int64_t ch) {
        for (int64_t f = 0; f < F; ++f) w1[(pos * K + q) * F + f] = w2[index2(g, iy, ix, ch, pos, f)];
      });
    return out;
  });
}

Tensor keras_impl1_to_impl2(const LocallyConnectedGeometry& g, const Tensor& kernel1) {
  check_shape(g, kernel1, 1);
  return typed(kernel1, [&]<class T>(const Tensor& src) {
    Tensor out(keras_kernel_shape(g, 2), dtype_v<T>);  // zero-filled: masked-out entries
    const T* w1 = src.data<T>();
    T* w2 = out.data<T>();
    const int64_t K = g.patch(), F = g.f;
    for (int64_t pos = 0; pos < g.positions(); ++pos)
      for_each_valid_tap(g, pos, [&](int64_t q, int64_t iy, int64_t ix, int64_t ch) {
        for (int64_t f = 0; f < F; ++f) w2[index2(g, iy, ix, ch, pos, f)] = w1[(pos * K + q) * F + f];
      });
    return out;
  });
}

namespace {
// Visits implementation 3's entries in order: fn(flat index in impl 3, flat index in impl 1).
template <class Fn>
void for_each_impl3(const LocallyConnectedGeometry& g, Fn&& fn) {
  const int64_t P = g.positions(), K = g.patch(), F = g.f;
  int64_t e = 0;
  auto block = [&](int64_t pos, int64_t f) {
    for_each_valid_tap(g, pos, [&](int64_t q, int64_t, int64_t, int64_t) { fn(e++, (pos * K + q) * F + f); });
  };
  if (g.channels_last) {
    for (int64_t pos = 0; pos < P; ++pos)
      for (int64_t f = 0; f < F; ++f) block(pos, f);
  } else {
    for (int64_t f = 0; f < F; ++f)
      for (int64_t pos = 0; pos < P; ++pos) block(pos, f);
  }
}
}  // namespace

Tensor keras_impl3_to_impl1(const LocallyConnectedGeometry& g, const Tensor& kernel3) {
  check_shape(g, kernel3, 3);
  return typed(kernel3, [&]<class T>(const Tensor& src) {
    Tensor out(keras_kernel_shape(g, 1), dtype_v<T>);
    const T* w3 = src.data<T>();
    T* w1 = out.data<T>();
    for_each_impl3(g, [&](int64_t i3, int64_t i1) { w1[i1] = w3[i3]; });
    return out;
  });
}

Tensor keras_impl1_to_impl3(const LocallyConnectedGeometry& g, const Tensor& kernel1) {
  check_shape(g, kernel1, 1);
  return typed(kernel1, [&]<class T>(const Tensor& src) {
    Tensor out(keras_kernel_shape(g, 3), dtype_v<T>);
    const T* w1 = src.data<T>();
    T* w3 = out.data<T>();
    for_each_impl3(g, [&](int64_t i3, int64_t i1) { w3[i3] = w1[i1]; });
    return out;
  });
}

TensorFile keras_weights_to_impl1(Sequential& model, TensorFile file, int implementation) {
  if (implementation < 1 || implementation > 3)
    raise<ConfigError>("Keras LocallyConnected: implementation must be 1, 2 or 3, got {}", implementation);
  if (implementation == 1) return file;
  if (!model.built()) raise<ConfigError>("Keras weights: the model must be built, got an unbuilt model");
  for (size_t i = 0; i < model.size(); ++i) {
    auto* lc = dynamic_cast<LocallyConnectedBase*>(&model.layer(i));
    if (!lc) continue;
    const std::string key = lc->name() + ".kernel";
    if (int own = lc->spec().implementation; own != 1) {
      if (own != implementation)
        raise<ConfigError>("Keras weights: layer '{}' says implementation={}, so its kernel must be read as "
                           "implementation {}, got {} for the file",
                           lc->name(), own, own, implementation);
      continue;  // load_weights converts it
    }
    for (auto& [name, t] : file.tensors) {
      if (name != key) continue;
      const LocallyConnectedGeometry& g = lc->geometry();
      Shape want = keras_kernel_shape(g, implementation);
      if (t.shape() != want)
        raise<FormatError>("weights: key '{}' (Keras implementation {}) must have shape {}, got {}{}", key,
                           implementation, want.str(), t.shape().str(),
                           keras_layout_hint(g, implementation, t.shape()));
      DType dt = t.dtype();
      t = (implementation == 2 ? keras_impl2_to_impl1(g, t) : keras_impl3_to_impl1(g, t)).to(dt);
    }
  }
  return file;
}

std::string keras_layout_hint(const LocallyConnectedGeometry& g, int implementation, const Shape& got) {
  for (int k = 1; k <= 3; ++k)
    if (k != implementation && keras_kernel_shape(g, k) == got)
      return fmt::format(" (the shape of a Keras implementation-{} kernel: load it with implementation={} on the "
                         "layer, or `locnet apply --keras-implementation {}`)",
                         k, k, k);
  return {};
}

std::string LocallyConnectedBase::kernel() const { return impl_ ? impl_->name : "none"; }

LayerWork LocallyConnectedBase::work(const Shape& in) const {
  return weighted_work(in, double(in[0]) * double(kernel_.value.numel()), double(param_count()));
}

}  // namespace locnet
