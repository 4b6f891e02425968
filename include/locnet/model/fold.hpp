// Inference folding: a BatchNorm that normalizes with its running statistics is the per-channel affine map
// y = act(x * scale + shift), scale = gamma / sqrt(moving_variance + eps), shift = beta - moving_mean * scale,
// so it folds into a preceding linear layer (PyTorch's fuse_conv_bn_eval):
//   kernel' = kernel * scale (per output channel),  bias' = bias * scale + shift  (bias = 0 when use_bias=False:
//   the folded layer is rebuilt with use_bias=True),  and the BatchNorm's fused "relu" becomes the layer's
//   activation.
// Folded pairs: Dense -> BatchNorm whose channel axis is Dense's last axis (channels_last, or (N, C) inputs);
// LocallyConnected1D/2D -> BatchNorm whose channel axis is the filters' (last for channels_last, 1 for
// channels_first; BatchNormBase::channel_axis(), so a Keras axis= elsewhere is kept). Every other BatchNorm is
// kept as it is: one after a layer with a non-linear activation or of another type, one with batch statistics
// in inference (PyTorch track_running_stats=False, Caffe use_global_stats=False). The model must be built; the
// result is a new built model (same names, parameters converted in the model's dtype) whose inference output
// equals the original's up to rounding (about 1e-7 relative in f32).
#pragma once
#include "locnet/model/sequential.hpp"

namespace locnet {

Model fold_batch_norm(const Model& model);  // ConfigError if the model is not built

}  // namespace locnet
