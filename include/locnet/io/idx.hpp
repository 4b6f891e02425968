// IDX files (the MNIST format), plain or gzip-compressed (detected from the content, not the name):
//   bytes 0-1  0x00 0x00
//   byte  2    element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
//   byte  3    number of dimensions d (>= 1)
//   then d big-endian uint32 sizes, then the elements, big-endian, row-major; nothing after them.
// Data sets: images (N, rows, cols) uint8 -> f32 (N, rows, cols, 1) scaled by 1/255, labels (N,) uint8 -> int64.
// load_mnist(dir) reads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte, each with or without ".gz" — MNIST and Fashion-MNIST alike. Debian's
// dataset-fashion-mnist package installs them in kFashionMnistDir; kFashionMnistClasses names its labels 0-9
// (Xiao, Rasul and Vollgraf 2017, https://github.com/zalandoresearch/fashion-mnist).
// Errors (FormatError, naming the file): unreadable or missing files, a wrong magic or element type, sizes that
// disagree with the file size (short or trailing data), a truncated or corrupt gzip stream, images that are not
// uint8 (N, rows, cols), labels that are not uint8 (N,), image and label counts that differ, a file of another
// known format ("not an IDX file (it starts with the npy magic)"). read_idx reads no further than the header
// announces (gzip: what deflate needs for that at worst, plus 128 KiB), so an endless input ends at once.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "locnet/core/tensor.hpp"

namespace locnet {

// The scaling of uint8 IDX images to [0, 1] (load_idx_images); `locnet train` records it in its model files.
inline constexpr double kIdxImageScale = 1.0 / 255.0;

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline constexpr const char* kFashionMnistClasses[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

struct IdxArray {
  uint8_t type = 0x08;                // element type code (see above)
  std::vector<int64_t> dims;
  std::vector<unsigned char> data;    // the elements, converted to host byte order
  size_t element_size() const;
  double at(int64_t i) const;         // element i as a double, any type
};

IdxArray read_idx(const std::string& path);  // plain or gzip
IdxArray parse_idx(std::span<const std::byte> file);  // the whole file's bytes, plain or gzip

struct LabeledImages {
  Tensor images;                // (N, rows, cols, 1) f32 in [0, 1]
  std::vector<int64_t> labels;  // (N,)
};
LabeledImages load_idx_images(const std::string& images_path, const std::string& labels_path);

struct MnistData {
  LabeledImages train, test;
};
MnistData load_mnist(const std::string& dir = kFashionMnistDir);

}  // namespace locnet
