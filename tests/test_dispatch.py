"""Instruction-set dispatch: the selection logic (for CPUs this machine is not), the forcing
environment variable, and what show_config reports."""

import os
import subprocess
import sys

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
            np.testing.assert_allclose(pysoftmax.softmax(np.array([0.0, np.log(3.0)])), [0.25, 0.75])
        for isa in set(_core.compiled_isas()) - set(_core.available_isas()):
            with pytest.raises(ValueError, match="this CPU does not offer"):
                _core.set_isa(isa)
            assert _core.get_isa() == isa or _core.get_isa() in _core.available_isas()
    finally:
        _core.set_isa(prev)


def _run(code, isa):
    env = dict(os.environ, PYSOFTMAX_ISA=isa)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


@pytest.mark.parametrize("isa", _core.available_isas())
def test_environment_variable_forces_the_isa(isa):
    r = _run("import pysoftmax, pysoftmax._core as c; print(c.get_isa()); pysoftmax.show_config()", isa)
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
        with pytest.raises(TypeError):
            pysoftmax.set_num_threads(1.5)
    finally:
        pysoftmax.set_num_threads(prev)


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
