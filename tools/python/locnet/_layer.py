"""The base of the generated layer classes: a layer made through the catalog, usable on its own (numpy-ml's
forward/backward/update, Wolfram's call on an array) or as part of a model (Keras, neupy). docs/python-layers.md
describes the standalone use.

A layer object owns a C++ layer until a model takes it; from then on it is a view of the model's copy, so
``model.layers[0].get_weights()`` and the layer object the user kept agree.
"""
import numpy as np

from . import _catalog, _core
from ._arrays import bf16

_next_seed = [0]


def set_seed(seed):
    """The seed of the next standalone layer or model built without an explicit seed (then counts up)."""
    _next_seed[0] = int(seed)


def take_seed():
    seed = _next_seed[0]
    _next_seed[0] += 1
    return seed


class Layer:
    """A locnet layer; the generated classes (``locnet.LocalResponseNorm``, ...) derive from it."""

    kind = "layer"
    type_name = None
    options = ()
    defaults = {}

    # Keras's layer arguments that describe the model's input rather than the layer.
    _input_keywords = ("input_shape", "input_dim", "batch_input_shape", "batch_size")

    def __init__(self, *args, **kwargs):
        shape = kwargs.pop("input_shape", None)
        if "input_dim" in kwargs:
            shape = (kwargs.pop("input_dim"),)
        if "batch_input_shape" in kwargs:
            shape = tuple(kwargs.pop("batch_input_shape"))[1:]
        kwargs.pop("batch_size", None)
        self.input_spec_shape = tuple(shape) if shape is not None else None
        self._impl = _core.make_layer(self.type_name, args, kwargs)  # ConfigError now, as in C++
        self._owner = None  # the _core.Model holding the layer once a model took it
        self._optimizer = None  # what update() steps with, made on first use: its slots persist across updates

    # -- identity and configuration --------------------------------------------------------------------------
    @property
    def name(self):
        return self._impl.name

    @property
    def built(self):
        return self._impl.built

    def get_config(self):
        """The layer's options (every option, defaults included) and its name, as keyword arguments."""
        _, args, kwargs = self._impl.config()
        config = dict(zip(self.options, args))
        config.update(kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def spec(self):
        """The layer as a spec-language call (docs/spec-language.md)."""
        return self._impl.spec()

    def __repr__(self):
        return self.spec()

    @property
    def trainable(self):
        return self._impl.trainable

    @trainable.setter
    def trainable(self, value):
        self._impl.trainable = bool(value)

    # -- building and computing ------------------------------------------------------------------------------
    def build(self, input_shape, seed=None, dtype="float32"):
        """Allocates the parameters for an input shape (batch first; None for an unknown batch)."""
        self._impl.build(tuple(input_shape), take_seed() if seed is None else seed, dtype)

    def _ensure_built(self, x):
        if not self._impl.built:
            self.build((None,) + tuple(np.shape(x))[1:], dtype=dtype_name(x))
    def compute_output_shape(self, input_shape):
        return self._impl.output_shape(tuple(input_shape))

    def forward(self, x, training=True):
        """The layer on a batch; training=True uses batch statistics and keeps what backward needs."""
        self._ensure_built(x)
        return self._impl.forward(x, training)

    def backward(self, dy):
        """dL/dx from dL/dy after a training forward; adds dL/dparameters to the gradients."""
        return self._impl.backward(dy)

    # -- weights ----------------------------------------------------------------------------------------------
    @property
    def weights(self):
        return [v for _, v, _, _ in self._impl.params()] + [v for _, v, _, _ in self._impl.buffers()]

    def get_weights(self):
        """Copies of the parameters then the buffers (Keras's order: trainable first)."""
        return [np.array(w) for w in self.weights]

    def set_weights(self, weights):
        names = [n for n, *_ in self._impl.params()] + [n for n, *_ in self._impl.buffers()]
        if len(weights) != len(names):
            raise _core.ShapeError(f"{self.name}: set_weights expects {len(names)} arrays ({', '.join(names)}), "
                                   f"got {len(weights)}")
        for n, w in zip(names, weights):
            self._impl.assign(n, np.asarray(w))

    def count_params(self):
        return self._impl.param_count

    # -- numpy-ml's layer API (numpy_ml.neural_nets.layers.LayerBase) ------------------------------------------
    def freeze(self):
        """numpy-ml's freeze(): trainable=False (a BatchNorm then normalizes with its running statistics)."""
        self.trainable = False

    def unfreeze(self):
        self.trainable = True

    def _names(self):
        """locnet's parameter and buffer names -> the convention's own (numpy-ml's scaler, PyTorch's weight, ...)."""
        return {name: (aliases[0] if aliases else name) for name, aliases in self._impl.param_aliases().items()}

    @property
    def parameters(self):
        """numpy-ml's dict of parameters and buffers by the convention's names (BatchNorm2D: scaler, intercept,
        running_mean, running_var), else locnet's; the arrays view the layer's storage."""
        names = self._names()
        return {names[n]: v for n, v, _, _ in self._impl.params() + self._impl.buffers()}

    @property
    def gradients(self):
        """dL/dparameter per trainable parameter, summed over the backward calls since the last update() or
        flush_gradients() (zeros before the first backward)."""
        names = self._names()
        return {names[n]: np.zeros_like(v) if g is None else g for n, v, g, t in self._impl.params() if t}

    def flush_gradients(self):
        self._impl.zero_grad()

    def _optimizer_spec(self):
        return self.get_config().get("optimizer") or "SGD(lr=0.01)"  # numpy-ml's default optimizer

    def update(self, cur_loss=None):
        """numpy-ml's update(): one step of the layer's optimizer (its optimizer= option, else numpy-ml's default
        SGD(lr=0.01)) on the trainable parameters, then flush_gradients(). The optimizer object is kept, so its
        state (momentum, Adam's moments, the iteration count) carries over to the next update()."""
        if not self.trainable:
            raise _core.ConfigError(f"{self.name}: update() needs a trainable layer, got a frozen one (unfreeze() it)")
        if self._optimizer is None:
            self._optimizer = _core.make_optimizer(self._optimizer_spec())
        self._optimizer.step_layer(self._impl)
        self.flush_gradients()

    @property
    def hyperparameters(self):
        """numpy-ml's dict: "layer" (the type), every option (get_config() but the name), and "optimizer"
        ({"id": type, ...its options})."""
        optimizer = self._optimizer or _core.make_optimizer(self._optimizer_spec())
        kind, args, kwargs = optimizer.config()
        options = _catalog.CLASSES[("optimizer", kind)].options
        config = {"layer": self.type_name}
        config.update(self.get_config())
        config.pop("name", None)  # numpy-ml's dict has none; the layer's name is .name
        config["optimizer"] = {"id": kind, **dict(zip(options, args)), **kwargs}
        return config

    def summary(self):
        """numpy-ml's summary(): {"layer", "parameters", "hyperparameters"} (set_params takes it back)."""
        return {"layer": self.type_name, "parameters": self.parameters, "hyperparameters": self.hyperparameters}

    def set_params(self, summary_dict):
        """numpy-ml's set_params(): copies summary_dict["parameters"] (by the convention's or locnet's names) into the
        layer, after applying summary_dict["hyperparameters"]: a new "optimizer" (numpy-ml's {"id": ..., ...}
        dict or a spec) starts a fresh optimizer; other changed options remake the layer (standalone layers only),
        rebuilt for the same input shape and dtype."""
        hyper = dict(summary_dict.get("hyperparameters", {}))
        hyper.pop("layer", None)
        hyper.pop("name", None)  # the layer keeps its own name
        if "optimizer" in hyper:
            optimizer = hyper.pop("optimizer")
            if isinstance(optimizer, dict):
                optimizer = dict(optimizer)
                optimizer = _catalog.CLASSES[("optimizer", optimizer.pop("id"))](**optimizer)
            self._optimizer = _core.make_optimizer(optimizer)
        config = self.get_config()
        if any(config.get(k) != v for k, v in hyper.items()):
            if self._owner is not None:
                raise _core.NotSupported(f"{self.name}: set_params cannot change the options of a layer in a model")
            config.update(hyper)
            built, shape, dtype = self._impl.built, self._impl.input_shape, self._impl.dtype
            self._impl = _core.make_layer(self.type_name, (), config)
            if built:
                self._impl.build(shape, take_seed(), dtype)
        names = {alias: n for n, alias in self._names().items()}
        for key, value in summary_dict.get("parameters", {}).items():
            self._impl.assign(names.get(key, key), np.asarray(value))

    # -- composition: the hooks below are set by the package's modules -----------------------------------------
    def __call__(self, x, *args, **kwargs):
        """On a symbolic tensor (locnet.Input, another layer's output): Keras's functional API, a new node.
        On an array: the layer applied to it (Wolfram's layer[x]), batched or a single sample."""
        if hasattr(x, "_locnet_node") or (isinstance(x, (list, tuple)) and x and hasattr(x[0], "_locnet_node")):
            return hooks["symbolic_call"](self, x, *args, **kwargs)
        return hooks["array_call"](self, x, *args, **kwargs)

    def __rshift__(self, other):
        """neupy's composition: ``a >> b`` chains a and b into a model."""
        return hooks["compose"](self, other)

    def __rrshift__(self, other):
        return hooks["compose"](other, self)


def dtype_name(x):
    """The dtype a layer is built in for input x: bfloat16 (locnet.bf16, ml_dtypes), float16, float64, else
    float32."""
    if isinstance(x, bf16):
        return "bfloat16"
    dtype = getattr(x, "dtype", None)
    if dtype is None or not isinstance(dtype, np.dtype):
        return "float32"
    return dtype.name if dtype.name in ("bfloat16", "float16", "float64") else "float32"


# Layers whose sample rank the shape alone cannot tell: Wolfram's LocalResponseNormalizationLayer takes one (C, H, W)
# array (docs/lrn.md), though locnet's LRN takes ranks 2 to 5.
SAMPLE_RANK = {"LocalResponseNorm.wolfram": 3}


def batch_rank(layer, shape):
    """The rank of a batch for `layer` (docs/python-layers.md#calling-a-layer-on-an-array): the built input's; else
    input_shape's + 1; else the convention's sample rank + 1; else the one reading of `shape` (a batch, or one
    sample) that the layer accepts. None when both readings are accepted (then `shape` is a batch)."""
    if layer._impl.built:
        return len(layer._impl.input_shape)
    if layer.input_spec_shape is not None:
        return len(layer.input_spec_shape) + 1
    if layer.type_name in SAMPLE_RANK:
        return SAMPLE_RANK[layer.type_name] + 1
    accepted = []
    for candidate in ((None,) + tuple(shape[1:]), (None,) + tuple(shape)):
        try:
            layer._impl.output_shape(candidate)
            accepted.append(len(candidate))
        except (_core.ShapeError, _core.ConfigError):
            pass
    return accepted[0] if len(accepted) == 1 else None


def array_call(layer, x, training=False):
    """Wolfram's ``layer[x]``: the layer on one sample or on a batch (by batch_rank), built on first use for x's
    shape and dtype, in inference mode unless training=True. A parameter-free layer rebuilds for a new sample shape
    or dtype; a layer with parameters reads x in its own dtype."""
    if isinstance(x, (list, tuple)) and layer._impl.arity[1] != 1:  # a merge layer's inputs: batches
        if not layer._impl.built:
            layer.build([(None,) + tuple(np.shape(a))[1:] for a in x], dtype=dtype_name(x[0]))
        return layer._impl.forward(list(x), training)
    if not isinstance(x, bf16) and dtype_name(x) == "float32":
        x = np.asarray(x)  # a list: the array NumPy makes of it (Python floats: float64)
    shape = tuple(np.shape(x))
    rank = batch_rank(layer, shape)
    if rank is not None and len(shape) not in (rank, rank - 1):
        raise _core.ShapeError(f"{layer.name}: the input must have rank {rank} (a batch) or {rank - 1} (one sample), "
                               f"got shape {shape}")
    single = rank is not None and len(shape) == rank - 1
    batch = x.reshape((1,) + shape) if single else x
    sample, dtype = tuple(np.shape(batch))[1:], dtype_name(batch)
    impl = layer._impl
    if impl.built and (tuple(impl.input_shape)[1:] != sample or impl.dtype != dtype_name_short(dtype)):
        if not impl.params() and not impl.buffers():
            impl.build((None,) + sample, take_seed(), dtype)
        elif not isinstance(batch, bf16):
            batch = np.asarray(batch, np.float64 if impl.dtype == "f64" else np.float32)
    layer._ensure_built(batch)
    y = impl.forward(batch, training)
    return y[0] if single else y


def dtype_name_short(name):
    return {"float32": "f32", "float64": "f64", "bfloat16": "bf16", "float16": "f16"}[name]


def _missing(name):
    def fail(*args, **kwargs):
        raise NotImplementedError(f"locnet: {name} is not available")
    return fail


# symbolic_call(layer, x): Keras functional API (_model.py); array_call(layer, x): Wolfram-style call on an array
# (above); compose(a, b): neupy's >> (_model.py).
hooks = {"symbolic_call": _missing("the functional API"), "array_call": array_call,
         "compose": _missing("composition with >>")}
