"""Tests of locnet.distributed (tools/python/locnet/distributed.py, bind_dist.cpp) and fit's distributed argument.

Run: PYTHONPATH=build/python /usr/bin/python3 -m pytest tools/python/tests/test_distributed.py
All data here is SYNTHETIC (seeded NumPy draws). Ranks are simulated as threads of this process
(locnet._core.thread_group) or, when mpirun exists and locnet was built with MPI, run as an MPI job of 2 processes.
The expected values of the multi-rank fits are single-process fits of the same model (the lead's semantics: the
same seed and global batch give the same result for any number of ranks, up to floating-point reduction order).
"""
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import types

import numpy as np
import pytest

import locnet
from locnet import _core, callbacks, distributed

# Relative tolerance of a multi-rank loss against the single-process one: the gradient sums of float32 values
# run in another order (each rank sums its share, then the ranks' sums are added).
RTOL = 1e-4


@pytest.fixture(autouse=True)
def no_world(monkeypatch):
    """Each test starts before init() and leaves the module as it found it."""
    monkeypatch.setattr(distributed, "_world", None)


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    return x, (x[:, 0] + 0.5 * x[:, 1] - x[:, 2] > 0).astype(np.int64) + (x[:, 3] > 1).astype(np.int64)


def model():
    locnet.set_seed(11)
    m = locnet.Sequential([locnet.Dense(12, activation="relu", input_shape=(6,)), locnet.Dense(3)])
    m.compile(optimizer=locnet.SGD(learning_rate=0.1, momentum=0.9), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def on_threads(n, f):
    """f(rank, group, model) on n threads, each with its rank's group and a model() built before the threads
    start (locnet.set_seed is global); the results by rank (errors re-raised)."""
    groups, models = _core.thread_group(n, 30.0), [model() for _ in range(n)]
    results, errors = [None] * n, [None] * n

    def run(r):
        try:
            results[r] = f(r, groups[r], models[r])
        except BaseException as e:  # noqa: B902 - re-raised on the main thread
            errors[r] = e

    threads = [threading.Thread(target=run, args=(r,)) for r in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        if e is not None:
            raise e
    return results


def test_before_init_a_single_process():
    assert not distributed.is_initialized() and distributed.group() is None
    assert (distributed.rank(), distributed.size()) == (0, 1)
    distributed.barrier()
    a = np.array([1.5, -2.0])
    assert distributed.all_reduce(a) is a and list(a) == [1.5, -2.0]


@pytest.mark.skipif(_core.launched_by_mpi(), reason="pytest itself runs under an MPI launcher")
def test_init_without_mpirun_is_the_single_process():
    hook = sys.excepthook
    group = distributed.init()
    assert sys.excepthook is hook  # a single process keeps Python's own handling of errors
    assert distributed.is_initialized() and distributed.init() is group and distributed.group() is group
    assert (group.rank, group.size, group.where()) == (0, 1, "")
    assert (distributed.rank(), distributed.size()) == (0, 1)
    distributed.barrier()
    for dtype in (np.float32, np.float64):
        a = np.arange(4, dtype=dtype)
        assert distributed.all_reduce(a) is a and list(a) == [0, 1, 2, 3]
    assert list(distributed.all_reduce(np.array([3.0, -1.0]), op="max")) == [3.0, -1.0]


def test_init_timeout_must_be_positive():
    with pytest.raises(locnet.ConfigError, match="timeout must be > 0 seconds, got 0"):
        distributed.init(timeout=0)
    assert not distributed.is_initialized()


@pytest.mark.skipif(_core.launched_by_mpi(), reason="pytest itself runs under an MPI launcher")
def test_all_reduce_errors():
    distributed.init()
    with pytest.raises(TypeError, match="array must be a NumPy array"):
        distributed.all_reduce([1.0, 2.0])
    with pytest.raises(TypeError, match="dtype must be float64 .* got int64"):
        distributed.all_reduce(np.arange(3))
    with pytest.raises(TypeError, match="got float32 with op 'max'"):
        distributed.all_reduce(np.zeros(2, np.float32), op="max")
    with pytest.raises(ValueError, match="C-contiguous"):
        distributed.all_reduce(np.zeros((4, 4))[:, 1])
    with pytest.raises(ValueError, match="op must be 'sum' or 'max', got 'min'"):
        distributed.all_reduce(np.zeros(2), op="min")
    distributed._world = None
    with pytest.raises(ValueError, match="op must be 'sum' or 'max', got 'min'"):
        distributed.all_reduce(np.zeros(2), op="min")


def test_all_reduce_on_thread_ranks_sums_and_maximizes():
    def rank_work(r, group, _):
        s64, s32, m = np.array([float(r), 1.0]), np.array([0.5 * r], np.float32), np.array([-float(r)])
        group.all_reduce(s64)
        group.all_reduce(s32)
        group.all_reduce(m, "max")
        group.barrier()
        return (group.rank, group.size, group.where()), list(s64), float(s32[0]), float(m[0])

    results = on_threads(3, rank_work)
    assert [r[0] for r in results] == [(0, 3, "rank 0 of 3"), (1, 3, "rank 1 of 3"), (2, 3, "rank 2 of 3")]
    assert all(r[1:] == ([3.0, 3.0], 1.5, 0.0) for r in results)


def test_fit_distributed_argument():
    x, y = data()
    with pytest.raises(locnet.ConfigError, match="distributed must be None, True, False or a locnet.distributed "
                                                 "group, got 'yes'"):
        model().fit(x, y, distributed="yes", verbose=0)


@pytest.mark.skipif(_core.launched_by_mpi(), reason="pytest itself runs under an MPI launcher")
def test_fit_on_a_group_of_one_is_the_single_process_fit():
    x, y = data()
    alone = model().fit(x, y, epochs=2, batch_size=16, seed=3, verbose=0).history
    m = model()
    grouped = m.fit(x, y, epochs=2, batch_size=16, seed=3, verbose=0, distributed=True).history
    assert distributed.is_initialized()
    assert grouped == alone  # bit-identical: a group of one is the single process
    assert m.evaluate(x, y, distributed=True) == m.evaluate(x, y, distributed=False)


def test_fit_on_thread_ranks_matches_the_single_process_fit():
    x, y = data()
    expected = model().fit(x, y, epochs=3, batch_size=20, seed=5, verbose=0).history
    seen = {}

    def rank_work(r, group, m):
        calls = []  # m: built with the same seed, identical replicas
        every = callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.setdefault(r, []).append(e))
        every.all_ranks = True
        h = m.fit(x, y, epochs=3, batch_size=20, seed=5, verbose=0, distributed=group,
                  callbacks=[callbacks.LambdaCallback(on_batch_end=lambda b, logs: calls.append(b)), every])
        return h.history, calls, m.get_weights(), m.evaluate(x, y, distributed=group)

    results = on_threads(2, rank_work)
    for history, _, _, _ in results:
        assert set(history) == set(expected)
        for key in expected:
            np.testing.assert_allclose(history[key], expected[key], rtol=RTOL, err_msg=key)
    # callbacks run on rank 0 only, unless marked all_ranks
    assert results[0][1] == list(range(5)) * 3 and results[1][1] == []
    assert seen == {0: [0, 1, 2], 1: [0, 1, 2]}
    for w0, w1 in zip(results[0][2], results[1][2]):  # the replicas stay identical
        np.testing.assert_array_equal(w0, w1)
    assert results[0][3] == results[1][3]


def test_a_stop_on_rank_0_stops_every_rank():
    x, y = data()

    def rank_work(r, group, m):
        def stop(batch, logs):
            if batch == 2:
                m.stop_training = True

        h = m.fit(x, y, epochs=4, batch_size=16, seed=1, verbose=0, distributed=group,
                  callbacks=[callbacks.LambdaCallback(on_batch_end=stop)])
        return len(h.history.get("loss", [])), m.stop_reason

    # without the agreed stop rank 1 would wait in the next step's all-reduce until the timeout (DistError)
    assert on_threads(2, rank_work) == [(0, "stopped by a callback")] * 2


def test_the_python_loop_has_no_distributed_form():
    x, y = data()
    group = _core.thread_group(2, 5.0)[0]  # fit raises before any collective operation: one rank suffices
    for kwargs in (dict(shuffle=False), dict()):
        m = model()
        if not kwargs:
            m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["mse"])
        with pytest.raises(NotImplementedError, match="distributed fit runs the C.. trainer.*Python loop"):
            m.fit(x, y, verbose=0, distributed=group, **kwargs)


def test_save_writes_on_rank_0_only(tmp_path, monkeypatch):
    m = model()
    monkeypatch.setattr(distributed, "_world", types.SimpleNamespace(rank=1, size=2))
    m.save(tmp_path / "m.locnet")
    m.save_weights(tmp_path / "w.safetensors")
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "c{epoch}.locnet"))
    checkpoint.set_model(m)
    checkpoint.on_epoch_end(0, {})
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(distributed, "_world", types.SimpleNamespace(rank=0, size=2))
    m.save(tmp_path / "m.locnet")
    m.save_weights(tmp_path / "w.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.locnet", "w.safetensors"]


def test_convert_sync_batchnorm():
    locnet.set_seed(2)
    m = locnet.Sequential([locnet.Dense(4, input_shape=(3,)), locnet.BatchNorm1D(),
                           locnet.classes()["BatchNorm1D.pytorch"](4), locnet.Dense(2)])
    with pytest.raises(TypeError, match="model must be a locnet.Model, got list"):
        distributed.convert_sync_batchnorm([])
    if "sync" not in m.layers[1].get_config():
        pytest.skip("SyncBatchNorm (h2: BatchNorm's sync option) not merged yet")
    weights = m.get_weights()
    assert [layer.get_config().get("sync") for layer in m.layers] == [None, False, False, None]
    assert distributed.convert_sync_batchnorm(m) is m
    assert [layer.get_config().get("sync") for layer in m.layers] == [None, True, True, None]
    for a, b in zip(weights, m.get_weights()):
        np.testing.assert_array_equal(a, b)


MPI_SCRIPT = textwrap.dedent("""
    import numpy as np
    import locnet
    from locnet import distributed

    group = distributed.init(timeout=60)
    assert group.size == 2, group.size
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 6)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0).astype(np.int64)

    def model():
        locnet.set_seed(11)
        m = locnet.Sequential([locnet.Dense(12, activation="relu", input_shape=(6,)), locnet.Dense(2)])
        m.compile(optimizer=locnet.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
        return m

    m = model()
    losses = m.fit(x, y, epochs=3, batch_size=30, seed=4, verbose=0).history["loss"]
    alone = model().fit(x, y, epochs=3, batch_size=30, seed=4, verbose=0, distributed=False).history["loss"]
    np.testing.assert_allclose(losses, alone, rtol=%g)
    total = distributed.all_reduce(np.array([float(distributed.rank() + 1)]))
    assert total[0] == 3.0, total
    print("OK", distributed.rank(), losses)
""")


def mpirun(tmp_path, text, timeout=180):
    script = tmp_path / "job.py"
    script.write_text(text)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(locnet.__file__)))] +
        [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.pop("LOCNET_DIST_TIMEOUT", None)
    return subprocess.run(["mpirun", "-np", "2", "--oversubscribe", sys.executable, str(script)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=timeout)


needs_mpi = pytest.mark.skipif(shutil.which("mpirun") is None or not distributed.mpi_available(),
                               reason="needs mpirun and locnet built with MPI (-DLOCNET_MPI=ON)")


@needs_mpi
def test_mpirun_two_ranks_match_the_single_process_fit(tmp_path):
    done = mpirun(tmp_path, MPI_SCRIPT % RTOL)
    assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    assert done.stdout.count("OK") == 2


@needs_mpi
def test_mpirun_an_uncaught_error_on_one_rank_ends_the_job_at_once(tmp_path):
    start = time.monotonic()
    done = mpirun(tmp_path, textwrap.dedent("""
        from locnet import distributed
        group = distributed.init(timeout=120)
        if group.rank == 1:
            raise ValueError("rank 1 fails on purpose")
        distributed.barrier()  # rank 0 waits here until the job is aborted
        print("rank 0 passed the barrier")
    """))
    assert time.monotonic() - start < 60  # far less than the 120 s timeout: the hook aborted the job
    assert done.returncode != 0 and "passed the barrier" not in done.stdout
    assert "rank 1 of 2: uncaught ValueError, ending the job" in done.stderr
    assert "ValueError: rank 1 fails on purpose" in done.stderr
