"""Fixtures of the pytest-benchmark suite: the thread count and the (cached) inputs.

Run: ``pytest bench/ --benchmark-only`` (needs ``pip install -e ".[bench]"``; torch is used when
installed). PYSOFTMAX_BENCH_THREADS sets the threads of every library (default: all CPUs).
"""

import functools
import os

import pytest

from pysoftmax.bench import kernels


def _threads_from_environment():
    value = os.environ.get("PYSOFTMAX_BENCH_THREADS", "").strip()
    if not value:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise pytest.UsageError(f"PYSOFTMAX_BENCH_THREADS: expected a number of threads >= 1, "
                                f"got {value!r}")
    return int(value)


_THREADS = pytest.StashKey[int]()


def pytest_configure(config):
    config.stash[_THREADS] = _threads_from_environment()


@pytest.fixture(scope="session")
def threads(pytestconfig):
    """The one thread count of the run, for every library (PYSOFTMAX_BENCH_THREADS)."""
    return pytestconfig.stash[_THREADS]


@functools.lru_cache(maxsize=2)
def _inputs(n, k, dtype, target):
    return kernels.make_inputs(n, k, dtype, target=target)


@pytest.fixture(scope="session")
def inputs():
    """inputs(shape, dtype, target="labels"): seeded Inputs, shared by consecutive cases (the
    libraries of one case run one after the other)."""
    def get(shape, dtype, target="labels"):
        return _inputs(*shape, dtype, target)
    return get
