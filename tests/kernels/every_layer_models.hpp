// Models that between them hold every layer type of the layer registry (tests/kernels/test_impl_ref_everywhere.cpp
// checks that against layer_type_names()), for tests that must run every layer: the reference-kernel run and the
// unaligned-input run (tests/kernels/test_unaligned_inputs.cpp).
#pragma once
#include <cstdint>

#include "locnet/core/rng.hpp"
#include "locnet/core/tensor.hpp"

namespace locnet::testing {

inline const char* const kEveryLayerModels[] = {
    "Input((8, 8, 4)) >> Conv2D(4, 3, activation='relu') >> BatchNorm2D() >> LocalResponseNorm() >> "
    "MaxPooling2D(2) >> AveragePooling2D(1) >> LocallyConnected2D(2, 2, activation='tanh') >> "
    "GlobalAveragePooling2D() >> Dense(6, activation='softmax')",
    "Input((6, 4)) >> Normalization() >> LocallyConnected1D(3, 2, activation='relu') >> BatchNorm1D() >> Flatten() >> Dropout(0.5) >> "
    "Reshape((5, 3)) >> Activation('sigmoid') >> Flatten() >> Dense(2, activation='relu')",
    "Input((5, 5, 6)) >> LocalResponseNorm.tensorflow() >> LocalResponseNorm.caffe() >> "
    "LocalResponseNorm.wolfram() >> LocalResponseNorm.onednn() >> LocalResponseNorm.pytorch(5) >> "
    "LocalResponseNorm.onnx(5) >> LocalResponseNorm.mxnet(5)",
    "Input((3, 4, 4, 4)) >> BatchNorm3D() >> BatchNorm3D.keras() >> BatchNorm3D.caffe() >> BatchNorm3D.pytorch(3)",
    "Input((3, 4, 4)) >> BatchNorm2D.keras() >> BatchNorm2D.caffe() >> BatchNorm2D.pytorch(3)",
    "Input((3, 4)) >> BatchNorm1D.keras() >> BatchNorm1D.caffe() >> BatchNorm1D.pytorch(3)",
    "Input((9, 4)) >> MaxPooling1D(3, 1, padding=1, ceil_mode=True) >> AveragePooling1D(2, padding=(1, 0), "
    "count_include_pad=True) >> GlobalMaxPooling1D(keepdims=True) >> GlobalAveragePooling1D()",
    "Input((6, 6, 3)) >> MaxPooling2D(3, 2, padding=((1, 0), (0, 1)), ceil_mode=True) >> GlobalMaxPooling2D()",
    "Input((4, 3, 2)) >> ZeroPadding2D(((1, 0), (0, 2))) >> Cropping2D(1) >> UpSampling2D(2) >> "
    "UpSampling2D(2, interpolation='bilinear') >> Permute((3, 1, 2)) >> Identity() >> Reshape((-1, 4)) >> "
    "ZeroPadding1D(1) >> Cropping1D((0, 1)) >> UpSampling1D() >> Flatten() >> RepeatVector(2)",
    "Input((6, 6, 4)) >> Conv2D(4, 3, padding=((1, 0), (0, 1)), groups=2) >> DepthwiseConv2D(2, depth_multiplier=2) "
    ">> Reshape((16, 8)) >> Conv1D(4, 3, padding='causal', groups=2) >> Flatten() >> Dense(2)",
    "x = Input((4,))\na = Dense(4)(x)\nb = Activation('tanh')(x)\ns = Add()([a, b, x])\nt = Subtract()([s, a])\n"
    "u = Multiply()([t, b])\nv = Average()([u, x])\nw = Maximum()([v, a, b])\ny = Minimum()([w, x])\n"
    "z = Concatenate()([y, a])\nd = Dot(1, normalize=True)([z, z])\ne = Concatenate()([z, d])\n"
    "Model(inputs=x, outputs=e)",
    "Input((4, 4, 6)) >> Softmax(axis=1) >> ReLU() >> ReLU(max_value=6.0) >> LeakyReLU() >> "
    "PReLU(shared_axes=(1, 2)) >> ELU() >> ThresholdedReLU() >> SpatialDropout2D(0.5) >> Reshape((16, 6)) >> "
    "SpatialDropout1D(0.5)",
};

// Uniform values in [-1, 1) from Rng(seed).
inline Tensor filled(const Shape& shape, uint64_t seed, DType dtype = DType::f32) {
  Tensor t(shape, dtype);
  Rng rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, rng.uniform(-1, 1));
  return t;
}

}  // namespace locnet::testing
