// One gradient checker for every layer (dlib's test_layer habit): central differences in double on a small
// random problem for the input and every trainable parameter, plus the layer contract:
//   forward leaves its input unchanged; inference forward is deterministic; backward assigns dx (a second
//   backward gives the same dx, not a sum); parameter gradients accumulate over two backward calls.
// And the tensor helpers every test uses: random_tensor (normal values from a seed), max_scaled_error.
#pragma once
#include <gtest/gtest.h>

#include "locnet/layers/layer.hpp"

namespace locnet::testing {

struct GradCheck {
  double eps = 1e-6;
  double rtol = 1e-5;
  double atol = 1e-8;
  uint64_t seed = 1;
  int max_checked = 300;  // elements per tensor checked numerically (spread over the tensor)
  double input_scale = 1.0;
};

// Builds `layer` in f64 for `in` (batch included) unless it is built already, then runs every check.
void check_layer(Layer& layer, const Shape& in, const GradCheck& opt = {});
// The same for a layer of several inputs (the merge layers) through the *_many forms: one numeric gradient per input.
void check_layer_many(Layer& layer, const std::vector<Shape>& in, const GradCheck& opt = {});

Tensor random_tensor(const Shape& s, DType dt, uint64_t seed, double scale = 1.0);

// Elementwise max |a - b| / (atol + rtol * |b|) over two tensors of the same shape (any dtypes); <= 1 means close.
// NaN matches NaN only (INFINITY otherwise). ShapeError when the shapes differ.
double max_scaled_error(const Tensor& a, const Tensor& b, double rtol, double atol);

}  // namespace locnet::testing

namespace locnet {
using testing::max_scaled_error;  // the tests call it unqualified, as when it was part of the library
}  // namespace locnet
