// Operators whose inputs are all constants are computed at import and give another constant: PyTorch exports
// F.pad's pads at opset 11 and later as ConstantOfShape -> Concat -> Reshape -> Slice -> Transpose -> Reshape ->
// Cast on a constant list (src/interop/onnx_importer.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>

#include "interop/layout.hpp"
#include "interop/onnx_importer.hpp"

namespace locnet::onnx_import {
namespace {

int64_t normalized_axis(int64_t axis, int64_t rank, const std::string& where) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) raise<FormatError>("{}: axis {} of a rank-{} tensor", where, axis, rank);
  return a;
}

// The element of `t` at a multi-index along `dims` (row-major).
double at(const Tensor& t, const std::vector<int64_t>& index) {
  int64_t flat = 0;
  for (size_t a = 0; a < index.size(); ++a) flat = flat * t.dim(int64_t(a)) + index[a];
  return t.item(flat);
}

// Fills `out` by calling source(index) for every multi-index of its shape, in row-major order.
template <class Source>
void fill(Tensor& out, Source&& source) {
  std::vector<int64_t> index(out.rank(), 0);
  for (int64_t o = 0; o < out.numel(); ++o) {
    out.set(o, source(index));
    for (size_t a = out.rank(); a-- > 0;) {
      if (++index[a] < out.dim(int64_t(a))) break;
      index[a] = 0;
    }
  }
}

}  // namespace

// Integers of a constant list clamped to +-2^62 (Slice's "to the end" is INT64_MAX); at most kMaxRank of them.
std::vector<int64_t> Importer::clamped_ints(const onnx::NodeProto& n, int i) const {
  const Tensor& t = constant(n, i);
  if (t.rank() > 1 || t.numel() > kMaxRank)
    raise<FormatError>("{}: input {} must be a list of at most {} integers, got shape {}", where(n), i, kMaxRank,
                       t.shape().str());
  std::vector<int64_t> v;
  for (int64_t k = 0; k < t.numel(); ++k) {
    if (std::isnan(t.item(k))) raise<FormatError>("{}: input {} holds NaN", where(n), i);
    v.push_back(int64_t(std::clamp(t.item(k), -0x1p62, 0x1p62)));
  }
  return v;
}

bool Importer::fold_constant(const onnx::NodeProto& n) {
  static const std::set<std::string> foldable = {"Concat", "Reshape",   "Slice",  "Transpose",
                                                 "Cast",   "Unsqueeze", "Squeeze"};
  if (!foldable.count(n.op_type()) || !has_input(n, 0)) return false;
  for (int i = 0; i < n.input_size(); ++i)
    if (has_input(n, i) && !is_constant(n, i)) return false;
  Tensor t = constant(n, 0);
  const int64_t r = int64_t(t.rank());
  const std::string& op = n.op_type();
  const std::string at_node = where(n);
  // axes: an attribute before opset 13 (Unsqueeze, Squeeze), an input from 13
  const auto axes = [&](int input) {
    return opset_ < 13           ? attr_ints(n, "axes", {})
           : has_input(n, input) ? clamped_ints(n, input)
                                 : std::vector<int64_t>{};
  };
  std::vector<int64_t> dims = t.shape().dims();
  if (op == "Cast") {
    const int64_t to = attr_int(n, "to", 0);
    if (to == onnx::TensorProto::FLOAT || to == onnx::TensorProto::DOUBLE) {
      t = t.to(to == onnx::TensorProto::FLOAT ? DType::f32 : DType::f64);
    } else if (to == onnx::TensorProto::INT64 || to == onnx::TensorProto::INT32) {
      t = t.to(DType::f64);
      for (int64_t i = 0; i < t.numel(); ++i) t.set(i, std::trunc(t.item(i)));
    } else {
      unsupported(n, fmt::format("a cast of a constant to {}", type_name(int32_t(to))));
    }
  } else if (op == "Transpose") {
    std::vector<int64_t> perm = attr_ints(n, "perm", {});
    if (perm.empty())
      for (int64_t a = r; a-- > 0;) perm.push_back(a);
    std::vector<size_t> p;
    for (int64_t a : perm) p.push_back(size_t(normalized_axis(a, r, at_node)));
    if (p.size() != size_t(r) || std::set<size_t>(p.begin(), p.end()).size() != p.size())
      raise<FormatError>("{}: perm ({}) is not a permutation of {} axes", at_node, fmt::join(perm, ", "), r);
    t = interop::transpose(t, p);
  } else if (op == "Reshape" || op == "Unsqueeze" || op == "Squeeze") {
    std::vector<int64_t> shape;
    if (op == "Reshape") {
      shape = constant_ints(n, 1, kMaxRank);
      for (size_t a = 0; a < shape.size(); ++a)
        if (shape[a] == 0 && attr_int(n, "allowzero", 0) == 0 && int64_t(a) < r) shape[a] = dims[a];
      int64_t known = 1, unknown = 0;
      for (int64_t d : shape)
        if (d == -1)
          ++unknown;
        else if (__builtin_mul_overflow(known, std::max<int64_t>(d, 0), &known))
          known = INT64_MAX;  // more than any tensor holds: the count check below fails
      for (int64_t& d : shape)
        if (d == -1 && unknown == 1 && known > 0) d = t.numel() / known;
    } else if (op == "Unsqueeze") {
      const std::vector<int64_t> add = axes(1);
      const int64_t out_rank = r + int64_t(add.size());
      std::vector<bool> one(size_t(out_rank), false);
      for (int64_t a : add) one[size_t(normalized_axis(a, out_rank, at_node))] = true;
      if (std::count(one.begin(), one.end(), true) != int64_t(add.size()))
        raise<FormatError>("{}: axes ({}) repeat an axis", at_node, fmt::join(add, ", "));
      for (int64_t a = 0, k = 0; a < out_rank; ++a) shape.push_back(one[size_t(a)] ? 1 : dims[size_t(k++)]);
    } else {
      std::vector<int64_t> drop = axes(1);
      for (int64_t& a : drop) a = normalized_axis(a, r, at_node);
      for (int64_t a = 0; a < r; ++a)
        if (drop.empty() ? dims[size_t(a)] != 1 : std::find(drop.begin(), drop.end(), a) == drop.end())
          shape.push_back(dims[size_t(a)]);
    }
    int64_t count = 1;
    bool fits = shape.size() <= size_t(kMaxRank);
    for (int64_t d : shape) fits = fits && d >= 0 && !__builtin_mul_overflow(count, d, &count);
    if (!fits || count != t.numel())
      raise<FormatError>("{}: shape ({}) does not hold the {} values of a constant of shape {}", at_node,
                         fmt::join(shape, ", "), t.numel(), t.shape().str());
    t = t.reshape(Shape(shape));
  } else if (op == "Concat") {
    const int64_t axis = normalized_axis(attr_int(n, "axis", 0), r, at_node);
    std::vector<const Tensor*> parts;
    std::vector<int64_t> out = dims;
    out[size_t(axis)] = 0;
    for (int i = 0; i < n.input_size(); ++i) {
      if (!has_input(n, i)) continue;
      parts.push_back(&constant(n, i));
      std::vector<int64_t> d = parts.back()->shape().dims();
      if (d.size() != dims.size()) raise<FormatError>("{}: inputs of different ranks", at_node);
      out[size_t(axis)] += d[size_t(axis)];
      d[size_t(axis)] = dims[size_t(axis)];
      if (d != dims)
        raise<FormatError>("{}: input {} has shape {}, not matching {}", at_node, i, parts.back()->shape().str(),
                           t.shape().str());
    }
    Tensor y(Shape(out), t.dtype());
    fill(y, [&](std::vector<int64_t> index) {
      size_t p = 0;
      while (index[size_t(axis)] >= parts[p]->dim(axis)) index[size_t(axis)] -= parts[p++]->dim(axis);
      return at(*parts[p], index);
    });
    t = y;
  } else {  // Slice
    const SliceWindow w = slice_window(n, dims);
    Tensor y(Shape(w.count), t.dtype());
    fill(y, [&](std::vector<int64_t> index) {
      for (size_t a = 0; a < index.size(); ++a) index[a] = w.first[a] + index[a] * w.step[a];
      return at(t, index);
    });
    t = y;
  }
  add_computed(n, std::move(t));
  return true;
}

// Slice's starts, ends, axes, steps (attributes before opset 10, inputs from 10) on a tensor of shape `dims`, as
// the first index, step and count along every axis.
SliceWindow Importer::slice_window(const onnx::NodeProto& n, const std::vector<int64_t>& dims) const {
  const int64_t r = int64_t(dims.size());
  const std::string at_node = where(n);
  const bool attrs = opset_ < 10;
  const std::vector<int64_t> starts = attrs ? attr_ints(n, "starts", {}) : clamped_ints(n, 1),
                             ends = attrs ? attr_ints(n, "ends", {}) : clamped_ints(n, 2);
  std::vector<int64_t> ax = attrs             ? attr_ints(n, "axes", {})
                            : has_input(n, 3) ? clamped_ints(n, 3)
                                              : std::vector<int64_t>{},
                       steps = !attrs && has_input(n, 4) ? clamped_ints(n, 4) : std::vector<int64_t>{};
  if (ax.empty())
    for (size_t a = 0; a < starts.size(); ++a) ax.push_back(int64_t(a));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || ax.size() != starts.size() || steps.size() != starts.size())
    raise<FormatError>("{}: starts, ends, axes and steps must have one length", at_node);
  SliceWindow w{std::vector<int64_t>(size_t(r), 0), std::vector<int64_t>(size_t(r), 1), dims};
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t a = normalized_axis(ax[i], r, at_node), d = dims[size_t(a)], s = steps[i];
    if (s == 0) raise<FormatError>("{}: a step of 0", at_node);
    int64_t b = starts[i] < 0 ? starts[i] + d : starts[i], e = ends[i] < 0 ? ends[i] + d : ends[i];
    b = s > 0 ? std::clamp<int64_t>(b, 0, d) : std::clamp<int64_t>(b, 0, d - 1);
    e = s > 0 ? std::clamp<int64_t>(e, 0, d) : std::clamp<int64_t>(e, -1, d - 1);
    w.first[size_t(a)] = b;
    w.step[size_t(a)] = s;
    w.count[size_t(a)] = std::max<int64_t>(0, s > 0 ? (e - b + s - 1) / s : (b - e - s - 1) / -s);
  }
  return w;
}

// Constants computed at import share one budget, the tensor limit: a small file cannot make many large ones.
void Importer::add_computed(const onnx::NodeProto& n, Tensor t) {
  computed_bytes_ += uint64_t(t.numel()) * 8;
  if (computed_bytes_ > max_tensor_bytes())
    raise<FormatError>("{}: the constants computed at import exceed the tensor limit of {} bytes", where(n),
                       max_tensor_bytes());
  consts_.tensors.emplace_back(n.output(0), std::move(t));
}

}  // namespace locnet::onnx_import
