#include "locnet/io/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <memory>

#include "locnet/io/file.hpp"

namespace locnet {
namespace {

size_t type_size(uint8_t type) {
  switch (type) {
    case 0x08:
    case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C:
    case 0x0D: return 4;
    case 0x0E: return 8;
  }
  return 0;
}

// The whole file, decompressed when it is gzip (zlib reads plain files through as they are).
std::vector<unsigned char> read_maybe_gzip(const std::string& path) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
  if (!f) raise<FormatError>("{}: cannot open: {}", path, std::strerror(errno));
  std::vector<unsigned char> out;
  unsigned char chunk[1 << 16];
  for (;;) {
    int n = gzread(f.get(), chunk, sizeof chunk);
    if (n < 0) break;
    out.insert(out.end(), chunk, chunk + n);
    if (n == 0) break;
  }
  int err = Z_OK;
  const char* msg = gzerror(f.get(), &err);
  if (err != Z_OK && err != Z_STREAM_END)
    raise<FormatError>("{}: gzip stream must be complete and intact, got error: {}", path, msg);
  return out;
}

uint32_t big_endian_u32(const unsigned char* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// IDX stores elements big-endian: swap each es-byte element of [p, p + n) on little-endian hosts.
void to_from_big_endian(unsigned char* p, size_t n, size_t es) {
  if (es > 1 && std::endian::native == std::endian::little)
    for (size_t i = 0; i + es <= n; i += es) std::reverse(p + i, p + i + es);
}

std::string dims_str(const std::vector<int64_t>& dims) { return Shape(dims).str(); }

std::string find_file(const std::string& dir, const std::string& name) {
  for (const std::string& candidate : {dir + "/" + name + ".gz", dir + "/" + name})
    if (std::filesystem::exists(candidate)) return candidate;
  raise<FormatError>("{}: must hold {} or {}.gz, got neither", dir, name, name);
}

}  // namespace

size_t IdxArray::element_size() const { return type_size(type); }

double IdxArray::at(int64_t i) const {
  const unsigned char* p = data.data() + size_t(i) * element_size();
  switch (type) {
    case 0x08: return double(*p);
    case 0x09: return double(static_cast<int8_t>(*p));
    case 0x0B: { int16_t v; std::memcpy(&v, p, 2); return double(v); }
    case 0x0C: { int32_t v; std::memcpy(&v, p, 4); return double(v); }
    case 0x0D: { float v; std::memcpy(&v, p, 4); return double(v); }
    default: { double v; std::memcpy(&v, p, 8); return v; }
  }
}

IdxArray read_idx(const std::string& path) {
  const std::vector<unsigned char> bytes = read_maybe_gzip(path);
  if (bytes.size() < 4) raise<FormatError>("{}: an IDX file must be at least 4 bytes, got {}", path, bytes.size());
  if (bytes[0] != 0 || bytes[1] != 0)
    raise<FormatError>("{}: IDX magic must start with bytes 0x00 0x00, got 0x{:02x} 0x{:02x}", path, bytes[0],
                       bytes[1]);
  IdxArray a;
  a.type = bytes[2];
  if (type_size(a.type) == 0)
    raise<FormatError>("{}: IDX element type must be 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e, got 0x{:02x}", path, a.type);
  const size_t rank = bytes[3], header = 4 + 4 * rank;
  if (rank == 0) raise<FormatError>("{}: IDX dimension count must be >= 1, got 0", path);
  if (bytes.size() < header)
    raise<FormatError>("{}: IDX header with {} dimensions must be {} bytes, got a {}-byte file", path, rank, header,
                       bytes.size());
  uint64_t count = 1;
  for (size_t i = 0; i < rank; ++i) {
    uint32_t d = big_endian_u32(bytes.data() + 4 + 4 * i);
    a.dims.push_back(int64_t(d));
    if (d != 0 && count > (uint64_t(1) << 40) / d)
      raise<FormatError>("{}: IDX sizes {} are too large", path, dims_str(a.dims));
    count *= d;
  }
  const uint64_t need = count * a.element_size();
  if (bytes.size() - header != need)
    raise<FormatError>("{}: IDX sizes {} of {}-byte elements need {} bytes of data, got {}", path, dims_str(a.dims),
                       a.element_size(), need, bytes.size() - header);
  a.data.assign(bytes.begin() + std::ptrdiff_t(header), bytes.end());
  to_from_big_endian(a.data.data(), a.data.size(), a.element_size());
  return a;
}

void write_idx(const std::string& path, const IdxArray& a, bool gzip) {
  std::vector<unsigned char> out{0, 0, a.type, static_cast<unsigned char>(a.dims.size())};
  for (int64_t d : a.dims)
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<unsigned char>(uint32_t(d) >> s));
  const size_t start = out.size();
  out.insert(out.end(), a.data.begin(), a.data.end());
  to_from_big_endian(out.data() + start, a.data.size(), a.element_size());
  if (gzip) {
    uLongf size = compressBound(uLong(out.size())) + 32;
    std::vector<unsigned char> z(size);
    z_stream zs{};
    deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // 15 + 16: gzip wrapper
    zs.next_in = out.data();
    zs.avail_in = uInt(out.size());
    zs.next_out = z.data();
    zs.avail_out = uInt(z.size());
    deflate(&zs, Z_FINISH);
    z.resize(zs.total_out);
    deflateEnd(&zs);
    out = std::move(z);
  }
  write_file_atomic(path, std::as_bytes(std::span<const unsigned char>(out)));
}

LabeledImages load_idx_images(const std::string& images_path, const std::string& labels_path) {
  IdxArray img = read_idx(images_path), lab = read_idx(labels_path);
  if (img.type != 0x08 || img.dims.size() != 3)
    raise<FormatError>("{}: images must be uint8 (0x08) with 3 sizes (N, rows, cols), got type 0x{:02x} sizes {}",
                       images_path, img.type, dims_str(img.dims));
  if (lab.type != 0x08 || lab.dims.size() != 1)
    raise<FormatError>("{}: labels must be uint8 (0x08) with 1 size (N,), got type 0x{:02x} sizes {}", labels_path,
                       lab.type, dims_str(lab.dims));
  if (img.dims[0] != lab.dims[0])
    raise<FormatError>("{} and {}: the label count must equal the image count ({}), got {}", images_path, labels_path,
                       img.dims[0], lab.dims[0]);
  LabeledImages out;
  out.images = Tensor::empty(Shape{img.dims[0], img.dims[1], img.dims[2], 1}, DType::f32);
  float* px = out.images.data<float>();
  for (size_t i = 0; i < img.data.size(); ++i) px[i] = float(img.data[i]) / 255.0f;
  out.labels.assign(lab.data.begin(), lab.data.end());
  return out;
}

MnistData load_mnist(const std::string& dir) {
  return {load_idx_images(find_file(dir, "train-images-idx3-ubyte"), find_file(dir, "train-labels-idx1-ubyte")),
          load_idx_images(find_file(dir, "t10k-images-idx3-ubyte"), find_file(dir, "t10k-labels-idx1-ubyte"))};
}

}  // namespace locnet
