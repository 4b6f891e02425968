#include "locnet/train/sources.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <fmt/ranges.h>

#include "locnet/core/dtype.hpp"
#include "locnet/core/error.hpp"
#include "locnet/core/limits.hpp"
#include "locnet/io/idx.hpp"
#include "locnet/io/npy.hpp"
#include "locnet/io/zip.hpp"

namespace locnet {
namespace {

// An element type of an array file: kind 'f' (float), 'i' (signed), 'u' (unsigned) or 'b' (bool), size in bytes.
struct Elem {
  char kind = 'f';
  size_t size = 4;
  bool integer() const { return kind != 'f'; }
};

Elem elem_from_descr(const std::string& d, const std::string& file) {
  static const char* const known[] = {"<f2", "<f4", "<f8", "|i1", "<i2", "<i4", "<i8",
                                      "|u1", "<u2", "<u4", "<u8", "|b1"};
  for (const char* k : known)
    if (d == k || (d.size() == 3 && d[0] == '=' && d.substr(1) == k + 1)) return {d[1], size_t(d[2] - '0')};
  raise<FormatError>("{}: dtype must be one of <f2 <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1 (little-endian "
                     "numbers), got '{}'", file, d.substr(0, 40));
}

// A read-only array (N, ...) whose bytes someone else keeps alive: a file mapping, an .npz member, an IDX file.
struct Array {
  std::shared_ptr<const void> owner;
  const std::byte* data = nullptr;
  Elem elem;
  Shape shape;
  std::string file;
  int64_t rows() const { return shape.rank() ? shape.dim(0) : 0; }
  int64_t row_size() const { return rows() ? shape.numel() / rows() : 0; }
  Shape sample() const {
    std::vector<int64_t> d(shape.dims().begin() + 1, shape.dims().end());
    return Shape(std::move(d));
  }
  double at(int64_t i) const {
    const std::byte* p = data + size_t(i) * elem.size;
    auto load = [p]<class T>(T v) { std::memcpy(&v, p, sizeof v); return v; };
    switch (elem.kind) {
      case 'f':
        if (elem.size == 2) return double(to_float(load(f16{})));
        return elem.size == 4 ? double(load(float{})) : load(double{});
      case 'i':
        switch (elem.size) {
          case 1: return double(load(int8_t{}));
          case 2: return double(load(int16_t{}));
          case 4: return double(load(int32_t{}));
          default: return double(load(int64_t{}));
        }
      default:
        switch (elem.size) {
          case 1: return double(load(uint8_t{}));
          case 2: return double(load(uint16_t{}));
          case 4: return double(load(uint32_t{}));
          default: return double(load(uint64_t{}));
        }
    }
  }
};

// Checks the shape of an array file against the bytes there are: short or trailing data is a FormatError.
void check_size(const Array& a, uint64_t have) {
  if (a.shape.rank() < 1 || a.shape.dim(0) < 1)
    raise<FormatError>("{}: must hold (N, ...) samples with N >= 1, got shape {}", a.file, a.shape);
  uint64_t need = a.elem.size;
  for (int64_t d : a.shape.dims()) {
    if (d != 0 && need > (uint64_t(1) << 62) / uint64_t(d))
      raise<FormatError>("{}: shape {} is more bytes than fit in int64", a.file, a.shape);
    need *= uint64_t(d);
  }
  if (have != need)
    raise<FormatError>("{}: data must be {} bytes (shape {}), got {}{}", a.file, need, a.shape, have,
                       have < need ? " (the file is truncated)" : "");
}

// An .npy file's bytes (mapped or in memory) as an Array.
Array npy_array(std::shared_ptr<const void> owner, std::span<const std::byte> bytes, const std::string& file) {
  NpyHeader h;
  try {
    h = parse_npy_header(bytes);
  } catch (const FormatError& e) {
    raise<FormatError>("{}: {}", file, e.what());
  }
  Array a{std::move(owner), bytes.data() + h.data_offset, elem_from_descr(h.descr, file), h.shape, file};
  check_size(a, bytes.size() - h.data_offset);
  return a;
}

struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr) ::munmap(addr, size);
  }
};

std::shared_ptr<const void> map_file(const std::string& path, std::span<const std::byte>& bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) raise<FormatError>("{}: cannot open ({})", path, std::strerror(errno));
  struct stat st {};
  auto m = std::make_shared<Mapping>();
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    m->size = size_t(st.st_size);
    m->addr = ::mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m->addr == MAP_FAILED) m->addr = nullptr;
  }
  ::close(fd);
  if (!m->addr) raise<FormatError>("{}: must be a non-empty regular file that can be memory-mapped", path);
  bytes = {static_cast<const std::byte*>(m->addr), m->size};
  return m;
}

Array map_npy(const std::string& path) {
  std::span<const std::byte> bytes;
  auto mapping = map_file(path, bytes);
  return npy_array(std::move(mapping), bytes, path);
}

Array idx_array(const std::string& path) {
  auto idx = std::make_shared<IdxArray>(read_idx(path));
  static const std::pair<uint8_t, Elem> types[] = {{0x08, {'u', 1}}, {0x09, {'i', 1}}, {0x0B, {'i', 2}},
                                                   {0x0C, {'i', 4}}, {0x0D, {'f', 4}}, {0x0E, {'f', 8}}};
  Elem e;
  for (const auto& t : types)
    if (t.first == idx->type) e = t.second;
  Shape shape(idx->dims);
  if (shape.rank() == 3) shape = Shape{shape.dim(0), shape.dim(1), shape.dim(2), 1};  // images: a channel axis
  Array a{idx, reinterpret_cast<const std::byte*>(idx->data.data()), e, shape, path};
  check_size(a, idx->data.size());
  return a;
}

// x and y arrays: labels when y is integer (N,), float targets otherwise.
class ArrayDataset : public Dataset {
 public:
  ArrayDataset(Array x, Array y) : x_(std::move(x)), y_(std::move(y)) {
    if (x_.elem.kind == 'u' && x_.elem.size == 1) scale_ = float(kIdxImageScale);
    if (y_.rows() != x_.rows())
      raise<ShapeError>("{} and {}: the number of targets must be {} (one per sample), got {}", x_.file, y_.file,
                        x_.rows(), y_.rows());
    if (!y_.elem.integer()) return;
    if (y_.shape.rank() != 1)
      raise<ShapeError>("{}: integer labels must be (N,), got shape {}", y_.file, y_.shape);
    labels_.resize(size_t(y_.rows()));
    for (int64_t i = 0; i < y_.rows(); ++i) {
      const double v = y_.at(i);
      if (v < 0) raise<ShapeError>("{}: label of sample {} must be >= 0, got {}", y_.file, i, v);
      if (v > double(1 << 30)) raise<ShapeError>("{}: label of sample {} must be < 2^30, got {}", y_.file, i, v);
      labels_[size_t(i)] = int64_t(v);
      classes_ = std::max(classes_, labels_[size_t(i)] + 1);
    }
  }
  int64_t size() const override { return x_.rows(); }
  Shape sample_shape() const override { return x_.sample(); }
  TargetKind target_kind() const override { return y_.elem.integer() ? TargetKind::labels : TargetKind::values; }
  Shape target_shape() const override { return y_.elem.integer() ? Shape{} : y_.sample(); }
  int64_t classes() const override { return classes_; }
  std::string name() const override { return x_.file; }
  void gather(std::span<const int64_t> idx, Batch& out) const override {
    for (int64_t i : idx)
      if (i < 0 || i >= size()) raise<ShapeError>("{}: sample index must be in [0, {}), got {}", name(), size(), i);
    out.x = rows(x_, idx, scale_);
    out.weights = Tensor();
    out.labels.clear();
    out.targets = Tensor();
    if (target_kind() == TargetKind::values) {
      out.targets = rows(y_, idx, 1.0f);
      return;
    }
    for (int64_t i : idx) out.labels.push_back(labels_[size_t(i)]);
  }

 private:
  static Tensor rows(const Array& a, std::span<const int64_t> idx, float scale) {
    const int64_t n = int64_t(idx.size()), row = a.row_size();
    Tensor t = Tensor::empty(a.shape.with_dim(0, n), DType::f32);
    float* dst = t.data<float>();
    for (int64_t i = 0; i < n; ++i) {
      const int64_t base = idx[size_t(i)] * row;
      if (a.elem.kind == 'f' && a.elem.size == 4)
        std::memcpy(dst + i * row, a.data + size_t(base) * 4, size_t(row) * 4);
      else
        for (int64_t j = 0; j < row; ++j) dst[i * row + j] = float(a.at(base + j) * double(scale));
    }
    return t;
  }
  Array x_, y_;
  float scale_ = 1.0f;
  std::vector<int64_t> labels_;
  int64_t classes_ = 0;
};

std::string strip_npy(const std::string& member) {
  return member.ends_with(".npy") ? member.substr(0, member.size() - 4) : member;
}

// An .npz member as an Array (read into memory, bounded by the tensor byte limit plus its header).
Array npz_member(const ZipArchive& zip, const std::string& path, const std::string& key) {
  auto bytes = std::make_shared<std::vector<std::byte>>(zip.read(key + ".npy", max_tensor_bytes() + (1 << 20)));
  std::span<const std::byte> b(*bytes);
  return npy_array(bytes, b, fmt::format("{}[{}]", path, key));
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

bool exists(const std::string& dir, const std::string& name) {
  return std::filesystem::exists(dir + "/" + name) || std::filesystem::exists(dir + "/" + name + ".gz");
}
std::string idx_file(const std::string& dir, const std::string& name) {
  const std::string p = dir + "/" + name;
  return std::filesystem::exists(p) ? p : p + ".gz";
}

// An .npz's training arrays, and x_test/y_test as validation data when the training ones are x_train/y_train.
DataSets npz_arrays(const std::string& path, const std::string& x_key, const std::string& y_key, bool with_test) {
  std::span<const std::byte> bytes;
  auto mapping = map_file(path, bytes);
  const ZipArchive zip(bytes, path);
  std::vector<std::string> keys;
  for (const std::string& m : zip.names()) keys.push_back(strip_npy(m));
  auto has = [&](const std::string& k) { return std::find(keys.begin(), keys.end(), k) != keys.end(); };
  std::string xk = x_key, yk = y_key;
  if (xk.empty() && yk.empty()) {
    const std::vector<std::string> defaults{"x", "y", "x_train", "y_train"};
    for (size_t i = 0; i < defaults.size() && xk.empty(); i += 2)
      if (has(defaults[i]) && has(defaults[i + 1])) xk = defaults[i], yk = defaults[i + 1];
    if (xk.empty() && keys.size() >= 2) xk = keys[0], yk = keys[1];
  }
  for (const std::string& k : {xk, yk})
    if (k.empty() || !has(k))
      raise<FormatError>("{}: must hold the array '{}' (--x-key/--y-key), got the arrays [{}]", path,
                         k.empty() ? std::string(xk.empty() ? "x" : "y") : k, join(keys));
  DataSets s{std::make_shared<ArrayDataset>(npz_member(zip, path, xk), npz_member(zip, path, yk)), nullptr};
  if (with_test && xk == "x_train" && yk == "y_train" && has("x_test") && has("y_test"))
    s.validation = std::make_shared<ArrayDataset>(npz_member(zip, path, "x_test"), npz_member(zip, path, "y_test"));
  return s;
}

}  // namespace

std::shared_ptr<Dataset> npy_dataset(const std::string& x_path, const std::string& y_path) {
  return std::make_shared<ArrayDataset>(map_npy(x_path), map_npy(y_path));
}

std::shared_ptr<Dataset> idx_dataset(const std::string& x_path, const std::string& y_path) {
  return std::make_shared<ArrayDataset>(idx_array(x_path), idx_array(y_path));
}

std::shared_ptr<Dataset> npz_dataset(const std::string& path, const std::string& x_key, const std::string& y_key) {
  return npz_arrays(path, x_key, y_key, false).train;
}

DataSets open_dataset(const DataOptions& o) {
  if (!o.x.empty() || !o.y.empty()) {
    if (!o.data.empty()) raise<ConfigError>("--data and --x/--y: give one, got both");
    if (o.x.empty() || o.y.empty())
      raise<ConfigError>("--x and --y go together, got only {}", o.x.empty() ? "--y" : "--x");
    if (o.val_x.empty() != o.val_y.empty()) raise<ConfigError>("--val-x and --val-y go together, got one");
    auto open = [](const std::string& x, const std::string& y) {
      return x.ends_with(".npy") ? npy_dataset(x, y) : idx_dataset(x, y);  // anything else: IDX, plain or gzip
    };
    return {open(o.x, o.y), o.val_x.empty() ? nullptr : open(o.val_x, o.val_y)};
  }
  if (!o.val_x.empty() || !o.val_y.empty()) raise<ConfigError>("--val-x/--val-y need --x/--y");
  const std::string& d = o.data;
  if (!std::filesystem::exists(d)) raise<FormatError>("{}: no such file or directory", d);
  if ((!o.x_key.empty() || !o.y_key.empty()) && !d.ends_with(".npz"))
    raise<ConfigError>("--x-key/--y-key are for an .npz, got --data {}", d);
  if (!o.targets.empty() && !d.ends_with(".csv")) raise<ConfigError>("--target is for a .csv, got --data {}", d);
  if (d.ends_with(".npz")) return npz_arrays(d, o.x_key, o.y_key, true);
  if (d.ends_with(".csv")) return {csv_dataset(d, o.targets), nullptr};
  if (d.ends_with(".npy")) raise<ConfigError>("--data {}: an .npy holds one array; give --x and --y", d);
  if (std::filesystem::is_directory(d) && exists(d, "train-images-idx3-ubyte"))
    return {idx_dataset(idx_file(d, "train-images-idx3-ubyte"), idx_file(d, "train-labels-idx1-ubyte")),
            exists(d, "t10k-images-idx3-ubyte")
                ? idx_dataset(idx_file(d, "t10k-images-idx3-ubyte"), idx_file(d, "t10k-labels-idx1-ubyte"))
                : nullptr};
  if (is_image_folder(d + "/train")) {  // train/<class>/ and test/<class>/, as an IDX directory holds both
    auto train = image_folder_dataset(d + "/train", o.images);
    if (!is_image_folder(d + "/test")) return {train, nullptr};
    auto test = image_folder_dataset(d + "/test", o.images);
    if (test->class_names() != train->class_names())
      raise<FormatError>("{}/test: the class folders must be those of {}/train ({}), got {}", d, d,
                         fmt::join(train->class_names(), ", "), fmt::join(test->class_names(), ", "));
    return {train, test};
  }
  if (is_image_folder(d)) return {image_folder_dataset(d, o.images), nullptr};  // <class>/ folders themselves
  if (std::filesystem::is_directory(d))
    raise<ConfigError>("--data {}: a directory must hold train-images-idx3-ubyte[.gz] or image folders "
                       "(<class>/ or train/<class>/ with PNG/JPEG files)", d);
  raise<ConfigError>("--data {}: must be a directory of IDX files, an .npz or a .csv (or give --x/--y .npy files)",
                     d);
}

}  // namespace locnet
