"""Writes the small synthetic HDF5 files of tests/io/test_hdf5.cpp (not written by Keras: h5py, in the shapes and
types Keras uses for attributes and weights, plus the cases a reader must refuse).

Run from the repository root with Debian's python3-h5py:  /usr/bin/python3 tests/io/hdf5/generate.py
"""
import os

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))

with h5py.File(os.path.join(here, "small.h5"), "w") as f:
    f.attrs["vlen"] = "a variable-length string"  # h5py writes a Python str as a variable-length string
    f.attrs["fixed"] = np.bytes_(b"fixed")  # and bytes as a fixed-length one
    f.attrs["names"] = np.array([b"dense_1", b"bn"], dtype="S7")  # like Keras's layer_names
    f.attrs["vlen_names"] = np.array(["x", "yz"], dtype=h5py.string_dtype())
    f.attrs["empty"] = np.zeros((0,), dtype=np.float64)  # h5py's empty weight_names
    f.attrs["number"] = np.int32(3)
    g = f.create_group("model_weights")
    g.create_group("b_layer")
    d = g.create_group("a_layer").create_group("a_layer")
    d["kernel:0"] = np.arange(6, dtype=np.float32).reshape(2, 3)
    d["bias:0"] = np.array([0.5, -1.25], dtype=np.float64)
    g["scalar"] = np.float32(2.5)
    g["ints"] = np.arange(4, dtype=np.int32)
    g["empty"] = np.zeros((0, 3), dtype=np.float32)
    g["big_endian"] = np.array([1.5, 2.5], dtype=">f4")

with open(os.path.join(here, "small.h5"), "rb") as f:
    data = f.read()
with open(os.path.join(here, "truncated.h5"), "wb") as f:
    f.write(data[: len(data) // 3])
