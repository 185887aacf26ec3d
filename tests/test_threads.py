"""Threads: calls in a forked child (os.fork, multiprocessing, joblib) after the parent used
several threads."""

import hashlib
import multiprocessing
import os
import signal
import time

import numpy as np
import pytest

import pysoftmax

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
    previous = pysoftmax.get_num_threads()
    pysoftmax.set_num_threads(2)
    try:
        yield _digest(0)
    finally:
        pysoftmax.set_num_threads(previous)


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
