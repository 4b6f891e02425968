"""Keras's compile/fit/evaluate/predict for locnet.Model (mixed in by tools/python/locnet/_model.py).

fit and evaluate run the C++ trainer (_core.fit, include/locnet/train/trainer.hpp) on a locnet.data.Dataset, a path
(locnet.data.open) or arrays: classification losses on integer labels (or one-hot rows, read as labels) or
probability rows with the trainer's class rule, every other loss by its spec on float targets, with class_weight.
Only what the trainer cannot do (shuffle=False, a metric it lacks: mse) runs the trainer's step in Python:
zero_grad, forward(training=True), loss plus regularization_loss, backward, add_regularization_grads,
optimizer.step (which applies the constraints), with the trainer's seeded Fisher-Yates shuffle (_Rng below is
locnet::Rng, include/locnet/core/rng.hpp), so both paths visit the same batches.
With locnet.distributed.init() (or distributed=True) fit runs the trainer on the job's group: batch_size is the
global batch; progress and callbacks run on rank 0 (and on every rank when a callback has all_ranks = True), and
a stop requested on any rank stops every rank at the same batch. The Python loop has no distributed form.
"""
import math
import os

import numpy as np

from . import _core, _layer, callbacks as _callbacks, distributed as _dist
from ._core import ConfigError, NotSupported, ShapeError

CLASSIFICATION = ("softmax_cross_entropy", "cross_entropy")  # the trainer's losses (its from_logits rule)
ACCURACY = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")
METRICS = ACCURACY + ("mse", "mean_squared_error", "mae", "mean_absolute_error")
# Keras's metric names -> the trainer's (train/metrics.hpp); its "accuracy" takes the form the targets need.
TRAINER_METRICS = {**dict.fromkeys(ACCURACY, "accuracy"), "mae": "mae", "mean_absolute_error": "mae",
                   "rmse": "rmse", "root_mean_squared_error": "rmse", "precision": "precision", "recall": "recall",
                   "f1": "f1", "top_k_categorical_accuracy": "top_k_accuracy",
                   "sparse_top_k_categorical_accuracy": "top_k_accuracy"}
COMPILE_METRICS = METRICS + tuple(m for m in TRAINER_METRICS if m not in METRICS)
EVAL_BATCH = 256  # the trainer's validation batch (trainer.cpp: evaluate's default)
_M64 = (1 << 64) - 1


def _data():
    from . import data  # imported late: locnet.data imports the package
    return data


def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & _M64


class _Rng:
    """locnet::Rng (xoshiro256** seeded by splitmix64): the C++ trainer's shuffles, draw for draw."""

    def __init__(self, seed):
        x, self.s = seed & _M64, []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & _M64
            z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
            self.s.append(z ^ (z >> 31))

    def next_u64(self):
        s = self.s
        result = (_rotl((s[1] * 5) & _M64, 7) * 9) & _M64
        t = (s[1] << 17) & _M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def below(self, n):
        limit = _M64 - _M64 % n
        while True:
            x = self.next_u64()
            if x < limit:
                return x % n

    def shuffle(self, order):
        for i in range(len(order) - 1, 0, -1):
            j = self.below(i + 1)
            order[i], order[j] = order[j], order[i]


def as_inputs(x):
    return [np.asarray(v) for v in x] if isinstance(x, (list, tuple)) else [np.asarray(x)]


def loss_type(loss):
    """The catalog's name of a loss given by name, alias or locnet.Loss object."""
    config = _core.make_loss(loss).config()
    return config[0] if isinstance(config, tuple) else config.type_name


def labels_of(y):
    """Integer labels from y: integers (N,) or (N, 1), or one-hot rows (N, K); None for other targets."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        if np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1):
            return np.argmax(y, axis=1).astype(np.int64)
        return None
    flat = y.reshape(len(y))
    if np.issubdtype(flat.dtype, np.integer) or np.all(flat == np.round(flat)):
        return flat.astype(np.int64)
    return None


def _metric_sum(name, z, y, binary):
    """The metric summed over the batch's samples (its mean times the batch size)."""
    n = len(z)
    if name in ACCURACY:
        if binary:
            hits = (z > 0) == (y.reshape(z.shape) > 0.5)  # binary_crossentropy takes logits: the logit's sign
        elif y.ndim == 1:
            hits = np.argmax(z, axis=-1) == y
        else:
            hits = np.argmax(z, axis=-1) == np.argmax(y, axis=-1)
        return float(np.mean(hits)) * n
    diff = z - y.reshape(z.shape)
    return float(np.mean(diff * diff if name in ("mse", "mean_squared_error") else np.abs(diff))) * n


class Training:
    """compile, fit, evaluate and predict (Keras's signatures and return forms)."""

    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """optimizer: a name ('adam'), spec text ('SGD(lr=0.01)') or a locnet optimizer (locnet.Adam(...));
        loss: a name of locnet's loss catalog or a locnet loss object; metrics: names among COMPILE_METRICS (the trainer's only
        beyond METRICS: those need shuffle=True and no mse metric)."""
        self.optimizer = optimizer if isinstance(optimizer, _core.Optimizer) else _core.make_optimizer(optimizer)
        if loss is None:
            raise ConfigError(f"{self.name}: compile needs a loss, one of "
                              f"{[e['name'] for e in _core.catalog('loss')]} (or their Keras aliases)")
        self.loss, self._loss_type = loss, loss_type(loss)
        self._metrics = list(metrics or [])
        for m in self._metrics:
            if m not in COMPILE_METRICS:
                raise ConfigError(f"{self.name}: metrics must be among {', '.join(COMPILE_METRICS)}, got '{m}'")
        self._compiled = True

    def _require_compiled(self, what):
        if not self._compiled:
            raise ConfigError(f"{self.name}: {what} needs compile(optimizer=..., loss=...) first")

    def _single(self, x, what):
        """The built C++ model and x in its dtype, for a model of one input and one output."""
        if isinstance(x, (list, tuple)) and len(x) == 1:
            x = x[0]
        if isinstance(x, (list, tuple)) or self._many_inputs or self._many_outputs:
            raise NotSupported(f"{self.name}: {what} takes a model of one input and one output")
        core, xs = self._prepared(x)
        return core, xs[0]

    def _fast_labels(self, y):
        """y as the C++ trainer takes it (integer labels for a classification loss, else float targets (N, ...)),
        or None when it cannot (a metric it lacks)."""
        if any(m not in TRAINER_METRICS for m in self._metrics):
            return None
        labels = labels_of(y) if self._loss_type in CLASSIFICATION else None
        if labels is not None:
            return labels
        if self._dtype() == np.float64:
            return None  # float targets go to the trainer as f32 data sets; an f64 model trains in the Python loop
        y = np.asarray(y, np.float32)  # soft targets for a classification loss too (probability rows)
        return y.reshape(len(y), -1) if y.ndim == 1 else y

    def _trainer_options(self):
        """The loss spec ("" for the class rule) and metric names for _core.fit and _core.evaluate."""
        loss = "" if self._loss_type in CLASSIFICATION else _core.make_loss(self.loss).spec()
        names = {TRAINER_METRICS[m] for m in self._metrics} - {"accuracy"}  # the trainer always gives accuracy
        return loss, sorted(names)

    def _trainer_value(self, d, metric, prefix=""):
        return d[prefix + TRAINER_METRICS[metric]]

    def _step_loss(self, core):
        if self._loss_type in CLASSIFICATION:  # the trainer's rule: a model ending in softmax gives probabilities
            return _core.make_loss("cross_entropy" if _core.ends_in_softmax(core) else "softmax_cross_entropy")
        return _core.make_loss(self.loss)

    def _targets(self, y):
        labels = labels_of(y) if self._loss_type in CLASSIFICATION else None
        return labels if labels is not None else np.asarray(y, dtype=self._dtype())

    # -- fit --------------------------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, initial_epoch=0, seed=None, class_weight=None, sample_weight=None,
            augment=None, distributed=None):
        """Trains; returns the History (history: metric -> per-epoch values; epoch: 0-based epochs run).
        x: arrays with y, a locnet.data.Dataset, or a path that locnet.data.open takes (its validation data is
        used unless validation_data or validation_split says otherwise). validation_split takes the last fraction
        of x and y before shuffling, as Keras; class_weight: Keras's {class: weight}; augment: a
        `locnet train --augment` spec ("crop=4,flip"); sample_weight: one loss weight per sample (N,); seed (locnet's addition, default from locnet.set_seed)
        fixes the shuffles. distributed (locnet's addition, docs/distributed.md): None trains on the group of
        locnet.distributed.init() when it has several ranks, True on init()'s group, False in this process alone;
        every rank calls fit with the same arguments and data."""
        self._require_compiled("fit")
        verbose = 1 if verbose == "auto" else int(verbose)
        group = _dist.fit_group(distributed)
        extra = dict(class_weight={int(k): float(v) for k, v in (class_weight or {}).items()}, augment=augment or "",
                     collective=group)
        if isinstance(x, (str, os.PathLike, _core.Dataset)):
            if sample_weight is not None:
                x = _core.with_sample_weights(x if isinstance(x, _core.Dataset) else _data().open(x)[0],
                                              sample_weight)
            return self._fit_dataset(x, validation_data, validation_split, batch_size, epochs, verbose, callbacks,
                                     shuffle, initial_epoch, seed, extra)
        core, x = self._single(x, "fit")
        y = np.asarray(y)
        if len(y) != len(x):
            raise ShapeError(f"{self.name}: fit needs one target per sample: {len(x)} samples, {len(y)} targets")
        if validation_data is None and validation_split:
            split = int(math.floor(len(x) * (1.0 - validation_split)))
            if not 0 < split < len(x):
                raise ConfigError(f"{self.name}: validation_split {validation_split} of {len(x)} samples leaves "
                                  f"{split} for training and {len(x) - split} for validation; both need one")
            validation_data, x, y = (x[split:], y[split:]), x[:split], y[:split]
            sample_weight = None if sample_weight is None else np.asarray(sample_weight)[:split]
        batch_size = int(batch_size or 32)
        seed = _layer.take_seed() if seed is None else int(seed)
        params = {"epochs": epochs, "steps": -(-len(x) // batch_size), "verbose": verbose, "batch_size": batch_size}
        labels = self._fast_labels(y) if shuffle else None
        val_labels = None if validation_data is None else self._fast_labels(validation_data[1])
        fast = labels is not None and (validation_data is None or val_labels is not None)
        if not fast and group is not None and group.size > 1:
            raise NotSupported(f"{self.name}: distributed fit runs the C++ trainer, but these arguments need the "
                               f"Python loop (shuffle=False, a metric among mse/mean_squared_error, or float "
                               f"targets of a float64 model), which has no distributed form")
        cbs, progress = self._callbacks(callbacks, verbose, params, group)
        cbs.call("on_train_begin", {})
        try:
            if fast:
                val_x = None if validation_data is None else np.asarray(validation_data[0], self._dtype())
                if sample_weight is not None:
                    if self._dtype() == np.float64:
                        raise NotSupported(f"{self.name}: sample_weight trains an f32 data set; this model is f64")
                    x, labels = _core.with_sample_weights(_core.dataset_arrays(x, labels), sample_weight), None
                self._fit_cpp(core, x, labels, val_x, val_labels, epochs, initial_epoch, batch_size, seed, cbs, extra)
            else:
                if extra["class_weight"] or extra["augment"] or sample_weight is not None:
                    raise NotSupported(f"{self.name}: class_weight, sample_weight and augment need the C++ trainer (shuffle=True, "
                                       f"metrics among {', '.join(TRAINER_METRICS)})")
                self._fit_python(core, x, y, validation_data, epochs, initial_epoch, batch_size, seed, shuffle, cbs)
        finally:
            for p in progress:  # an error (Ctrl-C included) leaves no bar open
                p.close()
        cbs.call("on_train_end", {})
        return self.history

    def _callbacks(self, callbacks, verbose, params, group):
        """The CallbackList of a fit (History first, then the progress bar) and its progress loggers. In a group
        of several ranks, ranks other than 0 run History and the callbacks marked all_ranks = True only; a stop
        is then agreed on by every rank (_agreed_stop), so no rank waits for a peer that stopped."""
        callbacks = list(callbacks or [])
        many = group is not None and group.size > 1
        self._stop_group = group if many and callbacks else None  # the same on every rank: the same arguments
        if many and group.rank != 0:
            callbacks, verbose = [cb for cb in callbacks if getattr(cb, "all_ranks", False)], 0
        self.history = _callbacks.History()
        progress = [_callbacks.ProgbarLogger(verbose)] if verbose else []
        self.stop_training, self.stop_reason = False, ""
        return _callbacks.CallbackList([self.history] + progress + callbacks, self, params), progress

    def _agreed_stop(self):
        """stop_training, or'ed over the ranks when the fit's callbacks may stop it (one 8-byte all-reduce)."""
        if getattr(self, "_stop_group", None) is not None:
            flag = np.array([1.0 if self.stop_training else 0.0])
            self._stop_group.all_reduce(flag, "max")
            self.stop_training = bool(flag[0])
        return self.stop_training

    def _epoch_logs(self, train, val):
        logs = {"loss": train["loss"]}
        logs.update((m, train[m]) for m in self._metrics)
        if val is not None:
            logs["val_loss"] = val["loss"]
            logs.update((f"val_{m}", val[m]) for m in self._metrics)
        return logs

    def _end_epoch(self, cbs, epoch, epochs, logs):
        """on_epoch_end, then the next epoch's on_epoch_begin; True when training stops."""
        cbs.call("on_epoch_end", epoch, logs)
        if not self._agreed_stop() and epoch + 1 < epochs:
            cbs.call("on_epoch_begin", epoch + 1, {})
        return self.stop_training

    def _fit_dataset(self, x, validation_data, validation_split, batch_size, epochs, verbose, callbacks, shuffle,
                     initial_epoch, seed, extra):
        """fit on a locnet.data.Dataset (or a path opened by locnet.data.open), in the C++ trainer."""
        data = _data()
        train, validation = data.open(x) if not isinstance(x, _core.Dataset) else (x, None)
        if validation_data is not None:
            validation = validation_data if isinstance(validation_data, _core.Dataset) else \
                data.arrays(*validation_data)
        elif validation_split:
            train, validation = data.validation_split(train, validation_split)
        if not shuffle or any(m not in TRAINER_METRICS for m in self._metrics):
            raise NotSupported(f"{self.name}: fit on a Dataset runs the C++ trainer: shuffle=True and metrics among "
                               f"{', '.join(TRAINER_METRICS)}")
        core, _ = self._single(np.empty((0,) + tuple(train.sample_shape), np.float32), "fit")
        batch_size = int(batch_size or 32)
        seed = _layer.take_seed() if seed is None else int(seed)
        params = {"epochs": epochs, "steps": -(-len(train) // batch_size), "verbose": verbose,
                  "batch_size": batch_size}
        cbs, progress = self._callbacks(callbacks, verbose, params, extra["collective"])
        cbs.call("on_train_begin", {})
        try:
            self._fit_cpp(core, train, None, validation, None, epochs, initial_epoch, batch_size, seed, cbs, extra)
        finally:
            for p in progress:
                p.close()
        cbs.call("on_train_end", {})
        return self.history

    def _fit_cpp(self, core, x, labels, val_x, val_labels, epochs, initial_epoch, batch_size, seed, cbs, extra):
        n, running = len(x), [0, 0.0]

        def on_batch(batch, batches, loss):
            size = min(batch_size, n - (batch - 1) * batch_size)
            running[0] += size
            running[1] += loss * size
            cbs.call("on_batch_end", batch - 1, {"batch": batch - 1, "size": size, "loss": running[1] / running[0]})
            return self._agreed_stop()

        def on_epoch(d):
            running[:] = [0, 0.0]
            train = {"loss": d["loss"], **{m: self._trainer_value(d, m) for m in self._metrics}}
            val = {"loss": d["val_loss"], **{m: self._trainer_value(d, m, "val_") for m in self._metrics}} \
                if "val_loss" in d else None
            return self._end_epoch(cbs, d["epoch"] - 1, epochs, self._epoch_logs(train, val))

        if initial_epoch < epochs:
            cbs.call("on_epoch_begin", initial_epoch, {})
        loss, metrics = self._trainer_options()
        _, stopped = _core.fit(core, self.optimizer, x, labels, val_x, val_labels, epochs=epochs,
                               initial_epoch=initial_epoch, batch_size=batch_size, seed=seed, on_batch=on_batch,
                               on_epoch=on_epoch, loss=loss, metrics=metrics, **extra)
        self.stop_reason = stopped

    def _fit_python(self, core, x, y, validation_data, epochs, initial_epoch, batch_size, seed, shuffle, cbs):
        self._require_python_metrics()
        loss_fn, y = self._step_loss(core), self._targets(y)
        binary = self._loss_type == "binary_cross_entropy"
        n, rng, order = len(x), _Rng(seed), list(range(len(x)))
        batches = -(-n // batch_size)
        for epoch in range(1, epochs + 1):
            if shuffle:
                rng.shuffle(order)
            if epoch <= initial_epoch:
                continue
            cbs.call("on_epoch_begin", epoch - 1, {})
            sums = dict.fromkeys(["loss"] + self._metrics, 0.0)
            for b in range(batches):
                idx = np.asarray(order[b * batch_size:(b + 1) * batch_size])
                xb, yb = x[idx], y[idx]
                core.zero_grad()
                z = core.forward(xb, training=True)
                value, grad = loss_fn(z, yb if yb.dtype == np.int64 else yb.reshape(z.shape))
                loss = value + core.regularization_loss()
                if not math.isfinite(loss):
                    self.stop_reason = f"the loss is {loss} at epoch {epoch}, batch {b + 1} of {batches}"
                    return
                for m in self._metrics:
                    sums[m] += _metric_sum(m, z, yb, binary)
                core.backward(grad)
                core.add_regularization_grads()
                self.optimizer.step(core)
                sums["loss"] += loss * len(idx)
                seen = min(n, (b + 1) * batch_size)
                cbs.call("on_batch_end", b, {"batch": b, "size": len(idx), "loss": sums["loss"] / seen})
                if self.stop_training:
                    self.stop_reason = "stopped by a callback"
                    return
            train = {k: v / n for k, v in sums.items()}
            val = None if validation_data is None else self._evaluate_python(core, *validation_data, EVAL_BATCH)
            cbs.call("on_epoch_end", epoch - 1, self._epoch_logs(train, val))
            if self.stop_training:
                self.stop_reason = "stopped by a callback"
                return

    # -- evaluate and predict ---------------------------------------------------------------------------------
    def _require_python_metrics(self):
        if any(m not in METRICS for m in self._metrics):
            raise NotSupported(f"{self.name}: the Python loop (shuffle=False or the mse metric) computes only the "
                               f"metrics {', '.join(METRICS)}; got {self._metrics}")

    def _evaluate_python(self, core, x, y, batch_size):
        """Mean loss (without regularization, as the trainer's evaluate) and metrics over Inference batches."""
        self._require_python_metrics()
        loss_fn, y, x = self._step_loss(core), self._targets(y), np.asarray(x, self._dtype())
        binary = self._loss_type == "binary_cross_entropy"
        sums = dict.fromkeys(["loss"] + self._metrics, 0.0)
        for lo in range(0, len(x), batch_size):
            xb, yb = x[lo:lo + batch_size], y[lo:lo + batch_size]
            z = core.forward(xb, training=False)
            sums["loss"] += loss_fn(z, yb if yb.dtype == np.int64 else yb.reshape(z.shape))[0] * len(xb)
            for m in self._metrics:
                sums[m] += _metric_sum(m, z, yb, binary)
        return {k: v / len(x) for k, v in sums.items()}

    def evaluate(self, x=None, y=None, batch_size=None, verbose=0, return_dict=False, distributed=None):
        """The loss (without regularization) and the compiled metrics: a scalar without metrics, else
        [loss, metric, ...] in compile's order; a dict with return_dict=True (Keras's forms). distributed as fit's:
        in a group each rank evaluates its share of x and every rank gets the totals."""
        del verbose
        self._require_compiled("evaluate")
        group = _dist.fit_group(distributed)
        if isinstance(x, (str, os.PathLike)):
            x = _data().open(x)[0]
        if isinstance(x, _core.Dataset):
            core, _ = self._single(np.empty((0,) + tuple(x.sample_shape), np.float32), "evaluate")
            labels = None
        else:
            core, x = self._single(x, "evaluate")
            labels = self._fast_labels(y)
            if len(np.asarray(y)) != len(x):
                raise ShapeError(f"{self.name}: evaluate needs one target per sample: {len(x)} samples, "
                                 f"{len(y)} targets")
        if labels is not None or isinstance(x, _core.Dataset):
            r = _core.evaluate(core, x, labels, int(batch_size or 32), *self._trainer_options(), collective=group)
            values = {"loss": r["loss"], **{m: self._trainer_value(r, m) for m in self._metrics}}
        else:  # every rank evaluates all of x: the same values
            values = self._evaluate_python(core, x, y, int(batch_size or 32))
        if return_dict:
            return values
        return values["loss"] if not self._metrics else [values[k] for k in ["loss"] + self._metrics]

    def predict(self, x, batch_size=None, verbose=0):
        """The model's Inference output on x in batches (default 32); a list for a model of several outputs."""
        del verbose
        core, xs = self._prepared(x)
        bs = int(batch_size or 32)
        parts = []
        for lo in range(0, len(xs[0]), bs):
            batch = [v[lo:lo + bs] for v in xs]
            y = core.predict(batch if self._many_inputs else batch[0])
            parts.append(y if isinstance(y, list) else [y])
        outs = [np.concatenate(p) for p in zip(*parts)]
        return outs if self._many_outputs else outs[0]
