"""Reference statistics for adapt() (tests/train/test_augment.cpp), written by NumPy (real NumPy output).

Run from the repository root with Debian's interpreter (it has numpy):
    /usr/bin/python3 tests/conformance/normalization_numpy/generate.py
x.npy: 19 samples (5, 3, 2) in float64 with per-channel offsets and scales far from 0 and 1 (a test of the
numerical stability of the streaming pass); mean.npy, var.npy: np.mean and np.var (biased, as Keras's adapt) over
every axis but the last; x_cf_mean.npy, x_cf_var.npy: the same with axis=1 as the feature axis.
"""
import os

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(32)
x = rng.normal(size=(19, 5, 3, 2)) * np.array([0.5, 30.0]) + np.array([1000.0, -7.0])
np.save(os.path.join(here, "x.npy"), x)
np.save(os.path.join(here, "mean.npy"), x.mean(axis=(0, 1, 2)))
np.save(os.path.join(here, "var.npy"), x.var(axis=(0, 1, 2)))
np.save(os.path.join(here, "x_cf_mean.npy"), x.mean(axis=(0, 2, 3)))
np.save(os.path.join(here, "x_cf_var.npy"), x.var(axis=(0, 2, 3)))
