#include "locnet/io/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "locnet/core/limits.hpp"
#include "locnet/io/file.hpp"

namespace locnet {

static_assert(std::endian::native == std::endian::little, "safetensors data is read and written as little-endian");

namespace {

// std::map-backed json, not ordered_json, whose linear lookups make a header with many tensors quadratic: the
// file order is taken from the parser instead.
using json = nlohmann::json;

constexpr DType kDtypes[] = {DType::f32, DType::f64, DType::bf16, DType::f16};
constexpr uint64_t kMaxHeader = 100'000'000;  // the limit of the reference implementation
constexpr int64_t kMaxExactInt = int64_t(1) << 53;  // the largest integer range F64 holds exactly

std::string_view st_name(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::bf16: return "BF16";
    case DType::f16: return "F16";
  }
  raise<FormatError>("safetensors: unknown dtype {}", int(t));
}

constexpr size_t kMaxDepth = 16;  // a valid header nests 3 deep

// Checks syntax, nesting depth and duplicate keys (nlohmann would silently keep one of them) and records the
// top-level keys in file order, without building a DOM. nlohmann's callback parser would do this too, but its
// end_object scans the parent object, which is quadratic in the number of tensors.
struct KeyScan : nlohmann::json_sax<json> {
  std::vector<std::set<std::string>> keys;  // one per open object
  size_t depth = 0;
  std::vector<std::string> order;
  std::string dup;

  bool open() {
    if (++depth > kMaxDepth) raise<FormatError>("safetensors: header must nest at most {} levels deep", kMaxDepth);
    return true;
  }
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    keys.emplace_back();
    return open();
  }
  bool key(string_t& k) override {
    if (!keys.back().insert(k).second && dup.empty()) dup = k;
    if (keys.size() == 1) order.push_back(k);
    return true;
  }
  bool end_object() override {
    keys.pop_back();
    --depth;
    return true;
  }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override {
    --depth;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    raise<FormatError>("safetensors: header must be valid JSON, got error: {}", e.what());
  }
};

struct Header {
  json value;
  std::vector<std::string> order;  // top-level keys as they appear in the file
};

Header parse_header(std::string_view text) {
  KeyScan scan;
  json::sax_parse(text.begin(), text.end(), &scan);
  if (!scan.dup.empty()) raise<FormatError>("safetensors: header has duplicate key '{}'", scan.dup);
  Header h{json::parse(text.begin(), text.end()), std::move(scan.order)};  // cannot fail after the scan
  if (!h.value.is_object())
    raise<FormatError>("safetensors: header must be a JSON object, got {}", h.value.type_name());
  return h;
}

// A short description for messages: dump() of a deeply nested value would recurse and could be huge.
std::string brief(const json& v) {
  if (v.is_array()) return fmt::format("an array of {}", v.size());
  if (v.is_object()) return fmt::format("an object of {}", v.size());
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 40 ? s.substr(0, 40) + "..." : s;
}

uint64_t as_u64(const json& v, std::string_view what) {
  // Parsed non-negative integers are number_unsigned; negative ones number_integer, too large ones float.
  if (!v.is_number_unsigned())
    raise<FormatError>("safetensors: {} must be a non-negative integer, got {}", what, brief(v));
  return v.get<uint64_t>();
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
  bool i64 = false;  // stored as I64, read into F64 (the same item size)
};

Entry parse_entry(const std::string& name, const json& v, uint64_t data_size) {
  const std::string where = fmt::format("tensor '{}'", name);
  if (!v.is_object()) raise<FormatError>("safetensors: {} must be a JSON object, got {}", where, brief(v));
  for (const auto& [key, _] : v.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      raise<FormatError>("safetensors: {} has unknown key '{}'; expected dtype, shape, data_offsets", where, key);
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!v.contains(key)) raise<FormatError>("safetensors: {} must have key '{}'", where, key);

  Entry e{name, DType::f32, {}, 0, 0};
  const json& dt = v["dtype"];
  const std::string dn = dt.is_string() ? dt.get<std::string>() : std::string();
  const DType* t = std::find_if(std::begin(kDtypes), std::end(kDtypes), [&](DType x) { return st_name(x) == dn; });
  e.i64 = dn == "I64";
  if (t == std::end(kDtypes) && !e.i64)
    raise<FormatError>("safetensors: {} dtype must be F32, F64, BF16, F16 or I64, got {}", where, brief(dt));
  e.dtype = e.i64 ? DType::f64 : *t;

  const json& sh = v["shape"];
  if (!sh.is_array()) raise<FormatError>("safetensors: {} shape must be an array, got {}", where, brief(sh));
  std::vector<int64_t> dims;
  for (const json& x : sh) {
    uint64_t d64 = as_u64(x, where + " shape dimension");
    if (d64 > uint64_t(INT64_MAX)) raise<FormatError>("safetensors: {} shape dimension {} exceeds int64", where, d64);
    dims.push_back(int64_t(d64));
  }
  e.shape = Shape(std::move(dims));

  const uint64_t itemsize = dtype_size(e.dtype);
  uint64_t bytes = itemsize;
  for (int64_t dim : e.shape.dims()) {
    if (dim != 0 && bytes > uint64_t(INT64_MAX) / uint64_t(dim))
      raise<FormatError>("safetensors: {} shape {} of {} is more bytes than fit in int64", where, e.shape,
                         st_name(e.dtype));
    bytes *= uint64_t(dim);
  }

  const json& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2)
    raise<FormatError>("safetensors: {} data_offsets must be [begin, end], got {}", where, brief(off));
  e.begin = as_u64(off[0], where + " data_offsets begin");
  e.end = as_u64(off[1], where + " data_offsets end");
  if (e.begin > e.end)
    raise<FormatError>("safetensors: {} data_offsets [{}, {}] must have begin <= end", where, e.begin, e.end);
  if (e.end > data_size)
    raise<FormatError>("safetensors: {} data_offsets [{}, {}] must end within the {} data bytes", where, e.begin, e.end,
                       data_size);
  if (e.end - e.begin != bytes)
    raise<FormatError>("safetensors: {} data_offsets [{}, {}] must span {} bytes (shape {}, {}), got {}", where,
                       e.begin, e.end, bytes, e.shape, e.i64 ? "I64" : st_name(e.dtype), e.end - e.begin);
  return e;
}

// A file of another known format gets a message that names it, not a complaint about its "header length".
void check_known_format(std::span<const std::byte> bytes) {
  std::string_view f = known_format(bytes);
  if (!f.empty() && f != "safetensors")
    raise<FormatError>("safetensors: not a safetensors file (it starts with the {} magic)", f);
}

uint64_t header_length(std::span<const std::byte> bytes) {  // bytes: at least 8
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(bytes[size_t(i)]) << (8 * i);
  if (n > kMaxHeader) raise<FormatError>("safetensors: header length {} exceeds the limit of {}", n, kMaxHeader);
  return n;
}

// The file's length as far as `bytes` tell, for read_file: 8 + the header + the data its offsets announce, so
// nothing past the last tensor is read; data over max_tensor_bytes() stops before it is read.
uint64_t announced_length(std::span<const std::byte> bytes) {
  if (bytes.size() < 9) return 9;
  check_known_format(bytes);
  const uint64_t n = header_length(bytes);
  if (bytes.size() < 8 + n) return 8 + n;
  const Header h = parse_header({reinterpret_cast<const char*>(bytes.data()) + 8, size_t(n)});
  uint64_t end = 0;
  for (const std::string& name : h.order)
    if (name != "__metadata__") end = std::max(end, parse_entry(name, h.value.at(name), UINT64_MAX).end);
  if (end > max_tensor_bytes())
    raise<ConfigError>("safetensors: data must be at most max_tensor_bytes = {} bytes, got offsets up to {}",
                       max_tensor_bytes(), end);
  return 8 + n + end;
}

}  // namespace

const Tensor* TensorFile::find(std::string_view name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

TensorFile parse_safetensors(std::span<const std::byte> bytes) {
  const uint64_t size = bytes.size();
  check_known_format(bytes);
  if (size < 8) raise<FormatError>("safetensors: file must be at least 8 bytes, got {}", size);
  const uint64_t n = header_length(bytes);
  if (n > size - 8) raise<FormatError>("safetensors: header length {} exceeds file size {}", n, size);

  const Header h = parse_header({reinterpret_cast<const char*>(bytes.data()) + 8, size_t(n)});
  const std::span<const std::byte> data = bytes.subspan(8 + size_t(n));

  TensorFile out;
  std::vector<Entry> entries;
  for (const std::string& name : h.order) {
    const json& v = h.value.at(name);
    if (name == "__metadata__") {
      if (v.is_null()) continue;
      if (!v.is_object()) raise<FormatError>("safetensors: __metadata__ must be an object, got {}", brief(v));
      for (const auto& [k, s] : v.items()) {
        if (!s.is_string())
          raise<FormatError>("safetensors: __metadata__ value of '{}' must be a string, got {}", k, brief(s));
        out.metadata[k] = s.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(name, v, data.size()));
  }

  // As the reference implementation does, require the tensors to tile the data exactly: no overlap, no gap,
  // no trailing bytes.
  std::vector<const Entry*> order;
  for (const Entry& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const Entry* a, const Entry* b) { return std::tie(a->begin, a->end) < std::tie(b->begin, b->end); });
  uint64_t at = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : order) {
    if (e->begin < at)
      raise<FormatError>("safetensors: tensor '{}' data_offsets [{}, {}] overlap tensor '{}' [{}, {}]", e->name,
                         e->begin, e->end, prev->name, prev->begin, prev->end);
    if (e->begin > at)
      raise<FormatError>("safetensors: data bytes [{}, {}] are not covered by any tensor (before tensor '{}')", at,
                         e->begin, e->name);
    at = e->end;
    prev = e;
  }
  if (at != data.size())
    raise<FormatError>("safetensors: data must be {} bytes as the tensors' offsets say, got {}", at, data.size());

  for (const Entry& e : entries) {
    Tensor t(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.raw(), data.data() + e.begin, e.end - e.begin);
    if (e.i64) {
      double* d = t.data<double>();
      for (int64_t i = 0; i < t.numel(); ++i) {
        int64_t v;
        std::memcpy(&v, d + i, 8);
        if (v > kMaxExactInt || v < -kMaxExactInt)
          raise<FormatError>("safetensors: tensor '{}' I64 values must be within +-2^53 (exact in F64), got {}",
                             e.name, v);
        d[i] = double(v);
      }
      out.int64.insert(e.name);
    }
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

std::vector<std::byte> serialize_safetensors(const TensorFile& file) {
  // The header object is written entry by entry, in insertion order, with "__metadata__" first.
  std::string header = "{";
  auto add = [&](const std::string& key, const nlohmann::ordered_json& value) {  // keeps dtype, shape, offsets
    if (header.size() > 1) header += ',';
    try {
      header += json(key).dump() + ':' + value.dump();
    } catch (const json::exception& e) {
      raise<FormatError>("safetensors: header cannot be written as JSON: {}", e.what());
    }
  };
  if (!file.metadata.empty()) add("__metadata__", file.metadata);
  std::set<std::string_view> names;
  std::vector<Tensor> contiguous;
  uint64_t at = 0;
  for (const auto& [name, t] : file.tensors) {
    if (name == "__metadata__") raise<FormatError>("safetensors: tensor name must not be '__metadata__'");
    if (!names.insert(name).second)
      raise<FormatError>("safetensors: tensor names must be unique, got '{}' twice", name);
    if (!t.defined()) raise<FormatError>("safetensors: tensor '{}' must be defined, got an empty Tensor", name);
    contiguous.push_back(t.is_contiguous() ? t : t.clone());
    add(name, {{"dtype", st_name(t.dtype())}, {"shape", t.shape().dims()}, {"data_offsets", {at, at + t.nbytes()}}});
    at += t.nbytes();
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');  // data starts 8-byte aligned

  std::vector<std::byte> out(8 + header.size() + at);
  for (int i = 0; i < 8; ++i) out[size_t(i)] = std::byte((header.size() >> (8 * i)) & 0xff);
  std::memcpy(out.data() + 8, header.data(), header.size());
  std::byte* p = out.data() + 8 + header.size();
  for (const Tensor& t : contiguous) {
    if (t.nbytes()) std::memcpy(p, t.raw(), t.nbytes());
    p += t.nbytes();
  }
  return out;
}

TensorFile read_safetensors(const std::string& path) {
  return read_parsed(path, announced_length, parse_safetensors);
}

void write_safetensors(const std::string& path, const TensorFile& file) {
  check_extension(path, "safetensors", ".safetensors");
  write_file_atomic(path, serialize_safetensors(file));
}

}  // namespace locnet
