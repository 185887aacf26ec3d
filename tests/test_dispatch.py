"""The runtime: instruction-set dispatch (the selection logic, for CPUs other than the one
running the tests; the lists its registry gives; the forcing environment variable, read by the
C++ core), what show_config reports, the thread count and parallel_for."""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import pysoftmax
from pysoftmax import _core

AVX2 = {"avx2", "fma", "os_avx"}
AVX512 = AVX2 | {"avx512f", "avx512dq", "avx512bw", "avx512vl", "os_avx512"}


def test_compiled_isas_include_every_x86_kernel():
    assert _core.compiled_isas()[-1] == "scalar"
    if os.uname().machine == "x86_64":
        assert _core.compiled_isas() == ["avx512", "avx2", "scalar"]


@pytest.mark.parametrize("features, best", [
    (set(), "scalar"),
    ({"avx2"}, "scalar"),                          # no FMA
    ({"avx2", "fma"}, "scalar"),                   # OS does not save YMM state
    (AVX2, "avx2"),
    (AVX512, "avx512"),
    (AVX512 - {"os_avx512"}, "avx2"),              # OS does not save ZMM state
    (AVX512 - {"avx512bw"}, "avx2"),               # e.g. Xeon Phi: F without BW
    (AVX512 - {"avx512vl"}, "avx2"),
    (AVX512 - {"avx512dq"}, "avx2"),
])
def test_selection_picks_the_best_supported(features, best):
    assert _core.select_isa(features) == best
    assert _core.supported_isas(features)[0] == best
    assert _core.supported_isas(features)[-1] == "scalar"


def test_selection_honours_a_forced_choice():
    assert _core.select_isa(AVX512, "avx2") == "avx2"
    assert _core.select_isa(AVX512, "scalar") == "scalar"
    assert _core.select_isa(AVX2, "scalar") == "scalar"
    with pytest.raises(ValueError, match="avx512.*usable here: avx2, scalar"):
        _core.select_isa(AVX2, "avx512")
    with pytest.raises(ValueError, match="avx2.*usable here: scalar"):
        _core.select_isa(set(), "avx2")
    with pytest.raises(ValueError, match="unknown instruction set 'sse9'"):
        _core.select_isa(AVX512, "sse9")


# The words of the registry's rows, in the "needs ..." errors.
NEEDS = {"avx512": "AVX-512 F, DQ, BW and VL with OS support for ZMM state",
         "avx2": "AVX2 and FMA with OS support for YMM state"}


def _registered():
    """Every instruction set of the registry, best first: select_isa's list of valid names
    (then the testing ones, in parentheses)."""
    with pytest.raises(ValueError, match="expected one of: ") as e:
        _core.select_isa(AVX512, "sse9")
    names = str(e.value).split("expected one of: ")[1]
    return names.split(" (for testing: ")[0].split(", ")


def _registered_message():
    with pytest.raises(ValueError, match="expected one of: ") as e:
        _core.select_isa(AVX512, "sse9")
    return str(e.value).split("expected one of: ")[1]


def test_testing_rows_are_named_but_never_chosen():
    """emulated512 runs AVX-512's 16-lane kernels on AVX2: chosen only when named, never by
    default, and not listed with the real instruction sets."""
    assert _registered_message().endswith(" (for testing: emulated512)")
    assert "emulated512" not in _core.compiled_isas() + _core.supported_isas(AVX512)
    assert _core.select_isa(AVX512) == "avx512"
    assert _core.select_isa(AVX2, "emulated512") == "emulated512"
    with pytest.raises(ValueError, match="'emulated512' needs AVX2 and FMA"):
        _core.select_isa(set(), "emulated512")
    if AVX2 <= set(_core.cpu_features()):
        assert _core.testing_isas() == [("emulated512", "avx512")]


def test_every_list_follows_the_registry():
    registered = _registered()
    compiled = _core.compiled_isas()
    assert registered[-1] == "scalar" and len(set(registered)) == len(registered)
    assert compiled == [name for name in registered if name in compiled]   # in priority order
    assert _core.supported_isas(AVX512) == compiled
    assert _core.supported_isas(set()) == ["scalar"]
    if os.uname().machine == "x86_64":
        assert registered == ["avx512", "avx2", "scalar"]
    for name in registered:
        if name not in compiled:
            with pytest.raises(ValueError, match=f"'{name}' was not compiled.*compiled: "
                                                 + ", ".join(compiled)):
                _core.select_isa(AVX512, name)
            continue
        assert _core.select_isa(AVX512, name) == name
        if name != "scalar":
            with pytest.raises(ValueError, match=f"'{name}' needs {NEEDS[name]}, which this "
                                                 "CPU does not offer; usable here: scalar"):
                _core.select_isa(set(), name)


def test_this_cpu_runs_what_detection_reports():
    feats = set(_core.cpu_features())
    assert _core.available_isas() == _core.supported_isas(feats)
    assert _core.get_isa() in _core.available_isas()


def test_set_isa_switches_and_rejects_unsupported():
    prev = _core.get_isa()
    try:
        for isa in _core.available_isas():
            _core.set_isa(isa)
            assert _core.get_isa() == isa
            np.testing.assert_allclose(pysoftmax.softmax(np.array([0.0, np.log(3.0)])),
                                       [0.25, 0.75])
        for isa in set(_core.compiled_isas()) - set(_core.available_isas()):
            with pytest.raises(ValueError, match="this CPU does not offer"):
                _core.set_isa(isa)
            assert _core.get_isa() == isa or _core.get_isa() in _core.available_isas()
    finally:
        _core.set_isa(prev)


def _run(code, isa):
    env = dict(os.environ, PYSOFTMAX_ISA=isa)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


@pytest.mark.parametrize("isa", _core.available_isas() + [n for n, _ in _core.testing_isas()])
def test_environment_variable_forces_the_isa(isa):
    r = _run("import pysoftmax, pysoftmax._core as c; print(c.get_isa()); "
             "pysoftmax.show_config()", isa)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == isa
    assert f"isa: {isa}" in r.stdout


@pytest.mark.parametrize("isa", ["avx512", "avx2", "bogus"])
def test_environment_variable_fails_clearly(isa):
    if isa in _core.available_isas():
        pytest.skip(f"this CPU supports {isa}")
    r = _run("import pysoftmax", isa)
    assert r.returncode != 0
    assert f"RuntimeError: PYSOFTMAX_ISA={isa}" in r.stderr
    assert "Illegal instruction" not in r.stderr


# The extension module alone, without the pysoftmax package: the C++ core reads PYSOFTMAX_ISA.
_CORE_ALONE = """
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("_core", sys.argv[1])
core = importlib.util.module_from_spec(spec)
spec.loader.exec_module(core)
assert "pysoftmax" not in sys.modules
try:
    print(core.get_isa())
except RuntimeError as e:
    print(f"RuntimeError: {e}")
    core.set_isa("scalar")                              # an explicit choice still works
    print(core.get_isa())
os.environ["PYSOFTMAX_ISA"] = "bogus"                   # read once: by the first use
print(core.get_isa())
"""


@pytest.mark.parametrize("value, want", [
    ("scalar", "scalar"), ("  Scalar\t", "scalar"), (" AVX2", "avx2"), ("auto", "best"),
    ("", "best"), ("AUTO ", "best"),
])
def test_the_core_reads_the_environment_variable_once(value, want):
    best = _core.available_isas()[0]
    want = best if want == "best" else want
    if want not in _core.available_isas():
        pytest.skip(f"this CPU does not run {want}")
    r = subprocess.run([sys.executable, "-c", _CORE_ALONE, _core.__file__], capture_output=True,
                       text=True, env=dict(os.environ, PYSOFTMAX_ISA=value))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [want, want]


def test_the_core_rejects_an_invalid_environment_variable_on_first_use():
    r = subprocess.run([sys.executable, "-c", _CORE_ALONE, _core.__file__], capture_output=True,
                       text=True, env=dict(os.environ, PYSOFTMAX_ISA=" Bogus "))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == ("RuntimeError: PYSOFTMAX_ISA=bogus: unknown instruction set 'bogus'; "
                        "expected one of: " + _registered_message())
    assert lines[1:] == ["scalar", "scalar"]


def test_show_config(capsys):
    pysoftmax.show_config()
    out = capsys.readouterr().out
    for key in ("pysoftmax", "isa", "available isas", "threads"):
        assert f"{key}:" in out
    assert pysoftmax.__version__ in out


def test_threads_setting():
    prev = pysoftmax.get_num_threads()
    try:
        pysoftmax.set_num_threads(1)
        assert pysoftmax.get_num_threads() == 1
        pysoftmax.set_num_threads(3)
        assert pysoftmax.get_num_threads() == 3
        with pytest.raises(ValueError, match="n: the number of threads"):
            pysoftmax.set_num_threads(0)
        with pytest.raises(ValueError, match="n: the number of threads"):
            pysoftmax.set_num_threads(1.5)
    finally:
        pysoftmax.set_num_threads(prev)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 37])
def test_parallel_for_calls_every_index_once(threads, n):
    seen = []
    _core.parallel_for(n, seen.append)
    assert sorted(seen) == list(range(n))


def test_parallel_for_runs_on_the_runtimes_threads():
    previous = pysoftmax.get_num_threads()
    pysoftmax.set_num_threads(2)
    try:
        idents = []

        def fn(i):
            idents.append(threading.get_ident())
            time.sleep(0.02)        # the GIL released: the worker claims the next index meanwhile

        _core.parallel_for(8, fn)
        assert len(set(idents)) == 2 and threading.get_ident() in idents
    finally:
        pysoftmax.set_num_threads(previous)


def test_parallel_for_raises_what_fn_raises(threads):
    class Failure(Exception):
        pass

    calls = []

    def fn(i):
        calls.append(i)
        time.sleep(0.001)                               # lets the other thread take the GIL
        if i == 3:
            raise Failure(f"block {i}")

    with pytest.raises(Failure, match="block 3"):
        _core.parallel_for(8, fn)
    assert 3 in calls and len(set(calls)) == len(calls)
    with pytest.raises(TypeError):
        _core.parallel_for(2, None)
    seen = []
    _core.parallel_for(3, seen.append)                  # the runtime works on
    assert sorted(seen) == [0, 1, 2]


def test_use_backend():
    x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    for fn in ("softmax", "log_softmax", "logsumexp", "entropy"):
        with pysoftmax.use_backend("reference") as mod:
            assert mod is pysoftmax.reference
            r = getattr(pysoftmax, fn)(x)
            np.testing.assert_array_equal(r, getattr(pysoftmax.reference, fn)(x))
        n = getattr(pysoftmax, fn)(x)
        np.testing.assert_array_equal(n, getattr(pysoftmax._native, fn)(x))
        np.testing.assert_allclose(r, n, rtol=1e-6)
    with pytest.raises(ValueError, match="unknown backend"):
        with pysoftmax.use_backend("gpu"):
            pass
