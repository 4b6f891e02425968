#pragma once
#include <cstdint>

namespace locnet::kernels {

// One Adam step over n f32 parameters (train/optimizers.cpp holds the scalar loop, the spec, used for f64):
//   w -= w * decay (when decayed: weight_decay > 0);  m += (g - m) * c1;  v += (g * g - v) * c2;  w -= m * alpha / (sqrt(v) + eps)
// Highway SIMD with the same operations in the same order and no fused multiply-add, so the result is the
// scalar loop's, bit for bit.
void adam_update_f32(float* w, const float* g, float* m, float* v, int64_t n, bool decayed, float decay, float c1, float c2,
                     float alpha, float eps);
// The scalar loop itself, for the tests.
void adam_update_f32_ref(float* w, const float* g, float* m, float* v, int64_t n, bool decayed, float decay, float c1, float c2,
                         float alpha, float eps);

}  // namespace locnet::kernels
