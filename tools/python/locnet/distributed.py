"""Data-parallel training from Python (docs/distributed.md): run the same script on every rank of an MPI job,

    mpirun -np 2 python3 train.py

and call ``locnet.distributed.init()`` first. ``Model.fit`` then trains on the job's group: batch_size is the
global batch (each rank computes its share of every batch, the gradients are summed over the ranks), the reported
loss and metrics are global, progress and callbacks run on rank 0 (a callback with ``all_ranks = True`` runs on
every rank), and ``Model.save``/``save_weights`` write on rank 0 only. fit and evaluate are collective calls:
every rank makes them with the same arguments (or passes distributed=False). Without an MPI launcher init() gives the
single process (size 1) and everything behaves as without it.

Errors: locnet.DistError (a RuntimeError) when a collective operation cannot complete (a rank died or hung past
the timeout, LOCNET_DIST_TIMEOUT); NotSupported when started by mpirun in a build without MPI.
"""
import sys
import traceback

import numpy as np

from . import _core
from ._core import DistError

__all__ = ["DistError", "init", "is_initialized", "rank", "size", "barrier", "all_reduce", "convert_sync_batchnorm",
           "mpi_available", "launched_by_mpi", "group"]

_world = None


def init(timeout=None, abort_on_error=True):
    """The job's group (MPI initialized on the first call under mpirun/srun; else the single process); later
    calls return the same group. timeout: seconds a collective may wait for the other ranks before DistError
    (default 300; LOCNET_DIST_TIMEOUT wins; only the first call's value counts). abort_on_error: in a job of
    several ranks, an uncaught exception prints its traceback with the rank and ends the whole job at once
    (MPI_Abort), instead of leaving the other ranks waiting until the timeout."""
    global _world
    if _world is None:
        if timeout is not None and not timeout > 0:
            raise _core.ConfigError(f"locnet.distributed.init: timeout must be > 0 seconds, got {timeout}")
        _world = _core.dist_world(float(timeout)) if timeout is not None else _core.dist_world()
        if abort_on_error and _world.size > 1:
            sys.excepthook = _abort_job_hook
    return _world


def _abort_job_hook(exc_type, exc, tb):
    text = "".join(traceback.format_exception(exc_type, exc, tb)).rstrip()
    _core.abort_job(f"uncaught {exc_type.__name__}, ending the job\n{text}", 1)


def is_initialized():
    return _world is not None


def group():
    """The group init() returned, or None before init()."""
    return _world


def rank():
    """This process's rank (0 before init())."""
    return _world.rank if _world is not None else 0


def size():
    """The number of ranks (1 before init())."""
    return _world.size if _world is not None else 1


def barrier():
    """Waits until every rank calls barrier (nothing before init())."""
    if _world is not None:
        _world.barrier()


def all_reduce(array, op="sum"):
    """Sums (op="sum") or maximizes (op="max") a NumPy array over the ranks, in place, and returns it: for metrics
    of your own. float64 and float32 arrays (max: float64), writable and C-contiguous; a scalar sum can use a
    one-element array. Every rank must call it with the same length. Before init() it returns the array as is."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"all_reduce: array must be a NumPy array (it is reduced in place), got "
                        f"{type(array).__name__}")
    if _world is None:
        if op not in ("sum", "max"):
            raise ValueError(f"all_reduce: op must be 'sum' or 'max', got '{op}'")
        return array
    return _world.all_reduce(array, op)


def convert_sync_batchnorm(model):
    """Sets sync=True on every BatchNorm layer of a locnet.Model (weights and statistics kept), so that in a
    data-parallel fit it normalizes with the global batch's statistics; returns the model (PyTorch's
    torch.nn.SyncBatchNorm.convert_sync_batchnorm)."""
    core = getattr(model, "_core", None)
    if core is None:
        raise TypeError(f"convert_sync_batchnorm: model must be a locnet.Model, got {type(model).__name__}")
    _core.convert_sync_batchnorm(core)
    return model


def mpi_available():
    """Whether this build of locnet has MPI (configured with -DLOCNET_MPI=ON)."""
    return _core.mpi_available()


def launched_by_mpi():
    """Whether this process was started by an MPI launcher (mpirun, mpiexec, srun)."""
    return _core.launched_by_mpi()


def fit_group(distributed):
    """The group fit and evaluate use: distributed=None the group of init() when it has several ranks, True
    init()'s group (init() called if needed), False none, or a group object itself (init()'s, or one rank of
    locnet._core.thread_group(n): ranks as threads of one process, for tests)."""
    if distributed is None:
        return _world if _world is not None and _world.size > 1 else None
    if distributed is True:
        return init()
    if distributed is False:
        return None
    if isinstance(distributed, _core.Collective):
        return distributed
    raise _core.ConfigError(f"fit: distributed must be None, True, False or a locnet.distributed group, got "
                            f"{distributed!r}")


def writes_files():
    """Whether this process writes model files: rank 0, or any process outside a job of several ranks."""
    return _world is None or _world.rank == 0
