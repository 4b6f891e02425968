"""Data-parallel training from Python (docs/distributed.md): the same script alone or on every rank of an MPI job.

Run:  PYTHONPATH=build/python /usr/bin/python3 examples/python/distributed.py            (one process)
      PYTHONPATH=build/python mpirun -np 2 /usr/bin/python3 examples/python/distributed.py (two ranks)
Every rank draws the same synthetic data (seeded NumPy) and builds the same model (locnet.set_seed); fit splits
each global batch of 32 between the ranks and sums their gradients, so the losses are the single process's for
any number of ranks (up to floating-point summation order). Rank 0 prints and writes the model file.
"""
import numpy as np

import locnet
from locnet import distributed

distributed.init()  # MPI under mpirun; alone, a group of one
rank, size = distributed.rank(), distributed.size()

rng = np.random.default_rng(0)
x = rng.normal(size=(512, 8, 8, 1)).astype(np.float32)
y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype(np.int64)  # top half brighter?

locnet.set_seed(1)
model = locnet.Sequential([locnet.LocallyConnected2D(4, 3, activation="relu", input_shape=(8, 8, 1)),
                           locnet.BatchNorm2D(), locnet.Flatten(), locnet.Dense(2)])
distributed.convert_sync_batchnorm(model)  # the global batch's statistics in every BatchNorm (alone: the same)
model.compile(optimizer=locnet.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(x, y, batch_size=32, epochs=3, seed=7, verbose=2)  # progress on rank 0 only

# A metric of your own: each rank counts its part, all_reduce sums the counts.
part = np.array_split(np.arange(len(x)), size)[rank]
hits = np.array([float(np.sum(np.argmax(model.predict(x[part]), axis=1) == y[part])), float(len(part))])
distributed.all_reduce(hits)
if rank == 0:
    print(f"{size} rank(s): loss per epoch {np.round(history.history['loss'], 4).tolist()}, "
          f"training accuracy {hits[0] / hits[1]:.3f}")
model.save("distributed_example.locnet")  # written by rank 0 only
