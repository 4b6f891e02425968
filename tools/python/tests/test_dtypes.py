"""The array rules of docs/python-layers.md#arrays (tools/python/convert.cpp): zero-copy for every C-contiguous,
element-aligned float32/float64/float16/bfloat16 input, the conversions of everything else, bf16 through
``locnet.bf16`` (and ml_dtypes when installed), f16 as NumPy's float16, and the GIL released during compute.

Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest tools/python/tests
References: SYNTHETIC (NumPy's own conversions, and the f32 result of the same layer).
"""
import threading
import time
import unittest

import numpy as np

import locnet

try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None


def at_offset(shape, dtype, offset):
    """A C-contiguous array whose data starts `offset` bytes past a 64-byte boundary."""
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.zeros(n + 128, np.uint8)
    start = -raw.ctypes.data % 64 + offset
    return raw[start:start + n].view(dtype).reshape(shape)


class ZeroCopy(unittest.TestCase):
    def test_every_element_aligned_contiguous_float_array_is_borrowed(self):
        for dtype in (np.float32, np.float64, np.float16):
            size = np.dtype(dtype).itemsize
            for offset in (0, size, 16, 64 - size):
                x = at_offset((3, 5), dtype, offset)
                x[:] = np.arange(15).reshape(3, 5)
                y = locnet._core._roundtrip(x)
                self.assertEqual(y.dtype, dtype)
                self.assertTrue(np.shares_memory(x, y), f"{np.dtype(dtype)} at +{offset} bytes was copied")
                np.testing.assert_array_equal(y, x)

    def test_a_layer_reads_an_unaligned_input_in_place(self):
        x = at_offset((2, 4, 4, 6), np.float32, 4)
        x[:] = np.random.default_rng(0).standard_normal(x.shape)
        lrn = locnet.LocalResponseNorm()
        np.testing.assert_array_equal(lrn(x), lrn(np.array(x)))

    def test_misaligned_strided_and_swapped_arrays_are_copied_in_their_precision(self):
        raw = np.zeros(40, np.uint8)
        odd = raw[1:33].view(np.float64)  # not 8-byte aligned: NumPy copies it first
        odd[:] = np.arange(4)
        y = locnet._core._roundtrip(odd)
        self.assertEqual(y.dtype, np.float64)
        self.assertFalse(np.shares_memory(odd, y))
        np.testing.assert_array_equal(y, odd)
        strided = np.arange(8, dtype=np.float16)[::2]
        y = locnet._core._roundtrip(strided)
        self.assertEqual(y.dtype, np.float16)
        np.testing.assert_array_equal(y, strided)
        swapped = np.arange(3, dtype=np.dtype(">f8") if np.little_endian else np.dtype("<f8")) + 0.1
        y = locnet._core._roundtrip(swapped)
        self.assertEqual(y.dtype, np.float64)
        np.testing.assert_array_equal(y, swapped)

    def test_other_dtypes_become_float32(self):
        for dtype in (np.int64, np.uint8, np.bool_):
            y = locnet._core._roundtrip(np.ones(3, dtype))
            self.assertEqual(y.dtype, np.float32)
            np.testing.assert_array_equal(y, 1)


class HalfPrecision(unittest.TestCase):
    def test_bf16_wraps_uint16_bits_without_a_copy(self):
        bits = np.array([0x3F80, 0x4000, 0xC040], np.uint16)  # 1, 2, -3
        x = locnet.bf16(bits)
        np.testing.assert_array_equal(np.asarray(x), [1, 2, -3])
        y = locnet._core._roundtrip(x)
        self.assertIsInstance(y, locnet.bf16)
        self.assertTrue(np.shares_memory(y.bits, bits))
        with self.assertRaisesRegex(TypeError, "uint16 bit patterns, got an array of float32"):
            locnet.bf16(np.ones(2, np.float32))

    def test_bf16_from_float_rounds_to_nearest_even(self):
        x = locnet.bf16.from_float([1.0, 1.00390625, 1.01171875])  # halfway cases: to even
        np.testing.assert_array_equal(np.asarray(x), [1.0, 1.0, 1.015625])

    def test_parameter_free_layers_compute_in_bf16_and_f16(self):
        x = np.random.default_rng(1).standard_normal((2, 3, 3, 8)).astype(np.float32)
        want = locnet.LocalResponseNorm.tensorflow()(x)
        y16 = locnet.LocalResponseNorm.tensorflow()(x.astype(np.float16))
        self.assertEqual(y16.dtype, np.float16)
        np.testing.assert_allclose(y16.astype(np.float32), want, rtol=2e-3, atol=2e-3)
        ybf = locnet.LocalResponseNorm.tensorflow()(locnet.bf16.from_float(x))
        self.assertIsInstance(ybf, locnet.bf16)
        self.assertEqual(ybf.shape, x.shape)
        np.testing.assert_allclose(np.asarray(ybf), want, rtol=2e-2, atol=2e-2)
        np.testing.assert_array_equal(np.asarray(ybf), np.asarray(locnet.bf16.from_float(np.asarray(ybf))))

    def test_layers_with_parameters_refuse_half_precision(self):
        with self.assertRaisesRegex(locnet.NotSupported, "f32 or f64"):
            locnet.Dense(2)(np.ones((1, 3), np.float16))

    @unittest.skipIf(ml_dtypes is None, "ml_dtypes is not installed")
    def test_ml_dtypes_bfloat16_is_read_as_bf16(self):
        x = np.array([1.0, 2.0], ml_dtypes.bfloat16)
        y = locnet._core._roundtrip(x)
        self.assertTrue(np.shares_memory(y.bits, x))
        np.testing.assert_array_equal(np.asarray(y), [1.0, 2.0])


class Gil(unittest.TestCase):
    def test_a_second_thread_runs_during_a_long_forward(self):
        lc = locnet.LocallyConnected2D(64, (5, 5))  # 7.5 GMAC below: 0.1 to 0.3 s on one or two cores
        x = np.random.default_rng(2).standard_normal((8, 16, 16, 32)).astype(np.float32)
        lc(x)  # builds
        big = np.repeat(x, 128, axis=0)
        count, done = [0], threading.Event()

        def counter():
            while not done.is_set():
                count[0] += 1
                time.sleep(0.001)

        thread = threading.Thread(target=counter)
        thread.start()
        time.sleep(0.01)
        start_count, start = count[0], time.perf_counter()
        lc(big)
        seconds, progress = time.perf_counter() - start, count[0] - start_count
        done.set()
        thread.join()
        # Holding the GIL, the forward would let the counter move at most once or twice.
        self.assertGreaterEqual(progress, 5, f"the counter moved {progress} times in a {seconds:.2f} s forward")


if __name__ == "__main__":
    unittest.main()
