"""The example of Keras's LocallyConnected2D page, typed as the page shows it, then compiled and trained for a
few steps on random data (the page stops at the shapes).

Run: PYTHONPATH=build/python /usr/bin/python3 examples/python/keras_locally_connected.py
"""
import numpy as np

import locnet
from locnet import LocallyConnected2D, Sequential

# apply a 3x3 unshared weights convolution with 64 output filters on a 32x32 image
# with `data_format="channels_last"`:
model = Sequential()
model.add(LocallyConnected2D(64, (3, 3), input_shape=(32, 32, 3)))
# now model.output_shape == (None, 30, 30, 64)
# notice that this layer will consume (30*30)*(3*3*3*64) + (30*30)*64 parameters
assert model.output_shape == (None, 30, 30, 64)
assert model.count_params() == (30 * 30) * (3 * 3 * 3 * 64) + (30 * 30) * 64

# add a 3x3 unshared weights convolution on top, with 32 output filters:
model.add(LocallyConnected2D(32, (3, 3)))
# now model.output_shape == (None, 28, 28, 32)
assert model.output_shape == (None, 28, 28, 32)

# a classifier head, then a few training steps on random images and labels
model.add(locnet.Flatten())
model.add(locnet.Dense(10, activation="softmax"))
model.summary()
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
rng = np.random.default_rng(0)
x = rng.random((32, 32, 32, 3), dtype=np.float32)
y = rng.integers(0, 10, size=32)
history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=2)
print("history:", {k: [round(v, 4) for v in vs] for k, vs in history.history.items()})
print("evaluate [loss, accuracy]:", model.evaluate(x, y))
print("predict:", model.predict(x[:2]).shape)
