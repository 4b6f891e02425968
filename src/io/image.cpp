#include "locnet/io/image.hpp"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "locnet/core/error.hpp"
#include "locnet/core/limits.hpp"
#include "locnet/io/file.hpp"

namespace locnet {
namespace {

bool is_png(std::span<const std::byte> f) {
  return f.size() >= 8 && png_sig_cmp(reinterpret_cast<png_const_bytep>(f.data()), 0, 8) == 0;
}
bool is_jpeg(std::span<const std::byte> f) {
  return f.size() >= 3 && f[0] == std::byte{0xFF} && f[1] == std::byte{0xD8} && f[2] == std::byte{0xFF};
}

void check_size(uint64_t height, uint64_t width, uint64_t channels, const std::string& name) {
  const uint64_t limit = max_tensor_bytes();
  if (height == 0 || width == 0 || height > limit / width || height * width > limit / channels)
    raise<FormatError>("{}: image size must be at least 1x1 and at most {} bytes of pixels, got {}x{}x{} in the "
                       "header",
                       name, limit, height, width, channels);
}

// Keeps the colour channels of an image with alpha as its last channel; FormatError if any pixel is not opaque.
Image drop_alpha(Image img, const std::string& name) {
  const int64_t c = img.channels, keep = c - 1, n = img.height * img.width;
  for (int64_t i = 0; i < n; ++i) {
    if (img.pixels[size_t(i * c + keep)] != 255)
      raise<FormatError>("{}: alpha must be 255 (opaque) at every pixel, got {} at row {}, column {}", name,
                         img.pixels[size_t(i * c + keep)], i / img.width, i % img.width);
    std::memmove(&img.pixels[size_t(i * keep)], &img.pixels[size_t(i * c)], size_t(keep));
  }
  img.pixels.resize(size_t(n * keep));
  img.channels = keep;
  return img;
}

Image decode_png(std::span<const std::byte> f, const std::string& name) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, f.data(), f.size()))
    raise<FormatError>("{}: corrupt PNG: {}", name, png.message);
  const bool color = png.format & PNG_FORMAT_FLAG_COLOR, alpha = png.format & PNG_FORMAT_FLAG_ALPHA;
  png.format = color ? (alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB) : (alpha ? PNG_FORMAT_GA : PNG_FORMAT_GRAY);
  Image img{png.height, png.width, PNG_IMAGE_SAMPLE_CHANNELS(png.format), {}};
  try {
    check_size(png.height, png.width, uint64_t(img.channels), name);
  } catch (...) {
    png_image_free(&png);
    throw;
  }
  img.pixels.resize(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, img.pixels.data(), 0, nullptr))
    raise<FormatError>("{}: corrupt PNG: {}", name, png.message);  // finish_read frees png on failure too
  return alpha ? drop_alpha(std::move(img), name) : img;
}

// libjpeg reports errors through error_exit, which must not return: it jumps back to decode_jpeg_c.
struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};
void jpeg_fail(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  cinfo->err->format_message(cinfo, err->message);
  std::longjmp(err->jump, 1);
}
void jpeg_warning_is_error(j_common_ptr cinfo, int level) {
  if (level < 0) jpeg_fail(cinfo);  // corrupt data, e.g. "Premature end of JPEG file"
}

// Only plain C objects live in this frame, so the longjmp skips no destructor. Returns 0 on success, 1 for a
// corrupt file (message set), 2 for a size over the limit (height, width, channels set). `out` is malloc'ed.
int decode_jpeg_c(const unsigned char* data, unsigned long size, uint64_t limit, unsigned char** out,
                  uint64_t* height, uint64_t* width, uint64_t* channels, char* message) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  *out = nullptr;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  err.mgr.emit_message = jpeg_warning_is_error;
  if (setjmp(err.jump)) {
    std::memcpy(message, err.message, sizeof err.message);
    jpeg_destroy_decompress(&cinfo);
    std::free(*out);
    *out = nullptr;
    return 1;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, size);
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  *height = cinfo.image_height, *width = cinfo.image_width, *channels = cinfo.num_components == 1 ? 1 : 3;
  if (*height == 0 || *width == 0 || *height > limit / *width || *height * *width > limit / *channels) {
    jpeg_destroy_decompress(&cinfo);
    return 2;
  }
  jpeg_start_decompress(&cinfo);
  const size_t row = size_t(cinfo.output_width) * size_t(cinfo.output_components);
  *out = static_cast<unsigned char*>(std::malloc(row * cinfo.output_height));
  if (!*out) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(message, JMSG_LENGTH_MAX, "out of memory");
    return 1;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW r = *out + row * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &r, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return 0;
}

Image decode_jpeg(std::span<const std::byte> f, const std::string& name) {
  unsigned char* out = nullptr;
  uint64_t h = 0, w = 0, c = 0;
  char message[JMSG_LENGTH_MAX] = {};
  const int rc = decode_jpeg_c(reinterpret_cast<const unsigned char*>(f.data()), static_cast<unsigned long>(f.size()),
                               max_tensor_bytes(), &out, &h, &w, &c, message);
  if (rc == 1) raise<FormatError>("{}: corrupt JPEG: {}", name, message);
  if (rc == 2) check_size(h, w, c, name);  // raises
  Image img{int64_t(h), int64_t(w), int64_t(c), std::vector<uint8_t>(out, out + h * w * c)};
  std::free(out);
  return img;
}

}  // namespace

bool is_image_file(std::span<const std::byte> head) { return is_png(head) || is_jpeg(head); }

Image decode_image(std::span<const std::byte> file, const std::string& name) {
  if (is_png(file)) return decode_png(file, name);
  if (is_jpeg(file)) return decode_jpeg(file, name);
  raise<FormatError>("{}: image must be PNG or JPEG (by its first bytes), got neither", name);
}

Image read_image(const std::string& path) { return decode_image(read_file(path), path); }

}  // namespace locnet
