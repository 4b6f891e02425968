// Data sets for training and evaluation (`locnet train --data`, fit, evaluate; docs/data.md).
//
// A Dataset is N samples, each an input x of a fixed per-sample shape and a target: a class index (labels: sparse
// categorical, with a number of classes and optional class names) or a float array of a fixed per-sample shape
// (values: one-hot or probability rows, multi-label 0/1 rows, regression targets). Sources (arrays in memory,
// memory-mapped .npy/.npz, CSV, image folders, IDX) implement it; trainers only call gather(), so a source may
// keep everything in memory, map a file, or decode on demand.
//
// gather(idx, out) fills out.x (n, sample...) in f32 with the samples idx in that order, and out.labels or
// out.targets; it may be called from several threads at once (a loader prepares the next batch on another
// thread), so sources keep no mutable state in gather. Errors: a source that cannot produce a sample (a corrupt
// image found late) throws FormatError naming the file and the sample.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "locnet/core/rng.hpp"
#include "locnet/core/tensor.hpp"

namespace locnet {

enum class TargetKind { labels, values };

struct Batch {
  Tensor x;                     // (n, sample...) f32
  std::vector<int64_t> labels;  // TargetKind::labels: (n,) class indices
  Tensor targets;               // TargetKind::values: (n, target...) f32
  Tensor weights;               // (n,) f32 sample weights; undefined means every weight is 1
  int64_t size() const { return x.defined() ? x.dim(0) : 0; }
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Shape sample_shape() const = 0;  // one sample's x shape (no batch dimension)
  virtual TargetKind target_kind() const = 0;
  virtual Shape target_shape() const { return Shape{}; }   // values: one sample's target shape
  virtual int64_t classes() const { return 0; }             // labels: the number of classes
  virtual std::vector<std::string> class_names() const { return {}; }  // labels: names in class order, or empty
  virtual std::string name() const = 0;                     // for messages: a file, "arrays", "x.npy[0:900]"
  virtual void gather(std::span<const int64_t> idx, Batch& out) const = 0;
};

// A data set seen through another (a subset, a reshaped or weighted view): forwards everything to `inner`; a
// view overrides only what it changes.
class DatasetView : public Dataset {
 public:
  explicit DatasetView(std::shared_ptr<const Dataset> inner) : inner_(std::move(inner)) {}
  int64_t size() const override { return inner_->size(); }
  Shape sample_shape() const override { return inner_->sample_shape(); }
  TargetKind target_kind() const override { return inner_->target_kind(); }
  Shape target_shape() const override { return inner_->target_shape(); }
  int64_t classes() const override { return inner_->classes(); }
  std::vector<std::string> class_names() const override { return inner_->class_names(); }
  std::string name() const override { return inner_->name(); }
  void gather(std::span<const int64_t> idx, Batch& out) const override { inner_->gather(idx, out); }

 protected:
  std::shared_ptr<const Dataset> inner_;
};

// A change applied to each training batch after gather and before the step (augmentation: random crops, flips,
// translations), drawing only from `rng` so that a seed reproduces it. The loader may call it on another thread.
class BatchTransform {
 public:
  virtual ~BatchTransform() = default;
  virtual void apply(Batch& batch, Rng& rng) const = 0;
};

// Samples x (N, ...) (any float dtype, converted to f32 when gathered) with class labels, or with float targets
// (N, ...). ShapeError when the counts differ or a label is negative; classes = max label + 1 unless given.
std::shared_ptr<Dataset> tensor_dataset(Tensor x, std::vector<int64_t> labels, int64_t classes = 0,
                                        std::vector<std::string> class_names = {});
std::shared_ptr<Dataset> tensor_dataset(Tensor x, Tensor targets);

// Rows [begin, end) of another data set, in order (validation splits). ShapeError when out of range or empty.
std::shared_ptr<Dataset> subset(std::shared_ptr<const Dataset> data, int64_t begin, int64_t end);

// Keras's validation_split: the last `fraction` of the samples (taken before any shuffling), at least one each
// side. ConfigError for a fraction outside (0, 1) or one leaving either part empty.
struct Split {
  std::shared_ptr<Dataset> train, validation;
};
Split validation_split(std::shared_ptr<const Dataset> data, double fraction);

}  // namespace locnet
