// Resource limits (docs/robustness.md): hostile sizes in files and text fail with a typed error before any large
// allocation or deep recursion. Each case here would otherwise ask for terabytes or a million stack frames.
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <cstring>

#include "expect_error.hpp"
#include "locnet/locnet.hpp"
#include "locnet/model/from_spec.hpp"

namespace locnet {
namespace {

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

std::string gzip(const std::string& raw) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out(compressBound(uLong(raw.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  zs.avail_in = uInt(raw.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string idx_header(std::vector<uint32_t> dims) {
  std::string h{'\0', '\0', '\x08', char(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) h += char((d >> s) & 0xff);
  return h;
}

struct LimitGuard {
  uint64_t saved = max_tensor_bytes();
  ~LimitGuard() { set_max_tensor_bytes(saved); }
};

TEST(Limits, TensorLargerThanTheLimitIsAConfigErrorBeforeAllocation) {
  LimitGuard guard;
  EXPECT_GT(max_tensor_bytes(), uint64_t(1) << 26) << "default: the physical memory";
  EXPECT_THROW_MSG(Tensor(Shape{1000000, 1000000}), ConfigError,
                   "Tensor (1000000, 1000000) f32: size must be at most max_tensor_bytes");
  set_max_tensor_bytes(1000);
  EXPECT_EQ(max_tensor_bytes(), 1000u);
  EXPECT_NO_THROW(Tensor(Shape{250}));
  EXPECT_THROW_MSG(Tensor::empty(Shape{251}), ConfigError, "max_tensor_bytes = 1000 bytes, got 251 elements of 4 bytes");
  // No elements, but strides that do not fit in int64 (found by fuzzing the .npy reader).
  EXPECT_THROW_MSG(Tensor(Shape{0, int64_t(1) << 40, int64_t(1) << 40}), ShapeError,
                   "product of the nonzero dimensions must fit in int64");
  EXPECT_EQ(Tensor(Shape{0, int64_t(1) << 40}).numel(), 0);
  set_max_tensor_bytes(0);
  EXPECT_GT(max_tensor_bytes(), uint64_t(1) << 26) << "0 restores the default";
}

TEST(Limits, NpyHeaderClaimingTerabytes) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }";
  header += std::string(63 - (10 + header.size()) % 64, ' ') + "\n";
  std::string file = std::string("\x93NUMPY\x01\x00", 8) + char(header.size() & 0xff) + char(header.size() >> 8) + header;
  EXPECT_THROW_MSG(parse_npy(bytes_of(file)), FormatError, "data must be 4000000000000 bytes");
}

TEST(Limits, SafetensorsHeaderClaimingGigabytes) {
  std::string file(8, '\0');
  uint64_t n = uint64_t(5) << 30;
  std::memcpy(file.data(), &n, 8);
  file += "{}";
  EXPECT_THROW_MSG(parse_safetensors(bytes_of(file)), FormatError, "header length 5368709120 exceeds the limit");
  n = 1000;  // within the limit but beyond the file
  std::memcpy(file.data(), &n, 8);
  EXPECT_THROW_MSG(parse_safetensors(bytes_of(file)), FormatError, "header length 1000 exceeds file size 10");
}

TEST(Limits, SpecNestedAMillionLevelsDeep) {
  const std::string deep = std::string(1000000, '(') + "1" + std::string(1000000, ')');
  EXPECT_THROW_MSG(parse_value(deep), ConfigError, "at most 64 levels of nesting");
  EXPECT_THROW_MSG(parse_model("Dense(" + deep + ")"), ConfigError, "at most 64 levels of nesting");
}

TEST(Limits, IdxHeaderClaimingTerabytesAndGzipBombs) {
  LimitGuard guard;
  EXPECT_THROW_MSG(parse_idx(bytes_of(idx_header({0xffffffff, 0xffffffff}))), FormatError,
                   "must have at most 2^40 elements");
  set_max_tensor_bytes(1 << 20);
  EXPECT_THROW_MSG(parse_idx(bytes_of(gzip(idx_header({1 << 12, 1 << 12})))), FormatError,
                   "need 16777216 bytes of data, more than max_tensor_bytes = 1048576");
  // 64 MiB of zeros behind a header announcing 10 bytes: about 64 KiB compressed. Decompression stops after
  // the announced size, so this costs microseconds, not a 64 MiB buffer.
  const std::string bomb = gzip(idx_header({10}) + std::string(64 << 20, '\0'));
  ASSERT_LT(bomb.size(), 100000u);
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW_MSG(parse_idx(bytes_of(bomb)), FormatError, "need 10 bytes of data, got 11 or more");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

TEST(Limits, ModelFileWhoseSpecBuildsHugeWeights) {
  LimitGuard guard;
  set_max_tensor_bytes(1 << 20);
  TensorFile f;
  f.metadata = {{"format", "locnet"}, {"spec", "Input((100000,)) >> Dense(100000)"}, {"dtype", "f32"}};
  const std::vector<std::byte> file = serialize_safetensors(f);
  EXPECT_THROW_MSG(load_model(file, "huge.safetensors"), FormatError,
                   "huge.safetensors: the spec in the file does not build");
}

}  // namespace
}  // namespace locnet
