"""Threads: calls in a forked child (os.fork, multiprocessing, joblib) after the parent used
several threads, the bounds of set_num_threads, and the threads() context manager."""

import hashlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import pysoftmax
from pysoftmax import _core

TIMEOUT = 120  # seconds a child may take before the test kills it and fails


def _digest(seed):
    """SHA-256 of softmax (4096 x 1000, float32) and linear_cross_entropy on seeded inputs."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4096, 1000), dtype=np.float32)
    X = rng.standard_normal((2048, 64))
    W = rng.standard_normal((100, 64))
    b = rng.standard_normal(100)
    y = rng.integers(0, 100, 2048)
    loss, dW, db = pysoftmax.linear_cross_entropy(X, W, b, y)
    h = hashlib.sha256(pysoftmax.softmax(x).tobytes())
    for a in (np.float64(loss), dW, db):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@pytest.fixture
def two_threads():
    """Two threads, used once in this process before the test forks."""
    with pysoftmax.threads(2):
        yield _digest(0)


def _wait(pid, timeout):
    """The exit status of child `pid`, or None after killing it once `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_computes_the_parents_results(two_threads):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read)
            os.write(write, _digest(0).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    status = _wait(pid, TIMEOUT)
    with os.fdopen(read) as f:
        got = f.read()
    assert status is not None, f"the forked child did not finish within {TIMEOUT} s"
    assert os.waitstatus_to_exitcode(status) == 0
    assert got == two_threads


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_multiprocessing_fork_pool(two_threads):
    with multiprocessing.get_context("fork").Pool(2) as pool:
        got = pool.map_async(_digest, [0, 0]).get(timeout=TIMEOUT)
    assert got == [two_threads, two_threads]


def test_joblib_multiprocessing_backend(two_threads):
    joblib = pytest.importorskip("joblib")
    with joblib.parallel_backend("multiprocessing", n_jobs=2):
        got = joblib.Parallel(timeout=TIMEOUT)(joblib.delayed(_digest)(0) for _ in range(2))
    assert got == [two_threads, two_threads]


def test_set_num_threads_accepts_its_whole_range():
    top = pysoftmax.max_num_threads()
    assert top >= 1
    for n in (1, top):
        with pysoftmax.threads(n):
            assert pysoftmax.get_num_threads() == n


@pytest.mark.parametrize("n", [0, -1, "max+1", 2**31, 2**64, 1.5, "2", None])
def test_set_num_threads_rejects_what_is_out_of_range(n):
    if n == "max+1":
        n = pysoftmax.max_num_threads() + 1
    previous = pysoftmax.get_num_threads()
    with pytest.raises(ValueError, match=rf"^n: .* from 1 to {pysoftmax.max_num_threads()}"):
        pysoftmax.set_num_threads(n)
    assert pysoftmax.get_num_threads() == previous


def test_core_rejects_what_is_out_of_range():
    with pytest.raises(ValueError, match="n: "):
        _core.set_num_threads(_core.max_num_threads() + 1)


def test_threads_sets_and_restores():
    previous = pysoftmax.get_num_threads()
    with pysoftmax.threads(1):
        assert pysoftmax.get_num_threads() == 1
        with pysoftmax.threads(3):
            assert pysoftmax.get_num_threads() == 3
        assert pysoftmax.get_num_threads() == 1
    assert pysoftmax.get_num_threads() == previous
    with pytest.raises(RuntimeError), pysoftmax.threads(2):
        raise RuntimeError
    assert pysoftmax.get_num_threads() == previous
    with pytest.raises(ValueError, match="^n: "), pysoftmax.threads(0):
        pass
    assert pysoftmax.get_num_threads() == previous
    assert "threads" in pysoftmax.__all__


@pytest.mark.parametrize("n", [1, 15, 16, 17, 33, 100])
def test_few_rows_on_the_most_threads(n):
    # Rows go to threads in blocks of 16, at most one thread per block: the results are those
    # of one thread.
    x = np.random.default_rng(1).standard_normal((n, 4096))
    want = pysoftmax.softmax(x)
    with pysoftmax.threads(pysoftmax.max_num_threads()):
        assert np.array_equal(pysoftmax.softmax(x), want)


def test_the_default_count_is_in_range():
    code = "import pysoftmax; print(pysoftmax.get_num_threads(), pysoftmax.max_num_threads())"
    env = {**os.environ, "OMP_NUM_THREADS": "100000"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=TIMEOUT, check=True).stdout.split()
    assert out[0] == out[1]
