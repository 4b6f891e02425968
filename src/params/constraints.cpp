#include "locnet/params/constraints.hpp"

#include <algorithm>
#include <cmath>

#include "locnet/core/config.hpp"
#include "params/spec_forms.hpp"

namespace locnet {
namespace {

constexpr double kEpsilon = 1e-7;  // Keras backend.epsilon()

void check_axes(const std::vector<int64_t>& axis) {
  if (axis.empty()) raise<ConfigError>("constraint axis must be an int or a non-empty tuple of ints, got ()");
  for (size_t i = 0; i < axis.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (axis[i] == axis[j]) raise<ConfigError>("constraint axis must not repeat an axis, got {}", axis[i]);
}

// The axes resolved for a rank (negative from the end); ShapeError when one is out of range.
std::vector<bool> reduced_axes(const std::vector<int64_t>& axis, const Shape& shape, std::string_view where) {
  const int64_t rank = int64_t(shape.rank());
  std::vector<bool> reduced(size_t(rank), false);
  for (int64_t a : axis) {
    int64_t r = a < 0 ? a + rank : a;
    if (r < 0 || r >= rank)
      raise<ShapeError>("{}: constraint axis must be in [{}, {}) for a parameter of shape {}, got {}", where, -rank,
                        rank, shape.str(), a);
    if (reduced[size_t(r)])
      raise<ShapeError>("{}: constraint axes must be distinct for shape {}, got {} twice", where, shape.str(), a);
    reduced[size_t(r)] = true;
  }
  return reduced;
}

struct MaxNormArgs {
  double max_value = 2.0;
  std::vector<int64_t> axis{0};
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.max_value, Field{"max_value", "Largest norm allowed."});
    v(s.axis, Field{"axis", "Axis or axes the norm is taken over (negative: from the end)."});
  }
};
struct UnitNormArgs {
  std::vector<int64_t> axis{0};
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.axis, Field{"axis", "Axis or axes the norm is taken over (negative: from the end)."});
  }
};
struct MinMaxNormArgs {
  double min_value = 0.0, max_value = 1.0, rate = 1.0;
  std::vector<int64_t> axis{0};
  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.min_value, Field{"min_value", "Smallest norm allowed."});
    v(s.max_value, Field{"max_value", "Largest norm allowed."});
    v(s.rate, Field{"rate", "Fraction of the way to the clipped norm, in [0, 1]."});
    v(s.axis, Field{"axis", "Axis or axes the norm is taken over (negative: from the end)."});
  }
};
struct NoArgs {
  template <class Self, class V>
  static void fields(Self&, V&&) {}
};

}  // namespace

void NonNeg::apply(Tensor& w) const {
  visit_float(w.dtype(), [&](auto t) {
    auto* p = w.data<decltype(t)>();
    for (int64_t i = 0; i < w.numel(); ++i)
      if (!(p[i] >= 0)) p[i] = 0;
  });
}

Call NonNeg::config() const { return Call{"NonNeg", {}, {}}; }

NormConstraint::NormConstraint(std::vector<int64_t> axis) : axis_(std::move(axis)) { check_axes(axis_); }

void NormConstraint::check(const Shape& shape, std::string_view where) const { (void)reduced_axes(axis_, shape, where); }

Value NormConstraint::axis_value() const {
  if (axis_.size() == 1) return Value(axis_[0]);
  std::vector<Value> items(axis_.begin(), axis_.end());
  return Value::tuple(std::move(items));
}

// Each element belongs to the slice given by its indices along the kept axes; an odometer over the shape
// tracks that slice's flat index without divisions or an index buffer.
void NormConstraint::apply(Tensor& w) const {
  const Shape& shape = w.shape();
  std::vector<bool> reduced = reduced_axes(axis_, shape, "constraint");
  const size_t rank = shape.rank();
  std::vector<int64_t> slice_stride(rank, 0);
  int64_t slices = 1;
  for (size_t d = rank; d-- > 0;)
    if (!reduced[d]) {
      slice_stride[d] = slices;
      slices *= shape[d];
    }
  // Calls fn(flat index, slice index) for every element, in memory order.
  std::vector<int64_t> idx(rank);
  auto for_each = [&](auto&& fn) {
    std::fill(idx.begin(), idx.end(), 0);
    int64_t s = 0;
    for (int64_t i = 0; i < w.numel(); ++i) {
      fn(i, s);
      for (size_t d = rank; d-- > 0;) {  // advance the odometer, keeping s in step
        s += slice_stride[d];
        if (++idx[d] < shape[d]) break;
        s -= slice_stride[d] * shape[d];
        idx[d] = 0;
      }
    }
  };
  std::vector<double> scale(size_t(slices), 0.0);
  visit_float(w.dtype(), [&](auto t) {
    using T = decltype(t);
    T* p = w.data<T>();
    for_each([&](int64_t i, int64_t s) { scale[size_t(s)] += double(p[i]) * double(p[i]); });
    for (double& v : scale) {
      double norm = std::sqrt(v);
      v = desired(norm) / (kEpsilon + norm);
    }
    for_each([&](int64_t i, int64_t s) { p[i] = T(double(p[i]) * scale[size_t(s)]); });
  });
}

MaxNorm::MaxNorm(double max_value, std::vector<int64_t> axis) : NormConstraint(std::move(axis)), max_value_(max_value) {
  if (!(max_value >= 0) || !std::isfinite(max_value))
    raise<ConfigError>("MaxNorm: max_value must be a finite number >= 0, got {}", max_value);
}
double MaxNorm::desired(double norm) const { return std::clamp(norm, 0.0, max_value_); }
Call MaxNorm::config() const {
  return Call{"MaxNorm", {}, {{"max_value", Value(max_value_)}, {"axis", axis_value()}}};
}

Call UnitNorm::config() const { return Call{"UnitNorm", {}, {{"axis", axis_value()}}}; }

MinMaxNorm::MinMaxNorm(double min_value, double max_value, double rate, std::vector<int64_t> axis)
    : NormConstraint(std::move(axis)), min_value_(min_value), max_value_(max_value), rate_(rate) {
  if (!(min_value >= 0) || !std::isfinite(max_value) || !(min_value <= max_value))
    raise<ConfigError>("MinMaxNorm: min_value and max_value must satisfy 0 <= min_value <= max_value, got {} and {}",
                       min_value, max_value);
  if (!(rate >= 0 && rate <= 1)) raise<ConfigError>("MinMaxNorm: rate must be in [0, 1], got {}", rate);
}
double MinMaxNorm::desired(double norm) const {
  return rate_ * std::clamp(norm, min_value_, max_value_) + (1 - rate_) * norm;
}
Call MinMaxNorm::config() const {
  return Call{"MinMaxNorm",
              {},
              {{"min_value", Value(min_value_)}, {"max_value", Value(max_value_)}, {"rate", Value(rate_)},
               {"axis", axis_value()}}};
}

std::vector<TypeDoc> constraint_docs() { return catalog().docs(Kind::constraint); }

std::shared_ptr<const Constraint> make_constraint(const Value& v, std::string_view where) {
  return catalog().read_as<Constraint>(Kind::constraint, v, where);
}

void declare_constraints(Catalog& c) {
  auto made = [](auto r) -> std::unique_ptr<CatalogObject> { return std::make_unique<decltype(r)>(std::move(r)); };
  c.add(declare<MaxNormArgs>(Kind::constraint,
                             {"MaxNorm", {"max_norm"}, "Scales slices whose norm exceeds max_value down to it (Keras).", {}},
                             [made](MaxNormArgs a, const Call&) { return made(MaxNorm(a.max_value, a.axis)); }));
  c.add(declare<NoArgs>(Kind::constraint, {"NonNeg", {"non_neg"}, "Sets negative values to 0 (Keras).", {}},
                        [made](NoArgs, const Call&) { return made(NonNeg()); }));
  c.add(declare<UnitNormArgs>(Kind::constraint, {"UnitNorm", {"unit_norm"}, "Scales each slice to norm 1 (Keras).", {}},
                              [made](UnitNormArgs a, const Call&) { return made(UnitNorm(a.axis)); }));
  c.add(declare<MinMaxNormArgs>(
      Kind::constraint,
      {"MinMaxNorm", {"min_max_norm"}, "Moves each slice's norm into [min_value, max_value] at rate (Keras).", {}},
      [made](MinMaxNormArgs a, const Call&) { return made(MinMaxNorm(a.min_value, a.max_value, a.rate, a.axis)); }));
  c.set_reader(Kind::constraint, [&c](const Value& v, std::string_view where) {
    return params::read_spec_object(c, Kind::constraint, v, where);
  });
}

}  // namespace locnet
