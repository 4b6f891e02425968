#include "locnet/train/samples.hpp"

#include "locnet/io/file.hpp"
#include "locnet/io/image.hpp"
#include "locnet/io/npy.hpp"

namespace locnet {
namespace {

std::string hwc(int64_t h, int64_t w, int64_t c) { return Shape{h, w, c}.str(); }

}  // namespace

std::vector<uint8_t> convert_channels(const Image& img, int64_t channels, bool to_gray, const std::string& name) {
  if (img.channels == channels) return img.pixels;
  const int64_t n = img.height * img.width;
  std::vector<uint8_t> out(size_t(n * channels));
  if (img.channels == 1 && channels == 3) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < 3; ++k) out[size_t(3 * i + k)] = img.pixels[size_t(i)];
    return out;
  }
  if (img.channels == 3 && channels == 1 && to_gray) {
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* p = &img.pixels[size_t(3 * i)];
      out[size_t(i)] = uint8_t((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 32768u) >> 16);
    }
    return out;
  }
  raise<ShapeError>("{}: image shape must be {} (the model's input{}), got {}", name,
                    hwc(img.height, img.width, channels),
                    img.channels == 3 && channels == 1 ? "; --to-gray converts RGB to grayscale" : "",
                    hwc(img.height, img.width, img.channels));
}

namespace {

Tensor image_batch(const std::vector<std::string>& paths, const Shape& sample, double scale, bool to_gray) {
  if (sample.rank() != 2 && sample.rank() != 3)
    raise<ShapeError>("image input: the model's per-sample input must be (rows, cols, channels) or (rows, cols), "
                      "got {}",
                      sample.str());
  const int64_t h = sample[0], w = sample[1], c = sample.rank() == 3 ? sample[2] : 1;
  Tensor x(sample.with_batch(int64_t(paths.size())), DType::f32);
  float* dst = x.data<float>();
  for (const std::string& path : paths) {
    const Image img = read_image(path);
    if (img.height != h || img.width != w)
      raise<ShapeError>("{}: image shape must be {} (the model's input; images are not resized), got {}", path,
                        hwc(h, w, c), hwc(img.height, img.width, img.channels));
    for (uint8_t v : convert_channels(img, c, to_gray, path)) *dst++ = float(double(v) * scale);
  }
  return x;
}

}  // namespace

Tensor read_samples(const std::vector<std::string>& paths, const Shape& sample, const InputScaling& scaling,
                    bool to_gray) {
  if (paths.empty()) raise<ConfigError>("input: at least one file is needed, got none");
  std::vector<std::byte> first = read_file(paths.front());
  if (is_image_file(first)) return image_batch(paths, sample, scaling.scale, to_gray);
  if (paths.size() > 1)
    raise<FormatError>("{}: several inputs must all be PNG or JPEG images, got a file that is neither", paths[0]);
  bool was_uint8 = false;
  Tensor x;
  try {
    x = parse_npy(first, &was_uint8);
  } catch (const FormatError& e) {
    raise<FormatError>("{}: {} (inputs are .npy files or PNG/JPEG images)", paths[0], e.what());
  }
  if (was_uint8) {
    float* p = x.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) p[i] = float(double(p[i]) * scaling.scale);
  }
  return x;
}

}  // namespace locnet
