// Initializers as Keras defines them (keras.initializers), given in a spec by name or as a call:
//   "zeros" / Zeros(), "ones" / Ones(), Constant(value=0.0)
//   RandomNormal(mean=0.0, stddev=0.05, seed=None)       N(mean, stddev)
//   RandomUniform(minval=-0.05, maxval=0.05, seed=None)  U(minval, maxval)
//   TruncatedNormal(mean=0.0, stddev=0.05, seed=None)    N(mean, stddev) redrawn beyond 2 stddev
//   VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None), with n = fan_in,
//     fan_out or (fan_in + fan_out) / 2 by mode:
//       truncated_normal    TN(0, sqrt(scale / n) / 0.87962566103423978) (that divisor is the stddev of a unit
//                           normal truncated at 2, so the drawn values have variance scale / n); "normal" is
//                           Keras 2's alias of it
//       untruncated_normal  N(0, sqrt(scale / n))
//       uniform             U(-l, l), l = sqrt(3 scale / n)
//   glorot_uniform / GlorotUniform(seed=None)  VarianceScaling(1, "fan_avg", "uniform")
//   he_uniform / HeUniform(seed=None)          VarianceScaling(2, "fan_in", "uniform")
//   lecun_uniform / LecunUniform(seed=None)    VarianceScaling(1, "fan_in", "uniform")
//   and the *_normal / *Normal variants: the same with "truncated_normal"
//   Orthogonal(gain=1.0, seed=None)  the tensor as a (prod(shape[:-1]), shape[-1]) matrix: Q of the QR of a
//     normal matrix (the taller orientation), columns' signs chosen so R's diagonal is positive, transposed when
//     wider than tall, times gain; rank >= 2 only
// Names are case-insensitive snake_case or CamelCase ("he_normal", "HeNormal", "random_normal", ...); calls
// take positional or keyword arguments (he_normal(seed=1), TruncatedNormal(0.0, 0.1)). Fans are Keras's
// compute_fans of the tensor shape: rank 1 (n,) -> n, n; rank 2 (a, b) -> a, b; rank >= 3 -> with the product
// of the leading axes as receptive field rf, shape[-2] * rf, shape[-1] * rf (a layer whose Keras shape differs
// from its own initializes a tensor of Keras's shape and converts it, see locally_connected.hpp).
// Without a seed the values come from the model's Rng; with seed=s they come from a fresh Rng(s) each time, so a
// seeded initializer gives the same values on every call, as in Keras (the stream differs from TensorFlow's).
// Errors: ConfigError naming the argument (`where`) for an unknown name or argument, a stddev < 0, minval >
// maxval, a scale <= 0, an unknown mode or distribution, a negative seed or non-finite numbers; at build,
// ConfigError for Orthogonal on a rank-0/1 tensor.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "locnet/core/catalog.hpp"
#include "locnet/core/rng.hpp"
#include "locnet/core/tensor.hpp"
#include "locnet/core/value.hpp"

namespace locnet {

void check_initializer(const Value& init, std::string_view where);  // ConfigError if not a valid initializer
// Fills t; `where` names the argument in errors ("Dense 'fc': kernel_initializer").
void initialize(const Value& init, Tensor& t, Rng& rng, std::string_view where);
std::pair<int64_t, int64_t> keras_fans(const Shape& shape);  // (fan_in, fan_out)
std::vector<std::string> initializer_names();
std::vector<TypeDoc> initializer_docs();  // for `locnet info`
void declare_initializers(Catalog& c);    // the initializers above and their reader, into the catalog

}  // namespace locnet
