#include "locnet/params/regularizers.hpp"

#include <cmath>

#include "locnet/core/config.hpp"

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

const char* kForms = "None, \"l1\", \"l2\", \"l1_l2\", L1(l1), L2(l2) or L1L2(l1, l2)";

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
  if (v.is_none()) return nullptr;
  if (v.kind() == Value::Kind::Str) {
    const std::string& s = v.as_str();
    if (s == "l1") return std::make_shared<L1>();
    if (s == "l2") return std::make_shared<L2>();
    if (s == "l1_l2") return std::make_shared<L1L2>(0.01, 0.01);
  } else if (v.kind() == Value::Kind::Call) {
    const Call& c = v.call();
    std::string at = fmt::format("{}: {}", where, detail::where(c.type, c.column));
    try {
      if (c.type == "L1" || c.type == "l1") {
        L1Args a;
        assign_config(a, c, {});
        return std::make_shared<L1>(a.l1);
      }
      if (c.type == "L2" || c.type == "l2") {
        L2Args a;
        assign_config(a, c, {});
        return std::make_shared<L2>(a.l2);
      }
      if (c.type == "L1L2" || c.type == "l1_l2") {
        L1L2Args a;
        if (c.type == "l1_l2") a = {0.01, 0.01};  // Keras's l1_l2() function defaults
        assign_config(a, c, {});
        return std::make_shared<L1L2>(a.l1, a.l2);
      }
    } catch (const ConfigError& e) {
      // assign_config's messages start with the call; the constructors' do not.
      std::string msg = e.what();
      raise<ConfigError>("{}: {}", msg.starts_with(c.type) ? std::string(where) : at, msg);
    }
  }
  raise<ConfigError>("{} must be {}, got {}", where, kForms, v.repr());
}

std::vector<TypeDoc> regularizer_docs() {
  return {{"L1", {"l1"}, "Penalty l1 * sum |w| (Keras); the name \"l1\" means L1(0.01).", describe_config<L1Args>()},
          {"L2", {"l2"}, "Penalty l2 * sum w^2 (Keras); the name \"l2\" means L2(0.01).", describe_config<L2Args>()},
          {"L1L2", {"l1_l2"}, "The sum of both penalties (Keras); \"l1_l2\" and l1_l2() default both to 0.01.",
           describe_config<L1L2Args>()}};
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
