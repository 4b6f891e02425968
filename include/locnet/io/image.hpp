// PNG and JPEG images (libpng's simplified API; libjpeg-turbo), decoded to 8-bit pixels, rows top to bottom,
// channels last (height, width, channels): 1 channel for grayscale files, 3 for color ones. 16-bit PNGs are
// reduced to 8 bits by libpng. An alpha channel is dropped when every pixel is opaque (alpha 255) and is a
// FormatError otherwise (what a transparent pixel should be is the caller's choice, not ours).
// The format is recognized from the first bytes (PNG signature \x89PNG, JPEG SOI marker FF D8 FF), not the name.
// Errors (FormatError, naming the file): an unreadable file, neither PNG nor JPEG, a corrupt or truncated image
// (libjpeg's warnings, such as premature end of data, count as errors), a header announcing more pixel bytes
// than max_tensor_bytes() (core/limits.hpp; checked before anything is decoded), or transparent pixels.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace locnet {

struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels, row-major
};

bool is_image_file(std::span<const std::byte> head);  // PNG or JPEG signature
Image decode_image(std::span<const std::byte> file, const std::string& name);  // name in errors
Image read_image(const std::string& path);

}  // namespace locnet
