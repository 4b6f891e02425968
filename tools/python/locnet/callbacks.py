"""Keras-style training callbacks for locnet.Model.fit (docs/python-keras.md).

A callback is any object with some of on_train_begin/end(logs), on_epoch_begin/end(epoch, logs) and
on_batch_end(batch, logs) (or on_train_batch_end); epochs and batches count from 0 as in Keras. ``model`` is set
before training; ``model.stop_training = True`` stops after the current batch or epoch.
"""
import sys
import time
import warnings

try:
    from tqdm import tqdm as _tqdm
except ImportError:  # plain lines instead of a bar
    _tqdm = None


class Callback:
    """The base class: every hook does nothing."""

    def __init__(self):
        self.model, self.params = None, {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)


class CallbackList:
    """Calls a hook on every callback that has it (duck typing: Keras callbacks of other libraries work too)."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if hasattr(cb, "set_model"):
                cb.set_model(model)
            else:
                cb.model = model
            if hasattr(cb, "set_params"):
                cb.set_params(params)

    def call(self, hook, *args):
        for cb in self.callbacks:
            if hook == "on_batch_end" and hasattr(cb, "on_train_batch_end"):
                cb.on_train_batch_end(*args)
            elif hasattr(cb, hook):
                getattr(cb, hook)(*args)


class History(Callback):
    """What fit returns: ``history`` (metric name -> one value per epoch) and ``epoch`` (the epochs, from 0)."""

    def __init__(self):
        super().__init__()
        self.history, self.epoch = {}, []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


def _mode_is_max(mode, monitor):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got '{mode}'")
    return mode == "max" or (mode == "auto" and "acc" in monitor)


class _Monitor(Callback):
    """A monitored metric's best value so far (mode 'auto': accuracies rise, everything else falls)."""

    def __init__(self, monitor, mode, min_delta=0.0):
        super().__init__()
        self.monitor, self.min_delta = monitor, abs(min_delta)
        self.higher = _mode_is_max(mode, monitor)
        self.best = None

    def improved(self, value):
        if self.best is None:
            return True
        return value - self.min_delta > self.best if self.higher else value + self.min_delta < self.best

    def current(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__}: the metric '{self.monitor}' is not available; the logs have "
                          f"{sorted(logs or {})}", stacklevel=3)
        return value


class EarlyStopping(_Monitor):
    """Stops training when `monitor` has not improved by more than min_delta for `patience` epochs (Keras's
    EarlyStopping); restore_best_weights puts back the weights of the best epoch when it stops."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best, self.best_weights = 0, 0, self.baseline, None

    def on_epoch_end(self, epoch, logs=None):
        value = self.current(logs)
        if value is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self.improved(value):
            self.best, self.wait = value, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class ModelCheckpoint(_Monitor):
    """Saves the model after each epoch (or only when `monitor` improved: save_best_only) with model.save, which
    writes the locnet file atomically; filepath may hold {epoch} and the logs' names: "ckpt-{epoch:02d}.locnet"."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, save_weights_only=False,
                 mode="auto"):
        super().__init__(monitor, mode)
        self.filepath, self.verbose = str(filepath), verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = self.current(logs)
            if value is None or not self.improved(value):
                return
            self.best = value
        path = self.filepath.format(epoch=epoch + 1, **logs)
        (self.model.save_weights if self.save_weights_only else self.model.save)(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved the model to {path}")


class LambdaCallback(Callback):
    """A callback from functions: on_epoch_begin/end(epoch, logs), on_batch_end(batch, logs),
    on_train_begin/end(logs)."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_end=None, on_train_begin=None,
                 on_train_end=None):
        super().__init__()
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_batch_end", on_batch_end), ("on_train_begin", on_train_begin),
                         ("on_train_end", on_train_end)):
            if fn is not None:
                setattr(self, name, fn)


def format_logs(logs):
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class ProgbarLogger(Callback):
    """fit's progress: verbose=1 a tqdm bar per epoch (plain lines when tqdm is absent), 2 one line per epoch."""

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose, self.bar, self.start = verbose, None, 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.monotonic()
        title = f"Epoch {epoch + 1}/{self.params['epochs']}"
        if self.verbose == 1 and _tqdm is not None:
            self.bar = _tqdm(total=self.params["steps"], desc=title, unit="batch", file=sys.stdout, leave=True)
        else:
            print(title)

    def on_batch_end(self, batch, logs=None):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(format_logs(logs or {}), refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is not None:
            self.bar.set_postfix_str(format_logs(logs or {}))
            self.bar.close()
            self.bar = None
        else:
            steps = self.params["steps"]
            print(f"{steps}/{steps} - {time.monotonic() - self.start:.1f}s - {format_logs(logs or {})}")

    def close(self):
        if self.bar is not None:  # stopped inside an epoch
            self.bar.close()
            self.bar = None
