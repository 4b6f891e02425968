"""Wolfram's LocalResponseNormalizationLayer page, on locnet: a layer applied to one unbatched (C, H, W) array, as
``lrn[x]`` is in the Wolfram Language, and to a batch of them.

Run: PYTHONPATH=build/python /usr/bin/python3 examples/python/wolfram_lrn.py
Wolfram's defaults: Alpha=1, Beta=0.5, Bias=1, ChannelWindowSize=2 (a window of 2*2+1 channels); docs/lrn.md gives
the formula, docs/python-layers.md the rule that tells one sample from a batch.
"""
import numpy as np

import locnet

# LocalResponseNormalizationLayer[]: the Wolfram convention with its defaults.
lrn = locnet.LocalResponseNorm.wolfram()

# Apply it to a 5x2x2 array (channels first, one sample).
x = np.arange(1.0, 21.0).reshape(5, 2, 2)
y = lrn(x)
print("output shape:", y.shape)
print(np.round(y, 5))

# Options, as LocalResponseNormalizationLayer["Alpha" -> 0.5, "ChannelWindowSize" -> 1].
print(np.round(locnet.LocalResponseNorm.wolfram(Alpha=0.5, ChannelWindowSize=1)(x)[:, 0, 0], 5))

# The same layer on a batch of three such arrays: one result per sample.
batch = np.stack([x, 2 * x, -x])
print("batch output shape:", lrn(batch).shape)
