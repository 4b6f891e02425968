// Training for Python: optimizers and losses from the catalog, one optimizer step on a model or on one layer
// (numpy-ml's update()), and the C++ trainer (train/trainer.hpp) with Python callbacks run under the GIL.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "convert.hpp"
#include "locnet/train/augment.hpp"
#include "locnet/train/losses.hpp"
#include "locnet/train/optimizers.hpp"
#include "locnet/train/trainer.hpp"

namespace locnet::python {

namespace {

struct StopRequested {};  // a callback returned True (Keras's model.stop_training)

LabeledData labeled(const py::handle& x, const py::handle& y) {
  auto labels = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(y);
  if (!labels) throw py::type_error("labels must be an integer array");
  return LabeledData{to_tensor(x), std::vector<int64_t>(labels.data(), labels.data() + labels.size())};
}

// The trainer's data: a Dataset as it is; arrays x with integer labels as LabeledData (x keeps its dtype: an f64
// model trains in f64); arrays with float targets as tensor_dataset (f32).
struct Data {
  std::optional<LabeledData> labeled;
  std::shared_ptr<const Dataset> dataset;
};

Data data(const py::handle& x, const py::handle& y) {
  if (py::isinstance<Dataset>(x)) return {std::nullopt, x.cast<std::shared_ptr<Dataset>>()};
  auto a = py::array::ensure(y);
  if (a && a.dtype().kind() == 'f') return {std::nullopt, tensor_dataset(to_tensor(x), to_tensor(a))};
  return {labeled(x, y), nullptr};
}

std::shared_ptr<const Dataset> as_dataset(const Data& d) {
  return d.labeled ? tensor_dataset(d.labeled->x, d.labeled->y) : d.dataset;
}

py::dict metrics(const EvalResult& r) {
  py::dict d(py::arg("loss") = r.loss, py::arg("accuracy") = r.accuracy, py::arg("confusion") = r.confusion);
  for (const auto& [name, value] : r.metrics) d[py::str(name)] = value;
  return d;
}

py::dict metrics(const EpochMetrics& e) {
  py::dict d(py::arg("epoch") = e.epoch, py::arg("loss") = e.loss, py::arg("accuracy") = e.accuracy,
             py::arg("seconds") = e.seconds);
  for (const auto& [name, value] : e.metrics) d[py::str(name)] = value;
  if (e.validation) {
    d["val_loss"] = e.validation->loss;
    d["val_accuracy"] = e.validation->accuracy;
    for (const auto& [name, value] : e.validation->metrics) d[py::str("val_" + name)] = value;
  }
  return d;
}

struct TrainOptions {  // FitOptions' data-set options from Python
  std::string loss;
  std::vector<std::string> metrics;
  std::map<int64_t, double> class_weight;
  std::string augment;
  bool prefetch = true;
  std::shared_ptr<Collective> collective;  // locnet.distributed's group; null: the single process
};

// The C++ trainer with on_batch(batch, batches, loss) and on_epoch(metrics dict) in Python; either may return
// True to stop. x: a Dataset (y unused) or arrays. Returns (list of epoch dicts, why it stopped or "").
py::tuple fit_model(Model& model, Optimizer& optimizer, const py::handle& x, const py::handle& y,
                    const py::handle& val_x, const py::handle& val_y, int64_t epochs, int64_t initial_epoch,
                    int64_t batch_size, uint64_t seed, const std::string& monitor, int64_t patience, double min_delta,
                    py::object on_batch, py::object on_epoch, const TrainOptions& more) {
  const Data train = data(x, y);
  const Data validation = val_x.is_none() ? Data{} : data(val_x, val_y);
  FitOptions options{.epochs = epochs, .initial_epoch = initial_epoch, .batch_size = batch_size, .seed = seed,
                     .monitor = monitor, .patience = patience, .min_delta = min_delta, .loss = more.loss,
                     .metrics = more.metrics, .class_weight = more.class_weight,
                     .augment = more.augment.empty() ? nullptr : make_augmentation(more.augment),
                     .prefetch = more.prefetch, .collective = more.collective};
  py::list history;
  options.on_batch = [&](int64_t batch, int64_t batches, double loss) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();  // Ctrl-C stops training
    if (!on_batch.is_none() && py::bool_(on_batch(batch, batches, loss))) throw StopRequested{};
  };
  options.on_epoch = [&](const EpochMetrics& e) {
    py::gil_scoped_acquire gil;
    auto d = metrics(e);
    history.append(d);
    if (!on_epoch.is_none() && py::bool_(on_epoch(d))) throw StopRequested{};
  };
  std::string stopped;
  try {
    py::gil_scoped_release unlocked;
    if (train.labeled && (val_x.is_none() || validation.labeled)) {  // the array run, as before Datasets
      stopped = fit(model, optimizer, *train.labeled, validation.labeled ? &*validation.labeled : nullptr, options)
                    .stopped;
    } else {
      const auto t = as_dataset(train), v = val_x.is_none() ? nullptr : as_dataset(validation);
      stopped = fit(model, optimizer, *t, v.get(), options).stopped;
    }
  } catch (const StopRequested&) {
    stopped = "stopped by a callback";
  }
  return py::make_tuple(history, stopped);
}

}  // namespace

void bind_training(py::module_& m) {
  py::class_<Optimizer, std::unique_ptr<Optimizer>>(m, "Optimizer")
      .def_property_readonly("type", &Optimizer::type)
      .def_property_readonly("iterations", &Optimizer::iterations)
      .def_property_readonly("learning_rate", &Optimizer::learning_rate)
      .def("config", [](const Optimizer& o) { return from_call(o.config()); })
      .def("spec", [](const Optimizer& o) { return o.config().repr(); })
      .def("step", [](Optimizer& o, Model& model) {
             py::gil_scoped_release unlocked;
             o.step(model);
           }, py::arg("model"), "One update of the model's trainable parameters (per-layer optimizers honoured)")
      .def("step_layer", [](Optimizer& o, Layer& layer) {
             std::vector<std::pair<std::string, Param*>> params;
             if (layer.trainable())
               for (Param* p : layer.params())
                 if (p->trainable) params.emplace_back(layer.name() + "/" + p->name, p);
             py::gil_scoped_release unlocked;
             o.step(params);
           }, py::arg("layer"), "One update of one layer's trainable parameters");
  m.def("make_optimizer", [](const py::handle& spec) { return make_optimizer(to_value(spec)); }, py::arg("spec"),
        "An optimizer from a name ('adam'), spec text ('SGD(lr=0.01)') or a locnet optimizer object");

  py::class_<Loss, std::unique_ptr<Loss>>(m, "Loss")
      .def("config", [](const Loss& l) { return from_call(l.config()); })
      .def("spec", [](const Loss& l) { return l.config().repr(); })
      .def("__call__", [](const Loss& l, const py::handle& out, const py::handle& y) {
             Tensor o = to_tensor(out);
             auto arr = py::array::ensure(y);
             LossResult r;
             if (arr && py::isinstance(arr.dtype(), py::module_::import("numpy").attr("dtype")) &&
                 arr.dtype().kind() == 'i') {
               auto labels = labeled(out, y).y;
               py::gil_scoped_release unlocked;
               r = l(o, labels);
             } else {
               Tensor t = to_tensor(y);
               py::gil_scoped_release unlocked;
               r = l(o, t);
             }
             return py::make_tuple(r.loss, to_numpy(std::move(r.grad)));
           }, py::arg("output"), py::arg("y"),
           "(loss, dL/doutput) for integer labels or a target array of the output's shape");
  m.def("make_loss", [](const py::handle& spec) { return make_loss(to_value(spec)); }, py::arg("spec"));

  m.def("fit", [](Model& model, Optimizer& optimizer, const py::handle& x, const py::handle& y,
                  const py::handle& val_x, const py::handle& val_y, int64_t epochs, int64_t initial_epoch,
                  int64_t batch_size, uint64_t seed, const std::string& monitor, int64_t patience, double min_delta,
                  py::object on_batch, py::object on_epoch, const std::string& loss,
                  const std::vector<std::string>& metric_names, const std::map<int64_t, double>& class_weight,
                  const std::string& augment, bool prefetch, std::shared_ptr<Collective> collective) {
          return fit_model(model, optimizer, x, y, val_x, val_y, epochs, initial_epoch, batch_size, seed, monitor,
                           patience, min_delta, std::move(on_batch), std::move(on_epoch),
                           TrainOptions{loss, metric_names, class_weight, augment, prefetch, std::move(collective)});
        }, py::arg("model"), py::arg("optimizer"), py::arg("x"), py::arg("y") = py::none(),
        py::arg("val_x") = py::none(), py::arg("val_y") = py::none(), py::arg("epochs") = 1,
        py::arg("initial_epoch") = 0, py::arg("batch_size") = 32, py::arg("seed") = 0, py::arg("monitor") = "val_loss",
        py::arg("patience") = 0, py::arg("min_delta") = 0.0, py::arg("on_batch") = py::none(),
        py::arg("on_epoch") = py::none(), py::arg("loss") = "", py::arg("metrics") = std::vector<std::string>{},
        py::arg("class_weight") = std::map<int64_t, double>{}, py::arg("augment") = "", py::arg("prefetch") = true,
        py::arg("collective") = py::none(),
        "Trains with locnet's trainer on a Dataset (or arrays: integer labels or float targets); returns (epoch "
        "dicts, why it stopped); with collective, this rank's part of a data-parallel fit");
  m.def("ends_in_softmax", &ends_in_softmax, py::arg("model"),
        "Whether the model outputs probabilities (ends in softmax): the trainer's rule for the loss's form");
  m.def("evaluate", [](Model& model, const py::handle& x, const py::handle& y, int64_t batch_size,
                       const std::string& loss, const std::vector<std::string>& metric_names,
                       const std::shared_ptr<Collective>& collective) {
          const Data d = data(x, y);
          EvalResult r;
          {
            py::gil_scoped_release unlocked;
            r = d.labeled && loss.empty() && metric_names.empty() && (!collective || collective->size() == 1)
                    ? evaluate(model, *d.labeled, batch_size)
                    : evaluate(model, *as_dataset(d), batch_size, loss, metric_names, collective);
          }
          return metrics(r);
        }, py::arg("model"), py::arg("x"), py::arg("y") = py::none(), py::arg("batch_size") = 256,
        py::arg("loss") = "", py::arg("metrics") = std::vector<std::string>{},
        py::arg("collective") = py::none());
}

}  // namespace locnet::python
