"""The base of the generated layer classes: a layer made through the catalog, usable on its own (numpy-ml's
forward/backward/update, Wolfram's call on an array) or as part of a model (Keras, neupy).

A layer object owns a C++ layer until a model takes it; from then on it is a view of the model's copy, so
``model.layers[0].get_weights()`` and the layer object the user kept agree.
"""
import numpy as np

from . import _core

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
            dtype = "float64" if getattr(x, "dtype", None) == np.float64 else "float32"
            self.build((None,) + tuple(np.shape(x))[1:], dtype=dtype)

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


def _missing(name):
    def fail(*args, **kwargs):
        raise NotImplementedError(f"locnet: {name} is not available")
    return fail


# symbolic_call(layer, x): Keras functional API (_model.py); array_call(layer, x): Wolfram-style call on an array
# (_layer.py's users); compose(a, b): neupy's >> (_model.py).
hooks = {"symbolic_call": _missing("the functional API"), "array_call": _missing("calling a layer on an array"),
         "compose": _missing("composition with >>")}
