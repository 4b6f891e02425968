#include "locnet/layers/weighted.hpp"

#include "locnet/params/constraints.hpp"
#include "locnet/params/initializers.hpp"

namespace locnet {

void WeightedBody::build(const Shape& kernel_shape, const Shape& bias_shape, const Value& kernel_initializer,
                         const Value& bias_initializer, DType dtype, Rng& rng, const std::string& where,
                         const std::function<void(Tensor&, Rng&)>& init_kernel) {
  kernel.value = Tensor(kernel_shape, dtype);
  kernel.grad = Tensor(kernel_shape, dtype);
  if (init_kernel)
    init_kernel(kernel.value, rng);
  else
    initialize(kernel_initializer, kernel.value, rng, where + " kernel_initializer");
  if (kernel.constraint) kernel.constraint->check(kernel_shape, where + " kernel_constraint");
  if (!use_bias) return;
  bias.value = Tensor(bias_shape, dtype);
  bias.grad = Tensor(bias_shape, dtype);
  initialize(bias_initializer, bias.value, rng, where + " bias_initializer");
  if (bias.constraint) bias.constraint->check(bias_shape, where + " bias_constraint");
}

void WeightedBody::require_forward(const std::string& where) const {
  if (!x.defined()) raise<ConfigError>("{}: backward must follow a training-mode forward", where);
}

Tensor WeightedBody::activate(const Tensor& x_in, Tensor z_out, Mode mode) {
  Tensor y_out = z_out;
  if (!act.is_linear()) {
    y_out = Tensor::empty(z_out.shape(), z_out.dtype());
    act.forward(z_out, y_out);
  }
  if (mode == Mode::Training) {
    activity.record(y_out, true);
    x = x_in;
    z = std::move(z_out);
    y = y_out;
  }
  return y_out;
}

Tensor WeightedBody::grad_z(const Tensor& dy) const {
  Tensor dyr = activity.add_grad(y, dy);  // the activity penalty's gradient joins dy here
  if (act.is_linear()) return dyr;
  Tensor dz = Tensor::empty(dy.shape(), dy.dtype());
  act.backward(z, y, dyr, dz);
  return dz;
}

}  // namespace locnet
