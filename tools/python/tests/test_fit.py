"""Tests of compile/fit/evaluate/predict and the callbacks (tools/python/locnet/_fit.py, callbacks.py).

Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest tools/python/tests
All data here is SYNTHETIC (seeded NumPy draws: a linearly separable two-class problem and a linear regression).
"""
import numpy as np
import pytest

import locnet
from locnet import callbacks


def separable(n=240, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x[:, 0] - x[:, 1] > 0).astype(np.int64)


def classifier(softmax=False, optimizer="adam"):
    locnet.set_seed(7)
    model = locnet.Sequential([locnet.Dense(8, activation="relu", input_shape=(4,)),
                               locnet.Dense(2, activation="softmax" if softmax else None)])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_fit_learns_a_separable_problem_and_fills_the_history():
    x, y = separable()
    model = classifier(optimizer=locnet.Adam(learning_rate=0.05))
    before = model.evaluate(x, y)[1]
    history = model.fit(x, y, epochs=6, batch_size=16, validation_data=separable(60, seed=1), verbose=0)
    assert history is model.history and history.epoch == list(range(6))
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 6 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.9 and model.evaluate(x, y)[1] > max(before, 0.9)


def test_evaluate_return_forms():
    x, y = separable(40)
    model = classifier()
    loss, accuracy = model.evaluate(x, y)
    assert model.evaluate(x, y, return_dict=True) == {"loss": loss, "accuracy": accuracy}
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert model.evaluate(x, y) == pytest.approx(loss)


def test_validation_split_takes_the_last_fraction_before_shuffling():
    x, y = separable(100)
    model = classifier()
    steps = []
    history = model.fit(x, y, epochs=1, batch_size=10, validation_split=0.3, verbose=0,
                        callbacks=[callbacks.LambdaCallback(on_batch_end=lambda b, logs: steps.append(b))])
    assert steps == list(range(7))  # 70 training samples in batches of 10
    # the validation loss is the model's loss on the last 30 samples after the epoch
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x[70:], y[70:], batch_size=256)[0])
    with pytest.raises(locnet.ConfigError, match="validation_split 0.999 of 100 samples leaves 0 for training"):
        model.fit(x, y, validation_split=0.999, verbose=0)


def test_python_loop_takes_the_same_steps_as_the_cpp_trainer():
    """The trainer's step in Python (used for other losses) against _core.fit on the same data and seed."""
    x, y = separable(50)
    for softmax in (False, True):
        a, b = classifier(softmax), classifier(softmax)
        b.set_weights(a.get_weights())
        b._fast_labels = lambda labels: None  # forces the Python loop
        args = dict(epochs=3, batch_size=7, seed=5, verbose=0, initial_epoch=1, validation_data=(x[:10], y[:10]))
        ha, hb = a.fit(x, y, **args), b.fit(x, y, **args)
        assert ha.epoch == hb.epoch == [1, 2]
        for key in ha.history:
            np.testing.assert_allclose(ha.history[key], hb.history[key], rtol=1e-12)
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(wa, wb)


def test_one_hot_targets_train_as_labels():
    x, y = separable(60)
    a, b = classifier(), classifier()
    b.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    ha = a.fit(x, y, epochs=2, seed=1, verbose=0)
    hb = b.fit(x, np.eye(2, dtype=np.float32)[y], epochs=2, seed=1, verbose=0)
    assert ha.history == hb.history


def test_regression_with_mse_reduces_the_loss():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    t = x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32) + 0.5
    locnet.set_seed(1)
    model = locnet.Sequential([locnet.Dense(1, input_shape=(4,))])
    model.compile(optimizer=locnet.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
    before = model.evaluate(x, t)
    history = model.fit(x, t, epochs=8, batch_size=20, validation_split=0.25, verbose=0)
    after = model.evaluate(x, t)
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert history.history["loss"][-1] < history.history["loss"][0] / 10 and after[0] < before[0] / 10
    assert after[1] < before[1] and model.predict(x[:3]).shape == (3, 1)


def test_python_loop_applies_constraints_and_regularization():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    t = x @ np.array([-1.0, 2.0, -3.0], np.float32)  # the best unconstrained kernel has negative entries
    locnet.set_seed(3)
    model = locnet.Sequential([locnet.Dense(1, input_shape=(3,), kernel_constraint=locnet.NonNeg(),
                                            kernel_regularizer=locnet.L2(0.5))])
    model.compile(optimizer=locnet.SGD(learning_rate=0.05), loss="mse")
    history = model.fit(x, t, epochs=3, batch_size=16, verbose=0)
    kernel = model.get_weights()[0]
    assert np.all(kernel >= 0)  # the optimizer step applies the constraint, as in the C++ trainer
    assert len(history.epoch) == 3
    model.compile(optimizer=locnet.SGD(learning_rate=0.0), loss="mse")  # fixed weights: the losses compare exactly
    frozen = model.fit(x, t, epochs=1, verbose=0).history["loss"][0]
    # the training loss includes the L2 term (Keras's l2: 0.5 * sum w^2), evaluate's does not
    assert frozen == pytest.approx(model.evaluate(x, t) + 0.5 * float(np.sum(kernel.astype(np.float64) ** 2)))


def test_binary_crossentropy_on_logits_with_accuracy():
    x, y = separable(120)
    locnet.set_seed(2)
    model = locnet.Sequential([locnet.Dense(1, input_shape=(4,))])
    model.compile(optimizer=locnet.Adam(learning_rate=0.1), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y.reshape(-1, 1).astype(np.float32), epochs=5, batch_size=16, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    assert model.evaluate(x, y.astype(np.float32))[1] > 0.9  # targets (N,) for an (N, 1) output


def test_callbacks_are_called_in_keras_order_on_both_paths():
    x, y = separable(20)
    for force_python in (False, True):
        events = []
        model = classifier()
        if force_python:
            model._fast_labels = lambda labels: None
        log = callbacks.LambdaCallback(
            on_train_begin=lambda logs: events.append("train_begin"),
            on_epoch_begin=lambda e, logs: events.append(f"epoch_begin {e}"),
            on_batch_end=lambda b, logs: events.append(f"batch {b}"),
            on_epoch_end=lambda e, logs: events.append(f"epoch_end {e} {sorted(logs)}"),
            on_train_end=lambda logs: events.append("train_end"))
        model.fit(x, y, epochs=2, batch_size=10, verbose=0, callbacks=[log])
        assert events == ["train_begin", "epoch_begin 0", "batch 0", "batch 1", "epoch_end 0 ['accuracy', 'loss']",
                          "epoch_begin 1", "batch 0", "batch 1", "epoch_end 1 ['accuracy', 'loss']", "train_end"]


def test_stop_training_from_a_callback_stops():
    x, y = separable(40)
    for force_python in (False, True):
        model = classifier()
        if force_python:
            model._fast_labels = lambda labels: None
        seen = []

        def stop(batch, logs, model=model):
            seen.append(batch)
            model.stop_training = batch == 1

        history = model.fit(x, y, epochs=5, batch_size=10, verbose=0,
                            callbacks=[callbacks.LambdaCallback(on_batch_end=stop)])
        assert seen == [0, 1] and history.epoch == [] and model.stop_reason == "stopped by a callback"


def test_early_stopping_stops_when_the_monitor_does_not_improve():
    x, y = separable(40)
    model = classifier(optimizer=locnet.SGD(learning_rate=0.0))  # nothing changes: no epoch improves
    stopper = callbacks.EarlyStopping(monitor="loss", patience=2)
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[stopper])
    assert history.epoch == [0, 1, 2] and stopper.stopped_epoch == 2
    model.compile(optimizer=locnet.Adam(learning_rate=0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    stopper = callbacks.EarlyStopping(monitor="val_accuracy", patience=1, restore_best_weights=True)
    model.fit(x, y, epochs=30, verbose=0, validation_split=0.25, callbacks=[stopper])
    assert stopper.best == pytest.approx(model.evaluate(x[30:], y[30:])[1])  # the best epoch's weights are back


def test_model_checkpoint_writes_loadable_files(tmp_path):
    x, y = separable(40)
    model = classifier()
    path = str(tmp_path / "ckpt-{epoch:02d}.locnet")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.ModelCheckpoint(path, monitor="loss")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-01.locnet", "ckpt-02.locnet"]
    loaded = locnet.load_model(tmp_path / "ckpt-02.locnet")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    best = tmp_path / "best.locnet"
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
              callbacks=[callbacks.ModelCheckpoint(best, save_best_only=True)])
    assert isinstance(locnet.load_model(best), locnet.Sequential)


def test_progress_output_follows_verbose(capsys, monkeypatch):
    x, y = separable(20)
    model = classifier()
    model.fit(x, y, epochs=2, batch_size=10, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=2, batch_size=10, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[1].startswith("2/2 - ") and "loss: " in lines[1] and len(lines) == 4
    if callbacks._tqdm is not None:  # python3-tqdm: a bar per epoch, with the epoch's logs at its end
        model.fit(x, y, epochs=1, batch_size=10, verbose=1)
        out = capsys.readouterr().out
        assert "Epoch 1/1" in out and "2/2" in out and "accuracy: " in out
    monkeypatch.setattr(callbacks, "_tqdm", None)  # no tqdm: plain lines for verbose=1 too
    model.fit(x, y, epochs=1, batch_size=10, verbose=1)
    assert capsys.readouterr().out.splitlines()[0] == "Epoch 1/1"


def test_training_errors():
    x, y = separable(20)
    model = locnet.Sequential([locnet.Dense(2, input_shape=(4,))])
    with pytest.raises(locnet.ConfigError, match="fit needs compile"):
        model.fit(x, y)
    with pytest.raises(locnet.ConfigError, match="metrics must be among accuracy"):
        model.compile(optimizer="adam", loss="mse", metrics=["auc"])
    with pytest.raises(locnet.ConfigError, match="compile needs a loss"):
        model.compile(optimizer="adam")
    with pytest.raises(locnet.ConfigError, match="loss"):
        model.compile(optimizer="adam", loss="hinge")
    model.compile(optimizer="SGD(learning_rate=0.01)", loss=locnet.classes("loss")["mean_squared_error"]())
    assert model.optimizer.learning_rate == 0.01 and model.evaluate(x, np.zeros((20, 2))) >= 0  # objects and spec text
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(locnet.ShapeError, match="one target per sample: 20 samples, 19 targets"):
        model.fit(x, y[:19], verbose=0)
