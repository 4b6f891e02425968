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

# Corrupt variable-length strings (the values Keras keeps in model_config): HDF5 1.10.8 itself fails on each inside
# H5Aread, so locnet reads them in a child process (include/locnet/io/hdf5.hpp). The 16 bytes of the attribute's
# data are (u32 length, u64 global heap address, u32 object index); one field is overwritten in each copy:
#   vlen_heap_index.h5   object index 0x10000: H5HG_read indexes past its object table (a segmentation fault)
#   vlen_length_short.h5 length 1 for a 100-byte heap object: H5HG_read copies 100 bytes into a 1-byte buffer
#   vlen_length_huge.h5  length 2^31 - 1: H5Aread allocates and converts gigabytes (minutes, in the process)
import struct

vlen = os.path.join(here, "vlen_ok.h5")
with h5py.File(vlen, "w") as f:
    f.attrs["model_config"] = "x" * 100
with open(vlen, "rb") as f:
    data = f.read()
os.remove(vlen)
at = data.find(struct.pack("<IQI", 100, data.find(b"GCOL"), 1))
assert at > 0
for name, offset, value in [("vlen_heap_index.h5", 12, 0x10000), ("vlen_length_short.h5", 0, 1),
                            ("vlen_length_huge.h5", 0, 0x7FFFFFFF)]:
    with open(os.path.join(here, name), "wb") as f:
        f.write(data[:at + offset] + struct.pack("<I", value) + data[at + offset + 4:])
