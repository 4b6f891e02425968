// The ONNX operators that need more than one layer or a rewrite of their operands (src/interop/onnx_importer.hpp):
// arithmetic with a broadcast constant, broadcasting between graph tensors, Pad, Resize/Upsample,
// ConstantOfShape and Flatten at other axes. Each maps only where locnet computes exactly what ONNX defines.
#include <cmath>

#include "interop/onnx_importer.hpp"
#include "locnet/layers/conv.hpp"
#include "locnet/layers/reshape.hpp"
#include "locnet/layers/spatial_ops.hpp"

namespace locnet::onnx_import {
namespace {

// Multiplying by 1/v equals dividing by v exactly when v is a power of two (its inverse is exact).
bool power_of_two(double v) {
  int e = 0;
  return std::isfinite(v) && v != 0 && std::abs(std::frexp(v, &e)) == 0.5 && std::isnormal(1 / v);
}

}  // namespace

// Add/Sub/Mul/Div of a data tensor (N, C, ...) and a constant that is a scalar or one value per channel (shape
// (C, 1, 1), (1, C, 1, 1), ...): y = scale * x + bias per channel, computed exactly by a 1x1 convolution with
// groups = C (one product and one sum per value: x * 1 + b = x + b, x * s + 0 = x * s, x * -1 + v = v - x).
bool Importer::constant_arithmetic(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  if (op != "Add" && op != "Sub" && op != "Mul" && op != "Div") return false;
  if (n.input_size() != 2) raise<FormatError>("{}: 2 inputs expected, got {}", where(n), n.input_size());
  const bool const_first = is_constant(n, 0), const_second = is_constant(n, 1);
  if (const_first == const_second) {
    if (const_first) unsupported(n, "two constant inputs");
    if (op == "Div") unsupported(n, "the division of two graph tensors");
    return false;
  }
  if (op == "Div" && const_first) unsupported(n, "a constant divided by a graph tensor");
  const NodeId x = value(n.input(const_first ? 1 : 0), where(n));
  const Shape in = shape_of(x);
  const Tensor& c = constant(n, const_first ? 0 : 1);
  const int64_t r = int64_t(in.rank()), channels = r >= 2 ? in.dim(1) : 0;
  // Aligned right (numpy broadcasting), every axis of c but the channel axis must be 1.
  bool per_channel = r >= 2 && int64_t(c.rank()) <= r;
  for (int64_t j = 0; per_channel && j < int64_t(c.rank()); ++j) {
    const int64_t axis = j + r - int64_t(c.rank());
    per_channel = c.dim(j) == 1 || (axis == 1 && c.dim(j) == channels);
  }
  if (!per_channel || r > 4)
    unsupported(n, fmt::format("a constant of shape {} with an input of shape {} (a scalar or one value per channel "
                               "of a rank 2 to 4 input is supported)",
                               c.shape().str(), in.str()));
  Tensor scale(Shape{1, 1, channels}, dtype_), bias(Shape{channels}, dtype_);
  const Tensor values = c.to(dtype_);  // rounded as the model computes
  for (int64_t k = 0; k < channels; ++k) {
    const double v = values.item(c.numel() == 1 ? 0 : k);
    if (op == "Div" && !power_of_two(v))
      unsupported(n, fmt::format("division by {} (only by powers of two, whose inverse is exact)", v));
    double s = 1, b = 0;
    if (op == "Add") b = v;
    if (op == "Sub") s = const_first ? -1 : 1, b = const_first ? v : -v;
    if (op == "Mul") s = v;
    if (op == "Div") s = 1 / v;
    scale.set(k, s);
    bias.set(k, b);
  }
  ConvConfig<1> c1{.filters = channels, .kernel_size = {1}, .data_format = "channels_first", .groups = channels};
  NodeId y = x;
  if (r == 4) {
    ConvConfig<2> c2{.filters = channels, .kernel_size = {1, 1}, .data_format = "channels_first", .groups = channels};
    y = append(std::make_unique<Conv2D>(c2), {x},
               {{"kernel", scale.reshape(Shape{1, 1, 1, channels})}, {"bias", bias}});
  } else if (r == 3) {
    y = append(std::make_unique<Conv1D>(c1), {x}, {{"kernel", scale}, {"bias", bias}});
  } else {  // (N, C) as (N, C, 1) for the convolution
    y = append(std::make_unique<Reshape>(std::vector<int64_t>{channels, 1}), {x}, {});
    y = append(std::make_unique<Conv1D>(c1), {y}, {{"kernel", scale}, {"bias", bias}});
    y = append(std::make_unique<Reshape>(std::vector<int64_t>{channels}), {y}, {});
  }
  values_[n.output(0)] = y;
  return true;
}

// Inputs of the merge operators whose NCHW shapes differ only where one has a spatial size 1 are repeated along
// those axes by UpSampling2D (nearest: exact copies) to the common shape; other broadcasting is NotSupported.
std::vector<NodeId> Importer::broadcast(const onnx::NodeProto& n, std::vector<NodeId> ins) {
  const Shape first = shape_of(ins[0]);
  std::vector<int64_t> target = first.dims();
  bool expressible = true;
  for (NodeId i : ins) {
    const Shape s = shape_of(i);
    if (s == first) continue;
    if (s.rank() != first.rank()) {
      expressible = false;
      break;
    }
    for (size_t a = 1; a < s.rank(); ++a)
      if (s.dim(int64_t(a)) != target[a]) {
        if (target[a] == 1) target[a] = s.dim(int64_t(a));
        expressible = expressible && (a >= 2 && (s.dim(int64_t(a)) == 1 || target[a] == s.dim(int64_t(a))));
      }
  }
  for (NodeId i : ins) {
    const Shape s = shape_of(i);
    if (s != first && (!expressible || first.rank() != 4))
      unsupported(n, fmt::format("broadcasting {} with {} (only over spatial axes of size 1 of NCHW inputs)",
                                 first.str(), s.str()));
  }
  for (NodeId& i : ins)
    if (shape_of(i).dims() != target) {
      const Shape s = shape_of(i);
      UpSampling2DConfig c{.size = {target[2] / s.dim(2), target[3] / s.dim(3)}, .data_format = "channels_first"};
      i = append(std::make_unique<UpSampling2D>(c), {i}, {});
    }
  return ins;
}

// Pad: pads and the value are attributes before opset 11, inputs from 11 (axes from 18). Zeros on the spatial
// axes of an NCL or NCHW input -> ZeroPadding1D/2D.
std::unique_ptr<Layer> Importer::pad(const onnx::NodeProto& n, const Shape& in) {
  const int64_t r = int64_t(in.rank());
  const std::string mode = attr_str(n, "mode", "constant");
  if (mode != "constant") unsupported(n, fmt::format("mode '{}' (only constant zeros: ZeroPadding)", mode));
  std::vector<int64_t> p;
  double fill = 0;
  if (opset_ < 11) {
    p = attr_ints(n, "pads", {});
    fill = attr_float(n, "value", 0.0);
  } else {
    p = constant_ints(n, 1, 2 * kMaxRank);
    if (has_input(n, 2)) {
      const Tensor& v = constant(n, 2);
      if (v.numel() > 1)
        raise<FormatError>("{}: constant_value must be a scalar, got shape {}", where(n), v.shape().str());
      fill = v.numel() == 1 ? v.item(0) : 0;
    }
    if (has_input(n, 3)) {  // opset 18: pads for these axes only
      const std::vector<int64_t> axes = constant_ints(n, 3, kMaxRank);
      if (p.size() != 2 * axes.size())
        raise<FormatError>("{}: pads must have {} values for {} axes, got {}", where(n), 2 * axes.size(), axes.size(),
                           p.size());
      std::vector<int64_t> full(size_t(2 * r), 0);
      for (size_t i = 0; i < axes.size(); ++i) {
        const int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
        if (a < 0 || a >= r) raise<FormatError>("{}: axis {} of a rank-{} input", where(n), axes[i], r);
        full[size_t(a)] = p[i];
        full[size_t(a + r)] = p[i + axes.size()];
      }
      p = full;
    }
  }
  if (p.size() != size_t(2 * r)) raise<FormatError>("{}: pads must have {} values, got {}", where(n), 2 * r, p.size());
  if (fill != 0) unsupported(n, fmt::format("the constant value {} (only zeros: ZeroPadding)", fill));
  if (p[0] != 0 || p[1] != 0 || p[size_t(r)] != 0 || p[size_t(r + 1)] != 0)
    unsupported(n, "padding the batch or channel axis");
  for (int64_t v : p)
    if (v < 0) unsupported(n, fmt::format("negative pads ({})", fmt::join(p, ", ")));
  if (r == 3)
    return std::make_unique<ZeroPadding1D>(
        ZeroPadding1DConfig{.padding = {p[2], p[5]}, .data_format = "channels_first"});
  if (r != 4) unsupported(n, fmt::format("a rank-{} input (NCL and NCHW are supported)", r));
  return std::make_unique<ZeroPadding2D>(
      ZeroPadding2DConfig{.padding = Value::tuple({Value::tuple({p[2], p[6]}), Value::tuple({p[3], p[7]})}),
                          .data_format = "channels_first"});
}

// Resize (opset 10: X, scales; 11+: X, roi, scales, sizes) and Upsample (scales an attribute before opset 9, an
// input from 9) of an NCHW input by integer factors -> UpSampling2D, of an NCL input (nearest) -> UpSampling1D. Upsample and Resize-10 map output o to input
// o / scale, rounded down. UpSampling2D nearest is x[floor(o / size)]: the same for asymmetric + floor,
// tf_half_pixel_for_nearest + floor, and (pytorch_)half_pixel with either round_prefer mode ((o + 0.5) / size - 0.5
// is never a tie); its bilinear is (pytorch_)half_pixel linear.
std::unique_ptr<Layer> Importer::resize(const onnx::NodeProto& n, const Shape& in, std::vector<NodeId>& ins) {
  const bool upsample = n.op_type() == "Upsample", v11 = !upsample && opset_ >= 11;
  const std::string mode = attr_str(n, "mode", "nearest");
  const std::string ctm = v11 ? attr_str(n, "coordinate_transformation_mode", "half_pixel") : "asymmetric";
  const std::string rounding = v11 ? attr_str(n, "nearest_mode", "round_prefer_floor") : "floor";
  for (const char* a : {"exclude_outside", "antialias"})
    if (attr_int(n, a, 0) != 0) unsupported(n, fmt::format("{}=1", a));
  if (attr(n, "axes")) unsupported(n, "the axes attribute");
  const int64_t r = int64_t(in.rank());
  std::vector<double> scales;
  if (upsample && opset_ < 9) {
    if (const auto* a = attr(n, "scales"); a && a->floats_size() <= kMaxRank)
      scales.assign(a->floats().begin(), a->floats().end());
  } else if (const int i = v11 ? 2 : 1; has_input(n, i) && constant(n, i).numel() > 0) {
    const Tensor& t = constant(n, i);
    if (t.rank() != 1 || t.numel() > kMaxRank)
      raise<FormatError>("{}: scales must be a list of at most {} values, got shape {}", where(n), kMaxRank,
                         t.shape().str());
    for (int64_t k = 0; k < t.numel(); ++k) scales.push_back(t.item(k));
  } else if (v11 && has_input(n, 3)) {
    const std::vector<int64_t> sizes = constant_ints(n, 3, kMaxRank);
    for (int64_t a = 0; a < int64_t(sizes.size()) && a < r; ++a)
      scales.push_back(a == 0 ? 1.0 : double(sizes[size_t(a)]) / double(in.dim(a)));  // N may be unknown
  }
  if (int64_t(scales.size()) != r)
    raise<FormatError>("{}: {} scales or sizes expected (one per axis), got {}", where(n), r, scales.size());
  if (scales[0] != 1 || scales[1] != 1) unsupported(n, "resizing the batch or channel axis");
  if (r != 4 && r != 3) unsupported(n, fmt::format("a rank-{} input (NCL and NCHW are supported)", r));
  std::vector<int64_t> size;
  for (int a = 2; a < r; ++a) {
    if (!(scales[size_t(a)] >= 1 && scales[size_t(a)] <= 1 << 16 && scales[size_t(a)] == std::floor(scales[size_t(a)])))
      unsupported(
          n, fmt::format("scales ({}) (integer factors >= 1 are supported: UpSampling2D)", fmt::join(scales, ", ")));
    size.push_back(int64_t(scales[size_t(a)]));
  }
  const bool half_pixel = ctm == "half_pixel" || ctm == "pytorch_half_pixel";
  bool exact = false;
  if (mode == "nearest")
    exact = (rounding == "floor" && (ctm == "asymmetric" || ctm == "tf_half_pixel_for_nearest")) ||
            (half_pixel && (rounding == "round_prefer_floor" || rounding == "round_prefer_ceil"));
  else if (mode == "linear" || mode == "bilinear")
    exact = half_pixel;
  else
    unsupported(n, fmt::format("mode '{}' (nearest and linear are supported)", mode));
  if (!exact)
    unsupported(n, fmt::format("mode '{}' with coordinate_transformation_mode '{}'{} (UpSampling2D computes nearest "
                               "as x[floor(o / size)] and linear with half-pixel centers)",
                               mode, ctm, mode == "nearest" ? fmt::format(" and nearest_mode '{}'", rounding) : ""));
  if (r == 3) {  // UpSampling1D is channels_last only: NCL -> NLC, repeat the steps, -> NCL
    if (mode != "nearest") unsupported(n, "linear mode of a rank-3 input (UpSampling1D repeats steps: nearest only)");
    const NodeId nlc = append(std::make_unique<Permute>(std::vector<int64_t>{2, 1}), ins, {});
    ins = {append(std::make_unique<UpSampling1D>(UpSampling1DConfig{.size = size[0]}), {nlc}, {})};
    return std::make_unique<Permute>(std::vector<int64_t>{2, 1});
  }
  return std::make_unique<UpSampling2D>(UpSampling2DConfig{
      .size = size, .data_format = "channels_first", .interpolation = mode == "nearest" ? "nearest" : "bilinear"});
}

// ConstantOfShape: a constant of the given shape filled with `value` (one element; float 0 by default).
Tensor Importer::constant_of_shape(const onnx::NodeProto& n) const {
  const std::vector<int64_t> dims = constant_ints(n, 0, kMaxRank);
  Tensor v = Tensor::from(std::vector<float>{0}, Shape{1});
  if (const auto* a = attr(n, "value")) {
    if (!a->has_t()) raise<FormatError>("{}: value must be a tensor", where(n));
    v = to_tensor(a->t());
    if (v.numel() != 1) raise<FormatError>("{}: value must hold one element, got {}", where(n), v.numel());
  }
  uint64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) raise<FormatError>("{}: the shape must be >= 0, got ({})", where(n), fmt::join(dims, ", "));
    if (d > 0 && count > max_tensor_bytes() / 8 / uint64_t(d))
      raise<FormatError>("{}: the shape ({}) exceeds the tensor limit of {} bytes", where(n), fmt::join(dims, ", "),
                         max_tensor_bytes());
    count *= uint64_t(d);
  }
  Tensor y(Shape(dims), v.dtype());
  for (int64_t i = 0; i < y.numel(); ++i) y.set(i, v.item(0));
  return y;
}

// Flatten at axis k gives (d0 * ... * d(k-1), the rest): the batch stays alone when d1 .. d(k-1) are 1.
std::unique_ptr<Layer> Importer::flatten(const onnx::NodeProto& n, const Shape& in) {
  const int64_t r = int64_t(in.rank()), given = attr_int(n, "axis", 1), axis = given < 0 ? given + r : given;
  bool keeps_batch = axis == 1 || (axis > 1 && axis < r);
  for (int64_t a = 1; keeps_batch && a < axis; ++a) keeps_batch = in.dim(a) == 1;
  if (!keeps_batch)
    unsupported(
        n, fmt::format("axis={} of an input of shape {} (only an axis that keeps the batch alone)", given, in.str()));
  return std::make_unique<Flatten>(std::string());
}

}  // namespace locnet::onnx_import
