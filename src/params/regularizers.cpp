#include "locnet/params/regularizers.hpp"

#include <cmath>

#include "locnet/core/config.hpp"
#include "params/spec_forms.hpp"

namespace locnet {
namespace {

void check_penalty(double v, std::string_view what) {
  if (!std::isfinite(v) || v < 0) raise<ConfigError>("{} must be a finite number >= 0, got {}", what, v);
}

struct L1Args {
  double l1 = 0.01;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.l1, Field{"l1", "L1 penalty factor."});
  }
};
struct L2Args {
  double l2 = 0.01;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.l2, Field{"l2", "L2 penalty factor."});
  }
};
struct L1L2Args {
  double l1 = 0.0, l2 = 0.0;
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.l1, Field{"l1", "L1 penalty factor."});
    v(s.l2, Field{"l2", "L2 penalty factor."});
  }
};

}  // namespace

L1L2::L1L2(double l1, double l2) : l1_(l1), l2_(l2) {
  check_penalty(l1, "regularizer penalty l1");
  check_penalty(l2, "regularizer penalty l2");
}

double L1L2::loss(const Tensor& w) const {
  double sum_abs = 0, sum_sq = 0;
  visit_float(w.dtype(), [&](auto t) {
    const auto* p = w.data<decltype(t)>();
    for (int64_t i = 0; i < w.numel(); ++i) {
      double v = double(p[i]);
      sum_abs += std::abs(v);
      sum_sq += v * v;
    }
  });
  return l1_ * sum_abs + l2_ * sum_sq;
}

void L1L2::add_grad(const Tensor& w, Tensor& grad) const {
  if (grad.shape() != w.shape() || grad.dtype() != w.dtype())
    raise<ShapeError>("Regularizer::add_grad: grad's shape and dtype must be {} {}, got {} {}", w.shape().str(),
                      dtype_name(w.dtype()), grad.shape().str(), dtype_name(grad.dtype()));
  visit_float(w.dtype(), [&](auto t) {
    using T = decltype(t);
    const T* p = w.data<T>();
    T* g = grad.data<T>();
    const T l1 = T(l1_), l2x2 = T(2 * l2_);
    for (int64_t i = 0; i < w.numel(); ++i) g[i] += l1 * T((p[i] > 0) - (p[i] < 0)) + l2x2 * p[i];
  });
}

Call L1L2::config() const { return Call{"L1L2", {}, {{"l1", Value(l1_)}, {"l2", Value(l2_)}}}; }
Call L1::config() const { return Call{"L1", {}, {{"l1", Value(l1())}}}; }
Call L2::config() const { return Call{"L2", {}, {{"l2", Value(l2())}}}; }

std::shared_ptr<const Regularizer> make_regularizer(const Value& v, std::string_view where) {
  return catalog().read_as<Regularizer>(Kind::regularizer, v, where);
}

std::vector<TypeDoc> regularizer_docs() { return catalog().docs(Kind::regularizer); }

void declare_regularizers(Catalog& c) {
  auto made = [](auto r) -> std::unique_ptr<CatalogObject> { return std::make_unique<decltype(r)>(r); };
  c.add(declare<L1Args>(Kind::regularizer,
                        {"L1", {"l1"}, "Penalty l1 * sum |w| (Keras); the name \"l1\" means L1(0.01).", {}},
                        [made](L1Args a, const Call&) { return made(L1(a.l1)); }));
  c.add(declare<L2Args>(Kind::regularizer,
                        {"L2", {"l2"}, "Penalty l2 * sum w^2 (Keras); the name \"l2\" means L2(0.01).", {}},
                        [made](L2Args a, const Call&) { return made(L2(a.l2)); }));
  CatalogEntry l1l2 = declare<L1L2Args>(
      Kind::regularizer,
      {"L1L2", {"l1_l2"}, "The sum of both penalties (Keras); \"l1_l2\" and l1_l2() default both to 0.01.", {}},
      [made](L1L2Args a, const Call&) { return made(L1L2(a.l1, a.l2)); });
  l1l2.make = [made](const Call& call) {
    L1L2Args a;
    if (call.type == "l1_l2") a = {0.01, 0.01};  // Keras's l1_l2() function defaults
    assign_config(a, call, {});
    return made(L1L2(a.l1, a.l2));
  };
  c.add(std::move(l1l2));
  c.set_reader(Kind::regularizer, [&c](const Value& v, std::string_view where) {
    return params::read_spec_object(c, Kind::regularizer, v, where);
  });
}

void ActivityRegularization::record(const Tensor& y, bool training) {
  loss = reg && training && y.dim(0) > 0 ? reg->loss(y) / double(y.dim(0)) : 0.0;
}

Tensor ActivityRegularization::add_grad(const Tensor& y, const Tensor& dy) const {
  if (!reg || y.dim(0) == 0) return dy;
  Tensor g(y.shape(), y.dtype());
  reg->add_grad(y, g);
  Tensor out = dy.clone();
  const double inv_batch = 1.0 / double(y.dim(0));
  visit_float(g.dtype(), [&](auto t) {
    using T = decltype(t);
    const T* gp = g.data<T>();
    T* o = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) o[i] += T(inv_batch) * gp[i];
  });
  return out;
}

}  // namespace locnet
