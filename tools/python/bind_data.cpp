// Data sets for Python (locnet.data, tools/python/locnet/data.py): train/dataset.hpp's Dataset as _core.Dataset,
// and the sources of train/sources.hpp and train/image_folder.hpp, the same ones `locnet train --data` opens.
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "convert.hpp"
#include "locnet/core/error.hpp"
#include "locnet/train/sources.hpp"

namespace locnet::python {

namespace {

py::tuple gather(const Dataset& d, const py::handle& indices) {
  auto idx = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(indices);
  if (!idx) throw py::type_error("gather takes an integer array of sample indices");
  std::vector<int64_t> rows(idx.data(), idx.data() + idx.size());
  for (int64_t i : rows)
    if (i < 0 || i >= d.size())
      throw py::index_error(d.name() + ": sample " + std::to_string(i) + " of " + std::to_string(d.size()));
  Batch b;
  {
    py::gil_scoped_release unlocked;
    d.gather(rows, b);
  }
  if (d.target_kind() == TargetKind::labels)
    return py::make_tuple(to_numpy(std::move(b.x)), py::array_t<int64_t>(b.labels.size(), b.labels.data()));
  return py::make_tuple(to_numpy(std::move(b.x)), to_numpy(std::move(b.targets)));
}

// Integer y -> class labels, float y -> targets (tensor_dataset's two forms).
std::shared_ptr<Dataset> arrays(const py::handle& x, const py::handle& y) {
  auto a = py::array::ensure(y);
  if (!a) throw py::type_error("y must be an array");
  const char kind = a.dtype().kind();
  if (kind == 'i' || kind == 'u' || kind == 'b') {
    auto labels = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    return tensor_dataset(to_tensor(x), std::vector<int64_t>(labels.data(), labels.data() + labels.size()));
  }
  return tensor_dataset(to_tensor(x), to_tensor(a));
}

// Another data set with per-sample weights (Keras's sample_weight): gather sets Batch::weights.
class WeightedDataset : public DatasetView {
 public:
  WeightedDataset(std::shared_ptr<const Dataset> base, std::vector<float> weights)
      : DatasetView(std::move(base)), weights_(std::move(weights)) {
    if (int64_t(weights_.size()) != inner_->size())
      throw ShapeError(inner_->name() + ": sample_weight needs one weight per sample: " +
                       std::to_string(inner_->size()) + " samples, " + std::to_string(weights_.size()) + " weights");
    for (float w : weights_)
      if (!(w >= 0)) throw ConfigError(inner_->name() + ": sample weights must be >= 0, got " + std::to_string(w));
  }
  void gather(std::span<const int64_t> idx, Batch& out) const override {
    inner_->gather(idx, out);
    std::vector<float> w;
    w.reserve(idx.size());
    for (int64_t i : idx) w.push_back(weights_[size_t(i)]);
    out.weights = Tensor::from(w, Shape{int64_t(idx.size())});
  }

 private:
  std::vector<float> weights_;
};

ImageFolderOptions image_options(const std::string& color_mode, const py::handle& image_size,
                                 const std::string& interpolation, bool cache) {
  ImageFolderOptions o{.color_mode = color_mode, .interpolation = interpolation, .cache = cache};
  if (!image_size.is_none()) {
    auto hw = image_size.cast<std::pair<int64_t, int64_t>>();
    o.height = hw.first;
    o.width = hw.second;
  }
  return o;
}

}  // namespace

void bind_data(py::module_& m) {
  py::enum_<TargetKind>(m, "TargetKind").value("labels", TargetKind::labels).value("values", TargetKind::values);
  py::class_<Dataset, std::shared_ptr<Dataset>>(m, "Dataset",
                                                "Samples with class labels or float targets (docs/data.md)")
      .def("__len__", &Dataset::size)
      .def_property_readonly("size", &Dataset::size)
      .def_property_readonly("sample_shape", [](const Dataset& d) { return from_shape(d.sample_shape()); })
      .def_property_readonly("target_shape", [](const Dataset& d) { return from_shape(d.target_shape()); })
      .def_property_readonly("target_kind", [](const Dataset& d) {
        return d.target_kind() == TargetKind::labels ? "labels" : "values";
      })
      .def_property_readonly("classes", &Dataset::classes)
      .def_property_readonly("class_names", &Dataset::class_names)
      .def_property_readonly("name", &Dataset::name)
      .def("gather", &gather, py::arg("indices"), "(x, labels or targets) of the samples, in that order")
      .def("__repr__", [](const Dataset& d) {
        return "<locnet Dataset " + d.name() + ": " + std::to_string(d.size()) + " samples>";
      });

  m.def("dataset_arrays", &arrays, py::arg("x"), py::arg("y"));
  m.def("open_dataset", [](const std::string& data, const std::string& x, const std::string& y,
                           const std::string& val_x, const std::string& val_y, const std::string& x_key,
                           const std::string& y_key, const std::vector<std::string>& targets,
                           const std::string& color_mode, const py::handle& image_size,
                           const std::string& interpolation) {
          DataOptions o{.data = data, .x = x, .y = y, .val_x = val_x, .val_y = val_y, .x_key = x_key,
                        .y_key = y_key, .targets = targets,
                        .images = image_options(color_mode, image_size, interpolation, true)};
          DataSets s;
          {
            py::gil_scoped_release unlocked;
            s = open_dataset(o);
          }
          return py::make_tuple(s.train, s.validation);
        }, py::arg("data"), py::arg("x"), py::arg("y"), py::arg("val_x"), py::arg("val_y"), py::arg("x_key"),
        py::arg("y_key"), py::arg("targets"), py::arg("color_mode"), py::arg("image_size"),
        py::arg("interpolation"));
  m.def("image_folder_dataset", [](const std::string& root, const std::string& color_mode,
                                   const py::handle& image_size, const std::string& interpolation, bool cache) {
          auto o = image_options(color_mode, image_size, interpolation, cache);
          py::gil_scoped_release unlocked;
          return image_folder_dataset(root, o);
        }, py::arg("root"), py::arg("color_mode"), py::arg("image_size"), py::arg("interpolation"),
        py::arg("cache"));
  m.def("with_sample_weights", [](std::shared_ptr<Dataset> d, const py::handle& weights) {
          auto w = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(weights);
          if (!w) throw py::type_error("sample_weight must be an array of numbers");
          return std::shared_ptr<Dataset>(std::make_shared<WeightedDataset>(
              std::move(d), std::vector<float>(w.data(), w.data() + w.size())));
        }, py::arg("dataset"), py::arg("weights"), "The data set with per-sample loss weights (Keras's sample_weight)");
  m.def("validation_split", [](std::shared_ptr<Dataset> d, double fraction) {
          auto s = validation_split(std::move(d), fraction);
          return py::make_tuple(s.train, s.validation);
        }, py::arg("dataset"), py::arg("fraction"));
  m.def("subset", [](std::shared_ptr<Dataset> d, int64_t begin, int64_t end) { return subset(std::move(d), begin, end); },
        py::arg("dataset"), py::arg("begin"), py::arg("end"));
}

}  // namespace locnet::python
