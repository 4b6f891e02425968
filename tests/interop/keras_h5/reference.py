"""NumPy reference outputs of the real Keras files here (tests/interop/test_keras_h5.cpp), computed in float64
from Keras 2's documented layer semantics and the weights stored in each file. The inputs are seeded random
numbers; the outputs are NOT Keras's own (Keras is not installed): they check that locnet wires the file's weights
the way Keras would use them. Covers the classes the Sequential/Dense files use (Conv2D 'valid' with stride 1,
BatchNormalization inference, Dense, Activation, Flatten); the LocallyConnected files are a next step.

Run from the repository root with Debian's python3-h5py:  /usr/bin/python3 tests/interop/keras_h5/reference.py
"""
import json
import os

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
act = {"linear": lambda x: x, "relu": lambda x: np.maximum(x, 0),
       "softmax": lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)}


def weights(f, root, name):
    g = f[root][name]
    return {w.decode().split("/")[-1].split(":")[0]: np.asarray(g[w.decode()], np.float64) for w in g.attrs["weight_names"]}


def apply(cls, cfg, w, x):
    if cls in ("InputLayer", "Dropout"):
        return x
    if cls == "Dense":
        return act[cfg["activation"]](x @ w["kernel"] + (w["bias"] if cfg["use_bias"] else 0))
    if cls == "Activation":
        return act[cfg["activation"]](x)
    if cls == "Flatten":
        return x.reshape(x.shape[0], -1)
    if cls == "BatchNormalization":  # inference: moving statistics; channel axis -1 in these files
        assert cfg["axis"] in (-1, x.ndim - 1)
        return (x - w["moving_mean"]) / np.sqrt(w["moving_variance"] + cfg["epsilon"]) * w["gamma"] + w["beta"]
    if cls == "Conv2D":  # channels_last, 'valid', stride 1, no dilation: y[n,i,j,f] = sum x[n,i+a,j+b,c] k[a,b,c,f]
        assert cfg["padding"] == "valid" and list(cfg["strides"]) == [1, 1] and cfg["data_format"] == "channels_last"
        k = w["kernel"]
        kh, kw = k.shape[:2]
        oh, ow = x.shape[1] - kh + 1, x.shape[2] - kw + 1
        y = np.zeros((x.shape[0], oh, ow, k.shape[3]))
        for a in range(kh):
            for b in range(kw):
                y += np.einsum("nijc,cf->nijf", x[:, a:a + oh, b:b + ow, :], k[a, b])
        return act[cfg["activation"]](y + (w["bias"] if cfg["use_bias"] else 0))
    raise NotImplementedError(cls)


def run(name, h5, config, root):
    with h5py.File(os.path.join(here, h5), "r") as f:
        c = json.loads(config if config else f.attrs["model_config"])
        layers = c["config"] if isinstance(c["config"], list) else c["config"]["layers"]  # chains only
        shape = layers[0]["config"]["batch_input_shape"][1:]
        x = np.random.default_rng(30).standard_normal([2] + shape)
        y = x
        for l in layers:
            y = apply(l["class_name"], l["config"], weights(f, root, l["config"]["name"]), y)
    np.save(os.path.join(here, name + "_x.npy"), x)
    np.save(os.path.join(here, name + "_y.npy"), y)


run("dl4j_cnn_batch_norm", "dl4j_cnn_batch_norm.h5", None, "model_weights")
with open(os.path.join(here, "hls4ml_KERAS_3layer_batch_norm.json")) as j:
    run("hls4ml_KERAS_3layer_batch_norm", "hls4ml_KERAS_3layer_batch_norm_weights.h5", j.read(), "/")
