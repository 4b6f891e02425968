"""Writes the SYNTHETIC Keras 3 files of tests/interop/test_keras3.cpp (Keras is not installed here): small models in
exactly the layout Keras 3 saves (keras/src/saving/saving_lib.py: a zip of metadata.json, config.json and
model.weights.h5 whose variables are layers/<snake_case class>[_<k>]/vars/<i>; legacy_h5_format.py for the .h5),
with seeded random weights, plus NumPy float64 reference outputs computed from Keras's documented layer semantics
(tests/interop/keras_h5/reference.py for Dense, BatchNormalization on the last axis, Conv2D, Flatten). The outputs
are NOT Keras's own: they check that locnet reads the layout and wires the weights the way Keras would use them.
Also writes the broken archives of the error tests.

Run from the repository root with Debian's python3-h5py:  /usr/bin/python3 tests/interop/keras3/generate.py
"""
import io
import json
import os
import sys
import zipfile

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "keras_h5"))
from reference import apply  # noqa: E402  (Keras 2 and 3 agree on these layers' semantics)

rng = np.random.default_rng(3)
POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}


def init(cls, **cfg):
    return {"module": "keras.initializers", "class_name": cls, "config": cfg, "registered_name": None}


def layer(cls, name, inbound=None, build=None, **cfg):
    base = {"name": name, "trainable": True, "dtype": POLICY} if cls != "InputLayer" else {"name": name}
    j = {"module": "keras.layers", "class_name": cls, "config": dict(base, **cfg), "registered_name": None}
    if build is not None:
        j["build_config"] = {"input_shape": build}
    if inbound is not None:
        j["name"], j["inbound_nodes"] = name, inbound
    return j


def input_layer(name, shape, inbound=None, **extra):
    return layer("InputLayer", name, inbound, batch_shape=[None] + shape, dtype="float32", sparse=False, **extra)


def dense(name, units, activation, **kw):
    return layer("Dense", name, units=units, activation=activation, use_bias=True,
                 kernel_initializer=init("GlorotUniform", seed=None), bias_initializer=init("Zeros"),
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None, bias_constraint=None, **kw)


def batch_norm(name, axis, **kw):
    return layer("BatchNormalization", name, axis=axis, momentum=0.99, epsilon=0.001, center=True, scale=True,
                 beta_initializer=init("Zeros"), gamma_initializer=init("Ones"),
                 moving_mean_initializer=init("Zeros"), moving_variance_initializer=init("Ones"),
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 synchronized=False, **kw)


def tensor(shape, history):
    return {"class_name": "__keras_tensor__", "config": {"shape": shape, "dtype": "float32", "keras_history": history}}


def call(*inputs, merge=False, **kwargs):
    return [{"args": [list(inputs)] if merge else [inputs[0]], "kwargs": kwargs}]


def weights_for(cls, cfg, in_shape):
    """Keras's variables of one layer, in its save_own_variables order (trainable, then non-trainable)."""
    r = lambda *s: rng.standard_normal(s).astype(np.float32) * 0.5  # noqa: E731
    if cls == "Dense":
        return [r(in_shape[-1], cfg["units"]), r(cfg["units"])]
    if cls == "Conv2D":
        return [r(*cfg["kernel_size"], in_shape[-1], cfg["filters"]), r(cfg["filters"])]
    if cls == "BatchNormalization":
        c = in_shape[cfg["axis"]]
        return [1 + r(c), r(c), r(c), (0.5 + rng.random(c)).astype(np.float32)]
    return []


def forward(cls, cfg, w, xs):
    if cls == "BatchNormalization" and cfg["axis"] not in (-1, xs[0].ndim - 1):  # reference.py: last axis only
        return np.moveaxis(forward(cls, dict(cfg, axis=-1), w, [np.moveaxis(xs[0], cfg["axis"], -1)]), -1, cfg["axis"])
    if cls == "Add":
        return sum(xs)
    if cls == "Concatenate":
        return np.concatenate(xs, axis=cfg["axis"])
    names = {"Dense": ["kernel", "bias"], "Conv2D": ["kernel", "bias"],
             "BatchNormalization": ["gamma", "beta", "moving_mean", "moving_variance"]}.get(cls, [])
    return apply(cls, cfg, {n: np.asarray(v, np.float64) for n, v in zip(names, w)}, xs[0])


def snake(cls):
    import re
    s = re.sub(r"\W+", "", cls)
    s = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", s)
    return re.sub("([a-z])([A-Z])", r"\1_\2", s).lower()


def run(layers, inputs_of, x):
    """Weights and the float64 output of a graph given in config order; inputs_of(i) lists the layer indices feeding
    layer i. Returns ([weights per layer], output)."""
    outs, ws = [], []
    for i, l in enumerate(layers):
        xs = [outs[j] for j in inputs_of(i)] if i else [x]
        w = weights_for(l["class_name"], l["config"], xs[0].shape)
        ws.append(w)
        identity = l["class_name"] in ("InputLayer", "Dropout")
        outs.append(xs[0] if identity else forward(l["class_name"], l["config"], w, xs))
    return ws, outs[-1]


def weights_h5(layers, ws, skip_input, drop=None):
    """model.weights.h5 as Keras 3's H5IOStore writes it; drop=(path, var) leaves one variable out."""
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_group("vars")  # the model's own (none)
        used = {}
        for l, w in zip(layers, ws):
            if skip_input and l["class_name"] == "InputLayer":
                continue  # Sequential.layers leaves the InputLayer out
            name = snake(l["class_name"])
            used[name] = used.get(name, -1) + 1
            path = "layers/" + (name if used[name] == 0 else f"{name}_{used[name]}")
            g = f.create_group(path).create_group("vars")
            for i, v in enumerate(w):
                if drop != (path, i):
                    g[str(i)] = v
            if l["class_name"] == "Dropout":  # its SeedGenerator is a saveable of its own
                f.create_group(path + "/seed_generator").create_group("vars")["0"] = np.array([0, 1337], np.uint32)
    return buf.getvalue()


def archive(name, config, weights, members=("metadata.json", "config.json", "model.weights.h5")):
    data = {"metadata.json": json.dumps({"keras_version": "3.3.3", "date_saved": "2024-05-02@10:00:00"}),
            "config.json": json.dumps(config), "model.weights.h5": weights}
    with zipfile.ZipFile(os.path.join(here, name), "w") as z:
        for m in members:
            z.writestr(zipfile.ZipInfo(m, date_time=(2024, 5, 2, 10, 0, 0)), data[m])


def save_io(name, x, y):
    np.save(os.path.join(here, name + "_x.npy"), x)
    np.save(os.path.join(here, name + "_y.npy"), y)


# A Sequential .keras: Dense, BatchNormalization (last axis), Dropout, Dense.
seq_layers = [input_layer("input_layer", [6]), dense("dense", 5, "relu", build=[None, 6]),
              batch_norm("batch_normalization", -1, build=[None, 5]), layer("Dropout", "dropout", rate=0.3, seed=None,
                                                                            noise_shape=None),
              dense("dense_1", 3, "softmax", build=[None, 5])]
x = rng.standard_normal((2, 6))
seq_ws, y = run(seq_layers, lambda i: [i - 1], x)
seq_config = {"module": "keras", "class_name": "Sequential",
              "config": {"name": "sequential", "trainable": True, "dtype": POLICY, "layers": seq_layers},
              "registered_name": None, "build_config": {"input_shape": [None, 6]}, "compile_config": None}
archive("sequential.keras", seq_config, weights_h5(seq_layers, seq_ws, True))
save_io("sequential", x, y)

# A functional .keras with user-chosen layer names (the weights are addressed by class, not name): BatchNormalization
# on axis 1 of (3, 5), Flatten, two Dense branches, Add, Concatenate, Dense.
T = lambda shape, src: tensor([None] + shape, [src, 0, 0])  # noqa: E731
fn_layers = [input_layer("inp", [3, 5], [], optional=False),
             batch_norm("bn", 1, inbound=call(T([3, 5], "inp"), mask=None)),
             layer("Flatten", "flat", call(T([3, 5], "bn")), data_format="channels_last"),
             dense("left", 4, "relu", inbound=call(T([15], "flat"))),
             dense("right", 4, "tanh", inbound=call(T([15], "flat"))),
             layer("Add", "sum", call(T([4], "left"), T([4], "right"), merge=True)),
             layer("Concatenate", "cat", call(T([4], "sum"), T([4], "left"), merge=True), axis=-1),
             dense("head", 2, "linear", inbound=call(T([8], "cat")))]
feeds = {1: [0], 2: [1], 3: [2], 4: [2], 5: [3, 4], 6: [5, 3], 7: [6]}
x = rng.standard_normal((2, 3, 5))
fn_ws, y = run(fn_layers, lambda i: feeds[i], x)
fn_config = {"module": "keras.src.models.functional", "class_name": "Functional",
             "config": {"name": "functional", "trainable": True, "layers": fn_layers,
                        "input_layers": ["inp", 0, 0], "output_layers": [["head", 0, 0]]},
             "registered_name": "Functional", "build_config": {"input_shape": None}, "compile_config": None}
archive("functional.keras", fn_config, weights_h5(fn_layers, fn_ws, False))
save_io("functional", x, y)

# A Keras 3 legacy .h5 (model.save("m.h5")): model_config in the legacy serialization (no module), weights under
# /model_weights/<layer>/<weight_names entry>, the entries being variable paths without ":0", one with a scope.
h5_layers = [input_layer("input_layer", [5, 5, 2]),
             layer("Conv2D", "conv2d", filters=3, kernel_size=[2, 2], strides=[1, 1], padding="valid",
                   data_format="channels_last", dilation_rate=[1, 1], groups=1, activation="relu", use_bias=True,
                   kernel_initializer=init("GlorotUniform", seed=None), bias_initializer=init("Zeros"),
                   kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                   kernel_constraint=None, bias_constraint=None),
             batch_norm("batch_normalization", -1), layer("Flatten", "flatten", data_format="channels_last"),
             dense("dense", 2, "linear")]
for l in h5_layers:
    l.pop("module"), l.pop("registered_name")
x = rng.standard_normal((2, 5, 5, 2))
h5_ws, y = run(h5_layers, lambda i: [i - 1], x)
h5_config = {"class_name": "Sequential",
             "config": {"name": "sequential", "trainable": True, "dtype": POLICY, "layers": h5_layers}}
var_names = {"Conv2D": ["kernel", "bias"], "Dense": ["kernel", "bias"],
             "BatchNormalization": ["gamma", "beta", "moving_mean", "moving_variance"]}
with h5py.File(os.path.join(here, "legacy.h5"), "w") as f:
    f.attrs["keras_version"], f.attrs["backend"] = "3.3.3", "tensorflow"
    f.attrs["model_config"] = json.dumps(h5_config)
    g = f.create_group("model_weights")
    names = [l["config"]["name"] for l in h5_layers[1:]]
    g.attrs["layer_names"] = [n.encode() for n in names]
    g.attrs["backend"], g.attrs["keras_version"] = b"tensorflow", b"3.3.3"
    for l, w in sorted(zip(h5_layers[1:], h5_ws[1:]), key=lambda p: p[0]["config"]["name"]):
        n = l["config"]["name"]
        scope = "sequential/" if l["class_name"] == "Dense" else ""
        paths = [f"{scope}{n}/{v}" for v in var_names.get(l["class_name"], [])]
        lg = g.create_group(n)
        lg.attrs["weight_names"] = [p.encode() for p in paths] if paths else np.zeros(0)
        for p, v in zip(paths, w):
            lg[p] = v
    g.create_group("top_level_model_weights").attrs["weight_names"] = np.zeros(0)
save_io("legacy", x, y)

# Broken archives (tests/interop/test_keras3.cpp, KerasArchive.*Errors).
seq_h5 = weights_h5(seq_layers, seq_ws, True)
archive("no_config.keras", seq_config, seq_h5, members=("metadata.json", "model.weights.h5"))
archive("missing_variable.keras", seq_config, weights_h5(seq_layers, seq_ws, True, drop=("layers/dense_1", 1)))
bad = [list(w) for w in seq_ws]
bad[1][0] = bad[1][0][:4]  # dense's kernel (6, 5) stored as (4, 5)
archive("wrong_shape.keras", seq_config, weights_h5(seq_layers, bad, True))
extra = [list(w) for w in seq_ws]
extra[1].append(np.zeros(5, np.float32))  # dense with a third variable
archive("extra_variable.keras", seq_config, weights_h5(seq_layers, extra, True))
archive("not_hdf5.keras", seq_config, b"not an HDF5 file")
custom = json.loads(json.dumps(seq_config))
custom["config"]["layers"][2] = {"module": "my_project.layers", "class_name": "Scale", "config": {"name": "scale"},
                                 "registered_name": "MyProject>Scale"}
archive("custom_object.keras", custom, seq_h5)
with zipfile.ZipFile(os.path.join(here, "bomb.keras"), "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    info = zipfile.ZipInfo("config.json", date_time=(2024, 5, 2, 10, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, b" " * (24 << 20))  # 24 MiB of JSON whitespace in about 24 KB, over the 16 MiB text limit
    z.writestr(zipfile.ZipInfo("model.weights.h5", date_time=(2024, 5, 2, 10, 0, 0)), seq_h5)
# A member whose entries announce 100 bytes but whose deflated data holds 4 KiB: read at most what is announced.
with zipfile.ZipFile(os.path.join(here, "lying_size.keras"), "w") as z:
    info = zipfile.ZipInfo("config.json", date_time=(2024, 5, 2, 10, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, json.dumps(seq_config).ljust(4096).encode())
    z.writestr(zipfile.ZipInfo("model.weights.h5", date_time=(2024, 5, 2, 10, 0, 0)), seq_h5)
with open(os.path.join(here, "lying_size.keras"), "r+b") as f:
    raw = bytearray(f.read())
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header and central directory: size fields
        i = raw.find(sig)
        raw[i + at:i + at + 4] = (100).to_bytes(4, "little")
    f.seek(0)
    f.write(raw)
