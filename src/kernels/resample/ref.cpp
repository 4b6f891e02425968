// Reference resampling kernel (formula in src/kernels/resample/resample.hpp): direct loops, in parallel over the
// outer rows (the transposed backward writes only into its own outer row).
#include <algorithm>
#include <cmath>

#include "kernels/resample/resample.hpp"
#include "locnet/core/parallel.hpp"

namespace locnet::kernels {

std::vector<AxisTaps> axis_taps(int64_t n, int64_t size, int64_t shift, int64_t out, bool bilinear) {
  std::vector<AxisTaps> taps(size_t(std::max<int64_t>(out, 0)));
  const int64_t up = n * size;
  const double scale = double(n) / double(up);  // PyTorch's and TensorFlow's in / out
  for (int64_t o = 0; o < int64_t(taps.size()); ++o) {
    const int64_t u = o + shift;  // index along the upsampled axis
    AxisTaps& t = taps[size_t(o)];
    if (u < 0 || u >= up) continue;  // a padded zero
    if (!bilinear || size == 1) {
      t = {1, {u / size, 0}, {1.0, 0.0}};
      continue;
    }
    // Half-pixel centers; sources before the first center clamp to it, i1 clamps at the last element.
    const double s = std::max((double(u) + 0.5) * scale - 0.5, 0.0);
    const int64_t i0 = std::min(int64_t(std::floor(s)), n - 1), i1 = std::min(i0 + 1, n - 1);
    const double l1 = s - double(i0);
    t = {2, {i0, i1}, {1.0 - l1, l1}};
  }
  return taps;
}

namespace {

// fn(outer row o, output offset, input offset, weight) for every tap of every output position of rows [lo, hi).
template <class Fn>
void for_each_tap(const ResampleProblem& p, int64_t lo, int64_t hi, Fn&& fn) {
  const int64_t oh = int64_t(p.rows.size()), ow = int64_t(p.cols.size());
  for (int64_t o = lo; o < hi; ++o)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        const AxisTaps &r = p.rows[size_t(oy)], &c = p.cols[size_t(ox)];
        const int64_t out = ((o * oh + oy) * ow + ox) * p.inner;
        for (int a = 0; a < r.count; ++a)
          for (int b = 0; b < c.count; ++b)
            fn(out, ((o * p.h + r.in[a]) * p.w + c.in[b]) * p.inner, r.w[a] * c.w[b]);
      }
}

template <class T, class Fn>
void over_outer_rows(const ResampleProblem& p, int64_t samples, Fn&& fn) {
  const int64_t work = std::max<int64_t>(1, int64_t(p.rows.size() * p.cols.size()) * p.inner);
  parallel_for(0, samples * p.channels_per_sample, std::max<int64_t>(1, 16384 / work), fn);
}

}  // namespace

template <class T>
void resample_forward(const ResampleProblem& p, int64_t samples, const T* x, T* y) {
  over_outer_rows<T>(p, samples, [&](int64_t lo, int64_t hi) {
    const int64_t per_row = int64_t(p.rows.size() * p.cols.size()) * p.inner;
    std::fill(y + lo * per_row, y + hi * per_row, T(0));
    for_each_tap(p, lo, hi, [&](int64_t out, int64_t in, double w) {
      for (int64_t i = 0; i < p.inner; ++i) y[out + i] += T(w) * x[in + i];
    });
  });
}

template <class T>
void resample_backward(const ResampleProblem& p, int64_t samples, const T* dy, T* dx) {
  over_outer_rows<T>(p, samples, [&](int64_t lo, int64_t hi) {
    const int64_t per_row = p.h * p.w * p.inner;
    std::fill(dx + lo * per_row, dx + hi * per_row, T(0));
    for_each_tap(p, lo, hi, [&](int64_t out, int64_t in, double w) {
      for (int64_t i = 0; i < p.inner; ++i) dx[in + i] += T(w) * dy[out + i];
    });
  });
}

template void resample_forward<float>(const ResampleProblem&, int64_t, const float*, float*);
template void resample_forward<double>(const ResampleProblem&, int64_t, const double*, double*);
template void resample_backward<float>(const ResampleProblem&, int64_t, const float*, float*);
template void resample_backward<double>(const ResampleProblem&, int64_t, const double*, double*);

}  // namespace locnet::kernels
