"""The example of neupy's LocalResponseNorm page: an Input followed by the layer, composed with >>, then
predict on random data.

Run: PYTHONPATH=build/python /usr/bin/python3 examples/python/neupy_lrn.py
locnet's LocalResponseNorm follows neupy's documented meaning (docs/lrn.md): alpha=1e-4, beta=0.75, k=2 and a
window of depth_radius=5 channels.
"""
import numpy as np

from locnet import Input, LocalResponseNorm

network = Input((10, 10, 12)) >> LocalResponseNorm()
print(network)  # (?, 10, 10, 12) -> [... 2 layers ...] -> (?, 10, 10, 12)
print("input shape:", network.input_shape, "output shape:", network.output_shape)

x = np.random.default_rng(0).normal(size=(4, 10, 10, 12)).astype(np.float32) * 10
y = network.predict(x)
print("predict:", y.shape, "first values:", np.round(y[0, 0, 0, :4], 4))
