"""Standalone layers from Python (tools/python/locnet/_layer.py, docs/python-layers.md): numpy-ml's layer API
(forward, backward, update, freeze, hyperparameters, parameters, gradients, set_params) and Wolfram's call on an
array, batched or one sample.

Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest tools/python/tests
References: the expected values are SYNTHETIC (NumPy formulas of numpy-ml's BatchNorm and SGD, docs/batch_norm.md,
and of Wolfram's LRN, docs/lrn.md) and the C++ layers themselves.
"""
import contextlib
import io
import os
import runpy
import unittest

import numpy as np

import locnet

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "examples", "python")


def numpy_ml_batchnorm(x, scaler, intercept, epsilon):
    """numpy-ml's BatchNorm2D forward on an NHWC batch (batch statistics, biased variance)."""
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    return scaler * (x - mean) / np.sqrt(var + epsilon) + intercept


class NumpyMl(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((4, 3, 3, 2))
        self.dy = rng.standard_normal((4, 3, 3, 2))

    def test_the_pages_usage_forward_backward_update(self):
        bn = locnet.BatchNorm2D(momentum=0.9, epsilon=1e-5, optimizer="SGD(lr=0.01)")
        y = bn.forward(self.x)
        self.assertEqual(y.dtype, np.float64)  # built in the input's dtype
        p = {k: np.array(v) for k, v in bn.parameters.items()}
        self.assertEqual(set(p), {"scaler", "intercept", "running_mean", "running_var"})
        np.testing.assert_allclose(y, numpy_ml_batchnorm(self.x, p["scaler"], p["intercept"], 1e-5), atol=1e-12)
        # numpy-ml's running update: momentum * old + (1 - momentum) * batch statistic
        np.testing.assert_allclose(p["running_mean"], 0.1 * self.x.mean(axis=(0, 1, 2)), atol=1e-12)
        dx = bn.backward(self.dy)
        self.assertEqual(dx.shape, self.x.shape)
        grads = {k: np.array(v) for k, v in bn.gradients.items()}
        self.assertEqual(set(grads), {"scaler", "intercept"})
        np.testing.assert_allclose(grads["intercept"], self.dy.sum(axis=(0, 1, 2)), atol=1e-12)
        bn.update()
        after = bn.parameters
        np.testing.assert_allclose(after["scaler"], p["scaler"] - 0.01 * grads["scaler"], atol=1e-12)
        np.testing.assert_allclose(after["intercept"], p["intercept"] - 0.01 * grads["intercept"], atol=1e-12)
        for g in bn.gradients.values():  # update() flushes the gradients, as numpy-ml's does
            np.testing.assert_array_equal(g, 0)

    def test_default_optimizer_is_numpy_mls_sgd(self):
        bn = locnet.BatchNorm2D()
        self.assertEqual(bn.hyperparameters["optimizer"]["id"], "SGD")
        self.assertEqual(bn.hyperparameters["optimizer"]["learning_rate"], 0.01)
        bn.forward(self.x)
        bn.backward(self.dy)
        before, grad = np.array(bn.parameters["intercept"]), np.array(bn.gradients["intercept"])
        bn.update()
        np.testing.assert_allclose(bn.parameters["intercept"], before - 0.01 * grad, atol=1e-12)

    def test_optimizer_state_persists_across_updates(self):
        bn = locnet.BatchNorm2D(optimizer="SGD(lr=0.1, momentum=0.5)")
        bn.forward(self.x)
        velocity = np.zeros(2)
        for _ in range(3):
            bn.backward(self.dy)
            grad = np.array(bn.gradients["intercept"])
            before = np.array(bn.parameters["intercept"])
            bn.update()
            velocity = 0.5 * velocity - 0.1 * grad  # Keras's SGD momentum (docs/python-layers.md)
            np.testing.assert_allclose(bn.parameters["intercept"], before + velocity, atol=1e-12)

    def test_hyperparameters_are_numpy_mls_dict(self):
        bn = locnet.BatchNorm2D(momentum=0.9, epsilon=1e-5, optimizer="SGD(lr=0.01)")
        h = bn.hyperparameters
        self.assertEqual(h["layer"], "BatchNorm2D")
        self.assertEqual((h["momentum"], h["epsilon"]), (0.9, 1e-5))
        self.assertEqual(h["optimizer"]["id"], "SGD")
        self.assertEqual(h["optimizer"]["learning_rate"], 0.01)

    def test_freeze_uses_running_statistics_and_refuses_update(self):
        bn = locnet.BatchNorm2D()
        bn.forward(self.x)
        bn.freeze()
        self.assertFalse(bn.trainable)
        p = bn.parameters
        want = p["scaler"] * (self.x - p["running_mean"]) / np.sqrt(p["running_var"] + 1e-5) + p["intercept"]
        np.testing.assert_allclose(bn.forward(self.x), want, atol=1e-12)
        with self.assertRaisesRegex(locnet.ConfigError, "update\\(\\) needs a trainable layer, got a frozen one"):
            bn.update()
        bn.unfreeze()
        self.assertTrue(bn.trainable)

    def test_flush_gradients_and_gradients_before_backward(self):
        bn = locnet.BatchNorm2D()
        bn.forward(self.x)
        for g in bn.gradients.values():
            np.testing.assert_array_equal(g, 0)
        bn.backward(self.dy)
        self.assertTrue(np.any(bn.gradients["scaler"] != 0))
        bn.flush_gradients()
        np.testing.assert_array_equal(bn.gradients["scaler"], 0)

    def test_set_params_copies_a_summary(self):
        a, b = locnet.BatchNorm2D(), locnet.BatchNorm2D(momentum=0.5)
        a.forward(self.x)
        b.forward(self.x[:1])
        b.set_params(a.summary())
        self.assertEqual(b.hyperparameters["momentum"], 0.9)
        for k, v in a.parameters.items():
            np.testing.assert_array_equal(b.parameters[k], v)
        np.testing.assert_array_equal(b.forward(self.x, training=False), a.forward(self.x, training=False))
        b.set_params({"hyperparameters": {"optimizer": {"id": "SGD", "learning_rate": 0.5}}})
        self.assertEqual(b.hyperparameters["optimizer"]["learning_rate"], 0.5)

    def test_generic_on_every_layer_with_parameters(self):
        dense = locnet.Dense(3, optimizer="Adam(0.1)")
        x = np.ones((2, 4))
        dense.forward(x)
        dense.backward(np.ones((2, 3)))
        self.assertEqual(set(dense.gradients), {"kernel", "bias"})
        before = np.array(dense.parameters["kernel"])
        dense.update()
        np.testing.assert_allclose(dense.parameters["kernel"], before - 0.1, rtol=1e-5)  # Adam's first step: lr
        lc = locnet.LocallyConnected2D(2, (2, 2))
        lc.forward(np.ones((1, 3, 3, 1), np.float32))
        lc.backward(np.ones((1, 2, 2, 2), np.float32))
        lc.update()
        self.assertEqual(lc.hyperparameters["layer"], "LocallyConnected2D")

    def test_pytorch_convention_names_its_parameters_as_pytorch(self):
        bn = locnet.BatchNorm2D.pytorch(2)
        bn.forward(np.ones((2, 2, 3, 3)))
        self.assertEqual(set(bn.parameters), {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"})


class Wolfram(unittest.TestCase):
    def lrn(self, x, c=2, alpha=1.0, beta=0.5, bias=1.0):
        """Wolfram's LocalResponseNormalizationLayer on one (C, H, W) array: window 2c+1, divided by 2c+1."""
        sq = np.pad(x ** 2, ((c, c), (0, 0), (0, 0)))
        s = sum(sq[i:i + x.shape[0]] for i in range(2 * c + 1))
        return x / (bias + alpha / (2 * c + 1) * s) ** beta

    def test_call_on_one_unbatched_array(self):
        x = np.random.default_rng(1).standard_normal((6, 4, 5))
        lrn = locnet.LocalResponseNorm.wolfram()
        y = lrn(x)
        self.assertEqual(y.shape, x.shape)
        np.testing.assert_allclose(y, self.lrn(x), atol=1e-12)

    def test_call_on_a_batch(self):
        x = np.random.default_rng(2).standard_normal((3, 6, 4, 5))
        lrn = locnet.LocalResponseNorm.wolfram()
        y = lrn(x)
        self.assertEqual(y.shape, x.shape)
        np.testing.assert_allclose(y[1], self.lrn(x[1]), atol=1e-12)
        np.testing.assert_allclose(lrn(x[2]), self.lrn(x[2]), atol=1e-12)  # then one sample again

    def test_rank_from_the_layer_type_input_shape_and_build(self):
        lc = locnet.LocallyConnected2D(2, (2, 2))  # 2D: a sample is (H, W, C), only one reading fits
        self.assertEqual(lc(np.ones((3, 3, 1), np.float32)).shape, (2, 2, 2))
        self.assertEqual(lc(np.ones((5, 3, 3, 1), np.float32)).shape, (5, 2, 2, 2))
        dense = locnet.Dense(2, input_shape=(4,))
        self.assertEqual(dense(np.ones(4)).shape, (2,))
        act = locnet.Activation("relu")  # any rank: a batch
        self.assertEqual(act(np.ones((3, 2))).shape, (3, 2))

    def test_wrong_rank_is_a_shape_error_naming_the_expected_ranks(self):
        lc = locnet.LocallyConnected2D(2, (2, 2))
        lc(np.ones((3, 3, 1), np.float32))
        with self.assertRaisesRegex(locnet.ShapeError, r"must have rank 4 \(a batch\) or 3 \(one sample\), "
                                                       r"got shape \(3, 3\)"):
            lc(np.ones((3, 3), np.float32))

    def test_call_is_inference(self):
        bn = locnet.BatchNorm2D()
        x = np.random.default_rng(3).standard_normal((4, 3, 3, 2))
        np.testing.assert_allclose(bn(x), x / np.sqrt(1 + 1e-5) * bn.parameters["scaler"], atol=1e-12)
        np.testing.assert_array_equal(bn.parameters["running_mean"], 0)

    def test_a_layer_with_parameters_reads_the_input_in_its_dtype(self):
        dense = locnet.Dense(2)
        y32 = dense(np.ones((1, 3), np.float32))
        y64 = dense(np.ones((1, 3), np.float64))
        self.assertEqual(y64.dtype, np.float32)
        np.testing.assert_array_equal(y32, y64)

    def test_lists_become_arrays(self):
        lrn = locnet.LocalResponseNorm.wolfram()
        self.assertEqual(lrn([[[1.0]], [[2.0]], [[3.0]], [[4.0]], [[5.0]]]).shape, (5, 1, 1))


class Examples(unittest.TestCase):
    def run_example(self, name):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            runpy.run_path(os.path.join(EXAMPLES, name), run_name="__main__")
        return out.getvalue()

    def test_numpy_ml_batchnorm_example_runs(self):
        out = self.run_example("numpy_ml_batchnorm.py")
        self.assertIn("dX shape: (8, 5, 5, 3)", out)
        self.assertIn("'intercept': [-100.0, -100.0, -100.0]", out)

    def test_wolfram_lrn_example_runs(self):
        out = self.run_example("wolfram_lrn.py")
        self.assertIn("output shape: (5, 2, 2)", out)
        self.assertIn("batch output shape: (3, 5, 2, 2)", out)


if __name__ == "__main__":
    unittest.main()
