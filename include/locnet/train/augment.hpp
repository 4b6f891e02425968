// The input pipeline (docs/augmentation.md): Normalization statistics from a data set, and image augmentation as
// BatchTransforms (include/locnet/train/dataset.hpp) for `locnet train --normalize --augment SPEC`.
//
// Augmentations act on image batches x (N, H, W, C) (channels_last) or (N, C, H, W) (channels_first), or (N, H, W)
// (one channel), per image, drawing only from the rng they are given: the same seed gives the same batches.
// Labels, targets and weights are left alone. Shifted-out pixels are dropped and uncovered ones are zeros.
//   RandomCrop(padding p)     torchvision RandomCrop(size, padding=p): pad p zeros each side, crop the original
//                             size at a uniform offset in [0, 2p]^2 (a shift by -p..p rows and columns)
//   RandomFlip(probability)   horizontal flip with probability p (torchvision RandomHorizontalFlip(p=0.5),
//                             Keras RandomFlip("horizontal"))
//   RandomTranslation(h, w)   Keras RandomTranslation(h, w, fill_mode="constant", interpolation="nearest"):
//                             a shift by round(u H) rows and round(v W) columns, u ~ U[-h, h], v ~ U[-w, w]
// ShapeError for a batch that is not rank 3 or 4.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "locnet/layers/normalization.hpp"
#include "locnet/model/model.hpp"
#include "locnet/train/dataset.hpp"

namespace locnet {

// Keras's Normalization.adapt: the mean and (biased) variance of every feature over all samples of `data`, in
// one streaming pass over batches of `batch_size` (each batch's statistics in double, merged by Chan's formula),
// stored in the layer's buffers. An unbuilt layer is built for the data's sample shape first. ShapeError when a
// built layer's input does not match the samples or the data set is empty.
void adapt(Normalization& layer, const Dataset& data, int64_t batch_size = 1024);

// `locnet train --normalize`: Normalization() (per channel: axis -1) adapted to `data`, followed by `model`'s
// layers, built with `seed`. ConfigError for a model that has no single input with a known shape.
Model prepend_normalization(const Model& model, const Dataset& data, uint64_t seed);

struct ImageLayout {
  bool channels_first = false;
};

class RandomCrop : public BatchTransform {
 public:
  explicit RandomCrop(int64_t padding, ImageLayout layout = {});  // ConfigError for padding < 0
  void apply(Batch& batch, Rng& rng) const override;

 private:
  int64_t padding_;
  ImageLayout layout_;
};

class RandomFlip : public BatchTransform {
 public:
  explicit RandomFlip(double probability = 0.5, ImageLayout layout = {});  // ConfigError outside [0, 1]
  void apply(Batch& batch, Rng& rng) const override;

 private:
  double probability_;
  ImageLayout layout_;
};

class RandomTranslation : public BatchTransform {
 public:
  RandomTranslation(double height_factor, double width_factor, ImageLayout layout = {});  // ConfigError outside [0, 1]
  void apply(Batch& batch, Rng& rng) const override;

 private:
  double height_, width_;
  ImageLayout layout_;
};

// Several transforms applied in order.
class ComposedTransform : public BatchTransform {
 public:
  explicit ComposedTransform(std::vector<std::shared_ptr<const BatchTransform>> parts) : parts_(std::move(parts)) {}
  void apply(Batch& batch, Rng& rng) const override;

 private:
  std::vector<std::shared_ptr<const BatchTransform>> parts_;
};

// A transform from comma-separated items, applied in the order given: "crop=P" (padding P pixels), "flip" or
// "flip=P" (probability, default 0.5), "translate=F" (F of the height and width) or "translate=FHxFW", and
// "channels_first" (the layout of every item). ConfigError naming the item for an unknown or malformed one, or
// an empty spec.
std::shared_ptr<const BatchTransform> make_augmentation(const std::string& spec);

}  // namespace locnet
