#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "expect_error.hpp"
#include "locnet/io/file.hpp"
#include "locnet/io/safetensors.hpp"

using namespace locnet;

namespace {

std::span<const std::byte> as_bytes(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }
std::string as_string(const std::vector<std::byte>& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }
TensorFile parse(const std::string& s) { return parse_safetensors(as_bytes(s)); }

template <class T>
std::string raw_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

std::string u64le(uint64_t n) {
  std::string s;
  for (int i = 0; i < 8; ++i) s += char((n >> (8 * i)) & 0xff);
  return s;
}
// A safetensors file built by hand: 8-byte length, header text, data.
std::string st(const std::string& header, const std::string& data) { return u64le(header.size()) + header + data; }

const std::string kSix = raw_of(std::vector<float>{1, 2, 3, 4, 5, 6});
// A file whose only tensor is "x", described by `body`, over `data` (24 bytes unless given).
std::string one(const std::string& body, const std::string& data = kSix) { return st("{\"x\":" + body + "}", data); }

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

TensorFile sample() {
  TensorFile f;
  uint32_t seed = 1;
  const std::vector<Shape> shapes = {{}, {5}, {2, 3}, {2, 3, 4}, {2, 1, 3, 2}, {0}, {3, 0}};
  for (DType dt : {DType::f32, DType::f64, DType::bf16, DType::f16})
    for (const Shape& s : shapes) {
      f.tensors.emplace_back(fmt::format("layer{}.{}", seed, dtype_name(dt)), random_tensor(s, dt, seed));
      ++seed;
    }
  f.metadata = {{"format", "pt"}, {"note", "\"quoted\" and unicode \xc3\xa9"}};
  return f;
}

}  // namespace

TEST(SafetensorsTest, RoundTripEveryDtypeAndRank) {
  TensorFile f = sample();
  std::vector<std::byte> bytes = serialize_safetensors(f);
  TensorFile back = parse_safetensors(bytes);
  ASSERT_EQ(back.tensors.size(), f.tensors.size());
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    SCOPED_TRACE(f.tensors[i].first);
    EXPECT_EQ(back.tensors[i].first, f.tensors[i].first);  // insertion order kept
    expect_same(back.tensors[i].second, f.tensors[i].second);
  }
  EXPECT_EQ(back.metadata, f.metadata);
  ASSERT_NE(back.find("layer3.f32"), nullptr);
  EXPECT_EQ(back.find("layer3.f32")->shape(), (Shape{2, 3}));
  EXPECT_EQ(back.find("nope"), nullptr);
}

TEST(SafetensorsTest, WriterLayout) {
  TensorFile f = sample();
  std::vector<std::byte> bytes = serialize_safetensors(f);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(bytes[size_t(i)]) << (8 * i);
  EXPECT_EQ(n % 8, 0u);
  auto h = nlohmann::ordered_json::parse(as_string(bytes).substr(8, n));
  auto it = h.begin();
  EXPECT_EQ(it.key(), "__metadata__");
  uint64_t at = 0;
  for (const auto& [name, t] : f.tensors) {
    ++it;
    EXPECT_EQ(it.key(), name);
    EXPECT_EQ((*it)["data_offsets"], nlohmann::ordered_json::array({at, at + t.nbytes()}));
    at += t.nbytes();
  }
  EXPECT_EQ(bytes.size(), 8 + n + at);

  f.metadata.clear();
  EXPECT_EQ(as_string(serialize_safetensors(f)).find("__metadata__"), std::string::npos);
}

TEST(SafetensorsTest, SerializeMatchesHandBuiltBytes) {
  TensorFile f;
  f.tensors.emplace_back("a", Tensor::from<float>({1, 2}, {2}));
  std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_EQ(header.size(), 54u);
  EXPECT_EQ(as_string(serialize_safetensors(f)), st(header + "  ", raw_of(std::vector<float>{1, 2})));

  TensorFile empty;
  EXPECT_EQ(as_string(serialize_safetensors(empty)), st("{}      ", ""));
  EXPECT_TRUE(parse_safetensors(serialize_safetensors(empty)).tensors.empty());
}

TEST(SafetensorsTest, ReadsHandBuiltFile) {
  // F16 1.0 = 0x3c00 at [0, 2], BF16 (-2, 1) at [2, 6], F64 0.1 at [6, 14] (unaligned, as the format allows);
  // header order differs from data order.
  std::string header = R"({"b": {"shape": [2], "dtype": "BF16", "data_offsets": [2, 6]},
    "__metadata__": {"format": "pt"},
    "w": {"dtype": "F16", "shape": [], "data_offsets": [0, 2]},
    "c": {"dtype": "F64", "shape": [1, 1], "data_offsets": [6, 14]}}   )";
  std::string data = raw_of(std::vector<uint16_t>{0x3c00, 0xc000, 0x3f80}) + raw_of(std::vector<double>{0.1});
  TensorFile f = parse(st(header, data));
  ASSERT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.tensors[0].first, "b");
  EXPECT_EQ(f.tensors[1].first, "w");
  EXPECT_EQ(f.tensors[2].first, "c");
  EXPECT_EQ(f.tensors[0].second.dtype(), DType::bf16);
  EXPECT_EQ(f.tensors[0].second.to_vector(), (std::vector<double>{-2.0, 1.0}));
  EXPECT_EQ(f.tensors[1].second.dtype(), DType::f16);
  EXPECT_EQ(f.tensors[1].second.rank(), 0u);
  EXPECT_EQ(f.tensors[1].second.to_vector(), (std::vector<double>{1.0}));
  EXPECT_EQ(f.tensors[2].second.dtype(), DType::f64);
  EXPECT_EQ(f.tensors[2].second.shape(), (Shape{1, 1}));
  EXPECT_EQ(f.tensors[2].second.to_vector(), (std::vector<double>{0.1}));
  EXPECT_EQ(f.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));

  EXPECT_TRUE(parse(st(R"({"__metadata__": null})", "")).metadata.empty());
}

TEST(SafetensorsTest, TruncatedAtEveryLengthThrows) {
  TensorFile f;
  f.tensors.emplace_back("a", Tensor::from<float>({1, 2, 3}, {3}));
  f.tensors.emplace_back("b", Tensor::from<double>({4}, {1}));
  std::vector<std::byte> full = serialize_safetensors(f);
  for (size_t n = 0; n < full.size(); ++n) {
    SCOPED_TRACE(n);
    EXPECT_THROW_MSG(parse_safetensors(std::span(full).first(n)), FormatError, "safetensors: ");
  }
}

TEST(SafetensorsTest, RandomCorruptionThrowsOnlyFormatError) {
  TensorFile f;
  f.tensors.emplace_back("a", Tensor::from<float>({1, 2, 3}, {3}));
  f.tensors.emplace_back("b", Tensor::from<double>({4}, {1}));
  f.metadata["k"] = "v";
  const std::vector<std::byte> full = serialize_safetensors(f);
  const size_t header_end = full.size() - 20;
  std::mt19937 rng(7);
  int rejected = 0;
  for (int iter = 0; iter < 5000; ++iter) {
    std::vector<std::byte> b = full;
    for (int k = 0, flips = 1 + int(rng() % 4); k < flips; ++k)
      b[rng() % header_end] = std::byte(rng() % 2 ? rng() : "0123456789[]{},:\" -"[rng() % 19]);
    try {
      parse_safetensors(b);
    } catch (const FormatError&) {
      ++rejected;
    }  // any other exception type escapes and fails the test
  }
  EXPECT_GT(rejected, 2500);
}

TEST(SafetensorsTest, RejectsBadHeaderLength) {
  EXPECT_THROW_MSG(parse("1234567"), FormatError, "safetensors: file must be at least 8 bytes, got 7");
  EXPECT_THROW_MSG(parse(u64le(100) + "{}"), FormatError, "safetensors: header length 100 exceeds file size 10");
  EXPECT_THROW_MSG(parse(u64le(UINT64_MAX) + "{}"), FormatError,
                   "safetensors: header length 18446744073709551615 exceeds the limit of 100000000");
  EXPECT_THROW_MSG(parse(u64le(100'000'001) + "{}"), FormatError, "exceeds the limit of 100000000");
  EXPECT_THROW_MSG(parse(u64le(0)), FormatError, "safetensors: header must be valid JSON");
}

TEST(SafetensorsTest, RejectsBadJson) {
  EXPECT_THROW_MSG(parse(st("{\"x\": ", "")), FormatError, "safetensors: header must be valid JSON");
  EXPECT_THROW_MSG(parse(st("{} {}", "")), FormatError, "must be valid JSON");
  EXPECT_THROW_MSG(parse(st("{\"\xff\": 1}", "")), FormatError, "must be valid JSON");  // not UTF-8
  EXPECT_THROW_MSG(parse(st("[1, 2]", "")), FormatError, "safetensors: header must be a JSON object, got array");
  EXPECT_THROW_MSG(parse(st("\"x\"", "")), FormatError, "must be a JSON object, got string");
  EXPECT_THROW_MSG(parse(st(R"({"a": {}, "a": {}})", "")), FormatError, "safetensors: header has duplicate key 'a'");
  EXPECT_THROW_MSG(parse(one(R"({"dtype": "F32", "dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]})")),
                   FormatError, "duplicate key 'dtype'");
  // Deep nesting is refused before a DOM is built.
  std::string deep = "{\"x\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_THROW_MSG(parse(st(deep, "")), FormatError, "safetensors: header must nest at most 16 levels deep");
  std::string deep_obj;
  for (int i = 0; i < 100000; ++i) deep_obj += "{\"a\":";
  EXPECT_THROW_MSG(parse(st(deep_obj + "1" + std::string(100000, '}'), "")), FormatError, "at most 16 levels");
}

TEST(SafetensorsTest, RejectsBadEntries) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"([])", "tensor 'x' must be a JSON object, got an array of 0"},
      {R"({"shape": [2, 3], "data_offsets": [0, 24]})", "tensor 'x' must have key 'dtype'"},
      {R"({"dtype": "F32", "data_offsets": [0, 24]})", "tensor 'x' must have key 'shape'"},
      {R"({"dtype": "F32", "shape": [2, 3]})", "tensor 'x' must have key 'data_offsets'"},
      {R"({"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24], "extra": 1})", "unknown key 'extra'"},
      {R"({"dtype": "I8", "shape": [24], "data_offsets": [0, 24]})",
       "tensor 'x' dtype must be F32, F64, BF16, F16 or I64, got \"I8\""},
      {R"({"dtype": "f32", "shape": [2, 3], "data_offsets": [0, 24]})", "got \"f32\""},
      {R"({"dtype": 4, "shape": [2, 3], "data_offsets": [0, 24]})", "I64, got 4"},
      {R"({"dtype": "F32", "shape": 6, "data_offsets": [0, 24]})", "tensor 'x' shape must be an array, got 6"},
      {R"({"dtype": "F32", "shape": [2, -3], "data_offsets": [0, 24]})",
       "tensor 'x' shape dimension must be a non-negative integer, got -3"},
      {R"({"dtype": "F32", "shape": [2, 3.0], "data_offsets": [0, 24]})", "non-negative integer, got 3.0"},
      {R"({"dtype": "F32", "shape": [2, "3"], "data_offsets": [0, 24]})", "non-negative integer, got \"3\""},
      {R"({"dtype": "F32", "shape": [2, [3]], "data_offsets": [0, 24]})", "non-negative integer, got an array of 1"},
      {R"({"dtype": "F32", "shape": [9223372036854775808], "data_offsets": [0, 24]})",
       "shape dimension 9223372036854775808 exceeds int64"},
      {R"({"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 24]})",
       "tensor 'x' shape (4294967296, 4294967296) of F32 is more bytes than fit in int64"},
      {R"({"dtype": "F64", "shape": [1152921504606846976], "data_offsets": [0, 24]})", "more bytes than fit in int64"},
      {R"({"dtype": "F32", "shape": [2, 3], "data_offsets": [0]})",
       "data_offsets must be [begin, end], got an array of 1"},
      {R"({"dtype": "F32", "shape": [2, 3], "data_offsets": {"begin": 0}})", "data_offsets must be [begin, end]"},
      {R"({"dtype": "F32", "shape": [2, 3], "data_offsets": [-1, 24]})",
       "data_offsets begin must be a non-negative integer, got -1"},
      {R"({"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 1e3]})",
       "data_offsets end must be a non-negative integer, got 1000.0"},
      {R"({"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 99999999999999999999999]})",
       "data_offsets end must be a non-negative integer"},
      {R"({"dtype": "F32", "shape": [2, 3], "data_offsets": [24, 0]})", "data_offsets [24, 0] must have begin <= end"},
      {R"({"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 28]})",
       "tensor 'x' data_offsets [0, 28] must end within the 24 data bytes"},
      {R"({"dtype": "F32", "shape": [2, 3], "data_offsets": [18446744073709551615, 18446744073709551615]})",
       "must end within the 24 data bytes"},
      {R"({"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 24]})",
       "tensor 'x' data_offsets [0, 24] must span 16 bytes (shape (2, 2), F32), got 24"},
      {R"({"dtype": "BF16", "shape": [], "data_offsets": [0, 24]})", "must span 2 bytes (shape (), BF16), got 24"},
  };
  for (const auto& [body, msg] : cases) {
    SCOPED_TRACE(body);
    EXPECT_THROW_MSG(parse(one(body)), FormatError, "safetensors: ");
    EXPECT_THROW_MSG(parse(one(body)), FormatError, msg);
  }
  // The example from the contract: offsets that cover the data but disagree with shape and dtype.
  EXPECT_THROW_MSG(
      parse(st(R"({"fc.kernel": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 48]}})", kSix + kSix)),
      FormatError,
      "safetensors: tensor 'fc.kernel' data_offsets [0, 48] must span 24 bytes (shape (2, 3), F32), got 48");
}

TEST(SafetensorsTest, RejectsOverlapGapAndTrailingBytes) {
  // Chosen rule (that of the reference implementation): the tensors must tile the data exactly.
  auto two = [](int a0, int a1, int b0, int b1) {
    return fmt::format(R"({{"a": {{"dtype": "F32", "shape": [2], "data_offsets": [{}, {}]}},
                           "b": {{"dtype": "F32", "shape": [2], "data_offsets": [{}, {}]}}}})",
                       a0, a1, b0, b1);
  };
  EXPECT_EQ(parse(st(two(8, 16, 0, 8), kSix.substr(0, 16))).tensors[0].second.to_vector(), (std::vector<double>{3, 4}));
  EXPECT_THROW_MSG(parse(st(two(0, 8, 4, 12), kSix.substr(0, 12))), FormatError,
                   "safetensors: tensor 'b' data_offsets [4, 12] overlap tensor 'a' [0, 8]");
  EXPECT_THROW_MSG(parse(st(two(0, 8, 0, 8), kSix.substr(0, 8))), FormatError, "overlap tensor");
  EXPECT_THROW_MSG(parse(st(two(0, 8, 12, 20), kSix.substr(0, 20))), FormatError,
                   "safetensors: data bytes [8, 12] are not covered by any tensor (before tensor 'b')");
  EXPECT_THROW_MSG(parse(st(two(4, 12, 12, 20), kSix.substr(0, 20))), FormatError, "data bytes [0, 4] are not covered");
  EXPECT_THROW_MSG(parse(st(two(0, 8, 8, 16), kSix)), FormatError,
                   "safetensors: data must be 16 bytes as the tensors' offsets say, got 24");
  EXPECT_THROW_MSG(parse(st("{}", "x")), FormatError, "data must be 0 bytes as the tensors' offsets say, got 1");
  // Zero-sized tensors may sit anywhere within the data, also at the end.
  TensorFile z = parse(st(R"({"e": {"dtype": "F16", "shape": [0, 5], "data_offsets": [24, 24]},
                              "x": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}})",
                          kSix));
  EXPECT_EQ(z.tensors[0].second.shape(), (Shape{0, 5}));
}

TEST(SafetensorsTest, RejectsBadMetadata) {
  EXPECT_THROW_MSG(parse(st(R"({"__metadata__": [1]})", "")), FormatError,
                   "safetensors: __metadata__ must be an object, got an array of 1");
  EXPECT_THROW_MSG(parse(st(R"({"__metadata__": {"epoch": 3}})", "")), FormatError,
                   "safetensors: __metadata__ value of 'epoch' must be a string, got 3");
  EXPECT_THROW_MSG(parse(st(R"({"__metadata__": {"a": "1", "a": "2"}})", "")), FormatError, "duplicate key 'a'");
}

TEST(SafetensorsTest, WriterRejectsBadInput) {
  TensorFile f;
  f.tensors.emplace_back("a", Tensor::from<float>({1}, {1}));
  f.tensors.emplace_back("a", Tensor::from<float>({2}, {1}));
  EXPECT_THROW_MSG(serialize_safetensors(f), FormatError, "safetensors: tensor names must be unique, got 'a' twice");
  f.tensors.pop_back();
  f.tensors.emplace_back("__metadata__", Tensor::from<float>({2}, {1}));
  EXPECT_THROW_MSG(serialize_safetensors(f), FormatError, "tensor name must not be '__metadata__'");
  f.tensors.pop_back();
  f.tensors.emplace_back("u", Tensor());
  EXPECT_THROW_MSG(serialize_safetensors(f), FormatError, "tensor 'u' must be defined");
  f.tensors.pop_back();
  f.tensors.emplace_back("bad\xff", Tensor::from<float>({2}, {1}));
  EXPECT_THROW_MSG(serialize_safetensors(f), FormatError, "safetensors: header cannot be written as JSON");
}

TEST(SafetensorsTest, FileRoundTripAndErrorsNamePath) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / fmt::format("locnet_st_{}", ::getpid());
  std::filesystem::create_directories(dir);
  std::string path = (dir / "w.safetensors").string();

  TensorFile f = sample();
  write_safetensors(path, f);
  TensorFile back = read_safetensors(path);
  ASSERT_EQ(back.tensors.size(), f.tensors.size());
  for (size_t i = 0; i < f.tensors.size(); ++i) expect_same(back.tensors[i].second, f.tensors[i].second);
  EXPECT_EQ(back.metadata, f.metadata);

  write_file_atomic(path, as_bytes(u64le(100) + "{}"));
  EXPECT_THROW_MSG(read_safetensors(path), FormatError, path + ": safetensors: header length 100 exceeds file size 10");
  EXPECT_THROW_MSG(read_safetensors((dir / "missing").string()), FormatError,
                   (dir / "missing").string() + ": cannot open for reading");
  std::filesystem::remove_all(dir);
}

TEST(SafetensorsTest, ManyTensorsKeepFileOrder) {
  TensorFile f;
  for (int i = 0; i < 20000; ++i)
    f.tensors.emplace_back(fmt::format("t{}", 19999 - i), Tensor::from<float>({float(i)}, {1}));
  TensorFile back = parse_safetensors(serialize_safetensors(f));
  ASSERT_EQ(back.tensors.size(), f.tensors.size());
  for (size_t i = 0; i < f.tensors.size(); i += 997) {
    EXPECT_EQ(back.tensors[i].first, f.tensors[i].first);
    EXPECT_EQ(back.tensors[i].second.item(0), double(i));
  }
}

// PyTorch writes integer buffers (BatchNorm's num_batches_tracked) as I64; they read as F64 with the same values.
TEST(SafetensorsTest, ReadsI64AsExactF64AndNamesIt) {
  TensorFile f = parse(st(R"({"n":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
                          R"("v":{"dtype":"I64","shape":[2],"data_offsets":[8,24]}})",
                          raw_of(std::vector<int64_t>{3, -(int64_t(1) << 53), int64_t(1) << 53}).substr(0, 24)));
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.find("n")->dtype(), DType::f64);
  EXPECT_EQ(f.find("n")->rank(), 0u);
  EXPECT_EQ(f.find("n")->item(0), 3.0);
  EXPECT_EQ(f.find("v")->to_vector(), (std::vector<double>{-9007199254740992.0, 9007199254740992.0}));
  EXPECT_EQ(f.int64, (std::set<std::string, std::less<>>{"n", "v"}));
  EXPECT_THROW_MSG(parse(one(R"({"dtype":"I64","shape":[1],"data_offsets":[0,8]})",
                             raw_of(std::vector<int64_t>{(int64_t(1) << 53) + 1}))),
                   FormatError, "tensor 'x' I64 values must be within +-2^53 (exact in F64), got 9007199254740993");
  EXPECT_THROW_MSG(parse(one(R"({"dtype":"I64","shape":[2],"data_offsets":[0,8]})", raw_of(std::vector<int64_t>{1}))),
                   FormatError, "must span 16 bytes (shape (2,), I64), got 8");
}
