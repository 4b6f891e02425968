"""locnet's layers as torch.nn.Modules (docs/python-torch.md): LocallyConnected1d/2d, LocalResponseNorm and
BatchNorm1d/2d/3d in any of the catalog's conventions, computed by locnet's kernels inside PyTorch's autograd.

``import locnet`` never imports torch; ``import locnet.torch`` does. The modules run on CPU tensors of float32 or
float64 (NCHW, as PyTorch). Their parameters and buffers share storage with the locnet layer's, so a torch
optimizer, ``load_state_dict`` or an in-place edit changes what locnet computes with, without a copy.
"""
import math

import numpy as np
import torch
from torch.nn.parameter import UninitializedParameter

from . import _core, classes
from ._layer import take_seed

# locnet's parameter and buffer names -> PyTorch's (state_dict keys as torch.nn.BatchNorm2d writes them).
TORCH_NAMES = {"kernel": "weight", "gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
               "moving_variance": "running_var"}


def _layer_class(family, convention):
    """The generated locnet class of `family` for a convention: a short name ("pytorch", "caffe"; "neupy" or
    "numpy-ml" for the plain type) or a catalog type name ("LocalResponseNorm.caffe")."""
    known = {name: cls for name, cls in classes().items() if name.split(".")[0] == family}
    for name in (convention, f"{family}.{convention}"):
        if name in known:
            return known[name]
    if convention in ("neupy", "numpy-ml", "numpy_ml"):  # the conventions of the plain type names
        return known[family]
    raise ValueError(f"locnet.torch: unknown {family} convention '{convention}'; expected one of "
                     + ", ".join(sorted(known)))


LOCNET_DTYPES = {torch.float32: "f32", torch.float64: "f64"}


def _check(t):
    if t.device.type != "cpu":
        raise RuntimeError(f"locnet.torch: locnet runs on the CPU, got a tensor on '{t.device}'; move it with .cpu()")
    if t.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"locnet.torch: expected a float32 or float64 tensor, got {t.dtype}")


def _as_numpy(t):
    _check(t)
    return t.detach().contiguous().numpy()  # shares memory when already contiguous


class _Apply(torch.autograd.Function):
    """y = layer(x) by locnet's forward; backward by locnet's backward (dx and the parameter gradients)."""

    @staticmethod
    def forward(ctx, module, training, x, *params):
        y = torch.from_numpy(module.layer._impl.forward(_as_numpy(x), training))
        ctx.module, ctx.training, ctx.token = module, training, module._token
        ctx.save_for_backward(x, y)  # torch then refuses in-place changes of either before backward
        return y

    @staticmethod
    def backward(ctx, dy):
        module = ctx.module
        if not ctx.training:
            raise RuntimeError(f"locnet.torch.{type(module).__name__}: no gradients through eval() mode (locnet's "
                               "backward follows a training-mode forward); use train() mode or torch.no_grad()")
        x, _ = ctx.saved_tensors
        impl = module.layer._impl
        if module._token != ctx.token:  # another forward ran since (gradcheck, two calls): redo this one
            module._replay(x)
            ctx.token = module._token
        impl.zero_grad()  # locnet's gradients accumulate; torch accumulates the copies returned below
        dx = torch.from_numpy(impl.backward(_as_numpy(dy)))
        grads = [torch.from_numpy(g).clone() for _, _, g, _ in impl.params()]
        return (None, None, dx, *grads)


class LocnetModule(torch.nn.Module):
    """A torch.nn.Module over one locnet layer (``self.layer``, a locnet.Layer)."""

    _fixed_input = False  # True: the parameters depend on the input size, which may not change after building

    def __init__(self, layer, dtype=None):
        super().__init__()
        self.layer = layer
        self._dtype = dtype or torch.get_default_dtype()
        self._token = 0

    # -- building and binding ------------------------------------------------------------------------------------
    def _locnet_names(self):
        impl = self.layer._impl
        return [n for n, *_ in impl.params()], [n for n, *_ in impl.buffers()]

    def _bind(self):
        """Points every torch parameter and buffer at the locnet layer's storage (registering them the first
        time, materializing lazy ones); parameter objects are kept, so optimizers keep working."""
        impl = self.layer._impl
        for name, value, _, trainable in impl.params():
            t, data = TORCH_NAMES.get(name, name), torch.from_numpy(value)
            p = self._parameters.get(t)
            if p is None:
                self.register_parameter(t, torch.nn.Parameter(data, requires_grad=trainable))
                continue
            if isinstance(p, UninitializedParameter):
                p.materialize(data.shape, dtype=data.dtype)
            p.data = data
        for name, value, _, _ in impl.buffers():
            self.register_buffer(TORCH_NAMES.get(name, name), torch.from_numpy(value))

    def _torch_tensor(self, locnet_name):
        t = TORCH_NAMES.get(locnet_name, locnet_name)
        return self._parameters[t] if t in self._parameters else self._buffers.get(t)

    def _rebuild(self, shape, dtype):
        """Builds a fresh locnet layer for `shape` (batch first) and `dtype`, carrying over the values of the
        torch tensors that exist (none at the first build)."""
        self.layer = type(self.layer).from_config(self.layer.get_config())
        self.layer._impl.build((None,) + tuple(shape[1:]), take_seed(), LOCNET_DTYPES[dtype])
        for name in sum(self._locnet_names(), []):
            t = self._torch_tensor(name)
            if t is not None and not isinstance(t, UninitializedParameter):
                self.layer._impl.assign(name, t.detach().cpu().numpy())
        self._bind()

    # Pickling and copy.deepcopy (torch.save(module)): the locnet layer travels as its config and input shape.
    def __getstate__(self):
        state = self.__dict__.copy()
        impl = self.layer._impl
        state["layer"] = (type(self.layer), self.layer.get_config(), impl.input_shape if impl.built else None)
        return state

    def __setstate__(self, state):
        cls, config, shape = state.pop("layer")
        self.__dict__.update(state)
        self.layer = cls.from_config(config)
        if shape is not None:
            self._rebuild(shape, self._dtype)

    def _shares_storage(self):
        impl = self.layer._impl
        pairs = [(n, v) for n, v, *_ in impl.params()] + [(n, v) for n, v, *_ in impl.buffers()]
        return all(self._torch_tensor(n).data_ptr() == v.ctypes.data for n, v in pairs)

    def _apply(self, fn):
        """.double(), .float(), .to(...): torch converts the tensors; locnet's layer follows them."""
        super()._apply(fn)
        tensors = list(self._parameters.values()) + list(self._buffers.values())
        materialized = [t for t in tensors if t is not None and not isinstance(t, UninitializedParameter)]
        for t in materialized:
            _check(t)  # a clear error for CUDA
        if materialized and self.layer.built:
            self._dtype = materialized[0].dtype
            if not self._shares_storage():
                self._rebuild(self.layer._impl.input_shape, self._dtype)
        elif materialized == [] and tensors:
            self._dtype = next(t for t in tensors if t is not None).dtype
        return self

    def _prepare(self, x):
        """Builds or rebuilds the layer for x's shape and dtype; adopts parameters torch replaced."""
        impl = self.layer._impl
        if impl.built and tuple(impl.input_shape[1:]) == tuple(x.shape[1:]) and impl.dtype == LOCNET_DTYPES[x.dtype]:
            if not self._shares_storage():  # param.data = ... or the like: copy the values in and share again
                self._rebuild(x.shape, x.dtype)
            return
        if impl.built and LOCNET_DTYPES[x.dtype] != impl.dtype and any(self._locnet_names()):
            raise TypeError(f"locnet.torch.{type(self).__name__}: the input is {x.dtype} but the module is "
                            f"{impl.dtype}; convert one (module.double(), x.float())")
        if impl.built and self._fixed_input:
            raise _core.ShapeError(f"locnet.torch.{type(self).__name__}: input shape must be (N, "
                                   f"{', '.join(map(str, impl.input_shape[1:]))}) (as built), got {tuple(x.shape)}")
        fresh = not impl.built
        self._rebuild(x.shape, x.dtype)
        if fresh:
            self.reset_parameters()

    def reset_parameters(self):
        """The layer's own initialization (locnet's initializers); LocallyConnected overrides it with PyTorch's."""

    def _replay(self, x):
        """Re-runs the training forward on x so backward has its cache; the buffers (running statistics) keep
        the values they had, as the forward being replayed already updated them."""
        saved = [np.array(v) for _, v, *_ in self.layer._impl.buffers()]
        self.layer._impl.forward(_as_numpy(x), True)
        for (_, v, *_), s in zip(self.layer._impl.buffers(), saved):
            v[...] = s
        self._token += 1

    def _mode(self, needs_grad):
        """locnet's training mode: needed for backward; otherwise the faster inference path."""
        return needs_grad

    def forward(self, x):
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(x)
        _check(x)
        self._prepare(x)
        params = [self._torch_tensor(n) for n in self._locnet_names()[0]]
        needs_grad = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in params))
        self._token += 1
        return _Apply.apply(self, self._mode(needs_grad), x, *params)

    def extra_repr(self):
        return self.layer.spec()


def _pytorch_padding(padding, kernel, dilation):
    """PyTorch's padding argument as locnet's: ints are symmetric zeros per axis; 'same' pads (e - 1) // 2
    before and the rest after (e = dilated extent), as torch.nn.Conv2d does; 'valid', 'causal' and explicit
    ((before, after), ...) pairs pass through."""
    if padding == "same":
        return tuple(((e - 1) // 2, e - 1 - (e - 1) // 2) for e in ((k - 1) * d + 1 for k, d in zip(kernel, dilation)))
    if isinstance(padding, str) or (isinstance(padding, (tuple, list)) and any(isinstance(p, (tuple, list)) for p in padding)):
        return padding
    return tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * len(kernel)


class _LocallyConnected(LocnetModule):
    _fixed_input = True
    _rank = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True,
                 input_size=None, activation=None, dtype=None):
        per_axis = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,) * self._rank
        kernel, stride, dilation = per_axis(kernel_size), per_axis(stride), per_axis(dilation)
        pad = _pytorch_padding(padding, kernel, dilation)
        if self._rank == 1 and isinstance(pad, tuple) and len(pad) == 1:
            pad = pad[0]
        cls = classes()[f"LocallyConnected{self._rank}D"]
        super().__init__(cls(out_channels, kernel, strides=stride, padding=pad, dilation_rate=dilation,
                             use_bias=bias, activation=activation, data_format="channels_first"), dtype)
        self.in_channels, self.out_channels = in_channels, out_channels
        names = ("weight", "bias") if bias else ("weight",)
        if input_size is None:  # lazy: the first input gives the size; optimizers may take the parameters before
            for n in names:
                self.register_parameter(n, UninitializedParameter())
        else:
            size = tuple(input_size) if isinstance(input_size, (tuple, list)) else (input_size,)
            self._rebuild((None, in_channels) + size, self._dtype)
            self.reset_parameters()

    def _prepare(self, x):
        if x.dim() != self._rank + 2 or x.shape[1] != self.in_channels:
            raise _core.ShapeError(f"locnet.torch.{type(self).__name__}: input must be (N, {self.in_channels}, "
                                   f"{'H, W' if self._rank == 2 else 'L'}), got {tuple(x.shape)}")
        super()._prepare(x)

    def reset_parameters(self):
        """PyTorch's Conv default: U(-b, b) with b = 1/sqrt(fan_in), fan_in = in_channels * kernel area, from
        torch's generator (torch.manual_seed makes it reproducible)."""
        if not self.layer.built:
            return
        bound = 1 / math.sqrt(self.weight.shape[1])  # weight (P, C*kh*kw, F)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-bound, bound)


class LocallyConnected2d(_LocallyConnected):
    """A Conv2d whose filters differ at every output position (Keras's LocallyConnected2D on NCHW).

    LocallyConnected2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True,
    input_size=None, activation=None, dtype=None). input_size=(H, W) builds the weights now; None builds them
    at the first forward. weight: (OH*OW, in_channels*kh*kw, out_channels) with rows in (c, dy, dx) order;
    bias: out_channels*OH*OW values (shape (OH, OW, out_channels), read flat as (out_channels, OH, OW))."""
    _rank = 2


class LocallyConnected1d(_LocallyConnected):
    """LocallyConnected2d's one-axis form on (N, C, L); input_size=L. padding also takes 'causal'."""
    _rank = 1


class LocalResponseNorm(LocnetModule):
    """LocalResponseNorm(*args, convention="pytorch", **kwargs): the catalog's LocalResponseNorm of that
    convention with its own arguments (pytorch: size, alpha=1e-4, beta=0.75, k=1, as torch.nn.LocalResponseNorm);
    channels_first unless data_format says otherwise."""

    def __init__(self, *args, convention="pytorch", dtype=None, **kwargs):
        cls = _layer_class("LocalResponseNorm", convention)
        kwargs.setdefault("data_format", "channels_first")
        super().__init__(cls(*args, **kwargs), dtype)


class _BatchNorm(LocnetModule):
    _rank = 4

    def __init__(self, num_features, *args, convention="pytorch", dtype=None, **kwargs):
        cls = _layer_class(f"BatchNorm{self._rank - 2 or 1}D", convention)
        if "axis" in cls.options:  # Keras: the channel axis
            kwargs.setdefault("axis", 1 if kwargs.get("data_format", "channels_first") == "channels_first" else -1)
        else:
            kwargs.setdefault("data_format", "channels_first")
        if "num_features" in cls.options:
            args = (num_features,) + args
        super().__init__(cls(*args, **kwargs), dtype)
        self.num_features = num_features
        # Parameters now (as PyTorch): built on a one-pixel input; the first input rebuilds with its shape.
        probe = [1] * self._rank
        first = kwargs.get("axis", 1) if "axis" in cls.options else (1 if kwargs["data_format"] == "channels_first" else -1)
        probe[first] = num_features
        self._rebuild([None] + probe[1:], self._dtype)

    def _mode(self, needs_grad):
        return self.training

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # PyTorch writes num_batches_tracked as an int64 scalar; locnet keeps it as a float of shape (1,).
        key = prefix + "num_batches_tracked"
        if key in state_dict and "num_batches_tracked" in self._buffers:
            state_dict[key] = state_dict[key].reshape(1).to(self._buffers["num_batches_tracked"].dtype)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class BatchNorm1d(_BatchNorm):
    """BatchNorm1d(num_features, *args, convention="pytorch", **kwargs) on (N, C) or (N, C, L): the catalog's
    BatchNorm1D of that convention (pytorch: eps=1e-5, momentum=0.1, affine=True, track_running_stats=True).
    train()/eval() select batch or running statistics; running statistics are buffers."""
    _rank = 2


class BatchNorm2d(_BatchNorm):
    """BatchNorm1d's form on (N, C, H, W)."""
    _rank = 4


class BatchNorm3d(_BatchNorm):
    """BatchNorm1d's form on (N, C, D, H, W)."""
    _rank = 5
