#include "locnet/core/tensor.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "locnet/core/limits.hpp"

namespace locnet {
namespace {

// glibc serves blocks above M_MMAP_THRESHOLD (128 KiB at first) with fresh mmaps, and training allocates
// activations of a few MiB every step: each one page-faults anew (a first Conv2D forward took 12.5 ms instead
// of 3.2 ms). Raising the threshold to its maximum keeps them in the heap for reuse; trimming only above 1 GiB keeps
// the heap from being given back after every step (with 64 MiB, a training step of the default network still
// page-faulted ~2,200 times: its freed activations exceed that at the top of the heap).
void tune_malloc_once() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    return true;
  }();
  (void)done;
}

// A limit the user set but that cannot be read is an error, not a silent fall back to the default.
uint64_t default_max_tensor_bytes() {
  if (const char* env = std::getenv("LOCNET_MAX_TENSOR_BYTES")) {
    char* end = nullptr;
    errno = 0;
    // strtoull alone would take " 12", "+12" and, wrapped around, "-12".
    const unsigned long long v = *env >= '0' && *env <= '9' ? std::strtoull(env, &end, 10) : 0;
    if (!end || *end != '\0' || errno == ERANGE || v == 0)
      raise<ConfigError>("LOCNET_MAX_TENSOR_BYTES must be a positive whole number of bytes, got '{}'", env);
    return v;
  }
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : uint64_t(1) << 40;
}

std::atomic<uint64_t>& tensor_limit() {
  static std::atomic<uint64_t> limit{default_max_tensor_bytes()};
  return limit;
}

// A std::bad_alloc that says how much was asked for (the CLI reports it as out of memory, exit status 5).
class OutOfMemory : public std::bad_alloc {
 public:
  explicit OutOfMemory(std::string what) : what_(std::move(what)) {}
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string what_;
};

// Checked before allocating: shapes come from files and specs, and a header may claim terabytes.
void check_size(const Shape& shape, int64_t numel, DType dtype) {
  const uint64_t limit = max_tensor_bytes();
  if (uint64_t(numel) > limit / dtype_size(dtype))
    raise<ConfigError>("Tensor {} {}: size must be at most max_tensor_bytes = {} bytes, got {} elements of {} bytes",
                       shape.str(), dtype_name(dtype), limit, numel, dtype_size(dtype));
}

constexpr size_t kHugePage = size_t(2) << 20, kHugePageMin = size_t(4) << 20;

std::shared_ptr<std::byte[]> allocate(size_t bytes, bool zero = true) {
  tune_malloc_once();
  // Large tensors start on a 2 MiB boundary, advised for transparent huge pages (the kernel's setting is often
  // "madvise" only): fewer TLB misses in the memory-bound kernels (BatchNorm backward 5-10% faster measured, N=32
  // C=64 56x56 and N=256 C=512 7x7). The size is not rounded up to huge pages: a partial last one stays small.
  const size_t align = bytes >= kHugePageMin ? kHugePage : kAlignment;
  const size_t rounded = (std::max<size_t>(bytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
  void* p = nullptr;
  if (posix_memalign(&p, align, rounded) != 0) raise<OutOfMemory>("Tensor: cannot allocate {} bytes", bytes);
#ifdef MADV_HUGEPAGE
  if (align == kHugePage) (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
  if (zero) std::memset(p, 0, rounded);
  return std::shared_ptr<std::byte[]>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
}

std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.rank());
  int64_t acc = 1;
  for (size_t i = s.rank(); i-- > 0;) {
    st[i] = acc;
    const int64_t d = std::max<int64_t>(s[i], 1);
    // Only reachable with a zero dimension elsewhere (numel is checked first), like numpy's (0, 2**40, 2**40).
    if (acc > INT64_MAX / d)
      raise<ShapeError>("Tensor {}: the product of the nonzero dimensions must fit in int64", s.str());
    acc *= d;
  }
  return st;
}

template <class T>
double load(const T& v) {
  if constexpr (std::is_same_v<T, bf16> || std::is_same_v<T, f16>)
    return to_float(v);
  else
    return double(v);
}
// double -> f32 rounding to odd keeps the information a second rounding to 16 bits needs, so
// double -> f32 -> bf16/f16 rounds once to nearest even (a plain f32 round could create a false tie).
float to_f32_round_to_odd(double v) {
  float f = float(v);
  if (!std::isfinite(f) || double(f) == v) return f;
  uint32_t u = float_to_bits(f);
  if (std::fabs(double(f)) > std::fabs(v)) --u;  // truncate the magnitude
  return bits_to_float(u | 1u);
}

template <class T>
T store(double v) {
  if constexpr (std::is_same_v<T, bf16>)
    return to_bf16(to_f32_round_to_odd(v));
  else if constexpr (std::is_same_v<T, f16>)
    return to_f16(to_f32_round_to_odd(v));
  else
    return T(v);
}

}  // namespace

uint64_t max_tensor_bytes() { return tensor_limit().load(std::memory_order_relaxed); }
void set_max_tensor_bytes(uint64_t bytes) {
  tensor_limit().store(bytes ? bytes : default_max_tensor_bytes(), std::memory_order_relaxed);
}

Tensor::Tensor(Shape shape, DType dtype) : shape_(std::move(shape)), dtype_(dtype) {
  numel_ = shape_.numel();
  check_size(shape_, numel_, dtype_);
  strides_ = contiguous_strides(shape_);
  storage_ = allocate(nbytes());
}

Tensor Tensor::empty(Shape shape, DType dtype) {
  check_size(shape, shape.numel(), dtype);  // before allocating
  std::shared_ptr<std::byte[]> storage = allocate(size_t(shape.numel()) * dtype_size(dtype), false);
  std::byte* data = storage.get();
  return borrow(data, std::move(storage), std::move(shape), dtype);
}

Tensor Tensor::borrow(void* data, std::shared_ptr<void> owner, Shape shape, DType dtype) {
  const size_t element = dtype_size(dtype);
  require<ShapeError>(reinterpret_cast<uintptr_t>(data) % element == 0, "Tensor::borrow", "the data address",
                      std::to_string(element) + "-byte aligned (the element size)", reinterpret_cast<uintptr_t>(data));
  Tensor t;
  t.shape_ = std::move(shape);
  t.dtype_ = dtype;
  t.numel_ = t.shape_.numel();
  check_size(t.shape_, t.numel_, dtype);
  t.strides_ = contiguous_strides(t.shape_);
  t.storage_ = std::shared_ptr<std::byte[]>(std::move(owner), static_cast<std::byte*>(data));  // aliasing
  return t;
}

bool Tensor::is_contiguous() const { return strides_ == contiguous_strides(shape_); }

void Tensor::check_dtype(DType want) const {
  if (!defined()) raise<ShapeError>("Tensor: must be defined before access, got an empty tensor");
  if (want != dtype_)
    raise<ShapeError>("Tensor {}: dtype must be {}, got {}", shape_.str(), dtype_name(want), dtype_name(dtype_));
}

Tensor Tensor::reshape(Shape shape) const {
  std::vector<int64_t> d = shape.dims();
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < d.size(); ++i) {
    if (d[i] == -1) {
      if (infer >= 0) raise<ShapeError>("reshape {} -> {}: at most one dimension may be -1", shape_.str(), shape.str());
      infer = int(i);
    } else if (d[i] < 0) {
      raise<ShapeError>("reshape {} -> {}: dimensions must be >= 0 or -1", shape_.str(), shape.str());
    } else {
      known = Shape({known, d[i]}).numel();
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel_ % known != 0)
      raise<ShapeError>("reshape {} -> {}: cannot infer -1 from {} elements", shape_.str(), shape.str(), numel_);
    d[size_t(infer)] = numel_ / known;
  }
  Shape target(d);
  if (target.numel() != numel_)
    raise<ShapeError>("reshape {} -> {}: number of elements must be {}, got {}", shape_.str(), target.str(), numel_,
                      target.numel());
  Tensor v = *this;
  v.shape_ = target;
  v.strides_ = contiguous_strides(target);
  return v;
}

Tensor Tensor::flatten(size_t start_dim) const {
  if (start_dim > rank()) raise<ShapeError>("flatten {}: start_dim must be <= {}, got {}", shape_.str(), rank(), start_dim);
  std::vector<int64_t> d(shape_.dims().begin(), shape_.dims().begin() + long(start_dim));
  int64_t rest = 1;
  for (size_t i = start_dim; i < rank(); ++i) rest *= shape_[i];
  d.push_back(rest);
  return reshape(Shape(d));
}

Tensor Tensor::clone() const {
  if (!defined()) return {};
  Tensor t(shape_, dtype_);
  std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return clone();
  Tensor out(shape_, dtype);
  visit_dtype(dtype_, [&](auto s) {
    using S = decltype(s);
    visit_dtype(dtype, [&](auto d) {
      using D = decltype(d);
      const S* src = reinterpret_cast<const S*>(raw());
      D* dst = reinterpret_cast<D*>(out.raw());
      for (int64_t i = 0; i < numel_; ++i) dst[i] = store<D>(load(src[i]));
    });
  });
  return out;
}

double Tensor::item(int64_t i) const {
  if (i < 0 || i >= numel_) raise<ShapeError>("Tensor {}: index must be in [0, {}), got {}", shape_.str(), numel_, i);
  return visit_dtype(dtype_, [&](auto s) { return load(reinterpret_cast<const decltype(s)*>(raw())[i]); });
}

void Tensor::set(int64_t i, double v) {
  if (i < 0 || i >= numel_) raise<ShapeError>("Tensor {}: index must be in [0, {}), got {}", shape_.str(), numel_, i);
  visit_dtype(dtype_, [&](auto s) {
    using S = decltype(s);
    reinterpret_cast<S*>(raw())[i] = store<S>(v);
  });
}

void Tensor::fill(double v) {
  visit_dtype(dtype_, [&](auto s) {
    using S = decltype(s);
    S x = store<S>(v);
    std::fill_n(reinterpret_cast<S*>(raw()), numel_, x);
  });
}

std::vector<double> Tensor::to_vector() const {
  std::vector<double> out(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) out[size_t(i)] = item(i);
  return out;
}

bool Tensor::equal(const Tensor& o) const {
  return dtype_ == o.dtype_ && shape_ == o.shape_ && std::memcmp(raw(), o.raw(), nbytes()) == 0;
}

}  // namespace locnet
