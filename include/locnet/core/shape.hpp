// Shape: a list of 64-bit dimensions. A dimension may be kUnknown (the batch before data arrives), printed as
// None, as Keras does: "(None, 28, 28, 1)". numel() checks for overflow and for unknown dimensions.
#pragma once
#include <fmt/format.h>

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <vector>

namespace locnet {

class Shape {
 public:
  static constexpr int64_t kUnknown = -1;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) {}

  size_t rank() const { return dims_.size(); }
  int64_t operator[](size_t i) const { return dims_.at(i); }
  int64_t& operator[](size_t i) { return dims_.at(i); }
  // Negative i counts from the end, as in Python.
  int64_t dim(int64_t i) const;
  const std::vector<int64_t>& dims() const { return dims_; }
  bool known() const;  // no kUnknown dimension

  // Product of the dimensions; ShapeError on unknown dimensions or int64 overflow.
  int64_t numel() const;

  Shape with_batch(int64_t n) const;  // prepends n
  Shape without_batch() const;        // drops the first dimension
  Shape with_dim(size_t i, int64_t v) const;

  std::string str() const;  // "(None, 28, 28, 1)"; rank 1 prints "(5,)" as Python does
  bool operator==(const Shape&) const = default;

 private:
  std::vector<int64_t> dims_;
};

std::string to_string(const Shape& s);
std::ostream& operator<<(std::ostream& os, const Shape& s);  // readable test failures

}  // namespace locnet

template <>
struct fmt::formatter<locnet::Shape> : fmt::formatter<std::string> {
  auto format(const locnet::Shape& s, format_context& ctx) const {
    return fmt::formatter<std::string>::format(s.str(), ctx);
  }
};
