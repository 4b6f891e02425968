#include "locnet/io/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>

#include "locnet/core/limits.hpp"

#include "locnet/io/file.hpp"
#include "io/write_idx.hpp"

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

// Decompresses a gzip stream (or passes plain bytes through) into at most `limit` bytes, so that a small
// compressed file cannot expand without bound; `complete` tells whether the stream ended within the limit.
struct Inflated {
  std::vector<unsigned char> bytes;
  bool complete = true;
};

bool is_gzip(std::span<const std::byte> in) {
  return in.size() >= 2 && in[0] == std::byte{0x1f} && in[1] == std::byte{0x8b};
}

Inflated inflate_at_most(std::span<const std::byte> in, size_t limit) {
  Inflated out;
  if (!is_gzip(in)) {
    auto p = reinterpret_cast<const unsigned char*>(in.data());
    out.bytes.assign(p, p + std::min(limit, in.size()));
    out.complete = in.size() <= limit;
    return out;
  }
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) raise<FormatError>("gzip: cannot initialise zlib");
  std::unique_ptr<z_stream, int (*)(z_streamp)> guard(&zs, inflateEnd);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data()));
  size_t fed = 0;
  unsigned char chunk[1 << 16];
  for (;;) {
    if (zs.avail_in == 0 && fed < in.size()) {
      zs.avail_in = uInt(std::min<size_t>(in.size() - fed, 1u << 30));
      fed += zs.avail_in;
    }
    zs.next_out = chunk;
    zs.avail_out = sizeof chunk;
    int rc = inflate(&zs, Z_NO_FLUSH);
    size_t n = sizeof chunk - zs.avail_out;
    if (out.bytes.size() + n > limit) {
      out.bytes.insert(out.bytes.end(), chunk, chunk + (limit - out.bytes.size()));
      out.complete = false;
      return out;
    }
    out.bytes.insert(out.bytes.end(), chunk, chunk + n);
    if (rc == Z_STREAM_END) return out;  // trailing bytes after the first member are ignored, as gzread does
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && fed == in.size())
      raise<FormatError>("gzip stream must be complete and intact, got one cut off after {} compressed bytes",
                         in.size());
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      raise<FormatError>("gzip stream must be complete and intact, got zlib error {}: {}", rc,
                         zs.msg ? zs.msg : "corrupt data");
  }
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

namespace {

// The header (at most 4 + 4 * 255 bytes, inflated first when gzip) with every check made before the data.
struct Head {
  IdxArray array;  // type and dims, no data yet
  size_t header = 0;
  uint64_t need = 0;  // data bytes
};

Head read_head(std::span<const std::byte> file) {
  const Inflated head = inflate_at_most(file, 4 + 4 * 255);
  const std::vector<unsigned char>& h = head.bytes;
  if (h.size() < 4) raise<FormatError>("IDX file must be at least 4 bytes, got {}", h.size());
  if (h[0] != 0 || h[1] != 0) {
    if (std::string_view other = known_format(std::as_bytes(std::span(h))); !other.empty())
      raise<FormatError>("IDX: not an IDX file (it starts with the {} magic)", other);
    raise<FormatError>("IDX magic must start with bytes 0x00 0x00, got 0x{:02x} 0x{:02x}", h[0], h[1]);
  }
  Head r;
  IdxArray& a = r.array;
  a.type = h[2];
  if (type_size(a.type) == 0)
    raise<FormatError>("IDX element type must be 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e, got 0x{:02x}", a.type);
  const size_t rank = h[3];
  r.header = 4 + 4 * rank;
  if (rank == 0) raise<FormatError>("IDX dimension count must be >= 1, got 0");
  if (h.size() < r.header)
    raise<FormatError>("IDX header with {} dimensions must be {} bytes, got a {}-byte file", rank, r.header,
                       h.size());
  uint64_t count = 1;
  for (size_t i = 0; i < rank; ++i) {
    uint32_t d = big_endian_u32(h.data() + 4 + 4 * i);
    a.dims.push_back(int64_t(d));
    if (d != 0 && count > (uint64_t(1) << 40) / d)
      raise<FormatError>("IDX sizes {} must have at most 2^40 elements", dims_str(a.dims));
    count *= d;
  }
  r.need = count * a.element_size();
  if (r.need > max_tensor_bytes())
    raise<FormatError>("IDX sizes {} need {} bytes of data, more than max_tensor_bytes = {}", dims_str(a.dims),
                       r.need, max_tensor_bytes());
  return r;
}

// The file's length as far as `file` tells, for read_file. Plain: the header and the data it announces. gzip:
// what deflate needs at worst for those bytes (stored blocks add 5 bytes per 64 KiB) plus 64 KiB for the gzip
// header's name, comment and extra field; the first 64 KiB must hold the compressed IDX header.
constexpr uint64_t kGzipSlack = 1 << 16;
uint64_t announced_length(std::span<const std::byte> file) {
  const bool gz = is_gzip(file);
  const uint64_t look = gz ? kGzipSlack : 4 + 4 * 255;
  if (file.size() < look) return look;
  const Head h = read_head(file);
  const uint64_t plain = h.header + h.need;
  return gz ? plain + plain / 8192 * 5 + 2 * kGzipSlack : plain;
}

}  // namespace

IdxArray parse_idx(std::span<const std::byte> file) {
  // The header first, then exactly the data it announces: a gzip bomb or a header that claims terabytes stops
  // before the allocation.
  Head head = read_head(file);
  IdxArray& a = head.array;
  const size_t header = head.header;
  const uint64_t need = head.need;
  Inflated all = inflate_at_most(file, header + need + 1);  // + 1: learns whether more data follows
  if (all.bytes.size() != header + need) {
    const uint64_t got = is_gzip(file) ? all.bytes.size() - header : file.size() - header;
    raise<FormatError>("IDX sizes {} of {}-byte elements need {} bytes of data, got {}{}", dims_str(a.dims),
                       a.element_size(), need, got, all.complete ? "" : " or more");
  }
  a.data.assign(all.bytes.begin() + std::ptrdiff_t(header), all.bytes.end());
  to_from_big_endian(a.data.data(), a.data.size(), a.element_size());
  return std::move(a);
}

IdxArray read_idx(const std::string& path) { return read_parsed(path, announced_length, parse_idx); }

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
  for (size_t i = 0; i < img.data.size(); ++i) px[i] = float(double(img.data[i]) * kIdxImageScale);  // = float(v) / 255.0f for all v
  out.labels.assign(lab.data.begin(), lab.data.end());
  return out;
}

MnistData load_mnist(const std::string& dir) {
  return {load_idx_images(find_file(dir, "train-images-idx3-ubyte"), find_file(dir, "train-labels-idx1-ubyte")),
          load_idx_images(find_file(dir, "t10k-images-idx3-ubyte"), find_file(dir, "t10k-labels-idx1-ubyte"))};
}

}  // namespace locnet
