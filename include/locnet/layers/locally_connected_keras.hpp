// Keras's three kernel layouts of LocallyConnected1D/2D (docs/locally_connected.md, docs/frameworks.md), for a
// layer's geometry. Implementation 1 is the layer's own (P, K, F) kernel; a layer with implementation=2 or 3 keeps
// its kernel in files in that layout and initializes it in that shape, so the layer converts with these; whole
// Keras weight files are converted in include/locnet/interop/keras.hpp. The bias is the same (OL, F) /
// (OH, OW, F) in every implementation and needs no conversion.
//   implementation 2 (dense, masked): 2D channels_last (H, W, C, OH, OW, F), channels_first (C, H, W, F, OH, OW);
//     1D channels_last (L, C, OL, F), channels_first (C, L, F, OL). Entry [input (iy, ix, c), output (oy, ox, f)]
//     is the weight of that tap when the input lies in the window; Keras keeps (and initialises) the masked-out
//     entries, which are ignored here and written as zeros by impl1_to_impl2.
//   implementation 3 (sparse): a vector (nnz,) in the sorted order of (output index, input index), both raveled
//     in the data format's order: channels_last [p][f][dy][dx][c], channels_first [f][p][c][dy][dx], over the
//     taps inside the input only (nnz = P*K*F for valid padding; fewer when "same" windows are clipped).
// Weights of taps that read nothing (outside the input) have no place in implementations 2 and 3: converting to
// implementation 1 gives them 0, and impl1 -> impl2/3 drops them. dtype is kept (f32, f64; others become f32).
// ShapeError if the tensor's shape is not the one the geometry needs.
#pragma once
#include <string>

#include "locnet/layers/locally_connected.hpp"

namespace locnet {

Shape keras_kernel_shape(const LocallyConnectedGeometry& g, int implementation);  // ConfigError unless 1, 2, 3
Tensor keras_impl2_to_impl1(const LocallyConnectedGeometry& g, const Tensor& kernel2);
Tensor keras_impl1_to_impl2(const LocallyConnectedGeometry& g, const Tensor& kernel1);
Tensor keras_impl3_to_impl1(const LocallyConnectedGeometry& g, const Tensor& kernel3);
Tensor keras_impl1_to_impl3(const LocallyConnectedGeometry& g, const Tensor& kernel1);

// For a kernel of shape `got` that is not the layer's: a note saying which other Keras implementation has that
// shape and how to load it, or "" when none does.
std::string keras_layout_hint(const LocallyConnectedGeometry& g, int implementation, const Shape& got);

}  // namespace locnet
