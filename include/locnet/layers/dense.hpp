// Dense (Keras): y = activation(x @ kernel + bias), applied to the last axis.
//   units               required, > 0
//   activation          None/"linear" or a name from activations.hpp
//   use_bias            True
//   kernel_initializer  "glorot_uniform";  bias_initializer "zeros"  (names from initializers.hpp)
// Parameters: kernel (in, units), bias (units,), exactly Keras's layout. Input rank >= 2; the last axis is
// fixed at build. Errors: ConfigError for units <= 0 or unknown names; ShapeError for rank < 2 or a last axis
// that differs from the built one.
#pragma once
#include <optional>

#include "locnet/layers/activations.hpp"
#include "locnet/layers/layer.hpp"

namespace locnet {
namespace kernels {
struct DenseKernel;
}

struct DenseConfig {
  int64_t units = 0;
  std::optional<std::string> activation;
  bool use_bias = true;
  std::string kernel_initializer = "glorot_uniform";
  std::string bias_initializer = "zeros";

  template <class Self, class V>
  static void fields(Self& s, V&& v) {
    v(s.units, Field{"units", "Number of output units (the last axis of the output).", Field::required});
    v(s.activation, Field{"activation", "Activation applied to the output; None means linear."});
    v(s.use_bias, Field{"use_bias", "Whether the layer adds a bias vector."});
    v(s.kernel_initializer, Field{"kernel_initializer", "Initializer of the kernel (in, units)."});
    v(s.bias_initializer, Field{"bias_initializer", "Initializer of the bias (units,)."});
  }
  void validate() const;
};

class Dense : public Layer {
 public:
  using Config = DenseConfig;
  explicit Dense(Config cfg, std::string name = {});
  explicit Dense(int64_t units, std::optional<std::string> activation = std::nullopt, std::string name = {});

  std::string type() const override { return "Dense"; }
  Shape output_shape(const Shape& in) const override;
  Tensor forward(const Tensor& x, Mode mode) override;
  Tensor backward(const Tensor& dy) override;
  std::vector<Param*> params() override;
  Call config() const override { return make_call(config_values(cfg_)); }
  std::unique_ptr<Layer> clone() const override { return clone_of(*this); }
  const Config& cfg() const { return cfg_; }

 protected:
  void do_build(const Shape& in, Rng& rng) override;

 private:
  Config cfg_;
  ActivationFn act_;
  Param kernel_{"kernel", {}, {}}, bias_{"bias", {}, {}};
  Tensor x_cache_, z_cache_, y_cache_;
  const kernels::DenseKernel* kernel_impl_ = nullptr;
};

}  // namespace locnet
