// Image folders as data sets (docs/image-folders.md): the layout of torchvision's ImageFolder and Keras's
// image_dataset_from_directory, root/<class>/<image>, images anywhere below the class folder.
//   Classes: the class folders' names sorted by code point (Python's sorted(), as both frameworks sort them),
//            class i = the i-th name; these are the Dataset's class_names.
//   Samples: class by class; within a class, files sorted by (folder, file name), as both frameworks walk them.
//            With shuffle_seed, one seeded permutation of that order (Keras's shuffle before validation_split).
//   Files:   .png, .jpg, .jpeg (any letter case) are images, decoded by io/image.hpp; hidden entries (a name
//            starting with '.') and files with other extensions are ignored, except image formats locnet does not
//            decode (.bmp, .gif, .tif, .tiff, .webp, .ppm, .pgm, .pbm), which are an error.
//   Pixels:  color_mode "grayscale" (1 channel; RGB converted by train/samples.hpp's luma rule) or "rgb" (3;
//            grayscale replicated); resized to (height, width) when both are given and the image differs
//            ("bilinear", Keras's default, or "nearest", both with half-pixel centers as tf.image.resize and
//            PyTorch's interpolate(align_corners=False) / 'nearest-exact', without antialiasing); values times
//            `scale` (1/255 as `locnet train` scales IDX images: InputScaling, train/checkpoint.hpp).
//   Memory:  cache = true decodes every image once, in the constructor (every bad file is found before
//            training), into one f32 tensor (n, height, width, channels), at most max_tensor_bytes()
//            (core/limits.hpp); cache = false keeps only the file list and decodes in gather (bounded memory for
//            large folders; a bad file is then found when its batch is gathered). gather is thread-safe.
// Errors: FormatError naming the path: a missing root or one without class folders, a class folder without
// images, an unsupported image format, a corrupt, truncated or transparent image (io/image.hpp), an image whose
// size differs from the first one's when no size is given. ConfigError for bad options or a cache over the limit.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "locnet/io/idx.hpp"
#include "locnet/train/dataset.hpp"

namespace locnet {

struct ImageFolderOptions {
  std::string color_mode = "rgb";  // "grayscale" or "rgb" (Keras's color_mode)
  int64_t height = 0, width = 0;   // target size; both 0: every image must have the first image's size
  std::string interpolation = "bilinear";  // or "nearest"
  double scale = kIdxImageScale;
  bool cache = true;
  std::optional<uint64_t> shuffle_seed;
};

std::shared_ptr<Dataset> image_folder_dataset(const std::string& root, const ImageFolderOptions& options = {});

// Options matching a model's per-sample input: (height, width, channels) or (height, width); channels 1
// (grayscale) or 3 (rgb), else a ShapeError.
ImageFolderOptions image_options_for(const Shape& sample);

// Whether path is a directory with at least one non-hidden subfolder holding a .png/.jpg/.jpeg file.
bool is_image_folder(const std::string& path);

}  // namespace locnet
