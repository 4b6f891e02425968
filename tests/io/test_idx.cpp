// IDX reader: files written byte by byte here (big-endian sizes and elements), plain and gzip, the Fashion-MNIST
// directory layout, and every corruption the header promises to reject.
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "expect_error.hpp"
#include "io/write_idx.hpp"
#include "locnet/io/idx.hpp"

using namespace locnet;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / fmt::format("locnet_idx_{}_{}", ::getpid(), ++counter());
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  static int& counter() {
    static int c = 0;
    return c;
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_bytes(const std::string& path, const std::vector<unsigned char>& b) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

std::vector<unsigned char> gzip(const std::vector<unsigned char>& b) {
  std::vector<unsigned char> z(compressBound(uLong(b.size())) + 64);
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  zs.next_in = const_cast<unsigned char*>(b.data());
  zs.avail_in = uInt(b.size());
  zs.next_out = z.data();
  zs.avail_out = uInt(z.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  z.resize(zs.total_out);
  deflateEnd(&zs);
  return z;
}

// An IDX file of uint8 elements with the given sizes, by hand: 0 0 0x08 rank, big-endian sizes, elements.
std::vector<unsigned char> idx_u8(const std::vector<uint32_t>& dims, const std::vector<unsigned char>& values) {
  std::vector<unsigned char> b{0, 0, 0x08, static_cast<unsigned char>(dims.size())};
  for (uint32_t d : dims) b.insert(b.end(), {static_cast<unsigned char>(d >> 24), static_cast<unsigned char>(d >> 16),
                                             static_cast<unsigned char>(d >> 8), static_cast<unsigned char>(d)});
  b.insert(b.end(), values.begin(), values.end());
  return b;
}

}  // namespace

TEST(Idx, ReadsPlainAndGzipUint8) {
  TempDir dir;
  std::vector<unsigned char> v{0, 1, 2, 255, 128, 7};
  write_bytes(dir.file("a"), idx_u8({2, 3}, v));
  write_bytes(dir.file("a.gz"), gzip(idx_u8({2, 3}, v)));
  for (const char* name : {"a", "a.gz"}) {
    IdxArray a = read_idx(dir.file(name));
    EXPECT_EQ(a.type, 0x08);
    EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a.data, v) << name;
  }
}

TEST(Idx, WiderTypesAreBigEndian) {
  TempDir dir;
  // int16: 0x0102 = 258, 0xfffe = -2.  float32: 0x3fc00000 = 1.5.  int32: 0xffffff9c = -100.
  write_bytes(dir.file("s"), {0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE});
  write_bytes(dir.file("f"), {0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3F, 0xC0, 0, 0});
  write_bytes(dir.file("i"), {0, 0, 0x0C, 1, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0x9C});
  IdxArray s = read_idx(dir.file("s")), f = read_idx(dir.file("f")), i = read_idx(dir.file("i"));
  EXPECT_EQ(s.at(0), 258.0);
  EXPECT_EQ(s.at(1), -2.0);
  EXPECT_EQ(f.at(0), 1.5);
  EXPECT_EQ(i.at(0), -100.0);
  // write_idx produces the same bytes, plain and compressed.
  write_idx(dir.file("s2"), s);
  write_idx(dir.file("s3.gz"), s, true);
  EXPECT_EQ(read_idx(dir.file("s2")).data, s.data);
  EXPECT_EQ(read_idx(dir.file("s3.gz")).data, s.data);
  std::ifstream in(dir.file("s3.gz"), std::ios::binary);
  EXPECT_EQ(in.get(), 0x1f) << "gzip magic";
}

TEST(Idx, CorruptFilesAreFormatErrors) {
  TempDir dir;
  write_bytes(dir.file("magic"), {1, 0, 0x08, 1, 0, 0, 0, 1, 5});
  EXPECT_THROW_MSG(read_idx(dir.file("magic")), FormatError, "IDX magic must start with bytes 0x00 0x00, got 0x01 0x00");
  write_bytes(dir.file("type"), {0, 0, 0x07, 1, 0, 0, 0, 1, 5});
  EXPECT_THROW_MSG(read_idx(dir.file("type")), FormatError, "element type must be 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e, got 0x07");
  write_bytes(dir.file("short"), idx_u8({3}, {1, 2}));
  EXPECT_THROW_MSG(read_idx(dir.file("short")), FormatError, "IDX sizes (3,) of 1-byte elements need 3 bytes of data, got 2");
  write_bytes(dir.file("long"), idx_u8({1, 2}, {1, 2, 3}));
  EXPECT_THROW_MSG(read_idx(dir.file("long")), FormatError, "need 2 bytes of data, got 3");
  write_bytes(dir.file("header"), {0, 0, 0x08, 3, 0, 0, 0, 1});
  EXPECT_THROW_MSG(read_idx(dir.file("header")), FormatError, "IDX header with 3 dimensions must be 16 bytes, got a 8-byte file");
  write_bytes(dir.file("tiny"), {0, 0});
  EXPECT_THROW_MSG(read_idx(dir.file("tiny")), FormatError, "must be at least 4 bytes, got 2");
  std::vector<unsigned char> big(5000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<unsigned char>(i * 7 % 251);
  auto z = gzip(idx_u8({5000}, big));
  write_bytes(dir.file("cut.gz"), std::vector<unsigned char>(z.begin(), z.end() - 12));
  EXPECT_THROW_MSG(read_idx(dir.file("cut.gz")), FormatError, "gzip stream must be complete and intact");
  auto bad = z;
  bad[bad.size() - 6] ^= 0xFF;  // the CRC-32 trailer
  write_bytes(dir.file("crc.gz"), bad);
  EXPECT_THROW_MSG(read_idx(dir.file("crc.gz")), FormatError, "gzip stream must be complete and intact");
  EXPECT_THROW_MSG(read_idx(dir.file("absent")), FormatError, "absent: cannot open");
}

TEST(Idx, LabeledImagesAndTheMnistLayout) {
  TempDir dir;
  std::vector<unsigned char> px(2 * 2 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<unsigned char>(i * 20);
  write_bytes(dir.file("train-images-idx3-ubyte.gz"), gzip(idx_u8({2, 2, 3}, px)));
  write_bytes(dir.file("train-labels-idx1-ubyte"), idx_u8({2}, {9, 3}));
  write_bytes(dir.file("t10k-images-idx3-ubyte"), idx_u8({1, 2, 3}, {255, 0, 0, 0, 0, 51}));
  write_bytes(dir.file("t10k-labels-idx1-ubyte.gz"), gzip(idx_u8({1}, {4})));
  MnistData d = load_mnist(dir.path.string());
  EXPECT_EQ(d.train.images.shape(), (Shape{2, 2, 3, 1}));
  EXPECT_EQ(d.train.images.dtype(), DType::f32);
  for (int64_t i = 0; i < 12; ++i) EXPECT_FLOAT_EQ(float(d.train.images.item(i)), float(i * 20) / 255.0f);
  EXPECT_EQ(d.train.labels, (std::vector<int64_t>{9, 3}));
  EXPECT_EQ(d.test.images.to_vector(), (std::vector<double>{1, 0, 0, 0, 0, 0.2f}));
  EXPECT_EQ(d.test.labels, (std::vector<int64_t>{4}));

  write_bytes(dir.file("train-labels-idx1-ubyte"), idx_u8({3}, {9, 3, 1}));
  EXPECT_THROW_MSG(load_mnist(dir.path.string()), FormatError, "the label count must equal the image count (2), got 3");
  write_bytes(dir.file("train-labels-idx1-ubyte"), idx_u8({2, 1}, {9, 3}));
  EXPECT_THROW_MSG(load_mnist(dir.path.string()), FormatError, "labels must be uint8 (0x08) with 1 size (N,)");
  fs::remove(dir.file("t10k-images-idx3-ubyte"));
  write_bytes(dir.file("train-labels-idx1-ubyte"), idx_u8({2}, {9, 3}));
  EXPECT_THROW_MSG(load_mnist(dir.path.string()), FormatError,
                   "must hold t10k-images-idx3-ubyte or t10k-images-idx3-ubyte.gz, got neither");
  write_bytes(dir.file("img"), idx_u8({4}, {1, 2, 3, 4}));
  EXPECT_THROW_MSG(load_idx_images(dir.file("img"), dir.file("train-labels-idx1-ubyte")), FormatError,
                   "images must be uint8 (0x08) with 3 sizes (N, rows, cols), got type 0x08 sizes (4,)");
}
