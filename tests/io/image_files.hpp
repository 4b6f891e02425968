// Writes small PNG and JPEG files for the image tests with libpng's and libjpeg's own encoders (synthetic
// images: the pixel values are made up by each test).
#pragma once
#include <jpeglib.h>
#include <png.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace test_images {

// pixels: height * width * channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA), rows top to bottom.
inline void write_png(const std::string& path, int width, int height, int channels, const std::vector<uint8_t>& px) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = uint32_t(width);
  img.height = uint32_t(height);
  img.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 2 ? PNG_FORMAT_GA : channels == 3 ? PNG_FORMAT_RGB
                                                                                                : PNG_FORMAT_RGBA;
  if (!png_image_write_to_file(&img, path.c_str(), 0, px.data(), 0, nullptr))
    throw std::runtime_error(std::string("write_png: ") + img.message);
}

// channels 1 (grayscale) or 3 (RGB); quality 1-100.
inline void write_jpeg(const std::string& path, int width, int height, int channels, const std::vector<uint8_t>& px,
                       int quality = 95) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("write_jpeg: cannot open " + path);
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  jpeg_stdio_dest(&c, f);
  c.image_width = JDIMENSION(width);
  c.image_height = JDIMENSION(height);
  c.input_components = channels;
  c.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, quality, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(px.data() + size_t(c.next_scanline) * size_t(width * channels));
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::fclose(f);
}

}  // namespace test_images
