#include "locnet/core/shape.hpp"

#include "locnet/core/error.hpp"

#include <ostream>

namespace locnet {

int64_t Shape::dim(int64_t i) const {
  int64_t r = int64_t(dims_.size());
  int64_t j = i < 0 ? i + r : i;
  if (j < 0 || j >= r) raise<ShapeError>("Shape {}: axis must be in [-{}, {}), got {}", str(), r, r, i);
  return dims_[size_t(j)];
}

bool Shape::known() const {
  for (int64_t d : dims_)
    if (d < 0) return false;
  return true;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : dims_) {
    if (d < 0) raise<ShapeError>("Shape {}: every dimension must be known and >= 0, got {}", str(), d);
    if (d != 0 && n > INT64_MAX / d) raise<ShapeError>("Shape {}: number of elements must fit in int64", str());
    n *= d;
  }
  return n;
}

Shape Shape::with_batch(int64_t n) const {
  std::vector<int64_t> d{n};
  d.insert(d.end(), dims_.begin(), dims_.end());
  return Shape(std::move(d));
}

Shape Shape::without_batch() const {
  if (dims_.empty()) raise<ShapeError>("Shape (): a batch dimension must be present");
  return Shape(std::vector<int64_t>(dims_.begin() + 1, dims_.end()));
}

Shape Shape::with_dim(size_t i, int64_t v) const {
  Shape s = *this;
  s.dims_.at(i) = v;
  return s;
}

std::string Shape::str() const {
  std::string s = "(";
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += ", ";
    s += dims_[i] < 0 ? std::string("None") : std::to_string(dims_[i]);
  }
  if (dims_.size() == 1) s += ",";
  return s + ")";
}

std::string to_string(const Shape& s) { return s.str(); }
std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

}  // namespace locnet
