// Weight and activity regularizers (Keras): a penalty added to the loss, and its gradient.
//   L1(l1=0.01)            loss = l1 * sum |w|              grad = l1 * sign(w)   (0 at w = 0, as TF's sign)
//   L2(l2=0.01)            loss = l2 * sum w^2              grad = 2 * l2 * w
//   L1L2(l1=0.0, l2=0.0)   the sum of both
// Spec forms (make_regularizer): None; the names "l1", "l2" (0.01) and "l1_l2" (l1 = l2 = 0.01, Keras's
// special case for the string); calls L1(1e-4), L2(l2=1e-4), L1L2(l1=1e-5, l2=1e-4), with Keras's lower-case
// aliases l1(...), l2(...), l1_l2(...) (whose l1_l2 defaults are 0.01 as in Keras). Penalties must be finite
// and >= 0. An object converts to the spec Value it came from, so configs take either:
//   Dense({.units = 10, .kernel_regularizer = L2(1e-4)})   or   Dense(10, kernel_regularizer="l2") in a spec.
// Where they act (layer.hpp Param, model/sequential.hpp): a parameter's regularizer is NOT part of the layer's
// backward; Sequential::regularization_loss() adds it to the loss and add_regularization_grads() to the
// gradients. An activity regularizer acts on a layer's output y: a training forward records
// loss(y) / batch (Keras divides by the batch size) and the layer's backward adds grad(y) / batch to dy.
// Errors: ConfigError naming the argument (`where`), the form and the offending value.
#pragma once
#include <memory>
#include <string_view>

#include "locnet/core/catalog.hpp"
#include "locnet/core/tensor.hpp"
#include "locnet/core/value.hpp"

namespace locnet {

class Regularizer : public CatalogObject {
 public:
  virtual double loss(const Tensor& w) const = 0;                // f32 or f64 tensors
  virtual void add_grad(const Tensor& w, Tensor& grad) const = 0;  // grad += d loss / d w (same shape and dtype)
  Call config() const override = 0;                              // the spec call that rebuilds it
  operator Value() const { return config(); }
};

class L1L2 : public Regularizer {
 public:
  explicit L1L2(double l1 = 0.0, double l2 = 0.0);
  double loss(const Tensor& w) const override;
  void add_grad(const Tensor& w, Tensor& grad) const override;
  Call config() const override;
  double l1() const { return l1_; }
  double l2() const { return l2_; }

 private:
  double l1_, l2_;
};

class L1 : public L1L2 {
 public:
  explicit L1(double l1 = 0.01) : L1L2(l1, 0.0) {}
  Call config() const override;
};

class L2 : public L1L2 {
 public:
  explicit L2(double l2 = 0.01) : L1L2(0.0, l2) {}
  Call config() const override;
};

// None -> nullptr; otherwise a regularizer, or ConfigError "<where> must be ..., got ...".
std::shared_ptr<const Regularizer> make_regularizer(const Value& v, std::string_view where);
std::vector<TypeDoc> regularizer_docs();  // for `locnet info`
void declare_regularizers(Catalog& c);    // L1, L2, L1L2 and their reader, into the catalog

// The regularizer options of a layer with a kernel and a bias (Dense, Conv2D, LocallyConnected), in Keras's order,
// for its config's field list (core/config.hpp).
template <class Self, class V>
void regularizer_fields(Self& s, V& v) {
  v(s.kernel_regularizer, Field{"kernel_regularizer", "None, \"l1\", \"l2\", \"l1_l2\", L1(l1), L2(l2) or L1L2(l1, l2): "
                                                      "penalty on the kernel added to the loss."});
  v(s.bias_regularizer, Field{"bias_regularizer", "As kernel_regularizer, for the bias."});
  v(s.activity_regularizer, Field{"activity_regularizer", "As kernel_regularizer, on the output (divided by the "
                                                          "batch size, as Keras)."});
}

// An activity regularizer owned by a layer (see above). Does nothing when reg is null.
struct ActivityRegularization {
  std::shared_ptr<const Regularizer> reg;
  double loss = 0.0;
  // After a forward: records loss(y) / batch in Training, clears it in Inference.
  void record(const Tensor& y, bool training);
  // dy + grad(y) / batch as a new tensor (dy itself when there is no regularizer); dy is not modified.
  Tensor add_grad(const Tensor& y, const Tensor& dy) const;
};

}  // namespace locnet
