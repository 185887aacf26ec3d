"""Shared fixtures: every instruction set this CPU supports, a seeded generator, threads."""

import zlib

import numpy as np
import pytest

import pysoftmax
from pysoftmax import _core


@pytest.fixture(params=_core.available_isas())
def isa(request):
    """Runs the test once per instruction set the running CPU supports, then restores."""
    previous = _core.get_isa()
    _core.set_isa(request.param)
    try:
        yield request.param
    finally:
        _core.set_isa(previous)


@pytest.fixture
def rng(request):
    """A generator seeded from the test's name: reproducible, different for each test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    previous = pysoftmax.get_num_threads()
    pysoftmax.set_num_threads(request.param)
    try:
        yield request.param
    finally:
        pysoftmax.set_num_threads(previous)
