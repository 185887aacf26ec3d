"""Shared fixtures: every instruction set this CPU supports, a seeded generator, threads."""

import zlib

import numpy as np
import pytest

from pysoftmax import _core

from helpers import using_isa, using_threads


@pytest.fixture(params=_core.available_isas())
def isa(request):
    """Runs the test once per instruction set the running CPU supports, then restores."""
    with using_isa(request.param):
        yield request.param


@pytest.fixture
def rng(request):
    """A generator seeded from the test's name: reproducible, different for each test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    """Runs the test once on one thread and once on two, then restores the thread count."""
    with using_threads(request.param):
        yield request.param
