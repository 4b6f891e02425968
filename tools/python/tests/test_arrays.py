"""Tests of the array conversions and files of locnet._core (tools/python/convert.cpp, bind_model.cpp).

Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest tools/python/tests
The Keras reference (tests/interop/keras3/sequential_*.npy) is SYNTHETIC: NumPy computations of Keras's documented
semantics (tests/interop/keras3/generate.py), the same data the C++ import tests use.
"""
import os
import unittest

import numpy as np

import locnet

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
KERAS3 = os.path.join(ROOT, "tests", "interop", "keras3")


def aligned(shape, dtype):
    """A C-contiguous array whose data starts on a 64-byte boundary (what the module borrows without a copy)."""
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.zeros(n + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start:start + n].view(dtype).reshape(shape)


class Conversion(unittest.TestCase):
    def test_aligned_contiguous_input_is_borrowed_and_output_is_a_view(self):
        for dtype in (np.float32, np.float64):
            x = aligned((2, 3), dtype)
            x[:] = np.arange(6).reshape(2, 3)
            y = locnet._core._roundtrip(x)
            self.assertEqual(y.dtype, dtype)
            self.assertTrue(np.shares_memory(x, y))
            np.testing.assert_array_equal(y, x)

    def test_strided_and_other_dtypes_are_converted(self):
        x = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2]
        y = locnet._core._roundtrip(x)
        self.assertFalse(np.shares_memory(x, y))
        np.testing.assert_array_equal(y, x)
        z = locnet._core._roundtrip(np.arange(4, dtype=np.int32))
        self.assertEqual(z.dtype, np.float32)
        np.testing.assert_array_equal(z, [0, 1, 2, 3])
        swapped = aligned((3,), np.dtype(">f4") if np.little_endian else np.dtype("<f4"))
        swapped[:] = [1.5, 2.5, 3.5]
        np.testing.assert_array_equal(locnet._core._roundtrip(swapped), [1.5, 2.5, 3.5])

    def test_output_view_outlives_the_input(self):
        x = aligned((2, 2), np.float32)
        x[:] = 3
        y = locnet._core._roundtrip(x)
        del x
        np.testing.assert_array_equal(y, np.full((2, 2), 3, np.float32))


class Models(unittest.TestCase):
    def test_spec_model_predicts_and_summarizes(self):
        m = locnet.model_from_spec('Input((4,)) >> Dense(3, name="fc")')
        y = m.predict(np.ones((2, 4), np.float32))
        self.assertEqual(y.shape, (2, 3))
        self.assertIn("fc", m.summary())

    def test_load_model_matches_the_cpp_import(self):
        m = locnet.load_model(os.path.join(KERAS3, "sequential.keras"))
        x = np.load(os.path.join(KERAS3, "sequential_x.npy")).astype(np.float32)
        want = np.load(os.path.join(KERAS3, "sequential_y.npy"))
        np.testing.assert_allclose(m.predict(x), want, rtol=1e-5, atol=1e-5)


class Errors(unittest.TestCase):
    def test_config_error_is_a_value_error_with_the_cpp_message(self):
        with self.assertRaises(locnet.ConfigError) as e:
            locnet.model_from_spec("NoSuchLayer(3)")
        self.assertIsInstance(e.exception, ValueError)
        self.assertIn("NoSuchLayer", str(e.exception))

    def test_shape_error_is_a_value_error(self):
        m = locnet.model_from_spec("Input((4,)) >> Dense(3)")
        with self.assertRaises(locnet.ShapeError) as e:
            m.predict(np.ones((2, 5), np.float32))
        self.assertIsInstance(e.exception, ValueError)

    def test_format_error_is_an_os_error_naming_the_file(self):
        with self.assertRaises(locnet.FormatError) as e:
            locnet.load_model(os.path.join(KERAS3, "not_hdf5.keras"))
        self.assertIsInstance(e.exception, OSError)
        self.assertIn("not_hdf5.keras: model.weights.h5: not an HDF5 file", str(e.exception))

    def test_not_supported_is_a_not_implemented_error(self):
        self.assertTrue(issubclass(locnet.NotSupported, NotImplementedError))


if __name__ == "__main__":
    unittest.main()
