// Weight constraints (Keras): a projection applied to a parameter after each optimizer step
// (Sequential::apply_constraints()). With norms = sqrt(sum of w^2 over `axis`) (kept per index of the other
// axes) and Keras's epsilon e = 1e-7:
//   MaxNorm(max_value=2, axis=0)                          w * clip(norms, 0, max_value) / (e + norms)
//   NonNeg()                                              w * (w >= 0)
//   UnitNorm(axis=0)                                      w / (e + norms)
//   MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0, axis=0)
//                                                         w * (rate * clip(norms, min, max) + (1 - rate) norms)
//                                                           / (e + norms)
// axis: an int or a tuple of ints, negative counting from the end. Keras's axis=0 norms over the FIRST axis:
// for Dense's kernel (in, units) that is each unit's incoming weight vector; for LocallyConnected's kernel
// (P, K, F) it is each (patch entry, filter) across positions, which is rarely what is wanted: axis=1 gives
// one norm per position and filter (a Conv2D-like constraint), axis=(0, 1) one per filter
// (docs/locally_connected.md).
// Spec forms (make_constraint): None; the names "max_norm", "non_neg", "unit_norm", "min_max_norm" (Keras
// defaults); calls MaxNorm(3), UnitNorm(axis=1), MinMaxNorm(0.5, 1.0, rate=0.5, axis=(0, 1)) and the
// lower-case aliases max_norm(...), non_neg(), unit_norm(...), min_max_norm(...). An object converts to its
// spec Value, so configs take either. Errors: ConfigError naming the argument for a bad form or value
// (max_value < 0, min_value > max_value, rate outside [0, 1], a repeated axis); check(shape) raises ShapeError
// when an axis does not exist for a parameter's shape (layers call it at build).
#pragma once
#include <memory>
#include <string_view>
#include <vector>

#include "locnet/core/catalog.hpp"
#include "locnet/core/tensor.hpp"
#include "locnet/core/value.hpp"

namespace locnet {

class Constraint : public CatalogObject {
 public:
  virtual void apply(Tensor& w) const = 0;  // in place, f32 or f64
  Call config() const override = 0;
  // ShapeError "<where>: ..." if the constraint cannot apply to a parameter of this shape.
  virtual void check(const Shape&, std::string_view /*where*/) const {}
  operator Value() const { return config(); }
};

class NonNeg : public Constraint {
 public:
  void apply(Tensor& w) const override;
  Call config() const override;
};

// The norm-based constraints: w *= scale(norms) / (e + norms) per slice of the non-`axis` indices.
class NormConstraint : public Constraint {
 public:
  void apply(Tensor& w) const override;
  void check(const Shape& shape, std::string_view where) const override;
  const std::vector<int64_t>& axis() const { return axis_; }

 protected:
  explicit NormConstraint(std::vector<int64_t> axis);
  virtual double desired(double norm) const = 0;
  Value axis_value() const;  // an int when there is one axis, as Keras prints it

 private:
  std::vector<int64_t> axis_;
};

class MaxNorm : public NormConstraint {
 public:
  explicit MaxNorm(double max_value = 2.0, std::vector<int64_t> axis = {0});
  Call config() const override;

 private:
  double desired(double norm) const override;
  double max_value_;
};

class UnitNorm : public NormConstraint {
 public:
  explicit UnitNorm(std::vector<int64_t> axis = {0}) : NormConstraint(std::move(axis)) {}
  Call config() const override;

 private:
  double desired(double) const override { return 1.0; }
};

class MinMaxNorm : public NormConstraint {
 public:
  explicit MinMaxNorm(double min_value = 0.0, double max_value = 1.0, double rate = 1.0,
                      std::vector<int64_t> axis = {0});
  Call config() const override;

 private:
  double desired(double norm) const override;
  double min_value_, max_value_, rate_;
};

// None -> nullptr; otherwise a constraint, or ConfigError "<where> must be ..., got ...".
std::shared_ptr<const Constraint> make_constraint(const Value& v, std::string_view where);
std::vector<TypeDoc> constraint_docs();  // for `locnet info`
void declare_constraints(Catalog& c);    // the constraints above and their reader, into the catalog

}  // namespace locnet
