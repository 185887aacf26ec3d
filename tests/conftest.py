"""Shared fixtures: every instruction set compiled in (and the testing ones), a seeded
generator, threads."""

import os
import zlib

import numpy as np
import pytest

from pysoftmax import _core

from helpers import using_isa, using_threads

# Every compiled instruction set, then the testing ones (emulated512: AVX-512's 16-lane kernels
# on AVX2). A set this CPU cannot run shows as a skip, or fails when PYSOFTMAX_REQUIRE_ISAS
# names it (a comma-separated list: CI on a machine that must test those sets).
ISAS = _core.compiled_isas() + [name for name, _ in _core.testing_isas()]
REQUIRED = {s.strip() for s in os.environ.get("PYSOFTMAX_REQUIRE_ISAS", "").split(",") if s.strip()}


@pytest.fixture(params=ISAS)
def isa(request):
    """Runs the test once per instruction set, then restores the previous one; a set this CPU
    does not run is skipped (failed if required)."""
    if request.param not in _core.available_isas() + [n for n, _ in _core.testing_isas()]:
        message = f"this CPU does not run {request.param}"
        if request.param in REQUIRED:
            pytest.fail(f"{message}, which PYSOFTMAX_REQUIRE_ISAS requires")
        pytest.skip(message)
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
