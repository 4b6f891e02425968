#include "locnet/layers/locally_connected_keras.hpp"

namespace locnet {
namespace {

// Calls fn(q, iy, ix, ch) for every tap inside the input, in Keras implementation 3's order within a
// position: channels_last (tap_r, tap_c, ch), channels_first (ch, tap_r, tap_c); q is the implementation-1 patch
// index.
template <class Fn>
void for_each_valid_tap(const LocallyConnectedGeometry& g, int64_t pos, Fn&& fn) {
  int64_t oy = pos / g.ow, ox = pos % g.ow, y0, y1, x0, x1;
  g.row_taps(oy, y0, y1);
  g.col_taps(ox, x0, x1);
  if (g.channels_last) {
    for (int64_t tap_r = y0; tap_r < y1; ++tap_r)
      for (int64_t tap_c = x0; tap_c < x1; ++tap_c)
        for (int64_t ch = 0; ch < g.c; ++ch)
          fn((tap_r * g.kw + tap_c) * g.c + ch, g.in_row(oy, tap_r), g.in_col(ox, tap_c), ch);
  } else {
    for (int64_t ch = 0; ch < g.c; ++ch)
      for (int64_t tap_r = y0; tap_r < y1; ++tap_r)
        for (int64_t tap_c = x0; tap_c < x1; ++tap_c)
          fn((ch * g.kh + tap_r) * g.kw + tap_c, g.in_row(oy, tap_r), g.in_col(ox, tap_c), ch);
  }
}

int64_t valid_taps(const LocallyConnectedGeometry& g, int64_t pos) {
  int64_t y0, y1, x0, x1;
  g.row_taps(pos / g.ow, y0, y1);
  g.col_taps(pos % g.ow, x0, x1);
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

// Visits every weight that implementation 2 or 3 holds: fn(flat index there, flat index in implementation 1).
// Implementation 3's entries come in their own order.
template <class Fn>
void for_each_entry(const LocallyConnectedGeometry& g, int implementation, Fn&& fn) {
  const int64_t P = g.positions(), K = g.patch(), F = g.f;
  if (implementation == 2) {
    for (int64_t pos = 0; pos < P; ++pos)
      for_each_valid_tap(g, pos, [&](int64_t q, int64_t iy, int64_t ix, int64_t ch) {
        for (int64_t f = 0; f < F; ++f) fn(index2(g, iy, ix, ch, pos, f), (pos * K + q) * F + f);
      });
    return;
  }
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

void check_shape(const LocallyConnectedGeometry& g, const Tensor& t, int implementation) {
  Shape want = keras_kernel_shape(g, implementation);
  if (!t.defined() || t.shape() != want)
    raise<ShapeError>("LocallyConnected{}D: a Keras implementation-{} kernel must have shape {}, got {}", g.rank,
                      implementation, want.str(), t.defined() ? t.shape().str() : std::string("an empty tensor"));
}

// The kernel `src` of implementation `from` in implementation `to`; one of them is 1, the other 2 or 3.
Tensor convert(const LocallyConnectedGeometry& g, const Tensor& src, int from, int to) {
  check_shape(g, src, from);
  return visit_float(compute_dtype(src.dtype()), [&](auto t) {
    using T = decltype(t);
    const Tensor s = src.to(dtype_v<T>);
    Tensor out(keras_kernel_shape(g, to), dtype_v<T>);  // zero-filled: implementation 2's masked-out entries
    const T* in = s.data<T>();
    T* o = out.data<T>();
    if (to == 1)
      for_each_entry(g, from, [&](int64_t i, int64_t i1) { o[i1] = in[i]; });
    else
      for_each_entry(g, to, [&](int64_t i, int64_t i1) { o[i] = in[i1]; });
    return out;
  });
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
  return convert(g, kernel2, 2, 1);
}
Tensor keras_impl1_to_impl2(const LocallyConnectedGeometry& g, const Tensor& kernel1) {
  return convert(g, kernel1, 1, 2);
}
Tensor keras_impl3_to_impl1(const LocallyConnectedGeometry& g, const Tensor& kernel3) {
  return convert(g, kernel3, 3, 1);
}
Tensor keras_impl1_to_impl3(const LocallyConnectedGeometry& g, const Tensor& kernel1) {
  return convert(g, kernel1, 1, 3);
}

std::string keras_layout_hint(const LocallyConnectedGeometry& g, int implementation, const Shape& got) {
  for (int k = 1; k <= 3; ++k)
    if (k != implementation && keras_kernel_shape(g, k) == got)
      return fmt::format(" (the shape of a Keras implementation-{} kernel: load it with implementation={} on the "
                         "layer, or `locnet apply --keras-implementation {}`)",
                         k, k, k);
  return {};
}

}  // namespace locnet
