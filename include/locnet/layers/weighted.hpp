// WeightedBody: what Dense, Conv2D and LocallyConnected1D/2D share. y = activation(z), where z is the layer's
// kernel applied to x plus the bias (computed by its kernel-registry entry), with an activity regularizer on y
// (params/regularizers.hpp). It holds the kernel and bias parameters, the activation and what a training forward
// keeps for backward; the layer owns the geometry, the problem description and the choice of kernel.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "locnet/layers/activations.hpp"
#include "locnet/layers/layer.hpp"
#include "locnet/params/constraints.hpp"
#include "locnet/params/regularizers.hpp"

namespace locnet {

struct WeightedBody {
  Param kernel{"kernel", {}, {}}, bias{"bias", {}, {}};
  bool use_bias = true;
  ActivationFn act;
  ActivityRegularization activity;
  Tensor x, z, y;  // of the last training forward

  // use_bias, the activation, the regularizers and the constraints from a layer config's fields of those names
  // (ConfigError "<type>: <field> ..." as the config's validate()).
  template <class Config>
  void configure(const Config& cfg, const std::string& type) {
    use_bias = cfg.use_bias;
    act = ActivationFn::by_name(cfg.activation.value_or("linear"), type);
    kernel.regularizer = make_regularizer(cfg.kernel_regularizer, type + ": kernel_regularizer");
    bias.regularizer = make_regularizer(cfg.bias_regularizer, type + ": bias_regularizer");
    activity.reg = make_regularizer(cfg.activity_regularizer, type + ": activity_regularizer");
    kernel.constraint = make_constraint(cfg.kernel_constraint, type + ": kernel_constraint");
    bias.constraint = make_constraint(cfg.bias_constraint, type + ": bias_constraint");
  }
  // Allocates the kernel and (with use_bias) the bias in `dtype` with zero gradients, initializes them in that
  // order (the kernel with init_kernel when one is given, else with kernel_initializer), and checks each
  // constraint against its parameter's shape (ShapeError). Messages name `where`.
  void build(const Shape& kernel_shape, const Shape& bias_shape, const Value& kernel_initializer,
             const Value& bias_initializer, DType dtype, Rng& rng, const std::string& where,
             const std::function<void(Tensor& kernel, Rng& rng)>& init_kernel = {});
  std::vector<Param*> params() {
    if (use_bias) return {&kernel, &bias};
    return {&kernel};
  }

  // y = activation(z) with z (shape `out`) assigned by the kernel-registry entry `impl` for problem p (skipped
  // when `empty`); a training forward records the activity loss and keeps x, z and y.
  template <class Kernel, class Problem>
  Tensor forward(const Kernel& impl, const Problem& p, bool empty, const Tensor& x_in, const Shape& out, Mode mode) {
    Tensor z_out = Tensor::empty(out, x_in.dtype());
    if (!empty) impl.forward(p, x_in.raw(), kernel.value.raw(), use_bias ? bias.value.raw() : nullptr, z_out.raw());
    return activate(x_in, std::move(z_out), mode);
  }
  // dx for output gradient dy (the layer has checked it against y): the activity penalty's gradient joins dy,
  // the activation's backward gives dz, and `impl` gives dx and adds the kernel and bias gradients. need_dx = false
  // (Layer::need_input_grad) with a kernel that skips_dx: dx is not computed and the result is undefined.
  template <class Kernel, class Problem>
  Tensor backward(const Kernel& impl, const Problem& p, bool empty, const Tensor& dy, bool need_dx = true) {
    Tensor dz = grad_z(dy);
    bool skip = false;
    if constexpr (requires { impl.skips_dx; }) skip = !need_dx && impl.skips_dx;  // a kernel without it computes dx
    Tensor dx = skip ? Tensor() : Tensor::empty(x.shape(), x.dtype());
    if (!empty)
      impl.backward(p, dz.raw(), x.raw(), kernel.value.raw(), skip ? nullptr : dx.raw(), kernel.grad.raw(),
                    use_bias ? bias.grad.raw() : nullptr);
    return dx;
  }
  // ConfigError "<where>: backward must follow a training-mode forward" when no training forward came first.
  void require_forward(const std::string& where) const;

 private:
  Tensor activate(const Tensor& x_in, Tensor z_out, Mode mode);
  Tensor grad_z(const Tensor& dy) const;
};

}  // namespace locnet
