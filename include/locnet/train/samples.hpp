// Samples for prediction read from files (`locnet predict`), scaled as the model's training scaled its data.
//   one .npy file: float arrays are used as they are; uint8 arrays ('|u1') are multiplied by scaling.scale.
//   one or more PNG or JPEG files (io/image.hpp): one sample each, in order, multiplied by scaling.scale.
// Images need a channels-last per-sample shape `sample`: (H, W, C), or (H, W) for one channel. Every image must
// be H x W (ShapeError naming the file, its shape and the model's). Channels: equal; a grayscale image for C = 3
// is replicated to R = G = B; an RGB image for C = 1 only with to_gray, as luma L = (19595 R + 38470 G + 7471 B
// + 32768) >> 16 (ITU-R BT.601 weights 0.299, 0.587, 0.114, in the fixed point Pillow's convert("L") uses);
// anything else is a ShapeError. FormatError for unreadable, corrupt or mixed (npy and image) inputs.
#pragma once
#include <string>
#include <vector>

#include "locnet/io/image.hpp"
#include "locnet/train/checkpoint.hpp"

namespace locnet {

Tensor read_samples(const std::vector<std::string>& paths, const Shape& sample, const InputScaling& scaling,
                    bool to_gray = false);

// The image's pixels with `channels` channels (1 or 3), by the rules above; ShapeError naming `name` otherwise.
std::vector<uint8_t> convert_channels(const Image& img, int64_t channels, bool to_gray, const std::string& name);

}  // namespace locnet
