// Training for Python: optimizers and losses from the catalog, one optimizer step on a model or on one layer
// (numpy-ml's update()), and the C++ trainer (train/trainer.hpp) with Python callbacks run under the GIL.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "convert.hpp"
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

py::dict metrics(const EvalResult& r) {
  return py::dict(py::arg("loss") = r.loss, py::arg("accuracy") = r.accuracy, py::arg("confusion") = r.confusion);
}

py::dict metrics(const EpochMetrics& e) {
  py::dict d(py::arg("epoch") = e.epoch, py::arg("loss") = e.loss, py::arg("accuracy") = e.accuracy,
             py::arg("seconds") = e.seconds);
  if (e.validation) {
    d["val_loss"] = e.validation->loss;
    d["val_accuracy"] = e.validation->accuracy;
  }
  return d;
}

// The C++ trainer with on_batch(batch, batches, loss) and on_epoch(metrics dict) in Python; either may return
// True to stop. Returns (list of epoch dicts, why it stopped or "").
py::tuple fit_model(Model& model, Optimizer& optimizer, const py::handle& x, const py::handle& y,
                    const py::handle& val_x, const py::handle& val_y, int64_t epochs, int64_t initial_epoch,
                    int64_t batch_size, uint64_t seed, const std::string& monitor, int64_t patience, double min_delta,
                    py::object on_batch, py::object on_epoch) {
  const LabeledData train = labeled(x, y);
  std::optional<LabeledData> validation;
  if (!val_x.is_none()) validation = labeled(val_x, val_y);
  FitOptions options{.epochs = epochs, .initial_epoch = initial_epoch, .batch_size = batch_size, .seed = seed,
                     .monitor = monitor, .patience = patience, .min_delta = min_delta};
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
    stopped = fit(model, optimizer, train, validation ? &*validation : nullptr, options).stopped;
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

  m.def("fit", &fit_model, py::arg("model"), py::arg("optimizer"), py::arg("x"), py::arg("y"),
        py::arg("val_x") = py::none(), py::arg("val_y") = py::none(), py::arg("epochs") = 1,
        py::arg("initial_epoch") = 0, py::arg("batch_size") = 32, py::arg("seed") = 0, py::arg("monitor") = "val_loss",
        py::arg("patience") = 0, py::arg("min_delta") = 0.0, py::arg("on_batch") = py::none(),
        py::arg("on_epoch") = py::none(),
        "Trains a classifier on integer labels with locnet's trainer; returns (epoch dicts, why it stopped)");
  m.def("ends_in_softmax", &ends_in_softmax, py::arg("model"),
        "Whether the model outputs probabilities (ends in softmax): the trainer's rule for the loss's form");
  m.def("evaluate", [](Model& model, const py::handle& x, const py::handle& y, int64_t batch_size) {
          const LabeledData data = labeled(x, y);
          EvalResult r;
          {
            py::gil_scoped_release unlocked;
            r = evaluate(model, data, batch_size);
          }
          return metrics(r);
        }, py::arg("model"), py::arg("x"), py::arg("y"), py::arg("batch_size") = 256);
}

}  // namespace locnet::python
