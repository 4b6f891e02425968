// Tensor: an n-dimensional array that owns (shares) 64-byte aligned storage, with a dtype, a shape and strides
// in elements. Copying a Tensor is cheap and aliases the storage (like torch.Tensor); clone() copies the data.
// reshape()/flatten() return views of the same storage. New tensors are zero-filled.
// Errors: ShapeError for an impossible reshape or a typed access with the wrong dtype.
#pragma once
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "locnet/core/dtype.hpp"
#include "locnet/core/error.hpp"
#include "locnet/core/shape.hpp"

namespace locnet {

inline constexpr size_t kAlignment = 64;

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape, DType dtype = DType::f32);
  // Uninitialised storage, for outputs a kernel overwrites entirely (saves a pass over memory).
  static Tensor empty(Shape shape, DType dtype = DType::f32);
  // A contiguous tensor over memory someone else owns (a NumPy array): `owner` keeps `data` alive while any view
  // exists. `data` must be aligned to the element size (ShapeError otherwise); kernels load inputs unaligned
  // (tests/kernels/test_unaligned_inputs.cpp), so NumPy's usual 16-byte alignment is enough.
  static Tensor borrow(void* data, std::shared_ptr<void> owner, Shape shape, DType dtype);

  template <class T>
  static Tensor from(const std::vector<T>& values, Shape shape) {
    Tensor t(std::move(shape), dtype_v<T>);
    require<ShapeError>(int64_t(values.size()) == t.numel(), "Tensor::from", "the number of values",
                        std::to_string(t.numel()), values.size());
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
  }

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  size_t rank() const { return shape_.rank(); }
  int64_t dim(int64_t i) const { return shape_.dim(i); }
  DType dtype() const { return dtype_; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return size_t(numel_) * dtype_size(dtype_); }
  const std::vector<int64_t>& strides() const { return strides_; }
  bool is_contiguous() const;

  void* raw() { return storage_.get() + offset_; }
  const void* raw() const { return storage_.get() + offset_; }
  template <class T>
  T* data() {
    check_dtype(dtype_v<T>);
    return reinterpret_cast<T*>(raw());
  }
  template <class T>
  const T* data() const {
    check_dtype(dtype_v<T>);
    return reinterpret_cast<const T*>(raw());
  }
  template <class T>
  std::span<T> span() {
    return {data<T>(), size_t(numel_)};
  }
  template <class T>
  std::span<const T> span() const {
    return {data<T>(), size_t(numel_)};
  }

  // Views of the same storage. One dimension of reshape may be -1 (inferred).
  Tensor reshape(Shape shape) const;
  Tensor flatten(size_t start_dim = 1) const;  // (d0, ..., d[start-1], product of the rest)

  Tensor clone() const;
  Tensor to(DType dtype) const;  // converted copy (a clone when the dtype is the same)
  bool shares_storage_with(const Tensor& other) const { return storage_ == other.storage_; }

  // Element access through double, for any dtype (tests, tools, small loops; not for kernels).
  double item(int64_t flat_index) const;
  void set(int64_t flat_index, double value);
  void fill(double value);
  std::vector<double> to_vector() const;

  // Bytewise equality of dtype, shape and values.
  bool equal(const Tensor& other) const;

 private:
  void check_dtype(DType want) const;
  std::shared_ptr<std::byte[]> storage_;
  size_t offset_ = 0;  // bytes
  Shape shape_;
  std::vector<int64_t> strides_;
  DType dtype_ = DType::f32;
  int64_t numel_ = 0;
};

}  // namespace locnet
