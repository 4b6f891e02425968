"""Writes the SYNTHETIC Keras 2 files of tests/interop/test_keras2_synthetic.cpp and their NumPy references.

Keras is not installed: this script writes, with h5py, exactly the layout Keras 2's model.save gives (that of the
real files in tests/interop/keras_h5/: root attributes keras_version, backend and model_config as variable-length
strings; /model_weights with layer_names; one group per layer with weight_names and the datasets
<layer>/<layer>/<name>:0). The layer configs are those Keras 2.3.1's get_config writes. The files cover what the
real files do not: LocallyConnected1D, LocallyConnected2D with implementation 1, 2 and 3 (each kernel stored in
that implementation's own layout), channels_first and channels_last in one model, nonzero biases,
BatchNormalization with axis 1 and -1 on rank 2 and rank 4 inputs, Activation, Dropout, SpatialDropout2D and
InputLayer. bn_train_<version>.h5 hold one BatchNormalization (axis -1, 3 channels) under two keras_version
attributes, for the training rule of each version (tests/interop/test_keras2_synthetic.cpp computes it by hand).

The references <file>_x.npy / <file>_y.npy are NumPy float64 outputs written from Keras 2's documented semantics,
implementation by implementation as keras/layers/local.py computes them (not through locnet's conversions):
  1: one (K, F) matrix per output position applied to the flattened patch (local_conv);
  2: the input flattened in its own layout times the (kernel * mask) matrix (local_conv_matmul); the masked-out
     entries are written as random values, which Keras keeps and ignores;
  3: a sparse matrix with the kernel vector at the sorted (output index, input index) pairs of conv_kernel_idxs
     (local_conv_sparse_matmul);
then Keras 2's bias_add, which reshapes (never transposes) the (OL, F) / (OH, OW, F) bias for channels_first.

Run from the repository root with Debian's python3-h5py:  /usr/bin/python3 tests/interop/keras2_synthetic/generate.py
"""
import itertools
import json
import os

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(2030)
KERAS_VERSION = "2.3.1"
act = {"linear": lambda x: x, "relu": lambda x: np.maximum(x, 0), "tanh": np.tanh,
       "softmax": lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)}


def init(name, **config):
    return {"class_name": name, "config": config}


def base(name):
    return {"name": name, "trainable": True, "dtype": "float32"}


def lc_config(rank, name, filters, kernel, strides, data_format, activation, implementation):
    return dict(base(name), filters=filters, kernel_size=kernel, strides=strides, padding="valid",
                data_format=data_format, activation=activation, use_bias=True,
                kernel_initializer=init("VarianceScaling", scale=1.0, mode="fan_avg", distribution="uniform", seed=None),
                bias_initializer=init("Zeros"), kernel_regularizer=None, bias_regularizer=None,
                activity_regularizer=None, kernel_constraint=None, bias_constraint=None, implementation=implementation)


def bn_config(name, axis):
    return dict(base(name), axis=axis, momentum=0.99, epsilon=0.001, center=True, scale=True,
                beta_initializer=init("Zeros"), gamma_initializer=init("Ones"),
                moving_mean_initializer=init("Zeros"), moving_variance_initializer=init("Ones"),
                beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None)


# ---- LocallyConnected, as Keras 2.3's local.py computes each implementation ----

def lc_geometry(cfg, x):
    first = cfg["data_format"] == "channels_first"
    spatial = x.shape[2:] if first else x.shape[1:-1]
    channels = x.shape[1] if first else x.shape[-1]
    out = tuple((n - k) // s + 1 for n, k, s in zip(spatial, cfg["kernel_size"], cfg["strides"]))
    return first, tuple(spatial), channels, out


def connected(pos, cfg, spatial):  # conv_connected_inputs, 'valid'
    return [range(p * s, min(n, p * s + k)) for p, s, k, n in zip(pos, cfg["strides"], cfg["kernel_size"], spatial)]


def lc_kernel_shape(cfg, x):
    first, spatial, c, out = lc_geometry(cfg, x)
    f, n_out, k = cfg["filters"], int(np.prod(out)), int(np.prod(cfg["kernel_size"])) * c
    if cfg["implementation"] == 1:
        return (n_out, k, f)
    if cfg["implementation"] == 2:
        return (c,) + spatial + (f,) + out if first else spatial + (c,) + out + (f,)
    return (len(kernel_idxs(cfg, x)),)


def kernel_idxs(cfg, x):  # sorted conv_kernel_idxs
    first, spatial, c, out = lc_geometry(cfg, x)
    f = cfg["filters"]
    cat = (lambda sp, ch: (ch,) + sp) if first else (lambda sp, ch: sp + (ch,))
    idxs = []
    for o in itertools.product(*[range(n) for n in out]):
        for i in itertools.product(*connected(o, cfg, spatial)):
            for fi in range(c):
                for fo in range(f):
                    idxs.append((np.ravel_multi_index(cat(o, fo), cat(out, f)),
                                 np.ravel_multi_index(cat(i, fi), cat(spatial, c))))
    return sorted(idxs)


def mask(cfg, x):  # get_locallyconnected_mask
    first, spatial, c, out = lc_geometry(cfg, x)
    m = np.zeros(spatial + out, bool)
    for o in itertools.product(*[range(n) for n in out]):
        for i in itertools.product(*connected(o, cfg, spatial)):
            m[i + o] = True
    nd = len(spatial)
    return np.expand_dims(np.expand_dims(m, 0), -nd - 1) if first else np.expand_dims(np.expand_dims(m, nd), -1)


def locally_connected(cfg, w, x):
    first, spatial, c, out = lc_geometry(cfg, x)
    n, f, impl = x.shape[0], cfg["filters"], cfg["implementation"]
    out_shape = (n, f) + out if first else (n,) + out + (f,)
    if impl == 1:  # local_conv: patch (flattened in the input's layout) times kernel[position]
        ys = []
        for o in itertools.product(*[range(m) for m in out]):
            sl = tuple(slice(p * s, p * s + k) for p, s, k in zip(o, cfg["strides"], cfg["kernel_size"]))
            patch = x[(slice(None), slice(None)) + sl] if first else x[(slice(None),) + sl + (slice(None),)]
            ys.append(patch.reshape(n, -1) @ w["kernel"][len(ys)])
        y = np.array(ys).reshape(out + (n, f))
        nd = len(out)
        y = y.transpose((nd, nd + 1) + tuple(range(nd))) if first else y.transpose((nd,) + tuple(range(nd)) + (nd + 1,))
    elif impl == 2:  # local_conv_matmul
        k = w["kernel"] * mask(cfg, x)
        split = k.ndim // 2
        y = (x.reshape(n, -1) @ k.reshape(int(np.prod(k.shape[:split])), -1)).reshape(out_shape)
    else:  # local_conv_sparse_matmul
        dense = np.zeros((int(np.prod(out)) * f, int(np.prod(spatial)) * c))
        for (o, i), v in zip(kernel_idxs(cfg, x), w["kernel"]):
            dense[o, i] = v
        y = (x.reshape(n, -1) @ dense.T).reshape(out_shape)
    b = w["bias"]
    y = y + (b.reshape((b.shape[-1],) + b.shape[:-1]) if first else b)  # Keras 2's bias_add: a reshape
    return act[cfg["activation"]](y)


def apply(cls, cfg, w, x):
    if cls in ("InputLayer", "Dropout", "SpatialDropout2D"):
        return x
    if cls.startswith("LocallyConnected"):
        return locally_connected(cfg, w, x)
    if cls == "BatchNormalization":  # inference: moving statistics along cfg["axis"]
        shape = [1] * x.ndim
        shape[cfg["axis"]] = x.shape[cfg["axis"]]
        r = {k: v.reshape(shape) for k, v in w.items()}
        return (x - r["moving_mean"]) / np.sqrt(r["moving_variance"] + cfg["epsilon"]) * r["gamma"] + r["beta"]
    if cls == "Activation":
        return act[cfg["activation"]](x)
    if cls == "Flatten":
        return x.reshape(x.shape[0], -1)
    if cls == "Dense":
        return act[cfg["activation"]](x @ w["kernel"] + w["bias"])
    raise NotImplementedError(cls)


def weight_shapes(cls, cfg, x):
    if cls.startswith("LocallyConnected"):
        first, spatial, c, out = lc_geometry(cfg, x)
        return {"kernel": lc_kernel_shape(cfg, x), "bias": out + (cfg["filters"],)}
    if cls == "BatchNormalization":
        ch = (x.shape[cfg["axis"]],)
        return {"gamma": ch, "beta": ch, "moving_mean": ch, "moving_variance": ch}
    if cls == "Dense":
        return {"kernel": (x.shape[-1], cfg["units"]), "bias": (cfg["units"],)}
    return {}


def random_weight(name, shape):
    if name == "moving_variance":
        return rng.uniform(0.5, 2.0, shape)
    if name == "gamma":
        return rng.uniform(0.5, 1.5, shape)
    return rng.uniform(-0.5, 0.5, shape)


def write(name, model_class, layers, input_shape, version=KERAS_VERSION, reference=True):
    """layers: [(class_name, config)], a chain; model_class "Sequential" or "Model" (with an InputLayer first)."""
    x = rng.standard_normal((2,) + tuple(input_shape))
    y, weights = x, {}
    for cls, cfg in layers:
        w = {k: random_weight(k, s).astype(np.float32) for k, s in weight_shapes(cls, cfg, y).items()}
        weights[cfg["name"]] = w
        y = apply(cls, cfg, {k: v.astype(np.float64) for k, v in w.items()}, y)
    if model_class == "Sequential":
        config = {"name": "sequential_1", "layers": [{"class_name": c, "config": cfg} for c, cfg in layers]}
    else:
        names = [cfg["name"] for _, cfg in layers]
        config = {"name": "model_1", "layers": [
            {"name": n, "class_name": c, "config": cfg, "inbound_nodes": [[[prev, 0, 0, {}]]] if prev else []}
            for (c, cfg), n, prev in zip(layers, names, [None] + names[:-1])],
            "input_layers": [[names[0], 0, 0]], "output_layers": [[names[-1], 0, 0]]}
    with h5py.File(os.path.join(here, name + ".h5"), "w") as f:
        f.attrs["keras_version"] = version  # variable-length strings, as in the real files
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps({"class_name": model_class, "config": config})
        g = f.create_group("model_weights")
        g.attrs["keras_version"] = version
        g.attrs["backend"] = "tensorflow"
        g.attrs["layer_names"] = np.array([cfg["name"].encode() for _, cfg in layers])  # fixed-length, like Keras
        for _, cfg in layers:
            lg = g.create_group(cfg["name"])
            w = weights[cfg["name"]]
            names = [f"{cfg['name']}/{k}:0".encode() for k in w]
            lg.attrs["weight_names"] = np.array(names) if names else np.zeros((0,), np.float64)  # h5py's empty list
            for k, v in w.items():
                lg.create_dataset(f"{cfg['name']}/{k}:0", data=v)
    if reference:
        np.save(os.path.join(here, name + "_x.npy"), x)
        np.save(os.path.join(here, name + "_y.npy"), y)


for impl in (1, 2, 3):
    # Functional, InputLayer first; channels_last then channels_first; BatchNormalization axis -1 and 1 on rank 4.
    write(f"lc2d_impl{impl}", "Model", [
        ("InputLayer", {"batch_input_shape": [None, 7, 6, 2], "dtype": "float32", "sparse": False, "name": "input_1"}),
        ("LocallyConnected2D", lc_config(2, "lc_last", 3, [3, 2], [2, 1], "channels_last", "tanh", impl)),
        ("BatchNormalization", bn_config("bn_last", -1)),
        ("LocallyConnected2D", lc_config(2, "lc_first", 2, [2, 2], [1, 1], "channels_first", "linear", impl)),
        ("BatchNormalization", bn_config("bn_first", 1)),
        ("Activation", dict(base("activation_1"), activation="relu")),
        ("SpatialDropout2D", dict(base("spatial_dropout2d_1"), rate=0.5, noise_shape=None, seed=None)),
        ("Flatten", dict(base("flatten_1"), data_format="channels_last")),
        ("Dropout", dict(base("dropout_1"), rate=0.25, noise_shape=None, seed=None)),
    ], (7, 6, 2))
    # Sequential (batch_input_shape on the first layer); channels_last then channels_first.
    first = lc_config(1, "lc1_last", 4, [3], [2], "channels_last", "relu", impl)
    first["batch_input_shape"] = [None, 9, 3]
    write(f"lc1d_impl{impl}", "Sequential", [
        ("LocallyConnected1D", first),
        ("LocallyConnected1D", lc_config(1, "lc1_first", 2, [2], [1], "channels_first", "tanh", impl)),
    ], (9, 3))

# BatchNormalization on rank 2 with axis -1 and axis 1 (the same axis there), between Dense layers.
dense = lambda name, units, activation: dict(base(name), units=units, activation=activation, use_bias=True,
                                             kernel_initializer=init("VarianceScaling", scale=1.0, mode="fan_avg",
                                                                     distribution="uniform", seed=None),
                                             bias_initializer=init("Zeros"), kernel_regularizer=None,
                                             bias_regularizer=None, activity_regularizer=None,
                                             kernel_constraint=None, bias_constraint=None)
write("bn_dense", "Model", [
    ("InputLayer", {"batch_input_shape": [None, 5], "dtype": "float32", "sparse": False, "name": "input_1"}),
    ("Dense", dense("dense_1", 4, "linear")),
    ("BatchNormalization", bn_config("bn_minus1", -1)),
    ("Activation", dict(base("activation_1"), activation="tanh")),
    ("Dropout", dict(base("dropout_1"), rate=0.5, noise_shape=None, seed=None)),
    ("Dense", dense("dense_2", 3, "linear")),
    ("BatchNormalization", bn_config("bn_1", 1)),
    ("Activation", dict(base("activation_2"), activation="softmax")),
], (5,))

# One BatchNormalization whose moving variance after a training step depends on keras_version.
for version in ("2.1.3", "2.2.4-tf"):
    cfg = bn_config("bn", -1)
    cfg["batch_input_shape"] = [None, 3]
    write("bn_train_" + version, "Sequential", [("BatchNormalization", cfg)], (3,), version, reference=False)
