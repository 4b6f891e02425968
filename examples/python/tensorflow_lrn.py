"""The LRN of AlexNet as TensorFlow implements it (tf.nn.local_response_normalization), on locnet: the functional
form and the layer, checked against the formula TensorFlow's docstring gives:

    sqr_sum[a, b, c, d] = sum(input[a, b, c, d - depth_radius : d + depth_radius + 1] ** 2)
    output = input / (bias + alpha * sqr_sum) ** beta

Run: PYTHONPATH=build/python /usr/bin/python3 examples/python/tensorflow_lrn.py
"""
import numpy as np

import locnet
import locnet.nn

rng = np.random.default_rng(0)
x = rng.standard_normal((2, 4, 4, 12)).astype(np.float32)  # NHWC, as TensorFlow's 4-D input

y = locnet.nn.local_response_normalization(x, depth_radius=2, bias=1.0, alpha=1e-4, beta=0.75)
layer = locnet.LocalResponseNorm.tensorflow(depth_radius=2, bias=1.0, alpha=1e-4, beta=0.75)

sqr_sum = np.zeros_like(x)
for d in range(x.shape[-1]):
    sqr_sum[..., d] = (x[..., max(d - 2, 0):d + 3] ** 2).sum(axis=-1)
expected = x / (1.0 + 1e-4 * sqr_sum) ** 0.75

print("output shape:", y.shape)
print("max |locnet - formula|:", float(np.abs(y - expected).max()))
assert np.allclose(y, expected, rtol=1e-5, atol=1e-6)
assert np.array_equal(layer.forward(x, training=False), y)
