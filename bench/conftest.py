"""Fixtures of the pytest-benchmark suite: the thread count and the (cached) inputs.

Run: ``pytest bench/ --benchmark-only`` (needs ``pip install -e ".[bench]"``; torch is used when
installed). PYSOFTMAX_BENCH_THREADS sets the threads of every library (default: all CPUs).

Every run has the garbage collector off while it times (``--benchmark-disable-gc``) and a
warm-up before it (``--benchmark-warmup``, up to 1000 calls or pytest-benchmark's
``--benchmark-max-time``, whichever comes first): set here, for every library alike. The
libraries of one case (an op, a shape, a dtype) run one after the other on the same inputs.
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


WARMUP_ITERATIONS = 1000


@pytest.hookimpl(tryfirst=True)     # before pytest-benchmark's, which reads the options
def pytest_configure(config):
    config.stash[_THREADS] = _threads_from_environment()
    option = config.option
    if hasattr(option, "benchmark_disable_gc"):         # pytest-benchmark is installed
        option.benchmark_disable_gc = True
        option.benchmark_warmup = True
        option.benchmark_warmup_iterations = min(option.benchmark_warmup_iterations,
                                                 WARMUP_ITERATIONS)


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
