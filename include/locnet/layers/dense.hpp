// Dense (Keras): y = activation(x @ kernel + bias), applied to the last axis.
//   units               required, > 0
//   activation          None/"linear" or a name from activations.hpp
//   use_bias            True
//   kernel_initializer  "glorot_uniform";  bias_initializer "zeros"  (a name or call from initializers.hpp)
//   kernel_regularizer, bias_regularizer, activity_regularizer   None or as params/regularizers.hpp
//                       (the activity regularizer acts on the output y, after the activation)
//   kernel_constraint, bias_constraint                           None or as params/constraints.hpp (Keras's
//                       axis=0 on the (in, units) kernel: the norm of each unit's incoming weights)
// Parameters: kernel (in, units), bias (units,), exactly Keras's layout. Input rank >= 2; the last axis is
// fixed at build. Errors: ConfigError for units <= 0 or unknown names, regularizers or constraints; ShapeError
// for rank < 2, a last axis that differs from the built one, or a constraint axis the parameter lacks (build).
#pragma once
#include <optional>

#include "locnet/layers/activations.hpp"
#include "locnet/layers/layer.hpp"
#include "locnet/layers/weighted.hpp"
#include "locnet/params/constraints.hpp"
#include "locnet/params/regularizers.hpp"

namespace locnet {
namespace kernels {
struct DenseKernel;
}

struct DenseConfig {
  static constexpr const char* kType = "Dense";
  static constexpr const char* kDoc = "Fully connected layer: activation(x @ kernel + bias).";
  int64_t units = 0;
  std::optional<std::string> activation;
  bool use_bias = true;
  Value kernel_initializer = "glorot_uniform";
  Value bias_initializer = "zeros";
  Value kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint, bias_constraint;

  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.units, Field{"units", "Number of output units (the last axis of the output).", Field::required});
    v(s.activation, Field{"activation", "Activation applied to the output; None means linear."});
    v(s.use_bias, Field{"use_bias", "Whether the layer adds a bias vector."});
    v(s.kernel_initializer, Field{"kernel_initializer", "Initializer of the kernel (in, units)."});
    v(s.bias_initializer, Field{"bias_initializer", "Initializer of the bias (units,)."});
    regularizer_fields(s, v);
    v(s.kernel_constraint, Field{"kernel_constraint", "None, \"max_norm\", \"non_neg\", \"unit_norm\", "
                                                      "\"min_max_norm\" or a call such as MaxNorm(2); axis 0 "
                                                      "norms each unit's incoming weights."});
    v(s.bias_constraint, Field{"bias_constraint", "As kernel_constraint, for the bias (units,)."});
  }
  void validate() const;
};

class Dense : public LayerOf<Dense, DenseConfig> {
 public:
  explicit Dense(Config cfg, std::string name = {});
  explicit Dense(int64_t units, std::optional<std::string> activation = std::nullopt, std::string name = {});

  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::vector<Param*> params() override;
  double activity_loss() const override { return body_.activity.loss; }
  std::string kernel() const override;
  LayerWork work(const Shape& in) const override;  // in.numel() * units multiply-adds

 protected:
  void do_build(const Shape& in, Rng& rng) override;

 private:
  WeightedBody body_;
  const kernels::DenseKernel* kernel_impl_ = nullptr;
};

}  // namespace locnet
