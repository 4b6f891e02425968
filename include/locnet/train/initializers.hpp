// Initializers by Keras name. fan_in/fan_out are computed by the layer as Keras does for its kernel shape.
//   zeros, ones
//   glorot_uniform  U(-l, l), l = sqrt(6 / (fan_in + fan_out))      glorot_normal  TN(0, sqrt(2 / (fan_in + fan_out)))
//   he_uniform      U(-l, l), l = sqrt(6 / fan_in)                  he_normal      TN(0, sqrt(2 / fan_in))
//   lecun_uniform   U(-l, l), l = sqrt(3 / fan_in)                  lecun_normal   TN(0, sqrt(1 / fan_in))
//   random_uniform  U(-0.05, 0.05)   random_normal N(0, 0.05)        truncated_normal TN(0, 0.05)
// TN is the normal truncated at 2 stddev; the *_normal variance-scaling ones divide stddev by 0.87962566
// as Keras does so the truncated variance is the target. Unknown name: ConfigError listing the known ones.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "locnet/core/config.hpp"
#include "locnet/core/rng.hpp"
#include "locnet/core/tensor.hpp"

namespace locnet {

void check_initializer(std::string_view name, std::string_view where);  // ConfigError if unknown
void initialize(std::string_view name, Tensor& t, int64_t fan_in, int64_t fan_out, Rng& rng);
std::vector<std::string> initializer_names();
std::vector<TypeDoc> initializer_docs();  // for `locnet info`

}  // namespace locnet
