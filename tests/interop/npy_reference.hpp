// The inference output of a model on <prefix>_x.npy matches <prefix>_y.npy (a float64 reference) to 1e-5, absolute
// plus relative: the check of the Keras import tests against their NumPy references.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "locnet/io/npy.hpp"
#include "locnet/model/model.hpp"

namespace locnet {

inline void expect_matches_npy_reference(Model& model, const std::string& prefix) {
  const Tensor x = read_npy(prefix + "_x.npy").to(DType::f32);
  const Tensor want = read_npy(prefix + "_y.npy");
  const Tensor got = model.forward(x, Mode::Inference).to(DType::f64);
  ASSERT_EQ(got.shape(), want.shape());
  for (int64_t i = 0; i < want.numel(); ++i)
    EXPECT_NEAR(got.data<double>()[i], want.data<double>()[i], 1e-5 + 1e-5 * std::abs(want.data<double>()[i]))
        << prefix << " element " << i;
}

}  // namespace locnet
