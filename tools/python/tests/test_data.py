"""locnet.data: the C++ data sources (include/locnet/train/sources.hpp) from Python, and Model.fit on them.
Synthetic data throughout (small generated files); the trainer itself is tested in tests/train/."""
import struct
import zlib

import numpy as np
import pytest

import locnet
from locnet import data


def separable(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


def classifier(seed=0):
    locnet.set_seed(seed)
    model = locnet.Sequential([locnet.Dense(2, input_shape=(4,))])
    model.compile(optimizer=locnet.Adam(learning_rate=0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def write_png(path, pixels):
    """An 8-bit grayscale PNG (one IDAT chunk, filter 0 rows)."""
    h, w = pixels.shape

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\0" + bytes(row) for row in pixels.astype(np.uint8))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
                     chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_arrays_labels_and_targets():
    x, y = separable(10)
    ds = data.arrays(x, y)
    assert (len(ds), ds.sample_shape, ds.target_kind, ds.classes) == (10, (4,), "labels", 2)
    gx, gy = ds.gather([3, 1])
    np.testing.assert_array_equal(gx, x[[3, 1]])
    np.testing.assert_array_equal(gy, y[[3, 1]])
    t = data.arrays(x, x[:, :2].astype(np.float64))
    assert (t.target_kind, t.target_shape) == ("values", (2,))
    np.testing.assert_allclose(t.gather([2])[1], x[[2], :2])
    with pytest.raises(IndexError):
        ds.gather([10])


def test_npy_npz_and_csv_sources(tmp_path):
    x, y = separable(20)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    train, val = data.open(x=tmp_path / "x.npy", y=tmp_path / "y.npy")
    assert val is None and len(train) == 20 and train.classes == 2
    np.testing.assert_array_equal(train.gather(np.arange(20))[0], x)

    np.savez(tmp_path / "d.npz", x_train=x[:15], y_train=y[:15], x_test=x[15:], y_test=y[15:])
    train, val = data.open(tmp_path / "d.npz")
    assert (len(train), len(val)) == (15, 5)
    np.testing.assert_array_equal(val.gather([0, 4])[1], y[[15, 19]])
    np.savez(tmp_path / "k.npz", a=x, b=y)
    assert len(data.open(tmp_path / "k.npz", x_key="a", y_key="b")[0]) == 20

    (tmp_path / "t.csv").write_text("h,w,kind\n1.5,2,cat\n2.5,3,dog\n0.5,1,cat\n")
    table = data.open(tmp_path / "t.csv", target="kind")[0]
    assert (table.class_names, table.sample_shape) == (["cat", "dog"], (2,))
    np.testing.assert_array_equal(table.gather([1])[1], [1])
    regression = data.open(tmp_path / "t.csv", target="h")[0]  # the non-numeric column is one-hot encoded
    assert regression.target_kind == "values" and regression.sample_shape == (3,)


def test_image_folder_and_validation_split(tmp_path):
    for k, name in enumerate(["b_circle", "a_square"]):
        (tmp_path / name).mkdir()
        for i in range(3):
            write_png(tmp_path / name / f"{i}.png", np.full((5, 6), 50 * k + i))
    ds = data.image_folder(tmp_path, color_mode="grayscale")
    assert (ds.class_names, ds.sample_shape, len(ds)) == (["a_square", "b_circle"], (5, 6, 1), 6)
    x, labels = ds.gather([0, 5])
    np.testing.assert_array_equal(labels, [0, 1])
    np.testing.assert_allclose(x[:, 0, 0, 0], np.array([50, 2]) / 255, rtol=1e-6)
    assert data.image_folder(tmp_path, image_size=(2, 3)).sample_shape == (2, 3, 3)
    assert data.open(tmp_path, color_mode="grayscale")[0].sample_shape == (5, 6, 1)
    train, val = data.validation_split(ds, 1 / 3)
    assert (len(train), len(val)) == (4, 2)
    with pytest.raises(locnet.ConfigError):
        data.validation_split(ds, 1.5)
    locnet.set_seed(0)
    model = locnet.Sequential([locnet.Flatten(input_shape=(5, 6, 1)), locnet.Dense(2)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=2, batch_size=2, augment="flip", verbose=0)
    assert len(history.history["val_accuracy"]) == 2
    with pytest.raises(locnet.ConfigError, match="spin"):
        model.fit(train, augment="spin", verbose=0)


def test_fit_on_a_dataset_matches_fit_on_arrays(tmp_path):
    x, y = separable()
    a, b, c = classifier(), classifier(), classifier()
    args = dict(epochs=2, batch_size=16, seed=3, verbose=0)
    ha = a.fit(x, y, validation_data=(x[:20], y[:20]), **args)
    hb = b.fit(data.arrays(x, y), validation_data=data.arrays(x[:20], y[:20]), **args)
    assert ha.history == hb.history
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    hc = c.fit(data.open(x=tmp_path / "x.npy", y=tmp_path / "y.npy")[0], validation_data=(x[:20], y[:20]), **args)
    assert hc.history == ha.history
    for wa, wc in zip(a.get_weights(), c.get_weights()):
        np.testing.assert_array_equal(wa, wc)
    assert a.evaluate(data.arrays(x, y), return_dict=True) == pytest.approx(a.evaluate(x, y, return_dict=True))


def test_fit_on_a_path_uses_its_validation_data(tmp_path):
    x, y = separable()
    np.savez(tmp_path / "d.npz", x_train=x[:100], y_train=y[:100], x_test=x[100:], y_test=y[100:])
    history = classifier().fit(str(tmp_path / "d.npz"), epochs=1, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_class_weight_changes_training():
    x, y = separable()
    plain = classifier().fit(x, y, epochs=1, seed=1, verbose=0).history["loss"]
    same = classifier().fit(x, y, epochs=1, seed=1, verbose=0, class_weight={0: 1.0, 1: 1.0}).history["loss"]
    heavy = classifier().fit(x, y, epochs=1, seed=1, verbose=0, class_weight={0: 1.0, 1: 5.0}).history["loss"]
    assert plain == same and heavy[0] > plain[0]
    with pytest.raises(locnet.ConfigError, match="class_weight must map classes >= 0 to weights >= 0"):
        classifier().fit(x, y, verbose=0, class_weight={0: -1.0})


def test_sample_weight_scales_the_loss():
    x, y = separable()
    plain = classifier().fit(x, y, epochs=1, seed=1, verbose=0).history["loss"]
    ones = classifier().fit(x, y, epochs=1, seed=1, verbose=0, sample_weight=np.ones(len(y))).history["loss"]
    assert ones == plain
    # weighting class 1 by 5 per sample is class_weight={1: 5}
    by_class = classifier().fit(x, y, epochs=1, seed=1, verbose=0, class_weight={1: 5.0}).history["loss"]
    by_sample = classifier().fit(data.arrays(x, y), epochs=1, seed=1, verbose=0,
                                 sample_weight=np.where(y == 1, 5.0, 1.0)).history["loss"]
    assert by_sample == by_class
    with pytest.raises(locnet.ShapeError, match="one weight per sample: 120 samples, 3 weights"):
        classifier().fit(x, y, verbose=0, sample_weight=np.ones(3))


def test_regression_runs_in_the_cpp_trainer(monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    t = (x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32) + 0.5).reshape(-1, 1)
    monkeypatch.setattr(locnet.Sequential, "_fit_python", lambda *a, **k: pytest.fail("the Python loop ran"))
    locnet.set_seed(1)
    model = locnet.Sequential([locnet.Dense(1, input_shape=(4,))])
    model.compile(optimizer=locnet.SGD(learning_rate=0.05), loss="huber", metrics=["mae"])
    history = model.fit(data.arrays(x, t), epochs=6, batch_size=20, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "mae", "val_loss", "val_mae"}
    assert history.history["loss"][-1] < history.history["loss"][0] / 1.5
    model.compile(optimizer=locnet.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
    assert model.fit(x, t[:, 0], epochs=2, batch_size=20, verbose=0).history["mae"][1] < 1  # arrays too


def test_bad_files_are_format_errors_naming_the_file(tmp_path):
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"\x93NUMPY\x01\x00garbage")
    np.save(tmp_path / "y.npy", np.zeros(3, np.int64))
    with pytest.raises(locnet.FormatError, match="bad.npy"):
        data.open(x=bad, y=tmp_path / "y.npy")
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3\n")
    with pytest.raises(locnet.FormatError, match="ragged.csv"):
        data.open(tmp_path / "ragged.csv")
    (tmp_path / "imgs" / "c").mkdir(parents=True)
    (tmp_path / "imgs" / "c" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nxx")
    with pytest.raises(locnet.FormatError, match="broken.png"):
        data.image_folder(tmp_path / "imgs")
    with pytest.raises(locnet.ConfigError):
        data.open(tmp_path / "ragged.csv", x=bad)


def test_soft_targets_train_in_the_cpp_trainer_as_in_the_python_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype(np.float32)
    p = rng.dirichlet([1, 1], size=60).astype(np.float32)
    a, b = classifier(), classifier()
    for m in (a, b):
        m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    b._fast_labels = lambda y: None  # forces the Python loop
    args = dict(epochs=2, batch_size=7, seed=2, verbose=0, validation_data=(x[:9], p[:9]))
    assert a.fit(x, p, **args).history == b.fit(x, p, **args).history
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_trainer_metrics_by_keras_name():
    x, y = separable()
    model = classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc", "precision", "f1"])
    history = model.fit(x, y, epochs=1, validation_split=0.25, verbose=0)
    assert set(history.history) == {"loss", "acc", "precision", "f1", "val_loss", "val_acc", "val_precision",
                                    "val_f1"}
    assert all(0 <= v[0] <= 1 for v in history.history.values() if v is not history.history["loss"])
    loss, acc, precision, f1 = model.evaluate(data.arrays(x, y))
    assert 0 <= precision <= 1 and 0 <= f1 <= 1
    with pytest.raises(locnet.NotSupported, match="Python loop"):
        model.fit(x, y, shuffle=False, verbose=0)


def test_float64_models_train_in_float64():
    """float64 x builds an f64 model: labels train in the C++ trainer in f64, float targets in the Python loop."""
    x, y = separable(40)
    x = x.astype(np.float64)
    for target, loss in ((y, "sparse_categorical_crossentropy"), (x[:, :2] - x[:, 2:], "mse")):
        locnet.set_seed(0)
        model = locnet.Sequential([locnet.Dense(2)])
        model.compile(optimizer="adam", loss=loss)
        model.fit(x, target, epochs=1, verbose=0, class_weight={0: 2.0} if target is y else None)
        assert [w.dtype for w in model.get_weights()] == [np.float64, np.float64]
        assert model.predict(x[:2]).dtype == np.float64
