#include "locnet/train/image_folder.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "locnet/core/error.hpp"
#include "locnet/core/limits.hpp"
#include "locnet/io/image.hpp"
#include "locnet/train/samples.hpp"

namespace locnet {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxDepth = 32;  // folders below a class folder; deeper is a symlink loop or not an image folder

bool hidden(const fs::path& p) { return p.filename().string().starts_with('.'); }

enum class FileKind { image, undecodable_image, other };

FileKind kind_of(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") return FileKind::image;
  for (const char* e : {".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"})
    if (ext == e) return FileKind::undecodable_image;
  return FileKind::other;
}

// Calls f(path) for each image file below dir (hidden entries skipped) until f returns true; FormatError for an
// image format we cannot decode or a folder tree deeper than kMaxDepth.
template <class F>
bool walk_images(const fs::path& dir, F&& f) {
  auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink);
  for (; it != fs::recursive_directory_iterator(); ++it) {
    if (it.depth() > kMaxDepth)
      raise<FormatError>("{}: image folders must nest at most {} levels below a class folder (a symlink loop?), got "
                         "more",
                         it->path().string(), kMaxDepth);
    if (hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    const FileKind k = kind_of(it->path());
    if (k == FileKind::undecodable_image)
      raise<FormatError>("{}: images must be PNG or JPEG (.png, .jpg, .jpeg), got a {} file", it->path().string(),
                         it->path().extension().string());
    if (k == FileKind::image && f(it->path())) return true;
  }
  return false;
}

std::vector<std::string> class_folders(const fs::path& root) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory() && !hidden(e.path())) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());  // byte order of UTF-8 = code point order = Python's sorted()
  return names;
}

// Image files of one class, sorted by (folder, file name) as sorted(os.walk(...)) and sorted(files) give them.
std::vector<std::string> class_files(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> found;
  walk_images(dir, [&](const fs::path& p) {
    found.emplace_back(p.parent_path().string(), p.filename().string());
    return false;
  });
  if (found.empty())
    raise<FormatError>("{}: a class folder must hold at least one .png, .jpg or .jpeg image, got none", dir.string());
  std::sort(found.begin(), found.end());
  std::vector<std::string> files;
  for (const auto& [folder, file] : found) files.push_back((fs::path(folder) / file).string());
  return files;
}

// One axis of the resize: output o reads input (o + 0.5) * in / out - 0.5 (half-pixel centers), clamped at 0.
struct Tap {
  int64_t lo, hi;
  double w;  // value = a[lo] + (a[hi] - a[lo]) * w
};
std::vector<Tap> taps(int64_t in, int64_t out, bool nearest) {
  std::vector<Tap> t(static_cast<size_t>(out));
  const double s = double(in) / double(out);
  for (int64_t o = 0; o < out; ++o) {
    if (nearest) {
      const int64_t i = std::min(int64_t(std::floor((double(o) + 0.5) * s)), in - 1);
      t[size_t(o)] = {i, i, 0.0};
    } else {
      const double x = std::max((double(o) + 0.5) * s - 0.5, 0.0);
      const auto lo = std::min(int64_t(x), in - 1);
      t[size_t(o)] = {lo, std::min(lo + 1, in - 1), x - double(lo)};
    }
  }
  return t;
}

class ImageFolder : public Dataset {
 public:
  ImageFolder(std::string root, const ImageFolderOptions& o) : root_(std::move(root)), o_(o) {
    check_options();
    try {
      list_files();
    } catch (const fs::filesystem_error& e) {
      raise<FormatError>("{}: cannot list the image folder: {}", root_, e.code().message());
    }
    c_ = o_.color_mode == "grayscale" ? 1 : 3;
    h_ = o_.height, w_ = o_.width;
    if (h_ == 0) {
      const Image first = read_image(files_.front());
      h_ = first.height, w_ = first.width;
    }
    if (o_.shuffle_seed) shuffle(*o_.shuffle_seed);
    if (o_.cache) fill_cache();
  }
  int64_t size() const override { return int64_t(files_.size()); }
  Shape sample_shape() const override { return Shape{h_, w_, c_}; }
  TargetKind target_kind() const override { return TargetKind::labels; }
  int64_t classes() const override { return int64_t(names_.size()); }
  std::vector<std::string> class_names() const override { return names_; }
  std::string name() const override { return root_; }
  void gather(std::span<const int64_t> idx, Batch& out) const override {
    for (int64_t i : idx)
      if (i < 0 || i >= size()) raise<ShapeError>("{}: sample index must be in [0, {}), got {}", root_, size(), i);
    const int64_t n = int64_t(idx.size()), row = h_ * w_ * c_;
    out.x = Tensor::empty(Shape{n, h_, w_, c_}, DType::f32);
    float* dst = out.x.data<float>();
    for (int64_t j = 0; j < n; ++j) {
      const int64_t i = idx[size_t(j)];
      if (o_.cache)
        std::memcpy(dst + j * row, cache_.data<float>() + i * row, size_t(row) * sizeof(float));
      else
        decode_into(i, dst + j * row);
    }
    out.labels.resize(idx.size());
    for (size_t j = 0; j < idx.size(); ++j) out.labels[j] = labels_[size_t(idx[j])];
    out.targets = Tensor();
    out.weights = Tensor();
  }

 private:
  void check_options() const {
    if (o_.color_mode != "grayscale" && o_.color_mode != "rgb")
      raise<ConfigError>("image_folder_dataset: color_mode must be 'grayscale' or 'rgb', got '{}'", o_.color_mode);
    if (o_.interpolation != "bilinear" && o_.interpolation != "nearest")
      raise<ConfigError>("image_folder_dataset: interpolation must be 'bilinear' or 'nearest', got '{}'",
                         o_.interpolation);
    if (o_.height < 0 || o_.width < 0 || (o_.height == 0) != (o_.width == 0))
      raise<ConfigError>("image_folder_dataset: height and width must both be > 0 (resize) or both 0 (keep the "
                         "images' size), got {} and {}",
                         o_.height, o_.width);
    if (o_.height > 0 && uint64_t(o_.height) > max_tensor_bytes() / 12 / uint64_t(o_.width))
      raise<ConfigError>("image_folder_dataset: a {}x{} sample is more than the tensor byte limit {} (core/limits.hpp)",
                         o_.height, o_.width, max_tensor_bytes());
    if (!(std::isfinite(o_.scale) && o_.scale > 0))
      raise<ConfigError>("image_folder_dataset: scale must be a finite number > 0, got {}", o_.scale);
  }

  void list_files() {
    if (!fs::is_directory(root_))
      raise<FormatError>("{}: an image folder must be a directory of class folders (root/<class>/<image>), got {}",
                         root_, fs::exists(root_) ? "a file" : "nothing (no such directory)");
    names_ = class_folders(root_);
    if (names_.empty())
      raise<FormatError>("{}: an image folder must hold class folders (root/<class>/<image>), got none", root_);
    for (size_t k = 0; k < names_.size(); ++k)
      for (std::string& f : class_files(fs::path(root_) / names_[k])) {
        files_.push_back(std::move(f));
        labels_.push_back(int64_t(k));
      }
  }

  void shuffle(uint64_t seed) {
    Rng rng(seed);
    for (size_t i = files_.size(); i > 1; --i) {  // Fisher-Yates
      const auto j = size_t(rng.below(i));
      std::swap(files_[i - 1], files_[j]);
      std::swap(labels_[i - 1], labels_[j]);
    }
  }

  void fill_cache() {
    const uint64_t row = uint64_t(h_ * w_ * c_) * sizeof(float), limit = max_tensor_bytes();
    if (uint64_t(size()) > limit / row)
      raise<ConfigError>("{}: decoding {} images of {} into memory needs {} bytes, more than the tensor byte limit "
                         "{} (core/limits.hpp); decode on demand (cache = false)",
                         root_, size(), sample_shape().str(), uint64_t(size()) * row, limit);
    cache_ = Tensor::empty(Shape{size(), h_, w_, c_}, DType::f32);
    for (int64_t i = 0; i < size(); ++i) decode_into(i, cache_.data<float>() + i * h_ * w_ * c_);
  }

  // Sample i, decoded, converted to c_ channels, resized and scaled, into dst (h_ * w_ * c_ floats).
  void decode_into(int64_t i, float* dst) const {
    const std::string& file = files_[size_t(i)];
    const Image img = read_image(file);
    if (o_.height == 0 && (img.height != h_ || img.width != w_))
      raise<FormatError>("{}: image size must be {}x{} (the first image's, {}; give a target size to resize), got "
                         "{}x{}",
                         file, h_, w_, files_.front(), img.height, img.width);
    const std::vector<uint8_t> px = convert_channels(img, c_, true, file);
    const bool nearest = o_.interpolation == "nearest";
    const std::vector<Tap> ty = taps(img.height, h_, nearest), tx = taps(img.width, w_, nearest);
    auto at = [&](int64_t r, int64_t q, int64_t k) { return double(px[size_t((r * img.width + q) * c_ + k)]); };
    for (int64_t y = 0; y < h_; ++y)
      for (int64_t x = 0; x < w_; ++x)
        for (int64_t k = 0; k < c_; ++k) {
          const Tap &a = ty[size_t(y)], &b = tx[size_t(x)];
          const double top = at(a.lo, b.lo, k) + (at(a.lo, b.hi, k) - at(a.lo, b.lo, k)) * b.w;
          const double bottom = at(a.hi, b.lo, k) + (at(a.hi, b.hi, k) - at(a.hi, b.lo, k)) * b.w;
          *dst++ = float((top + (bottom - top) * a.w) * o_.scale);
        }
  }

  std::string root_;
  ImageFolderOptions o_;
  int64_t h_ = 0, w_ = 0, c_ = 0;
  std::vector<std::string> names_, files_;
  std::vector<int64_t> labels_;
  Tensor cache_;
};

}  // namespace

std::shared_ptr<Dataset> image_folder_dataset(const std::string& root, const ImageFolderOptions& options) {
  return std::make_shared<ImageFolder>(root, options);
}

ImageFolderOptions image_options_for(const Shape& sample) {
  const int64_t c = sample.rank() == 3 ? sample[2] : 1;
  if ((sample.rank() != 2 && sample.rank() != 3) || (c != 1 && c != 3))
    raise<ShapeError>("image folder: the model's per-sample input must be (height, width, 1 or 3) or (height, "
                      "width), got {}",
                      sample.str());
  ImageFolderOptions o;
  o.color_mode = c == 1 ? "grayscale" : "rgb";
  o.height = sample[0], o.width = sample[1];
  return o;
}

bool is_image_folder(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return false;
  try {
    for (const std::string& name : class_folders(path))
      if (walk_images(fs::path(path) / name, [](const fs::path&) { return true; })) return true;
  } catch (const FormatError&) {
    return true;  // an image folder with a file we cannot decode: image_folder_dataset says which
  } catch (const std::exception&) {
    return false;
  }
  return false;
}

}  // namespace locnet
