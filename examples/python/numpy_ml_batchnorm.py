"""numpy-ml's BatchNorm2D page (numpy_ml.neural_nets.layers.BatchNorm2D), typed as it shows, on locnet.

Run: PYTHONPATH=build/python /usr/bin/python3 examples/python/numpy_ml_batchnorm.py
A forward pass normalizes an NHWC batch with its own statistics, backward gives dL/dX and the gradients of the
scaler and intercept, update() takes one step of the layer's optimizer (SGD, lr 0.01) and clears the gradients,
freeze() makes the layer normalize with its running statistics. docs/python-layers.md describes each call.
"""
import numpy as np

import locnet

rng = np.random.default_rng(0)
X = rng.standard_normal((8, 5, 5, 3)) * 2.0 + 1.0  # (n_ex, in_rows, in_cols, in_ch), float64 as numpy-ml's

bn = locnet.BatchNorm2D(momentum=0.9, epsilon=1e-5, optimizer="SGD(lr=0.01)")
y = bn.forward(X)
print("output mean per channel:", np.round(y.mean(axis=(0, 1, 2)), 6))
print("output std per channel: ", np.round(y.std(axis=(0, 1, 2)) / bn.parameters["scaler"], 6))

dLdy = y - 0.5  # the gradient of 0.5 * ||y - 0.5||^2
dX = bn.backward(dLdy)
print("dX shape:", dX.shape)
print("gradients:", {k: np.round(v, 4).tolist() for k, v in bn.gradients.items()})

before = np.array(bn.parameters["intercept"])
bn.update()
print("intercept after one SGD step:", np.round(bn.parameters["intercept"], 6).tolist(),
      "(was", np.round(before, 6).tolist(), ")")

print("hyperparameters:", bn.hyperparameters)
print("running_mean:", np.round(bn.parameters["running_mean"], 6).tolist())

bn.freeze()  # now normalizes with the running statistics and trains nothing
y_frozen = bn.forward(X)
print("frozen output mean per channel:", np.round(y_frozen.mean(axis=(0, 1, 2)), 4).tolist())
bn.unfreeze()
