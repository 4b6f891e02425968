// MaxPooling1D/2D, AveragePooling1D/2D (explicit padding, ceil_mode, count_include_pad) and GlobalMax/Average
// Pooling1D/2D against values computed by PyTorch itself (real data: tests/conformance/pool_pytorch/generate.py,
// F.max_pool*/avg_pool*/adaptive_*_pool* of torch 1.13), forward and backward, channels_first as PyTorch stores
// them and channels_last through a transpose, in f64 and f32.
#include <gtest/gtest.h>

#include <memory>
#include <sstream>

#include "conformance/cases.hpp"
#include "gradcheck.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/layers/pooling.hpp"

using namespace locnet;

namespace {

struct Case {
  std::string name, op;
  int rank = 2;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;
  int ceil = 0, incl = 0;
};

template <int R>
PoolingConfig<R> config(const Case& c, bool channels_last) {
  PoolingConfig<R> cfg;
  cfg.pool_size = R == 1 ? std::vector<int64_t>{c.kw} : std::vector<int64_t>{c.kh, c.kw};
  cfg.strides = R == 1 ? std::vector<int64_t>{c.sw} : std::vector<int64_t>{c.sh, c.sw};
  cfg.padding = R == 1 ? Value(c.pw) : Value::tuple({Value(c.ph), Value(c.pw)});
  cfg.data_format = channels_last ? "channels_last" : "channels_first";
  cfg.ceil_mode = c.ceil != 0;
  cfg.count_include_pad = c.incl != 0;
  return cfg;
}

template <int R>
std::unique_ptr<Layer> make(const Case& c, bool last) {
  const char* fmt = last ? "channels_last" : "channels_first";
  if (c.op == "max") return std::make_unique<PoolingOf<R, true>>(config<R>(c, last));
  if (c.op == "avg") return std::make_unique<PoolingOf<R, false>>(config<R>(c, last));
  if (c.op == "gmax") return std::make_unique<GlobalPooling<R, true>>(GlobalPoolingConfig<R, true>{fmt, true});
  return std::make_unique<GlobalPooling<R, false>>(GlobalPoolingConfig<R, false>{fmt, true});
}

// (N, C, spatial...) -> (N, spatial..., C), or back with `back`.
Tensor move_channels(const Tensor& t, bool back) {
  const size_t r = t.rank();
  std::vector<int64_t> dims(t.shape().dims().begin(), t.shape().dims().end());
  const int64_t n = dims[0], c = back ? dims[r - 1] : dims[1], s = t.numel() / std::max<int64_t>(n * c, 1);
  std::vector<int64_t> out = dims;
  if (back) out.erase(out.end() - 1), out.insert(out.begin() + 1, c);
  else out.erase(out.begin() + 1), out.push_back(c);
  Tensor m(Shape(out), t.dtype());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < s; ++p) {
        const int64_t first = (i * c + ch) * s + p, last = (i * s + p) * c + ch;
        if (back) m.set(first, t.item(last));
        else m.set(last, t.item(first));
      }
  return m;
}
Tensor to_last(const Tensor& t) { return move_channels(t, false); }
Tensor to_first(const Tensor& t) { return move_channels(t, true); }

}  // namespace

TEST(PoolPyTorchConformance, ForwardAndBackward) {
  const std::string dir = locnet::testing::conformance_dir("pool_pytorch");
  const std::vector<std::string> cases = locnet::testing::conformance_cases(dir);
  for (const std::string& line : cases) {
    std::istringstream in(line);
    Case c;
    in >> c.name >> c.op >> c.rank >> c.kh >> c.kw >> c.sh >> c.sw >> c.ph >> c.pw >> c.ceil >> c.incl;
    SCOPED_TRACE(c.name);
    Tensor x = read_npy(dir + c.name + "_x.npy"), dy = read_npy(dir + c.name + "_dy.npy");
    Tensor y_torch = read_npy(dir + c.name + "_y.npy"), dx_torch = read_npy(dir + c.name + "_dx.npy");
    for (bool last : {false, true})
      for (DType dt : {DType::f64, DType::f32}) {
        SCOPED_TRACE(std::string(dtype_name(dt)) + (last ? " channels_last" : " channels_first"));
        const double rtol = dt == DType::f64 ? 1e-12 : 2e-6;
        std::unique_ptr<Layer> layer = c.rank == 1 ? make<1>(c, last) : make<2>(c, last);
        Tensor xin = last ? to_last(x) : x;
        Rng rng(0);
        layer->build(xin.shape().with_dim(0, Shape::kUnknown), rng, dt);
        Tensor y = layer->forward(xin.to(dt), Mode::Training);
        if (last) y = to_first(y);
        ASSERT_EQ(y.shape(), y_torch.shape());
        EXPECT_LE(max_scaled_error(y, y_torch, rtol, rtol), 1.0);
        Tensor dx = layer->backward((last ? to_last(dy) : dy).to(dt));
        if (last) dx = to_first(dx);
        EXPECT_LE(max_scaled_error(dx, dx_torch, rtol, rtol), 1.0);
      }
  }
  EXPECT_EQ(cases.size(), 17u);
}
