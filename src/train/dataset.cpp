#include "locnet/train/dataset.hpp"

#include <cmath>
#include <cstring>

#include "locnet/core/dtype.hpp"
#include "locnet/core/error.hpp"

namespace locnet {
namespace {

Shape per_sample(const Tensor& t) {
  std::vector<int64_t> dims(t.shape().dims().begin() + 1, t.shape().dims().end());
  return Shape(std::move(dims));
}

// Rows idx of t (N, ...) as an f32 tensor (n, ...).
Tensor gather_rows(const Tensor& t, std::span<const int64_t> idx) {
  const int64_t n = int64_t(idx.size()), row = t.numel() / t.dim(0);
  Tensor out = Tensor::empty(t.shape().with_dim(0, n), DType::f32);
  float* dst = out.data<float>();
  if (t.dtype() == DType::f32) {
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(dst + i * row, t.data<float>() + idx[size_t(i)] * row, size_t(row) * sizeof(float));
    return out;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < row; ++j) dst[i * row + j] = float(t.item(idx[size_t(i)] * row + j));
  return out;
}

void check_samples(const Tensor& x, std::string_view what) {
  if (!x.defined() || x.rank() < 1 || x.dim(0) <= 0)
    raise<ShapeError>("{}: x must hold at least one sample, got {}", what,
                      x.defined() ? x.shape().str() : std::string("an empty tensor"));
  if (!x.is_contiguous()) raise<ShapeError>("{}: x must be contiguous", what);
}

class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor x, std::vector<int64_t> labels, int64_t classes, std::vector<std::string> names)
      : x_(std::move(x)), labels_(std::move(labels)), kind_(TargetKind::labels), classes_(classes),
        names_(std::move(names)) {
    check_samples(x_, "data");
    if (int64_t(labels_.size()) != x_.dim(0))
      raise<ShapeError>("data: the number of labels must be {} (one per sample), got {}", x_.dim(0), labels_.size());
    int64_t top = -1;
    for (size_t i = 0; i < labels_.size(); ++i) {
      if (labels_[i] < 0) raise<ShapeError>("data: label {} must be >= 0, got {}", i, labels_[i]);
      top = std::max(top, labels_[i]);
    }
    if (classes_ == 0) classes_ = std::max<int64_t>(top + 1, int64_t(names_.size()));
    if (top >= classes_) raise<ShapeError>("data: labels must be < {} (the number of classes), got {}", classes_, top);
  }
  TensorDataset(Tensor x, Tensor targets) : x_(std::move(x)), targets_(std::move(targets)), kind_(TargetKind::values) {
    check_samples(x_, "data");
    check_samples(targets_, "data (targets)");
    if (targets_.dim(0) != x_.dim(0))
      raise<ShapeError>("data: the number of targets must be {} (one per sample), got {}", x_.dim(0), targets_.dim(0));
  }
  int64_t size() const override { return x_.dim(0); }
  Shape sample_shape() const override { return per_sample(x_); }
  TargetKind target_kind() const override { return kind_; }
  Shape target_shape() const override { return kind_ == TargetKind::values ? per_sample(targets_) : Shape{}; }
  int64_t classes() const override { return classes_; }
  std::vector<std::string> class_names() const override { return names_; }
  std::string name() const override { return "arrays"; }
  void gather(std::span<const int64_t> idx, Batch& out) const override {
    for (int64_t i : idx)
      if (i < 0 || i >= size()) raise<ShapeError>("data: sample index must be in [0, {}), got {}", size(), i);
    out.x = gather_rows(x_, idx);
    out.weights = Tensor();
    if (kind_ == TargetKind::labels) {
      out.labels.resize(idx.size());
      for (size_t i = 0; i < idx.size(); ++i) out.labels[i] = labels_[size_t(idx[i])];
      out.targets = Tensor();
    } else {
      out.labels.clear();
      out.targets = gather_rows(targets_, idx);
    }
  }

 private:
  Tensor x_;
  std::vector<int64_t> labels_;
  Tensor targets_;
  TargetKind kind_;
  int64_t classes_ = 0;
  std::vector<std::string> names_;
};

class Subset : public DatasetView {
 public:
  Subset(std::shared_ptr<const Dataset> d, int64_t begin, int64_t end)
      : DatasetView(std::move(d)), begin_(begin), end_(end) {
    if (begin < 0 || end > inner_->size() || begin >= end)
      raise<ShapeError>("{}: a subset must be a non-empty range within [0, {}), got [{}, {})", inner_->name(),
                        inner_->size(), begin, end);
  }
  int64_t size() const override { return end_ - begin_; }
  std::string name() const override { return fmt::format("{}[{}:{}]", inner_->name(), begin_, end_); }
  void gather(std::span<const int64_t> idx, Batch& out) const override {
    std::vector<int64_t> shifted(idx.begin(), idx.end());
    for (int64_t& i : shifted) {
      if (i < 0 || i >= size()) raise<ShapeError>("{}: sample index must be in [0, {}), got {}", name(), size(), i);
      i += begin_;
    }
    inner_->gather(shifted, out);
  }

 private:
  int64_t begin_, end_;
};

}  // namespace

std::shared_ptr<Dataset> tensor_dataset(Tensor x, std::vector<int64_t> labels, int64_t classes,
                                        std::vector<std::string> class_names) {
  return std::make_shared<TensorDataset>(std::move(x), std::move(labels), classes, std::move(class_names));
}

std::shared_ptr<Dataset> tensor_dataset(Tensor x, Tensor targets) {
  return std::make_shared<TensorDataset>(std::move(x), std::move(targets));
}

std::shared_ptr<Dataset> subset(std::shared_ptr<const Dataset> data, int64_t begin, int64_t end) {
  return std::make_shared<Subset>(std::move(data), begin, end);
}

Split validation_split(std::shared_ptr<const Dataset> data, double fraction) {
  if (!(fraction > 0.0 && fraction < 1.0))
    raise<ConfigError>("validation_split must be in (0, 1), got {}", fraction);
  const int64_t n = data->size();
  const auto train = int64_t(std::floor(double(n) * (1.0 - fraction)));  // Keras: floor(n * (1 - split)) train rows
  const int64_t val = n - train;
  if (val < 1 || train < 1)
    raise<ConfigError>("validation_split {} of {} samples leaves {} for training and {} for validation; both must be "
                       ">= 1", fraction, n, train, val);
  return Split{subset(data, 0, train), subset(data, train, n)};
}

}  // namespace locnet
