#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "expect_error.hpp"
#include "locnet/io/file.hpp"
#include "locnet/io/npy.hpp"

using namespace locnet;

namespace {

std::span<const std::byte> as_bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }
Tensor parse(const std::string& s) { return parse_npy(as_bytes(s)); }

template <class T>
std::string raw_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// A .npy file built by hand: magic, version, little-endian header length, header text, data.
std::string npy(const std::string& header, const std::string& data, int major = 1) {
  std::string s = "\x93NUMPY";
  s += char(major);
  s += '\0';
  size_t n = header.size();
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i) s += char((n >> (8 * i)) & 0xff);
  return s + header + data;
}
std::string dict(const std::string& descr, const std::string& shape, const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }\n";
}

const std::string kSix = raw_of(std::vector<float>{1, 2, 3, 4, 5, 6});

Tensor random_tensor(const Shape& shape, DType dtype, uint32_t seed) {
  Tensor t(shape, dtype);
  std::mt19937 rng(seed);
  auto* p = static_cast<unsigned char*>(t.raw());
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<unsigned char>(rng());  // any bit pattern, NaNs too
  return t;
}

void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  ASSERT_EQ(a.nbytes(), b.nbytes());
  EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
}

}  // namespace

TEST(NpyTest, RoundTripEveryDtypeAndRank) {
  const std::vector<Shape> shapes = {{}, {5}, {2, 3}, {2, 3, 4}, {2, 1, 3, 2}, {0}, {3, 0, 2}};
  uint32_t seed = 1;
  for (DType dt : {DType::f32, DType::f64, DType::bf16, DType::f16}) {
    for (const Shape& s : shapes) {
      SCOPED_TRACE(fmt::format("{} {}", dtype_name(dt), s));
      Tensor t = random_tensor(s, dt, seed++);
      std::vector<std::byte> bytes = serialize_npy(t);
      EXPECT_EQ(bytes[6], std::byte(1));  // version 1.0
      size_t header_len = size_t(bytes[8]) | size_t(bytes[9]) << 8;
      EXPECT_EQ((10 + header_len) % 64, 0u);
      EXPECT_EQ(bytes[10 + header_len - 1], std::byte('\n'));
      EXPECT_EQ(bytes.size(), 10 + header_len + t.nbytes());
      expect_same(parse_npy(bytes), t);
    }
  }
}

TEST(NpyTest, SerializeMatchesHandBuiltBytes) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
  header += std::string(118 - header.size() - 1, ' ') + "\n";  // 10 + 118 = 128, a multiple of 64
  std::string want = std::string("\x93NUMPY\x01\x00\x76\x00", 10) + header + raw_of(std::vector<float>{1, 2, 3});
  std::vector<std::byte> got = serialize_npy(Tensor::from<float>({1, 2, 3}, {3}));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got.data()), got.size()), want);

  auto header_of = [](const Tensor& t) {
    std::vector<std::byte> b = serialize_npy(t);
    std::string s(reinterpret_cast<const char*>(b.data()) + 10, size_t(b[8]) | size_t(b[9]) << 8);
    return s.substr(0, s.find('}') + 1);
  };
  EXPECT_EQ(header_of(Tensor(Shape{}, DType::f64)), "{'descr': '<f8', 'fortran_order': False, 'shape': (), }");
  EXPECT_EQ(header_of(Tensor(Shape{2, 3}, DType::f16)), "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }");
  EXPECT_EQ(header_of(Tensor(Shape{4}, DType::bf16)), "{'descr': 'bfloat16', 'fortran_order': False, 'shape': (4,), }");
}

TEST(NpyTest, ReadsHandBuiltFloat32) {
  Tensor t = parse(npy(dict("<f4", "(2, 3)"), kSix));
  EXPECT_EQ(t.dtype(), DType::f32);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.to_vector(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST(NpyTest, ReadsEveryDtypeByBits) {
  Tensor d = parse(npy(dict("<f8", "(2,)"), raw_of(std::vector<double>{0.1, -2.5})));
  EXPECT_EQ(d.dtype(), DType::f64);
  EXPECT_EQ(d.to_vector(), (std::vector<double>{0.1, -2.5}));

  // IEEE half 1.0 = 0x3c00, -2.0 = 0xc000; bfloat16 1.0 = 0x3f80, -2.0 = 0xc000.
  Tensor h = parse(npy(dict("<f2", "(2,)"), raw_of(std::vector<uint16_t>{0x3c00, 0xc000})));
  EXPECT_EQ(h.dtype(), DType::f16);
  EXPECT_EQ(h.to_vector(), (std::vector<double>{1.0, -2.0}));
  Tensor b = parse(npy(dict("bfloat16", "(2,)"), raw_of(std::vector<uint16_t>{0x3f80, 0xc000})));
  EXPECT_EQ(b.dtype(), DType::bf16);
  EXPECT_EQ(b.to_vector(), (std::vector<double>{1.0, -2.0}));
}

TEST(NpyTest, ReadsScalarAndEmpty) {
  Tensor s = parse(npy(dict("<f4", "()"), raw_of(std::vector<float>{7.5f})));
  EXPECT_EQ(s.rank(), 0u);
  EXPECT_EQ(s.to_vector(), (std::vector<double>{7.5}));
  Tensor e = parse(npy(dict("<f8", "(3, 0)"), ""));
  EXPECT_EQ(e.shape(), (Shape{3, 0}));
  EXPECT_EQ(e.numel(), 0);
}

TEST(NpyTest, ReadsVersions2And3) {
  for (int major : {2, 3}) {
    Tensor t = parse(npy(dict("<f4", "(6,)"), kSix, major));
    EXPECT_EQ(t.shape(), (Shape{6}));
    EXPECT_EQ(t.to_vector(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  }
}

TEST(NpyTest, ReadsHeaderSpellingVariants) {
  for (const std::string h : {
           "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",  // double quotes, no trailing comma
           "{'shape': (2,3), 'fortran_order': False, 'descr': '<f4'}     \n",    // other key order, no spaces
           "{ 'descr' : '<f4' ,\t'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",  // Python 2 numpy
       }) {
    SCOPED_TRACE(h);
    Tensor t = parse(npy(h, kSix));
    EXPECT_EQ(t.shape(), (Shape{2, 3}));
    EXPECT_EQ(t.to_vector(), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  }
}

TEST(NpyTest, HighRankWritesVersion2) {
  Tensor t(Shape(std::vector<int64_t>(25000, 1)), DType::f32);
  t.set(0, 3.5);
  std::vector<std::byte> bytes = serialize_npy(t);
  EXPECT_EQ(bytes[6], std::byte(2));
  Tensor back = parse_npy(bytes);
  EXPECT_EQ(back.rank(), 25000u);
  EXPECT_EQ(back.item(0), 3.5);
}

TEST(NpyTest, TruncatedAtEveryLengthThrows) {
  std::vector<std::byte> full = serialize_npy(Tensor::from<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  for (size_t n = 0; n < full.size(); ++n) {
    SCOPED_TRACE(n);
    EXPECT_THROW_MSG(parse_npy(std::span(full).first(n)), FormatError, "npy: ");
  }
}

TEST(NpyTest, RandomCorruptionThrowsOnlyFormatError) {
  const std::vector<std::byte> full = serialize_npy(Tensor::from<float>({1, 2, 3, 4, 5, 6}, {2, 3}));
  std::mt19937 rng(42);
  int rejected = 0;
  for (int iter = 0; iter < 5000; ++iter) {
    std::vector<std::byte> b = full;
    for (int k = 0, flips = 1 + int(rng() % 4); k < flips; ++k)
      b[rng() % 128] = std::byte(rng() % 2 ? rng() : "0123456789(),:' -"[rng() % 17]);  // header region
    try {
      parse_npy(b);
    } catch (const FormatError&) {
      ++rejected;
    }  // any other exception type escapes and fails the test
  }
  EXPECT_GT(rejected, 2500);
}

TEST(NpyTest, RejectsBadPrefix) {
  EXPECT_THROW_MSG(parse(""), FormatError, "npy: file must be at least 10 bytes, got 0");
  std::string good = npy(dict("<f4", "(6,)"), kSix);
  std::string bad = good;
  bad[1] = 'X';
  EXPECT_THROW_MSG(parse(bad), FormatError, "npy: magic must be \\x93NUMPY, got '?XUMPY'");
  bad = good;
  bad[6] = 4;
  EXPECT_THROW_MSG(parse(bad), FormatError, "version must be 1.0, 2.0 or 3.0, got 4.0");
  bad = good;
  bad[7] = 1;
  EXPECT_THROW_MSG(parse(bad), FormatError, "got 1.1");
  bad = good;
  bad[6] = 0;
  EXPECT_THROW_MSG(parse(bad), FormatError, "got 0.0");
  EXPECT_THROW_MSG(parse(std::string("\x93NUMPY\x02\x00\x01\x00\x00", 11)), FormatError,
                   "npy: file must be at least 12 bytes, got 11");
}

TEST(NpyTest, RejectsHeaderLengthPastEnd) {
  std::string s = npy(dict("<f4", "(6,)"), kSix);
  s[8] = char(0x70);  // 0x1170 = 4464
  s[9] = char(0x11);
  s.resize(120);
  EXPECT_THROW_MSG(parse(s), FormatError, "npy: header length 4464 exceeds file size 120");
  std::string v2 = std::string("\x93NUMPY\x02\x00\x70\x11\x01\x00", 12) + std::string(108, ' ');
  EXPECT_THROW_MSG(parse(v2), FormatError, "npy: header length 70000 exceeds file size 120");
  std::string huge = std::string("\x93NUMPY\x03\x00\xff\xff\xff\xff", 12) + "{}";
  EXPECT_THROW_MSG(parse(huge), FormatError, "header length 4294967295 exceeds file size 14");
}

TEST(NpyTest, RejectsBadDict) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "expected '{'"},
      {"['descr', '<f4']", "expected '{'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), ", "expected a quoted string"},
      {"{'descr': '<f4', 'fortran_order': False}", "must have keys 'descr', 'fortran_order' and 'shape'"},
      {"{}", "must have keys"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}", "got 'extra'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", "duplicate key 'descr'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", "must be written '(n,)'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 3)}", "expected ',' or ')'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,,3)}", "expected a non-negative integer"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [6]}", "expected '('"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", "expected True or False"},
      {"{'descr': '<f4', 'fortran_order': false, 'shape': (6,)}", "expected True or False"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (6,)}", "expected '}'"},  // the string ran to the next quote
      {"{'descr': '<f4", "unterminated string"},
      {"{'descr': '<f\\x34', 'fortran_order': False, 'shape': (6,)}", "escapes"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}", "structured dtypes"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}", "expected '}'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x", "only whitespace may follow"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6.0,)}", "expected ',' or ')'"},
  };
  for (const auto& [header, msg] : cases) {
    SCOPED_TRACE(header);
    EXPECT_THROW_MSG(parse(npy(header, kSix)), FormatError, "npy: bad header");
    EXPECT_THROW_MSG(parse(npy(header, kSix)), FormatError, msg);
  }
  // A NUL after the dict (a C string literal would cut it off).
  std::string nul = "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)}";
  nul += '\0';
  EXPECT_THROW_MSG(parse(npy(nul, kSix)), FormatError, "only whitespace may follow");
}

TEST(NpyTest, RejectsFortranOrderBigEndianAndOtherDtypes) {
  EXPECT_THROW_MSG(parse(npy(dict("<f4", "(2, 3)", "True"), kSix)), FormatError,
                   "npy: fortran_order must be False, got True");
  EXPECT_THROW_MSG(parse(npy(dict(">f4", "(6,)"), kSix)), FormatError, "npy: dtype '>f4' is big-endian");
  EXPECT_THROW_MSG(parse(npy(dict(">f8", "(3,)"), kSix)), FormatError, "big-endian");
  for (const char* d : {"<i4", "|u1", "<V2", "<c8", "f4", "float32", "<f16", ""}) {
    SCOPED_TRACE(d);
    EXPECT_THROW_MSG(parse(npy(dict(d, "(6,)"), kSix)), FormatError,
                     fmt::format("npy: dtype must be '<f4', '<f8', '<f2' or 'bfloat16', got '{}'", d));
  }
}

TEST(NpyTest, RejectsDataSizeMismatch) {
  EXPECT_THROW_MSG(parse(npy(dict("<f4", "(2, 3)"), kSix.substr(0, 20))), FormatError,
                   "npy: data must be 24 bytes (shape (2, 3), f32), got 20");
  EXPECT_THROW_MSG(parse(npy(dict("<f4", "(2, 3)"), kSix + "x")), FormatError,
                   "npy: data must be 24 bytes (shape (2, 3), f32), got 25");
  EXPECT_THROW_MSG(parse(npy(dict("<f8", "(2, 3)"), kSix)), FormatError, "must be 48 bytes");
  EXPECT_THROW_MSG(parse(npy(dict("<f4", "()"), kSix)), FormatError, "must be 4 bytes (shape (), f32), got 24");
  EXPECT_THROW_MSG(parse(npy(dict("<f4", "(0,)"), kSix)), FormatError, "must be 0 bytes");
  // Large but representable: rejected by the byte count, without allocating 4 TB first.
  EXPECT_THROW_MSG(parse(npy(dict("<f4", "(1000000, 1000000)"), kSix)), FormatError,
                   "npy: data must be 4000000000000 bytes");
}

TEST(NpyTest, RejectsNegativeAndOverflowingShapes) {
  EXPECT_THROW_MSG(parse(npy(dict("<f4", "(-1,)"), kSix)), FormatError, "shape dimensions must be >= 0");
  EXPECT_THROW_MSG(parse(npy(dict("<f4", "(2, -3)"), kSix)), FormatError, "shape dimensions must be >= 0");
  EXPECT_THROW_MSG(parse(npy(dict("<f4", "(99999999999999999999,)"), kSix)), FormatError,
                   "shape dimension must fit in int64");
  EXPECT_THROW_MSG(parse(npy(dict("<f4", "(4294967296, 4294967296)"), kSix)), FormatError,
                   "npy: shape (4294967296, 4294967296) has more elements than fit in int64");
  // 2^60 elements fit in int64, 2^63 bytes do not.
  EXPECT_THROW_MSG(parse(npy(dict("<f8", "(1152921504606846976,)"), kSix)), FormatError,
                   "is more bytes than fit in int64");
  // A zero dimension makes the product 0 whatever the others are.
  Tensor z = parse(npy(dict("<f4", "(0, 9223372036854775807)"), ""));
  EXPECT_EQ(z.numel(), 0);
}

TEST(NpyTest, FileRoundTripAndErrorsNamePath) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / fmt::format("locnet_npy_{}", ::getpid());
  std::filesystem::create_directories(dir);
  std::string path = (dir / "a.npy").string();

  Tensor t = random_tensor({3, 4}, DType::f64, 7);
  write_npy(path, t);
  expect_same(read_npy(path), t);

  std::string bad = npy(dict(">f4", "(6,)"), kSix);
  write_file_atomic(path, as_bytes(bad));
  EXPECT_THROW_MSG(read_npy(path), FormatError, path + ": npy: dtype '>f4' is big-endian");
  EXPECT_THROW_MSG(read_npy((dir / "missing.npy").string()), FormatError,
                   (dir / "missing.npy").string() + ": cannot open for reading: No such file or directory");
  std::filesystem::remove_all(dir);
}

TEST(NpyTest, RejectsUndefinedTensorOnWrite) {
  EXPECT_THROW_MSG(serialize_npy(Tensor()), FormatError, "npy: tensor to write must be defined");
}
