"""Arrays that NumPy has no dtype for: bfloat16 as its uint16 bit patterns (docs/python-layers.md#arrays).

``locnet.bf16(bits)`` marks a uint16 array as bfloat16, so layers read it as bf16 without a copy; bf16 results come
back the same way. ml_dtypes' ``bfloat16`` arrays, where that package is installed, are read directly.
"""
import numpy as np

from . import _core


class bf16:
    """A uint16 array holding bfloat16 bit patterns (the upper half of float32's): ``locnet.bf16(bits)``.

    ``bits`` is the array itself (no copy); ``np.asarray(x)`` or ``x.astype(np.float32)`` gives the values as
    float32, exactly. ``bf16.from_float(a)`` rounds float values to bfloat16 (to nearest even, as locnet does)."""

    __slots__ = ("bits",)

    def __init__(self, bits):
        bits = np.asarray(bits)
        if bits.dtype != np.uint16:
            raise TypeError(f"locnet.bf16 holds uint16 bit patterns, got an array of {bits.dtype}")
        self.bits = bits

    @property
    def _locnet_bf16_bits(self):  # what the extension reads (tools/python/convert.cpp)
        return self.bits

    @classmethod
    def from_float(cls, values):
        return cls(_core._roundtrip(np.asarray(values, np.float32), "bf16").bits)

    @property
    def shape(self):
        return self.bits.shape

    @property
    def ndim(self):
        return self.bits.ndim

    dtype = "bfloat16"

    def astype(self, dtype):
        return (self.bits.astype(np.uint32) << 16).view(np.float32).astype(dtype, copy=False)

    def __array__(self, dtype=None, copy=None):
        return self.astype(dtype or np.float32)

    def reshape(self, *shape):
        return bf16(self.bits.reshape(*shape))

    def __getitem__(self, index):
        return bf16(self.bits[index])

    def __len__(self):
        return len(self.bits)

    def __repr__(self):
        return f"locnet.bf16({self.astype(np.float32)!r})"
