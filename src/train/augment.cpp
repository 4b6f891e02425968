#include "locnet/train/augment.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numeric>

namespace locnet {

void adapt(Normalization& layer, const Dataset& data, int64_t batch_size) {
  const int64_t n = data.size();
  const std::string who = layer.name().empty() ? layer.type() : layer.name();
  if (n <= 0) raise<ShapeError>("adapt {}: the data set {} must not be empty", who, data.name());
  const Shape in = data.sample_shape().with_batch(Shape::kUnknown);
  if (!layer.built()) {
    Rng unused;
    layer.build(in, unused);
  } else if (layer.input_shape().without_batch() != data.sample_shape()) {
    raise<ShapeError>("adapt {}: the samples of {} must have the layer's input shape {}, got {}", who,
                      data.name(), layer.input_shape().without_batch().str(), data.sample_shape().str());
  }
  const int64_t C = layer.features();
  const size_t nc = static_cast<size_t>(C);
  std::vector<double> mean(nc, 0.0), m2(nc, 0.0), bmean(nc), bm2(nc);
  double count = 0;  // elements per feature so far
  Batch batch;
  std::vector<int64_t> idx;
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    idx.resize(size_t(std::min(batch_size, n - begin)));
    std::iota(idx.begin(), idx.end(), begin);
    data.gather(idx, batch);
    const std::array<int64_t, 3> v = layer.split(batch.x.shape());
    const float* x = batch.x.data<float>();
    const double m = double(v[0] * v[2]);  // this batch's elements per feature
    // Two passes over the batch per feature, then Chan et al.'s merge with what came before.
    std::fill(bmean.begin(), bmean.end(), 0.0);
    std::fill(bm2.begin(), bm2.end(), 0.0);
    for (int64_t o = 0; o < v[0]; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < v[2]; ++i) bmean[size_t(c)] += x[(o * C + c) * v[2] + i];
    for (double& b : bmean) b /= m;
    for (int64_t o = 0; o < v[0]; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < v[2]; ++i) {
          const double d = x[(o * C + c) * v[2] + i] - bmean[size_t(c)];
          bm2[size_t(c)] += d * d;
        }
    const double total = count + m;
    for (size_t c = 0; c < size_t(C); ++c) {
      const double delta = bmean[c] - mean[c];
      mean[c] += delta * m / total;
      m2[c] += bm2[c] + delta * delta * count * m / total;
    }
    count = total;
  }
  for (double& s : m2) s /= count;  // biased, as Keras's adapt
  layer.set_statistics(mean, m2);
}

Model prepend_normalization(const Model& model, const Dataset& data, uint64_t seed) {
  if (!model.input_shape())
    raise<ConfigError>("--normalize: the model must have one input of known shape, got none");
  Model out(Input(model.input_shape()->without_batch()));
  out.add(Normalization());
  out.append(model);
  out.build(*model.input_shape(), seed);
  adapt(dynamic_cast<Normalization&>(out.layer(0)), data);
  return out;
}

namespace {

// One batch of images seen as N images of H x W pixels with C channels.
struct Images {
  int64_t n, h, w, c;
  bool channels_first;
  int64_t at(int64_t y, int64_t x, int64_t ch) const {
    return channels_first ? (ch * h + y) * w + x : (y * w + x) * c + ch;
  }
};

Images images_of(const Tensor& x, ImageLayout layout, const char* what) {
  if (x.rank() == 3) return {x.dim(0), x.dim(1), x.dim(2), 1, false};
  if (x.rank() != 4)
    raise<ShapeError>("{}: images must be (N, H, W, C), (N, C, H, W) or (N, H, W), got shape {}", what,
                      x.shape().str());
  if (layout.channels_first) return {x.dim(0), x.dim(2), x.dim(3), x.dim(1), true};
  return {x.dim(0), x.dim(1), x.dim(2), x.dim(3), false};
}

struct Move {
  int64_t dy = 0, dx = 0;  // the content moves down dy rows and right dx columns
  bool flip = false;       // mirrored left-right before the move
};

// Moves each image of x by moves(rng) (one draw per image, in order), filling uncovered pixels with zeros.
template <class Draw>
void move_images(Batch& batch, ImageLayout layout, const char* what, Rng& rng, Draw&& draw) {
  const Images im = images_of(batch.x, layout, what);
  const int64_t per_image = im.h * im.w * im.c;
  visit_float(batch.x.dtype(), [&](auto t) {
    using T = decltype(t);
    std::vector<T> src(static_cast<size_t>(per_image));
    for (int64_t i = 0; i < im.n; ++i) {
      const Move m = draw(im, rng);
      if (m.dy == 0 && m.dx == 0 && !m.flip) continue;
      T* img = batch.x.data<T>() + i * per_image;
      std::copy(img, img + per_image, src.begin());
      for (int64_t y = 0; y < im.h; ++y)
        for (int64_t x = 0; x < im.w; ++x) {
          const int64_t sy = y - m.dy, sx0 = x - m.dx, sx = m.flip ? im.w - 1 - sx0 : sx0;
          const bool inside = sy >= 0 && sy < im.h && sx0 >= 0 && sx0 < im.w;
          for (int64_t ch = 0; ch < im.c; ++ch) img[im.at(y, x, ch)] = inside ? src[size_t(im.at(sy, sx, ch))] : T(0);
        }
    }
  });
}

void check_fraction(const char* what, const char* name, double v) {
  if (!(v >= 0 && v <= 1)) raise<ConfigError>("{}: {} must be in [0, 1], got {}", what, name, v);
}

}  // namespace

RandomCrop::RandomCrop(int64_t padding, ImageLayout layout) : padding_(padding), layout_(layout) {
  if (padding < 0) raise<ConfigError>("RandomCrop: padding must be >= 0, got {}", padding);
}

void RandomCrop::apply(Batch& batch, Rng& rng) const {
  const int64_t p = padding_;
  move_images(batch, layout_, "RandomCrop", rng, [p](const Images&, Rng& r) {
    // The crop's top-left corner in the padded image is (i, j) in [0, 2p]^2: the content moves by p - i, p - j.
    const int64_t i = int64_t(r.below(uint64_t(2 * p + 1))), j = int64_t(r.below(uint64_t(2 * p + 1)));
    return Move{p - i, p - j, false};
  });
}

RandomFlip::RandomFlip(double probability, ImageLayout layout) : probability_(probability), layout_(layout) {
  check_fraction("RandomFlip", "probability", probability);
}

void RandomFlip::apply(Batch& batch, Rng& rng) const {
  const double p = probability_;
  move_images(batch, layout_, "RandomFlip", rng,
              [p](const Images&, Rng& r) { return Move{0, 0, r.uniform() < p}; });
}

RandomTranslation::RandomTranslation(double height_factor, double width_factor, ImageLayout layout)
    : height_(height_factor), width_(width_factor), layout_(layout) {
  check_fraction("RandomTranslation", "height_factor", height_factor);
  check_fraction("RandomTranslation", "width_factor", width_factor);
}

void RandomTranslation::apply(Batch& batch, Rng& rng) const {
  const double fh = height_, fw = width_;
  move_images(batch, layout_, "RandomTranslation", rng, [fh, fw](const Images& im, Rng& r) {
    const double u = r.uniform(-fh, fh), v = r.uniform(-fw, fw);
    return Move{int64_t(std::lround(u * double(im.h))), int64_t(std::lround(v * double(im.w))), false};
  });
}

void ComposedTransform::apply(Batch& batch, Rng& rng) const {
  for (const auto& t : parts_) t->apply(batch, rng);
}

namespace {

double number_of(const std::string& item, std::string_view text) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    raise<ConfigError>("--augment: item '{}' must have a number after '=', got '{}'", item, text);
  return v;
}

}  // namespace

std::shared_ptr<const BatchTransform> make_augmentation(const std::string& spec) {
  std::vector<std::string> items;
  for (size_t pos = 0; pos <= spec.size();) {
    size_t end = std::min(spec.find(',', pos), spec.size());
    std::string item = spec.substr(pos, end - pos);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) items.push_back(item);
    pos = end + 1;
  }
  ImageLayout layout;
  layout.channels_first = std::erase(items, "channels_first") > 0;
  if (items.empty())
    raise<ConfigError>("--augment: the spec must name at least one of crop=P, flip, translate=F, got '{}'", spec);
  std::vector<std::shared_ptr<const BatchTransform>> parts;
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string_view arg = eq == std::string::npos ? std::string_view() : std::string_view(item).substr(eq + 1);
    if (key == "crop" && eq != std::string::npos) {
      const double p = number_of(item, arg);
      if (p != std::floor(p) || p < 0 || p > 1e6)
        raise<ConfigError>("--augment: item '{}' must have a whole number of pixels >= 0", item);
      parts.push_back(std::make_shared<RandomCrop>(int64_t(p), layout));
    } else if (key == "flip") {
      parts.push_back(std::make_shared<RandomFlip>(eq == std::string::npos ? 0.5 : number_of(item, arg), layout));
    } else if (key == "translate" && eq != std::string::npos) {
      const size_t x = arg.find('x');
      const double h = number_of(item, arg.substr(0, x));
      parts.push_back(std::make_shared<RandomTranslation>(
          h, x == std::string_view::npos ? h : number_of(item, arg.substr(x + 1)), layout));
    } else {
      raise<ConfigError>("--augment: item must be crop=P, flip[=P], translate=F[xF] or channels_first, got '{}'",
                         item);
    }
  }
  return parts.size() == 1 ? parts[0] : std::make_shared<ComposedTransform>(std::move(parts));
}

}  // namespace locnet
