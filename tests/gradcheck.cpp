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

void check_layer(Layer& layer, const Shape& in, const GradCheck& opt) { check_layer_many(layer, {in}, opt); }

void check_layer_many(Layer& layer, const std::vector<Shape>& in, const GradCheck& opt) {
  Rng rng(opt.seed);
  if (!layer.built()) layer.build_many(in, rng, DType::f64);
  ASSERT_EQ(layer.dtype(), DType::f64) << "gradient checks run in double";
  std::vector<Tensor> xs;
  for (size_t k = 0; k < in.size(); ++k)
    xs.push_back(random_tensor(in[k], DType::f64, opt.seed + 1 + 10 * k, opt.input_scale));
  Shape out = layer.output_shape_many(in);
  Tensor w = random_tensor(out, DType::f64, opt.seed + 2);
  std::vector<Tensor> xs0;
  for (const Tensor& x : xs) xs0.push_back(x.clone());
  const auto unchanged = [&] {
    for (size_t k = 0; k < xs.size(); ++k)
      if (!xs[k].equal(xs0[k])) return false;
    return true;
  };
  // "dx" for a one-input layer, "dx1" for a layer's second input.
  const auto dx_name = [&](size_t k) { return in.size() == 1 ? std::string("dx") : fmt::format("dx{}", k); };

  // Inference determinism and input preservation.
  Tensor yi1 = layer.forward_many(xs, Mode::Inference);
  Tensor yi2 = layer.forward_many(xs, Mode::Inference);
  EXPECT_TRUE(yi1.equal(yi2)) << layer.type() << ": inference forward must be deterministic";
  EXPECT_TRUE(unchanged()) << layer.type() << ": forward must not modify its input";
  EXPECT_EQ(yi1.shape(), out) << layer.type() << ": forward shape must equal output_shape";

  auto loss = [&](const std::vector<Tensor>& xin) { return weighted_sum(layer.forward_many(xin, Mode::Training), w); };

  // Analytic gradients.
  layer.zero_grad();
  Tensor y = layer.forward_many(xs, Mode::Training);
  EXPECT_TRUE(unchanged()) << layer.type() << ": training forward must not modify its input";
  Tensor w_copy = w.clone();
  std::vector<Tensor> dxs = layer.backward_many(w);
  EXPECT_TRUE(w.equal(w_copy)) << layer.type() << ": backward must not modify dy";
  ASSERT_EQ(dxs.size(), in.size()) << layer.type() << ": one gradient per input";
  for (size_t k = 0; k < in.size(); ++k) ASSERT_EQ(dxs[k].shape(), in[k]) << dx_name(k);
  std::vector<std::pair<std::string, Tensor>> grads;
  for (Param* p : layer.params()) grads.emplace_back(p->name, p->grad.clone());

  // Contract: dx assigned (same again), parameter grads accumulate (twice the first).
  std::vector<Tensor> dxs2 = layer.backward_many(w);
  for (size_t k = 0; k < in.size(); ++k)
    EXPECT_LE(max_scaled_error(dxs2[k], dxs[k], 1e-12, 1e-14), 1.0)
        << layer.type() << ": backward must assign " << dx_name(k) << ", not add";
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

  // Numeric gradient of every input.
  for (size_t k = 0; k < in.size(); ++k)
    for (int64_t i : sample_indices(xs[k].numel(), opt.max_checked)) {
      double v = xs[k].item(i);
      std::vector<Tensor> xp = xs, xm = xs;
      xp[k] = xs[k].clone();
      xm[k] = xs[k].clone();
      xp[k].set(i, v + opt.eps);
      xm[k].set(i, v - opt.eps);
      double num = (loss(xp) - loss(xm)) / (2 * opt.eps);
      expect_close(dxs[k].item(i), num, opt, fmt::format("{}: {}[{}]", layer.type(), dx_name(k), i));
    }
  // Numeric gradient of every parameter.
  size_t pi = 0;
  for (Param* p : layer.params()) {
    const Tensor& g = grads[pi++].second;
    for (int64_t i : sample_indices(p->value.numel(), opt.max_checked)) {
      double v = p->value.item(i);
      p->value.set(i, v + opt.eps);
      double lp = loss(xs);
      p->value.set(i, v - opt.eps);
      double lm = loss(xs);
      p->value.set(i, v);
      expect_close(g.item(i), (lp - lm) / (2 * opt.eps), opt, fmt::format("{}: d{}[{}]", layer.type(), p->name, i));
    }
  }
}

}  // namespace locnet::testing
