#include "locnet/io/npy.hpp"

#include <bit>
#include <cstring>
#include <optional>
#include <string_view>

#include "locnet/core/limits.hpp"
#include "locnet/io/file.hpp"

namespace locnet {

static_assert(std::endian::native == std::endian::little, "npy data is read and written as little-endian");

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
// How much header read_npy reads: numpy writes version 2.0 only for headers over 65535 bytes, and np.load refuses
// headers over 10000 bytes unless told otherwise.
constexpr uint64_t kMaxHeader = 1 << 20;

// Shows a header excerpt in messages without dumping kilobytes or control bytes.
std::string excerpt(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return s.size() > 40 ? out + "..." : out;
}

// A parser for exactly the dict literal numpy writes: string keys; string, True/False or int-tuple values.
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view s) : s_(s) {}

  struct Header {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<std::vector<int64_t>> shape;
  };

  Header parse() {
    Header h;
    expect('{');
    while (!eat('}')) {
      std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        if (h.descr) fail("duplicate key 'descr'");
        if (peek() != '\'' && peek() != '"') fail("'descr' must be a string (structured dtypes are not supported)");
        h.descr = string_literal();
      } else if (key == "fortran_order") {
        if (h.fortran_order) fail("duplicate key 'fortran_order'");
        h.fortran_order = boolean();
      } else if (key == "shape") {
        if (h.shape) fail("duplicate key 'shape'");
        h.shape = tuple();
      } else {
        fail(fmt::format("key must be 'descr', 'fortran_order' or 'shape', got '{}'", excerpt(key)));
      }
      if (!eat(',')) {
        expect('}');
        break;
      }
    }
    skip_ws();
    if (pos_ != s_.size()) fail("only whitespace may follow the header dict");
    if (!h.descr || !h.fortran_order || !h.shape) fail("header must have keys 'descr', 'fortran_order' and 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    raise<FormatError>("npy: bad header at offset {} ({}): {}", pos_, excerpt(s_.substr(std::min(pos_, s_.size()))),
                       what);
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  char peek() {
    skip_ws();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  bool eat(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  void expect(char c) {
    if (!eat(c)) fail(fmt::format("expected '{}'", c));
  }
  bool word(std::string_view w) {
    skip_ws();
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  std::string string_literal() {
    char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    size_t end = s_.find(q, ++pos_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string_view v = s_.substr(pos_, end - pos_);
    if (v.find('\\') != std::string_view::npos) fail("escapes in strings are not supported");
    pos_ = end + 1;
    return std::string(v);
  }
  bool boolean() {
    if (word("True")) return true;
    if (word("False")) return false;
    fail("expected True or False");
  }
  std::vector<int64_t> tuple() {
    expect('(');
    std::vector<int64_t> dims;
    bool comma = false;  // "(3)" is an int in Python, not a tuple
    while (!eat(')')) {
      if (!dims.empty() && !comma) fail("expected ',' or ')' in shape");
      dims.push_back(integer());
      if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 longs, as old numpy wrote them
      comma = eat(',');
    }
    if (dims.size() == 1 && !comma) fail("a one-dimensional shape must be written '(n,)'");
    return dims;
  }
  int64_t integer() {
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '-') fail("shape dimensions must be >= 0");
    size_t start = pos_;
    int64_t v = 0;
    for (; pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'; ++pos_) {
      int d = s_[pos_] - '0';
      if (v > (INT64_MAX - d) / 10) fail("shape dimension must fit in int64");
      v = v * 10 + d;
    }
    if (pos_ == start) fail("expected a non-negative integer in shape");
    return v;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

DType dtype_from_descr(std::string_view d) {
  if (d == "<f4") return DType::f32;
  if (d == "<f8") return DType::f64;
  if (d == "<f2") return DType::f16;
  if (d == "bfloat16") return DType::bf16;
  if (d.size() > 1 && d[0] == '>')
    raise<FormatError>("npy: dtype '{}' is big-endian; only little-endian is supported", excerpt(d));
  raise<FormatError>("npy: dtype must be '<f4', '<f8', '<f2' or 'bfloat16', got '{}'", excerpt(d));
}

std::string_view descr_of(DType t) {
  switch (t) {
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::f16: return "<f2";
    case DType::bf16: return "bfloat16";
  }
  raise<FormatError>("npy: unknown dtype {}", int(t));
}

uint32_t load_le(const std::byte* p, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint32_t(p[i]) << (8 * i);
  return v;
}

// What the prefix (magic, version, header length) and the header dict announce.
struct Layout {
  size_t prefix = 0;                     // magic, version and header length: 10 or 12 bytes
  uint64_t header_len = 0;               // the dict, padding included
  std::optional<DType> dtype;            // the rest is known once the whole header is there
  bool uint8 = false;                    // '|u1' (dtype f32: what parse_npy makes of it when asked to)
  std::string descr;                     // as written
  Shape shape;
  uint64_t data_bytes = 0;
  uint64_t size() const { return prefix + header_len + data_bytes; }  // the whole file
};

// Checks as much as `bytes` hold (at least 8 bytes) and describes it; a missing header leaves dtype empty.
Layout layout(std::span<const std::byte> bytes, bool any_descr = false) {
  if (std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    if (std::string_view other = known_format(bytes); !other.empty())
      raise<FormatError>("npy: not an npy file (it starts with the {} magic)", other);
    raise<FormatError>("npy: magic must be \\x93NUMPY, got '{}'",
                       excerpt({reinterpret_cast<const char*>(bytes.data()), kMagic.size()}));
  }
  const unsigned major = unsigned(bytes[6]), minor = unsigned(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    raise<FormatError>("npy: format version must be 1.0, 2.0 or 3.0, got {}.{}", major, minor);
  Layout l;
  const size_t len_bytes = major == 1 ? 2 : 4;
  l.prefix = 8 + len_bytes;
  if (bytes.size() < l.prefix) return l;
  l.header_len = load_le(bytes.data() + 8, len_bytes);
  if (bytes.size() < l.prefix + l.header_len) return l;

  auto h = HeaderParser({reinterpret_cast<const char*>(bytes.data()) + l.prefix, size_t(l.header_len)}).parse();
  l.descr = *h.descr;
  if (any_descr) {  // parse_npy_header: the caller converts the elements
    if (*h.fortran_order) raise<FormatError>("npy: fortran_order must be False, got True");
    l.shape = Shape(*h.shape);
    return l;
  }
  l.uint8 = *h.descr == "|u1";
  l.dtype = l.uint8 ? DType::f32 : dtype_from_descr(*h.descr);
  if (*h.fortran_order) raise<FormatError>("npy: fortran_order must be False, got True");
  l.shape = Shape(*h.shape);
  const int64_t itemsize = l.uint8 ? 1 : int64_t(dtype_size(*l.dtype));
  int64_t numel = 1;
  for (int64_t d : l.shape.dims()) {
    if (d != 0 && numel > INT64_MAX / d)
      raise<FormatError>("npy: shape {} has more elements than fit in int64", l.shape);
    numel *= d;
  }
  if (numel > INT64_MAX / itemsize)
    raise<FormatError>("npy: shape {} of {} is more bytes than fit in int64", l.shape, dtype_name(*l.dtype));
  l.data_bytes = uint64_t(numel * itemsize);
  return l;
}

// The file's length as far as `bytes` tell, for read_file: a header announcing more than one tensor may hold
// stops here, before its data is read.
uint64_t announced_length(std::span<const std::byte> bytes) {
  if (bytes.size() < 8) return 8;
  const Layout l = layout(bytes);
  if (l.header_len > kMaxHeader)
    raise<FormatError>("npy: header length {} exceeds the limit of {}", l.header_len, kMaxHeader);
  if (l.dtype && l.data_bytes > max_tensor_bytes())
    raise<ConfigError>("npy: data of shape {} {} must be at most max_tensor_bytes = {} bytes, got {}", l.shape,
                       dtype_name(*l.dtype), max_tensor_bytes(), l.data_bytes);
  return l.size();
}

}  // namespace

Tensor parse_npy(std::span<const std::byte> bytes, bool* was_uint8) {
  const size_t size = bytes.size();
  if (size < 10) {
    if (size >= 8) layout(bytes);  // names another format before complaining about the size
    raise<FormatError>("npy: file must be at least 10 bytes, got {}", size);
  }
  const Layout l = layout(bytes);
  if (size < l.prefix) raise<FormatError>("npy: file must be at least {} bytes, got {}", l.prefix, size);
  if (!l.dtype) raise<FormatError>("npy: header length {} exceeds file size {}", l.header_len, size);
  if (l.uint8 && !was_uint8) (void)dtype_from_descr("|u1");  // the usual dtype error
  if (was_uint8) *was_uint8 = l.uint8;
  const uint64_t have = size - l.prefix - l.header_len;
  if (have != l.data_bytes)
    raise<FormatError>("npy: data must be {} bytes (shape {}, {}), got {}", l.data_bytes, l.shape,
                       l.uint8 ? std::string_view("uint8") : dtype_name(*l.dtype), have);
  if (l.uint8) {
    Tensor t(l.shape, DType::f32);
    const auto* src = reinterpret_cast<const uint8_t*>(bytes.data() + l.prefix + l.header_len);
    float* dst = t.data<float>();
    for (uint64_t i = 0; i < have; ++i) dst[i] = float(src[i]);
    return t;
  }

  Tensor t(l.shape, *l.dtype);
  if (have) std::memcpy(t.raw(), bytes.data() + l.prefix + l.header_len, have);
  return t;
}

NpyHeader parse_npy_header(std::span<const std::byte> head) {
  if (head.size() < 10) raise<FormatError>("npy: file must be at least 10 bytes, got {}", head.size());
  const Layout l = layout(head, true);
  if (l.header_len > kMaxHeader)
    raise<FormatError>("npy: header length {} exceeds the limit of {}", l.header_len, kMaxHeader);
  if (head.size() < l.prefix + l.header_len)
    raise<FormatError>("npy: header length {} exceeds file size {}", l.header_len, head.size());
  return {l.descr, l.shape, l.prefix + l.header_len};
}

std::vector<std::byte> serialize_npy(const Tensor& in) {
  if (!in.defined()) raise<FormatError>("npy: tensor to write must be defined, got an empty Tensor");
  const Tensor t = in.is_contiguous() ? in : in.clone();
  const Shape& s = t.shape();
  // Shape::str prints Python's tuple syntax: "()", "(3,)", "(2, 3)".
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr_of(t.dtype()), s.str());

  // numpy pads with spaces and ends with '\n' so that the data starts at a multiple of 64 bytes.
  size_t prefix = 10;
  size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  if (total - prefix > 0xffff) {  // only for very high ranks: version 2.0 has a 4-byte length
    prefix = 12;
    total = (prefix + header.size() + 1 + 63) / 64 * 64;
  }
  header.append(total - prefix - header.size() - 1, ' ');
  header += '\n';

  std::vector<std::byte> out(total + t.nbytes());
  std::memcpy(out.data(), kMagic.data(), kMagic.size());
  out[6] = std::byte(prefix == 10 ? 1 : 2);
  out[7] = std::byte(0);
  const size_t hl = header.size();
  for (size_t i = 0; i < prefix - 8; ++i) out[8 + i] = std::byte((hl >> (8 * i)) & 0xff);
  std::memcpy(out.data() + prefix, header.data(), hl);
  if (t.nbytes()) std::memcpy(out.data() + total, t.raw(), t.nbytes());
  return out;
}

Tensor read_npy(const std::string& path) {
  return read_parsed(path, announced_length, [](std::span<const std::byte> b) { return parse_npy(b); });
}

void write_npy(const std::string& path, const Tensor& t) {
  check_extension(path, "npy", ".npy");
  write_file_atomic(path, serialize_npy(t));
}

}  // namespace locnet
