#!/usr/bin/python3
"""Writes the small array files tests/train/test_sources.cpp reads: real NumPy output (np.save, np.savez,
np.savez_compressed), so the readers are checked against the files NumPy itself writes.

x values are i * 0.5 - 3 (float dtypes) or i % 7 (integer dtypes), i the flat element index; labels are i % 3.
  x_<dtype>.npy  (4, 3) of each dtype NumPy writes for numbers; y_int64.npy (4,) labels; y_float32.npy (4, 2)
  arrays.npz             np.savez(x=..., y=...)                          (stored members)
  keras.npz              np.savez_compressed(x_train, y_train, x_test, y_test)  (deflated; Keras's mnist.npz names)
  other_names.npz        np.savez(features=..., labels=...)              (no x/y: the first two arrays)
Run: /usr/bin/python3 tests/train/sources/generate.py
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
          "uint64", "bool"]


def x_of(dtype, shape=(4, 3)):
    i = np.arange(np.prod(shape)).reshape(shape)
    return (i * 0.5 - 3).astype(dtype) if np.dtype(dtype).kind == "f" else (i % 7).astype(dtype)


def main():
    for d in DTYPES:
        np.save(os.path.join(HERE, f"x_{d}.npy"), x_of(d))
    y = np.arange(4) % 3
    np.save(os.path.join(HERE, "y_int64.npy"), y.astype(np.int64))
    np.save(os.path.join(HERE, "y_float32.npy"), x_of("float32", (4, 2)))
    np.savez(os.path.join(HERE, "arrays.npz"), x=x_of("float32"), y=y.astype(np.uint8))
    np.savez_compressed(os.path.join(HERE, "keras.npz"), x_train=x_of("uint8", (5, 2, 2)),
                        y_train=(np.arange(5) % 3).astype(np.uint8), x_test=x_of("uint8", (2, 2, 2)),
                        y_test=np.array([1, 0], np.uint8))
    np.savez(os.path.join(HERE, "other_names.npz"), features=x_of("float64"), labels=y.astype(np.int32))


if __name__ == "__main__":
    main()
