"""linear_cross_entropy: the native paths (fused kernel for small K, BLAS chunks for large K)
against the NumPy reference, against finite differences and against the active instruction
set's own kernels, results independent of the thread count, BLAS on one thread, memory that
does not grow with N, and every bad argument."""

import ctypes
import ctypes.util
import itertools
import json
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import pysoftmax
from pysoftmax import _core, _linear, reference

from helpers import assert_same, using_threads

REDUCTIONS = ["mean", "sum", "none"]
# (n, d, k): one stripe; many stripes and slots (stripes of 16 rows at d = 1100 float64 and
# 2100 float32); K = 200 takes the BLAS path.
SHAPES = [(1, 1, 1), (45, 7, 3), (60, 33, 10), (300, 1100, 5), (130, 19, 200)]


def _problem(rng, n, d, k, dtype, soft=False, bias=True):
    x = rng.standard_normal((n, d)).astype(dtype)
    w = (rng.standard_normal((k, d)) / np.sqrt(d)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype) if bias else None
    if soft:
        t = rng.random((n, k)) ** 2
        target = (t / t.sum(1, keepdims=True)).astype(dtype)
    else:
        target = rng.integers(0, k, size=n)
        target[::7] = -100
    return x, w, b, target


def _tol(dtype):
    return dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)


def _path(n, d, k, dtype):
    return _linear._linear_plan(n, d, k, np.dtype(dtype).itemsize)[0]


def test_shapes_cover_both_paths_and_many_slots():
    assert _path(130, 19, 200, np.float32) == "blas"
    kind, stripe, slots = _linear._linear_plan(300, 1100, 5, 8)
    assert kind == "fused" and stripe == 16 and slots == 16 and 300 // stripe > slots


# ---- native against the reference --------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, d, k", SHAPES)
@pytest.mark.parametrize("soft", [False, True], ids=["labels", "probs"])
def test_every_keyword(isa, rng, dtype, n, d, k, soft):
    x, w, b, target = _problem(rng, n, d, k, dtype, soft)
    weight, sw = rng.random(k) + 0.5, rng.random(n) * 2
    for reduction, cw, s, eps, bias in itertools.product(REDUCTIONS, [None, weight], [None, sw],
                                                         [0.0, 0.2], [b, None]):
        kw = dict(weight=cw, sample_weight=s, reduction=reduction, label_smoothing=eps)
        got = pysoftmax.linear_cross_entropy(x, w, bias, target, **kw)
        want = reference.linear_cross_entropy(x, w, bias, target, **kw)
        for g, r in zip(got, want):
            assert_same(g, r, **_tol(dtype))
        assert_same(pysoftmax.linear_cross_entropy(x, w, bias, target, return_grad=False, **kw),
                    want[0], **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [10, 200])
def test_is_cross_entropy_of_the_logits(rng, dtype, k):
    x, w, b, y = _problem(rng, 50, 12, k, dtype)
    loss, dw, db = pysoftmax.linear_cross_entropy(x, w, b, y, ignore_index=-100)
    want, g = reference.cross_entropy_with_grad(x @ w.T + b, y)
    assert_same(loss, want, **_tol(dtype))
    assert_same(dw, g.T @ x, **_tol(dtype))
    assert_same(db, g.sum(0), **_tol(dtype))


def test_dtypes_follow_the_inputs(rng):
    x, w, b, y = _problem(rng, 20, 5, 3, np.float32)
    for xd, wd, want in [(np.float32, np.float32, np.float32), (np.float32, np.float64, np.float64),
                         (np.float16, np.float16, np.float16), (np.int64, np.float32, np.float64)]:
        loss, dw, db = pysoftmax.linear_cross_entropy(x.astype(xd), w.astype(wd), b.astype(wd), y,
                                                      reduction="none")
        assert loss.dtype == dw.dtype == db.dtype == want
    out = pysoftmax.linear_cross_entropy(x, w, None, y)
    assert isinstance(out[0], float) and out[2] is None


@pytest.mark.parametrize("k", [4, 200])
@pytest.mark.parametrize("soft", [False, True], ids=["labels", "probs"])
def test_layouts_and_read_only(rng, k, soft):
    x, w, b, t = _problem(rng, 40, 9, k, np.float64, soft)
    want = reference.linear_cross_entropy(x, w, b, t)
    xf, wf = np.asfortranarray(x), np.asfortranarray(w)
    xs = np.repeat(x, 2, axis=1)[:, ::2]                                   # strided rows
    for xa, wa in [(xf, wf), (xs, w), (x[::-1][::-1], w)]:
        for a in (xa, wa, b, t):
            a.flags.writeable = False
        for g, r in zip(pysoftmax.linear_cross_entropy(xa, wa, b, t), want):
            assert_same(g, r, **_tol(np.float64))


def test_empty_batch_and_all_ignored(rng):
    x, w, b, _ = _problem(rng, 0, 4, 3, np.float32)
    loss, dw, db = pysoftmax.linear_cross_entropy(x, w, b, np.zeros(0, dtype=np.int64))
    assert loss == 0.0 and not dw.any() and not db.any()
    x, w, b, _ = _problem(rng, 5, 4, 3, np.float32)
    loss, dw, db = pysoftmax.linear_cross_entropy(x, w, b, np.full(5, -100))
    assert loss == 0.0 and not dw.any() and not db.any()


def test_use_backend_reference(rng):
    x, w, b, y = _problem(rng, 8, 3, 2, np.float64)
    with pysoftmax.use_backend("reference"):
        got = pysoftmax.linear_cross_entropy(x, w, b, y, reduction="sum")
    want = reference.linear_cross_entropy(x, w, b, y, reduction="sum")
    assert got[0] == want[0] and np.array_equal(got[1], want[1])


# ---- gradients against finite differences of the reference --------------------------------

@pytest.mark.parametrize("k", [4, 200])
@pytest.mark.parametrize("soft", [False, True], ids=["labels", "probs"])
def test_gradient_finite_differences(rng, k, soft):
    n, d = 30, 6
    x, w, b, target = _problem(rng, n, d, k, np.float64, soft)
    kw = dict(weight=rng.random(k) + 0.5, sample_weight=rng.random(n), label_smoothing=0.1)
    _, dw, db = pysoftmax.linear_cross_entropy(x, w, b, target, **kw)

    def f(w_, b_):
        return reference.linear_cross_entropy(x, w_, b_, target, return_grad=False, **kw)

    h = 1e-3
    for c, j in [(0, 0), (k - 1, d - 1), (k // 2, 2)]:
        def fw(t, c=c, j=j):
            w2 = w.copy()
            w2[c, j] += t
            return f(w2, b)
        fd = (-fw(2 * h) + 8 * fw(h) - 8 * fw(-h) + fw(-2 * h)) / (12 * h)
        np.testing.assert_allclose(dw[c, j], fd, rtol=1e-7, atol=1e-10)

        def fb(t, c=c):
            b2 = b.copy()
            b2[c] += t
            return f(w, b2)
        fd = (-fb(2 * h) + 8 * fb(h) - 8 * fb(-h) + fb(-2 * h)) / (12 * h)
        np.testing.assert_allclose(db[c], fd, rtol=1e-7, atol=1e-10)


# ---- the same result whatever the thread count --------------------------------------------

def _call_with_threads(n_threads, *args, **kwargs):
    with using_threads(n_threads):
        return pysoftmax.linear_cross_entropy(*args, **kwargs)


def _bitwise_equal(a, b):
    for u, v in zip(a, b):
        if isinstance(u, float):
            assert u == v
        else:
            assert u.dtype == v.dtype and np.array_equal(u, v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, d, k", [(3000, 70, 10), (900, 30, 200)])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_thread_count_does_not_change_results(isa, rng, monkeypatch, dtype, n, d, k, reduction):
    monkeypatch.setattr(_linear, "_CHUNK_BYTES", 100 * k * 4)   # several chunks on the BLAS path
    x, w, b, y = _problem(rng, n, d, k, dtype)
    sw = rng.random(n)
    one = _call_with_threads(1, x, w, b, y, sample_weight=sw, reduction=reduction)
    for threads in (2, 3, 5):
        _bitwise_equal(_call_with_threads(threads, x, w, b, y, sample_weight=sw,
                                          reduction=reduction), one)


@pytest.mark.parametrize("k", [10, 200])
def test_blas_thread_count_does_not_change_results(rng, monkeypatch, k):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    monkeypatch.setattr(_linear, "_CHUNK_BYTES", 300 * k * 4)
    x, w, b, y = _problem(rng, 2000, 300, k, np.float32)
    default = pysoftmax.linear_cross_entropy(x, w, b, y)
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        single = pysoftmax.linear_cross_entropy(x, w, b, y)
    _bitwise_equal(default, single)


# ---- the active instruction set's own kernels ----------------------------------------------
#
# The fused path's microkernels, operation by operation (csrc/linear_kernels.h): "scalar" adds
# plain products in feature order; the AVX2 ones (which serve "avx2" and "avx512") keep one
# fused multiply-add chain per vector lane, add the lanes in a fixed order, then the tail.

_LIBM = ctypes.CDLL(ctypes.util.find_library("m"))


def _fma(dtype):
    """Elementwise fma(a, b, c) with one rounding, in `dtype` (libm's fma / fmaf)."""
    f = _LIBM.fmaf if dtype == np.float32 else _LIBM.fma
    c_type = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    f.argtypes, f.restype = (c_type,) * 3, c_type
    ufunc = np.frompyfunc(lambda a, b, c: f(float(a), float(b), float(c)), 3, 1)
    return lambda a, b, c: ufunc(a, b, c).astype(dtype)


def _model_logits(x, w, b, fused):
    n, d = x.shape
    if not fused:
        acc = np.zeros((n, w.shape[0]), x.dtype)
        for j in range(d):
            acc = x[:, j, None] * w[None, :, j] + acc
        return acc + b
    fma = _fma(x.dtype)
    width = 32 // x.itemsize                             # lanes of a 256-bit vector
    lanes = [np.zeros((n, w.shape[0]), x.dtype) for _ in range(width)]
    full = d // width * width
    for j in range(full):
        lanes[j % width] = fma(x[:, j, None], w[None, :, j], lanes[j % width])
    if width == 4:
        s = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3])
    else:
        s = (((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))
             + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7])))
    for j in range(full, d):
        s = fma(x[:, j, None], w[None, :, j], s)
    return s + b


def _model_grad_w(g, x, fused):
    """dw[c, j]: one chain over the rows in order."""
    fma = _fma(x.dtype)
    dw = np.zeros((g.shape[1], x.shape[1]), x.dtype)
    for r in range(x.shape[0]):
        dw = fma(g[r, :, None], x[None, r], dw) if fused else g[r, :, None] * x[None, r] + dw
    return dw


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_path_runs_the_active_isas_kernels(rng, dtype):
    """Under each instruction set, the fused path gives its own kernels' results bit for bit:
    its linear microkernels (modelled above) and its cross-entropy kernel on their logits."""
    n, d, k = 64, 11, 5                                   # one stripe, so one slot
    x, w, b, y = _problem(rng, n, d, k, dtype)
    assert _linear._linear_plan(n, d, k, x.itemsize)[:2] == ("fused", 256)
    results = {}
    previous = _core.get_isa()
    try:
        for isa in _core.available_isas():
            _core.set_isa(isa)
            fused = isa != "scalar"
            z = _model_logits(x, w, b, fused)
            loss, g = np.empty(n), np.empty((n, k), dtype)
            _core.cross_entropy_rows(z, y, None, None, None, loss, g, -100, 0.0, 1.0)
            db = np.cumsum(g.astype(np.float64), axis=0)[-1].astype(dtype)   # in row order
            results[isa] = pysoftmax.linear_cross_entropy(x, w, b, y, reduction="none")
            _bitwise_equal(results[isa], (loss.astype(dtype), _model_grad_w(g, x, fused), db))
    finally:
        _core.set_isa(previous)
    if "avx2" in results:                   # the losses and dW of the two differ on this data
        for got, other in zip(results["avx2"][:2], results["scalar"][:2]):
            assert not np.array_equal(got, other)


# ---- BLAS on one thread -----------------------------------------------------------------------

_BLAS_THREADS = """
import json, sys, threadpoolctl
from pysoftmax import _native

def blas_threads():
    return {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas"}

with _native.single_threaded_blas():                     # its first use: before SciPy
    pass
assert "scipy" not in sys.modules
before = blas_threads()
import scipy.linalg                                       # SciPy's own BLAS, in its wheel
after = blas_threads()
with _native.single_threaded_blas():
    inside = blas_threads()
print(json.dumps({"new": sorted(set(after) - set(before)), "after": after, "inside": inside}))
"""


def test_single_threaded_blas_limits_blas_loaded_after_its_first_use():
    pytest.importorskip("scipy")
    r = subprocess.run([sys.executable, "-c", _BLAS_THREADS], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    if not out["new"]:
        pytest.skip("SciPy uses NumPy's BLAS here")
    if max(out["after"][lib] for lib in out["new"]) == 1:
        pytest.skip("SciPy's BLAS runs one thread here anyway")
    assert set(out["new"]) <= set(out["inside"])
    assert set(out["inside"].values()) == {1}, out


# ---- memory: no (N, K) array ----------------------------------------------------------------

def _peak_traced(fn):
    """Peak bytes allocated through NumPy (traced by tracemalloc) while fn runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("d, k", [(64, 10), (32, 2000)])
def test_peak_memory_does_not_grow_with_n(rng, monkeypatch, d, k):
    monkeypatch.setattr(_linear, "_CHUNK_BYTES", 1 << 20)
    pysoftmax.linear_cross_entropy(*_problem(rng, 100, d, k, np.float32))  # one-time set-up
    peaks = {}
    for n in (8192, 16384):
        x, w, b, y = _problem(rng, n, d, k, np.float32)
        peaks[n] = _peak_traced(
            lambda x=x, w=w, b=b, y=y: pysoftmax.linear_cross_entropy(x, w, b, y))
        plan = _linear._linear_plan(n, d, k, 4)
        # the outputs dW and db, then the fused path's partial gradients, or the BLAS path's
        # chunk of logits and dW's increment
        work = (plan[2] * k * d * 4 if plan[0] == "fused" else plan[1] * k * 4 + k * d * 4)
        assert peaks[n] <= (k * d + k) * 4 + work + n + (256 << 10), (n, peaks[n], work)
        assert peaks[n] < n * k * 4 / 4                 # the logits would take n * k * 4 bytes
    # What grows with N: the mask of the rows "mean" counts (CrossEntropyArgs.counted, 1 byte
    # per row) and small temporaries of the label checks: at most 2 bytes per row.
    assert peaks[16384] - peaks[8192] <= 2 * 8192


# ---- bad arguments ---------------------------------------------------------------------------

def test_errors_name_the_argument(rng):
    x, w, b, y = _problem(rng, 6, 4, 3, np.float32)
    lce = pysoftmax.linear_cross_entropy
    with pytest.raises(ValueError, match=r"X: expected a 2-D array \(N, d\), got shape \(24,\)"):
        lce(x.ravel(), w, b, y)
    with pytest.raises(ValueError, match=r"W: expected shape \(K, 4\).*got shape \(3, 5\)"):
        lce(x, np.zeros((3, 5)), b, y)
    with pytest.raises(ValueError, match=r"W: expected shape \(K, 4\) with K >= 1"):
        lce(x, np.zeros((0, 4)), None, np.zeros(6, dtype=int))
    with pytest.raises(ValueError, match=r"b: expected shape \(3,\).*got shape \(4,\)"):
        lce(x, w, np.zeros(4), y)
    with pytest.raises(ValueError, match=r"target: class indices .* \(6,\); got shape \(5,\)"):
        lce(x, w, b, y[:5])
    with pytest.raises(ValueError, match=r"target: probabilities must have .* shape \(6, 3\)"):
        lce(x, w, b, np.ones((6, 4)) / 4)
    with pytest.raises(IndexError, match=r"target: label 3 at position \(1,\) is out of range"):
        lce(x, w, b, np.array([0, 3, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match=r"sample_weight: expected shape \(6,\).*got shape \(2,\)"):
        lce(x, w, b, y, sample_weight=[1.0, 2.0])
    with pytest.raises(TypeError, match="sample_weight: expected real weights"):
        lce(x, w, b, y, sample_weight=np.array(["a"] * 6))
    with pytest.raises(ValueError, match=r"weight: expected shape \(3,\)"):
        lce(x, w, b, y, weight=np.ones(2))
    with pytest.raises(ValueError, match="reduction: expected"):
        lce(x, w, b, y, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        lce(x, w, b, y, label_smoothing=2.0)
    with pytest.raises(TypeError, match="X: dtype complex128 is not supported"):
        lce(x.astype(complex), w, b, y)
    for backend in ("native", "reference"):
        with pysoftmax.use_backend(backend), pytest.raises(ValueError, match="b: expected shape"):
            lce(x, w, np.zeros(2), y)
