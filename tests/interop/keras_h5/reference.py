"""NumPy reference outputs of the real Keras files here (tests/interop/test_keras_h5.cpp), computed in float64
from Keras 2's documented layer semantics and the weights stored in each file. The inputs are seeded random
numbers; the outputs are NOT Keras's own (Keras is not installed): they check that locnet wires the file's weights
the way Keras would use them. Covers the classes these files use: Conv2D and LocallyConnected2D ('valid'; LocallyConnected2D with
implementation 1 and Keras 2's channels_first bias_add, which reshapes the (rows, cols, filters) bias rather than
transposing it), BatchNormalization inference, Dense, Activation, Flatten, ZeroPadding2D, UpSampling2D (nearest),
Cropping2D, MaxPooling2D ('valid'), GlobalMaxPooling2D; Dropout and SpatialDropout2D are the identity.

Run from the repository root with Debian's python3-h5py:  /usr/bin/python3 tests/interop/keras_h5/reference.py
"""
import json
import os

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
act = {"linear": lambda x: x, "relu": lambda x: np.maximum(x, 0), "tanh": np.tanh,
       "softmax": lambda x: np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)}


def weights(f, root, name):
    g = f[root][name]
    return {w.decode().split("/")[-1].split(":")[0]: np.asarray(g[w.decode()], np.float64) for w in g.attrs["weight_names"]}


def apply(cls, cfg, w, x):
    if cls in ("InputLayer", "Dropout", "SpatialDropout2D"):
        return x
    first = cfg.get("data_format") == "channels_first"
    if first and cls != "LocallyConnected2D":  # the others are computed channels_last
        return np.moveaxis(apply(cls, dict(cfg, data_format="channels_last"), w, np.moveaxis(x, 1, -1)), -1, 1)
    if cls == "ZeroPadding2D":
        (t, b), (l, r) = cfg["padding"]
        return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
    if cls == "UpSampling2D":
        assert cfg.get("interpolation", "nearest") == "nearest"
        return x.repeat(cfg["size"][0], axis=1).repeat(cfg["size"][1], axis=2)
    if cls == "Cropping2D":
        (t, b), (l, r) = cfg["cropping"]
        return x[:, t:x.shape[1] - b, l:x.shape[2] - r, :]
    if cls == "MaxPooling2D":
        assert cfg["padding"] == "valid"
        (ph, pw), (sh, sw) = cfg["pool_size"], cfg["strides"]
        oh, ow = (x.shape[1] - ph) // sh + 1, (x.shape[2] - pw) // sw + 1
        return np.array([[x[:, i * sh:i * sh + ph, j * sw:j * sw + pw, :].max(axis=(1, 2)) for j in range(ow)]
                         for i in range(oh)]).transpose(2, 0, 1, 3)
    if cls == "GlobalMaxPooling2D":
        return x.max(axis=(1, 2))
    if cls == "LocallyConnected2D":  # Keras 2 local_conv2d: one (K, F) matrix per output position, row-major
        assert cfg["padding"] == "valid" and cfg.get("implementation", 1) == 1
        (kh, kw), (sh, sw) = cfg["kernel_size"], cfg["strides"]
        rows, cols = (x.shape[2], x.shape[3]) if first else (x.shape[1], x.shape[2])
        oh, ow = (rows - kh) // sh + 1, (cols - kw) // sw + 1
        out = []
        for i in range(oh):
            for j in range(ow):
                r, c = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
                patch = x[:, :, r, c] if first else x[:, r, c, :]
                out.append(patch.reshape(x.shape[0], -1) @ w["kernel"][i * ow + j])
        y = np.array(out).reshape(oh, ow, x.shape[0], -1)
        y = y.transpose(2, 3, 0, 1) if first else y.transpose(2, 0, 1, 3)
        if cfg["use_bias"]:
            b = w["bias"]
            y = y + (b.reshape(b.shape[2], b.shape[0], b.shape[1]) if first else b)  # Keras 2's bias_add
        return act[cfg["activation"]](y)
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
run("cnn2d_32", "cnn2d_32.h5", None, "model_weights")
run("cnn2d_92", "cnn2d_92.h5", None, "model_weights")
with open(os.path.join(here, "hls4ml_KERAS_3layer_batch_norm.json")) as j:
    run("hls4ml_KERAS_3layer_batch_norm", "hls4ml_KERAS_3layer_batch_norm_weights.h5", j.read(), "/")
