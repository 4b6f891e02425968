#include "gradcheck.hpp"

#include <algorithm>
#include <cmath>

#include "locnet/core/error.hpp"

namespace locnet::testing {

double max_scaled_error(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape())
    raise<ShapeError>("max_scaled_error: shapes must match, got {} and {}", a.shape().str(), b.shape().str());
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    double x = a.item(i), y = b.item(i);
    if (std::isnan(x) || std::isnan(y)) {
      if (std::isnan(x) != std::isnan(y)) return INFINITY;
      continue;
    }
    if (x == y) continue;
    worst = std::max(worst, std::abs(x - y) / (atol + rtol * std::abs(y)));
  }
  return worst;
}

Tensor random_tensor(const Shape& s, DType dt, uint64_t seed, double scale) {
  Rng rng(seed);
  Tensor t(s, dt);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, scale * rng.normal());
  return t;
}

namespace {

double weighted_sum(const Tensor& y, const Tensor& w) {
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += y.item(i) * w.item(i);
  return s;
}

std::vector<int64_t> sample_indices(int64_t n, int max) {
  std::vector<int64_t> idx;
  if (n <= max) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    for (int k = 0; k < max; ++k) idx.push_back(int64_t(double(k) * double(n - 1) / double(max - 1)));
  }
  return idx;
}

void expect_close(double analytic, double numeric, const GradCheck& opt, const std::string& what) {
  double tol = opt.atol + opt.rtol * std::max(std::abs(analytic), std::abs(numeric)) + 10 * opt.eps * opt.eps;
  // Central differences carry O(eps^2) truncation and O(ulp/eps) rounding error; scale atol with the loss size.
  EXPECT_NEAR(analytic, numeric, std::max(tol, 1e-7 * std::abs(numeric) + 1e-7)) << what;
}

}  // namespace

void check_layer(Layer& layer, const Shape& in, const GradCheck& opt) {
  Rng rng(opt.seed);
  if (!layer.built()) layer.build(in, rng, DType::f64);
  ASSERT_EQ(layer.dtype(), DType::f64) << "gradient checks run in double";
  Tensor x = random_tensor(in, DType::f64, opt.seed + 1, opt.input_scale);
  Shape out = layer.output_shape(in);
  Tensor w = random_tensor(out, DType::f64, opt.seed + 2);
  const Tensor x0 = x.clone();

  // Inference determinism and input preservation.
  Tensor yi1 = layer.forward(x, Mode::Inference);
  Tensor yi2 = layer.forward(x, Mode::Inference);
  EXPECT_TRUE(yi1.equal(yi2)) << layer.type() << ": inference forward must be deterministic";
  EXPECT_TRUE(x.equal(x0)) << layer.type() << ": forward must not modify its input";
  EXPECT_EQ(yi1.shape(), out) << layer.type() << ": forward shape must equal output_shape";

  auto loss = [&](const Tensor& xin) { return weighted_sum(layer.forward(xin, Mode::Training), w); };

  // Analytic gradients.
  layer.zero_grad();
  Tensor y = layer.forward(x, Mode::Training);
  EXPECT_TRUE(x.equal(x0)) << layer.type() << ": training forward must not modify its input";
  Tensor w_copy = w.clone();
  Tensor dx = layer.backward(w);
  EXPECT_TRUE(w.equal(w_copy)) << layer.type() << ": backward must not modify dy";
  ASSERT_EQ(dx.shape(), in);
  std::vector<std::pair<std::string, Tensor>> grads;
  for (Param* p : layer.params()) grads.emplace_back(p->name, p->grad.clone());

  // Contract: dx assigned (same again), parameter grads accumulate (twice the first).
  Tensor dx2 = layer.backward(w);
  EXPECT_LE(max_scaled_error(dx2, dx, 1e-12, 1e-14), 1.0) << layer.type() << ": backward must assign dx, not add";
  {
    size_t i = 0;
    for (Param* p : layer.params()) {
      Tensor twice = grads[i].second.clone();
      for (int64_t k = 0; k < twice.numel(); ++k) twice.set(k, 2 * twice.item(k));
      EXPECT_LE(max_scaled_error(p->grad, twice, 1e-12, 1e-14), 1.0)
          << layer.type() << ": gradient of " << p->name << " must accumulate over backward calls";
      ++i;
    }
  }

  // Numeric gradient of the input.
  for (int64_t i : sample_indices(x.numel(), opt.max_checked)) {
    double v = x.item(i);
    Tensor xp = x.clone(), xm = x.clone();
    xp.set(i, v + opt.eps);
    xm.set(i, v - opt.eps);
    double num = (loss(xp) - loss(xm)) / (2 * opt.eps);
    expect_close(dx.item(i), num, opt, fmt::format("{}: dx[{}]", layer.type(), i));
  }
  // Numeric gradient of every parameter.
  size_t pi = 0;
  for (Param* p : layer.params()) {
    const Tensor& g = grads[pi++].second;
    for (int64_t i : sample_indices(p->value.numel(), opt.max_checked)) {
      double v = p->value.item(i);
      p->value.set(i, v + opt.eps);
      double lp = loss(x);
      p->value.set(i, v - opt.eps);
      double lm = loss(x);
      p->value.set(i, v);
      expect_close(g.item(i), (lp - lm) / (2 * opt.eps), opt, fmt::format("{}: d{}[{}]", layer.type(), p->name, i));
    }
  }
}

}  // namespace locnet::testing
