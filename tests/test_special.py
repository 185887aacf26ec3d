"""pysoftmax.special against scipy.special: the same results, types, dtypes and shapes.

Finite results agree to a few ULP; non-finite results (inf, -inf, nan) and signs exactly.
Two error scales are allowed for on top of the ULPs of the result: log_softmax entries near 0
carry the rounding of log(sum) (one ULP of 1, in scipy as here), and a weighted sum whose
weights have both signs carries its condition number sum|b e^a| / |sum b e^a|.
"""

import importlib
import inspect
import subprocess
import sys
import warnings

import numpy as np
import pytest

import pysoftmax
import pysoftmax.special as ps

sp = pytest.importorskip("scipy.special")

ULPS = 8
DTYPES = ["float64", "float32", "float16", "int64"]


def scipy(name, *args, **kwargs):
    """scipy.special's result, without the RuntimeWarnings it emits for inf and nan."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return getattr(sp, name)(*args, **kwargs)


def mismatch(actual, desired, ulps=ULPS, extra=0.0, compared=True):
    """Why `actual` is not `desired` (None if it is): the same type (NumPy scalar or array),
    dtype and shape; of the `compared` entries, non-finite ones equal and finite ones within
    `ulps` ULP of `desired` plus `extra` (`extra` and `compared` broadcast to the shape)."""
    if type(actual) is not type(desired):
        return f"type {type(actual).__name__}, expected {type(desired).__name__}"
    a, d = np.asarray(actual), np.asarray(desired)
    if a.dtype != d.dtype or a.shape != d.shape:
        return f"{a.dtype}{a.shape}, expected {d.dtype}{d.shape}"
    compared = np.broadcast_to(compared, d.shape)
    fin = np.isfinite(d) & compared
    other = ~np.isfinite(d) & compared
    if not np.array_equal(a[other], d[other], equal_nan=True):
        return f"non-finite entries {a[other]}, expected {d[other]}"
    tol = ulps * np.spacing(np.abs(d[fin])).astype(np.float64)
    tol += np.broadcast_to(extra, d.shape)[fin]
    err = np.abs(a[fin].astype(np.float64) - d[fin].astype(np.float64))
    bad = ~(err <= tol)
    if bad.any():
        i = np.argmax(np.where(bad, err - tol, 0))
        return (f"{bad.sum()} of {bad.size} entries off: {a[fin][i]!r}, expected "
                f"{d[fin][i]!r} (tolerance {tol[i]:.3g})")
    return None


def assert_matches(actual, desired, ulps=ULPS, extra=0.0, compared=True):
    why = mismatch(actual, desired, ulps, extra, compared)
    assert why is None, why


def eps(dtype):
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype if dtype.kind == "f" else np.float64).eps)


# ---- the grid ------------------------------------------------------------------------------------

SHAPES = [(7,), (3, 5), (2, 3, 4), (4, 1, 3)]


def axes_for(ndim):
    axes = [None, 0, -1, ()]
    if ndim >= 2:
        axes += [1, (0, -1), (-1, 0)]
    if ndim >= 3:
        axes += [(0, 2), (-1, -3), (2, 0, 1), -2]
    return axes


# Value ranges whose results stay away from 0 (results near 0: see
# test_results_near_zero); "large" overflows exp in the dtype.
RANGES = {"moderate": (2, 6), "negative": (-10, -6),
          "large": {"float64": (700, 720), "float32": (80, 100), "float16": (10, 14),
                    "int64": (10**6, 10**6 + 50)}}


def make_input(rng, shape, dtype, data):
    lo, hi = RANGES[data] if data != "large" else RANGES[data][dtype]
    if dtype == "int64":
        return rng.integers(lo, hi, shape)
    return rng.uniform(lo, hi, shape).astype(dtype)


def inputs(seed, dtype, data):
    """One input per shape of SHAPES, then a transposed (non-contiguous) one."""
    rng = np.random.default_rng(seed)
    for shape in SHAPES:
        yield make_input(rng, shape, dtype, data)
    yield make_input(rng, (5, 3, 4), dtype, data).transpose(2, 0, 1)


@pytest.mark.parametrize("data", list(RANGES))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_grid(name, dtype, data):
    failures = []
    for x in inputs(1, dtype, data):
        for axis in axes_for(x.ndim):
            desired = scipy(name, x, axis=axis)
            if dtype == "int64":        # scipy's dtype for int64 input: float64, as here
                assert desired.dtype == np.float64
            extra = eps(desired.dtype) * ULPS if name == "log_softmax" else 0.0
            why = mismatch(getattr(ps, name)(x, axis=axis), desired, extra=extra)
            if why:
                failures.append(f"shape {x.shape} axis {axis}: {why}")
    assert not failures, "\n".join(failures[:10])


def make_weights(rng, kind, shape, dtype):
    """Weights `kind` for an input of `shape` (of dtype `dtype`; int64 input: float64 weights)."""
    wdt = "float64" if dtype == "int64" else dtype
    def values(s, negative=0.0, zero=0.0):
        w = rng.uniform(0.5, 2.0, s)
        u = rng.random(s)
        w = np.where(u < negative, -w, np.where(u > 1 - zero, 0.0, w))
        return w.astype(wdt)
    return {
        "none": lambda: None,
        "positive": lambda: values(shape),
        "zeros": lambda: values(shape, zero=0.3),
        "signed": lambda: values(shape, negative=0.3, zero=0.1),
        "python scalar": lambda: 1.5,
        "negative numpy scalar": lambda: np.asarray(-0.5, dtype=wdt)[()],
        "row": lambda: values(shape[-1:], negative=0.3),
        "column": lambda: values(shape[:1] + (1,) * (len(shape) - 1), negative=0.3),
        "larger than a": lambda: values((2,) + shape, negative=0.2),
    }[kind]()


inf, nan = np.inf, np.nan


def condition(a, axis, b, keepdims):
    """sum|b e^a| / |sum b e^a| per result element (1 without negative weights)."""
    if b is None or not np.any(np.asarray(b) < 0):
        return 1.0
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    total = scipy("logsumexp", a64, axis=axis, b=np.abs(b64), keepdims=keepdims)
    net = scipy("logsumexp", a64, axis=axis, b=b64, keepdims=keepdims, return_sign=True)[0]
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(total == -inf, 1.0, np.exp(total - net))   # no term: 1


def scipy_logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """scipy.special.logsumexp, where its fallback to the plain sum (taken for non-finite
    results) breaks its documented rules, with the rules: a negative sum gives nan (scipy: inf
    or -inf when the plain sum overflows or underflows), a slice of weights all 0 gives -inf
    with sign 0 (scipy: nan when such a term overflows)."""
    kw = {"axis": axis, "b": b, "keepdims": keepdims}
    result = scipy("logsumexp", a, return_sign=return_sign, **kw)
    if b is None:
        return result
    out, sign = (np.array(r) for r in scipy("logsumexp", a, return_sign=True, **kw))
    if return_sign:
        out = np.array(result[0])
    else:
        out = np.array(result)
        out[sign < 0] = nan
    a, b = np.broadcast_arrays(np.atleast_1d(a), np.atleast_1d(b))
    empty = ~np.any(b != 0, axis=axis, keepdims=keepdims)
    out[empty], sign[empty] = -inf, 0
    return (out[()], sign[()]) if return_sign else out[()]


WEIGHTS = ["none", "positive", "zeros", "signed", "python scalar", "negative numpy scalar",
           "row", "column", "larger than a"]


@pytest.mark.parametrize("return_sign", [False, True])
@pytest.mark.parametrize("kind", WEIGHTS)
@pytest.mark.parametrize("data", list(RANGES))
@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_grid(dtype, data, kind, return_sign):
    rng = np.random.default_rng(2)
    failures = []
    for n, a in enumerate(inputs(3, dtype, data)):
        b = make_weights(rng, kind, a.shape, dtype)
        for i, axis in enumerate(axes_for(a.ndim)):
            keepdims = (n + i) % 2 == 1         # each axis with and without, over the inputs
            kw = {"axis": axis, "b": b, "keepdims": keepdims, "return_sign": return_sign}
            desired = scipy_logsumexp(a, **kw)
            actual = ps.logsumexp(a, **kw)
            # a sum with fewer significant digits than ULPS in the dtype is not compared
            e = eps(np.asarray(desired[0] if return_sign else desired).dtype) * ULPS
            cond = condition(a, axis, b, keepdims)
            compared = cond * e < 1
            if return_sign:
                (actual, sign), (desired, desired_sign) = actual, desired
                why = mismatch(sign, desired_sign, ulps=0, compared=compared)
                if why:
                    failures.append(f"shape {a.shape} {kw}: sign: {why}")
            why = mismatch(actual, desired, extra=e * (cond - 1), compared=compared)
            if why:
                failures.append(f"shape {a.shape} {kw}: {why}")
    assert not failures, "\n".join(failures[:10])


# ---- non-finite values, weights of every sign ----------------------------------------------------

NONFINITE_ROWS = [
    [inf, 1.0], [inf, inf, 1.0], [inf, -inf], [-inf, -inf], [-inf, 1.0], [nan, 1.0],
    [inf, nan], [-inf, nan], [-inf, -inf, 2.0, -inf], [1e308, 1e308], [1e308, -1e308],
    [-1e308, -1e308], [1000.0, 0.0, -1000.0], [-inf, -inf, 1.0, inf], [inf], [-inf], [nan],
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("row", NONFINITE_ROWS, ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_nonfinite(name, row, dtype):
    with np.errstate(over="ignore"):    # 1e308 is inf in float32
        x = np.array(row).astype(dtype)
    assert_matches(getattr(ps, name)(x), scipy(name, x))
    if name == "logsumexp":
        assert_matches(ps.logsumexp(x, return_sign=True)[1],
                       scipy(name, x, return_sign=True)[1], ulps=0)
    # the same rows as slices of a matrix, next to a finite one
    m = np.stack([x, np.arange(len(row), dtype=dtype)])
    assert_matches(getattr(ps, name)(m, axis=1), scipy(name, m, axis=1))


WEIGHTED = [
    ([1.0, 2.0], [1.0, -1.0]),           # negative total: nan, or sign -1
    ([1.0, 1.0], [1.0, -1.0]),           # exact cancellation: -inf, sign 0
    ([1.0, 1.0, 1.0], [1.0, -1.0, -1.0]),
    ([2.0, 1.0, 0.5], [0.0, 0.0, 0.0]),  # all weights 0
    ([3.06, 0.37, 3.87], [1.88, 2.84, -0.85]),   # the largest term negative, the sum positive
    ([3.06, 0.37, 3.87], [1.88, 2.84, -3.85]),   # ... and the sum negative
    ([1.0, 10000.0], [1.0, 0.0]),        # a weight 0 removes a term that would dominate
    ([inf, 1.0], [0.0, 1.0]),            # ... or an infinite one
    ([nan, 1.0], [0.0, 1.0]),
    ([inf, 5.0], [1.0, 0.0]),
    ([inf, 1.0], [-1.0, 1.0]),           # +inf term of negative weight: -inf sum
    ([inf, inf], [1.0, -1.0]),           # +inf terms of both signs: nan
    ([inf], [-1.0]),
    ([1.0, 2.0], [inf, 1.0]),            # infinite weights
    ([1.0, 2.0], [-inf, 1.0]),
    ([-inf, 1.0], [inf, 1.0]),           # inf * exp(-inf): nan
    ([1.0, 2.0], [nan, 1.0]),
    ([inf, 1.0], [-0.0, 1.0]),           # -0.0 is a zero weight
    ([1000.0, 1000.0], [1.2, 1.2]),
    ([1000.0, 999.0], [1.0, -1.0]),
    ([-1000.0, -1001.0], [-2.0, 1.0]),   # negative total (scipy: -inf, the plain sum underflows)
    ([709.0, 709.5, 710.0], [1e30, -1e-30, 3.0]),
    ([1.0, 2.0, 3.0], [1e-30, 1e-30, 1e-30]),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("a, b", WEIGHTED, ids=str)
def test_weighted_cases(a, b, dtype):
    a, b = np.array(a, dtype=dtype), np.array(b, dtype=dtype)
    extra = eps(dtype) * ULPS * (condition(a, None, b, False) - 1)
    assert_matches(ps.logsumexp(a, b=b), scipy_logsumexp(a, b=b), extra=extra)
    out, sign = ps.logsumexp(a, b=b, return_sign=True)
    desired, desired_sign = scipy_logsumexp(a, b=b, return_sign=True)
    assert_matches(out, desired, extra=extra)
    assert_matches(sign, desired_sign, ulps=0)


@pytest.mark.parametrize("a, b, out, sign", [
    # a weight 0 removes its term even when the term is inf or nan (scipy: nan)
    ([inf, inf], [1.0, 0.0], inf, 1.0),
    ([nan, inf], [0.0, 1.0], inf, 1.0),
    ([inf, 1.0], [0.0, 0.0], -inf, 0.0),
    # the weights of the largest terms cancel: the rest is summed without overflow (scipy: nan)
    ([1000.0, 1000.0, 999.0], [1.0, -1.0, 1.0], 999.0, 1.0),
    ([1000.0, 1000.0, 999.0], [1.0, -1.0, -1.0], 999.0, -1.0),
    ([inf], [0.0], -inf, 0.0),
    ([nan], [0.0], -inf, 0.0),
])
def test_weighted_where_scipy_returns_nan(a, b, out, sign):
    """Where scipy's result contradicts its documented rules, the rule holds here."""
    actual, actual_sign = ps.logsumexp(a, b=b, return_sign=True)
    assert_matches(actual, np.float64(out))
    assert_matches(actual_sign, np.float64(sign), ulps=0)
    assert_matches(ps.logsumexp(a, b=b), np.float64(nan if sign < 0 else out))


@pytest.mark.parametrize("a, b, exact", [
    ([0.0, 0.0], [1.0, -0.999], -6.907755278982136),
    ([10.0, 10.0 - 1e-9], [1.0, -1.0], -10.723265754706043),   # scipy: 5e-10 off
])
def test_weighted_near_cancellation(a, b, exact):
    # weights of small logarithm: the difference of the two sums is accurate to a few ULP
    out, sign = ps.logsumexp(a, b=b, return_sign=True)
    assert_matches(out, np.float64(exact))
    assert_matches(sign, np.float64(1.0), ulps=0)


def test_weighted_sum_of_one_is_near_zero():
    # e^1 - e^1 + e^0 = 1: log 1 = 0 to the rounding of the terms (scipy happens to give 0.0)
    out, sign = ps.logsumexp([1.0, 1.0, 0.0], b=[1.0, -1.0, 1.0], return_sign=True)
    assert abs(out) <= 4 * eps("float64") and sign == 1.0


# ---- the kernel's accuracy near 0 ----------------------------------------------------------------

@pytest.mark.parametrize("a, b, exact", [
    ([0.0, -40.0], None, 4.248354255291589e-18),
    ([0.0, -40.0], [1.0, 1.0], 4.248354255291589e-18),
    ([-40.0, 0.0, -40.0], [0.5, 1.0, 0.5], 4.248354255291589e-18),
    # the positive part's logsumexp, 1.677e-4, carries its error into a cancellation
    ([3.0, 3.0, -5.0], [-1.0, 1.0 - 2**-40, 0.5], -5.693147185982276),
])
def test_results_near_zero(a, b, exact):
    actual = ps.logsumexp(a, b=b)
    assert_matches(actual, np.float64(exact), ulps=4)
    assert_matches(actual, scipy("logsumexp", a, b=b), ulps=4)


# ---- empty and 0-d inputs ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("shape, axis, keepdims", [
    ((0,), None, False), ((0,), 0, True), ((3, 0), 1, False), ((3, 0), 1, True),
    ((3, 0), 0, False), ((0, 3), -1, True), ((2, 0, 3), 1, True), ((2, 0, 3), 2, False),
])
def test_logsumexp_empty(shape, axis, keepdims, dtype):
    a = np.empty(shape, dtype=dtype)
    kw = {"axis": axis, "keepdims": keepdims}
    assert_matches(ps.logsumexp(a, **kw), scipy("logsumexp", a, **kw))
    out, sign = ps.logsumexp(a, return_sign=True, **kw)
    assert_matches(out, scipy("logsumexp", a, **kw))
    # the sign of the empty sum is 0 (scipy: -1, the sign of -inf)
    assert_matches(sign, np.zeros_like(out)[()], ulps=0)


def test_logsumexp_empty_full_reduction():
    assert_matches(ps.logsumexp([]), np.float64(-inf))
    assert_matches(ps.logsumexp(np.empty(0, np.float32)), np.float32(-inf))
    # reductions over several axes (scipy raises IndexError for them)
    assert_matches(ps.logsumexp(np.empty((2, 0))), np.float64(-inf))
    assert_matches(ps.logsumexp(np.empty((0, 3)), axis=(0, 1), keepdims=True),
                   np.full((1, 1), -inf))
    assert_matches(ps.logsumexp(np.empty((2, 0, 3)), axis=(0, 2)), np.empty(0))
    assert_matches(ps.logsumexp(np.empty((2, 0, 3)), axis=(1, 2), return_sign=True)[1],
                   np.zeros(2), ulps=0)
    # empty weights broadcast to an empty result
    assert_matches(ps.logsumexp(np.zeros(3), b=np.ones((0, 3)), axis=-1),
                   scipy("logsumexp", np.zeros(3), b=np.ones((0, 3)), axis=-1))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_empty(name):
    for shape, axis in [((0,), None), ((0, 3), 0), ((3, 0), None)]:
        with pytest.raises(ValueError):
            scipy(name, np.empty(shape), axis=axis)
        with pytest.raises(ValueError):
            getattr(ps, name)(np.empty(shape), axis=axis)
    for shape, axis in [((0, 3), 1), ((0, 3), ()), ((2, 0), ())]:
        x = np.empty(shape, np.float32)
        assert_matches(getattr(ps, name)(x, axis=axis), scipy(name, x, axis=axis))


ZERO_D = [3.0, -2, np.float32(1.5), np.float16(2.0), np.array(0.25), inf, -inf, nan]


@pytest.mark.parametrize("x", ZERO_D, ids=repr)
@pytest.mark.parametrize("axis", [None, 0, -1, ()])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_0d(name, axis, x):
    actual = getattr(ps, name)(x, axis=axis)
    assert isinstance(actual, np.generic)
    assert_matches(actual, scipy(name, x, axis=axis))


@pytest.mark.parametrize("x", ZERO_D, ids=repr)
@pytest.mark.parametrize("b", [None, 2.0, -3.0, np.float32(0.5), 0.0])
@pytest.mark.parametrize("axis, keepdims", [(None, False), (0, False), (-1, False),
                                            ((0,), False), (None, True), ((), False)])
def test_logsumexp_0d(axis, keepdims, b, x):
    kw = {"axis": axis, "b": b, "keepdims": keepdims}
    desired = scipy_logsumexp(x, **kw)
    assert isinstance(desired, np.generic) == (not keepdims and axis != ())
    assert_matches(ps.logsumexp(x, **kw), desired)
    out, sign = ps.logsumexp(x, return_sign=True, **kw)
    desired, desired_sign = scipy_logsumexp(x, return_sign=True, **kw)
    assert_matches(out, desired)
    assert_matches(sign, desired_sign, ulps=0)


@pytest.mark.parametrize("axis", [1, -2, (0, 0)])
def test_0d_bad_axis(axis):
    for name in ("softmax", "log_softmax", "logsumexp"):
        with pytest.raises(Exception) as expected:
            scipy(name, 3.0, axis=axis)
        with pytest.raises(expected.type):
            getattr(ps, name)(3.0, axis=axis)


# ---- dtypes --------------------------------------------------------------------------------------

@pytest.mark.parametrize("a_dtype, b, result", [
    ("float64", None, "float64"), ("float32", None, "float32"), ("float16", None, "float16"),
    ("int64", None, "float64"), ("int8", None, "float64"), ("uint16", None, "float64"),
    ("bool", None, "float64"),
    ("float32", 2.0, "float32"),                  # a Python scalar does not raise the dtype
    ("float32", 2, "float32"),
    ("float32", np.float64(2.0), "float64"),      # a NumPy scalar does
    ("float32", [2, 1], "float64"),               # an int64 array does
    ("float32", np.array([2.0, 1.0], np.float32), "float32"),
    ("float16", np.array([2.0, 1.0], np.float32), "float32"),
    ("int32", np.array([2, 1], np.int8), "float64"),
    ("int64", [2.0, -1.0], "float64"),
])
def test_logsumexp_dtypes(a_dtype, b, result):
    a = np.array([1, 0], dtype=a_dtype)
    desired = scipy("logsumexp", a, b=b)
    assert desired.dtype == result
    assert_matches(ps.logsumexp(a, b=b), desired)
    out, sign = ps.logsumexp(a, b=b, return_sign=True)
    assert out.dtype == sign.dtype == result


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "int64", "int32"])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dtypes(name, dtype):
    x = np.array([[1, 0, 3], [2, 2, -1]], dtype=dtype)
    assert_matches(getattr(ps, name)(x, axis=1), scipy(name, x, axis=1))


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "bool"])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_small_integers_in_float64(name, dtype):
    # scipy subtracts the maximum in the integer dtype (float16 results for 8-bit integers,
    # wrap-around for unsigned ones, TypeError for bool); here every integer is a float64
    x = np.array([[1, 0, 1], [0, 1, 1]], dtype=dtype)
    assert_matches(getattr(ps, name)(x, axis=1), scipy(name, x.astype(np.float64), axis=1))


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("x", [[1j, 2.0], np.array([1.0, 2.0], np.complex64)], ids=["c128", "c64"])
def test_complex_raises(name, x):
    with pytest.raises(TypeError, match="complex input .* not supported"):
        getattr(ps, name)(x)


def test_complex_weights_and_other_dtypes_raise():
    with pytest.raises(TypeError, match="b: complex input"):
        ps.logsumexp([1.0, 2.0], b=[1j, 1.0])
    for x in (np.array([1.0, 2.0], np.longdouble), np.array(["a", "b"]),
              np.array([1.0, None], dtype=object)):
        for name in ("softmax", "log_softmax", "logsumexp"):
            with pytest.raises(TypeError, match="not supported"):
                getattr(ps, name)(x)
    if np.dtype(np.longdouble).itemsize > 8:
        with pytest.raises(TypeError, match="b: dtype"):
            ps.logsumexp([1.0, 2.0], b=np.ones(2, np.longdouble))


# ---- arguments -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_signatures_match_scipy(name):
    assert inspect.signature(getattr(ps, name)) == inspect.signature(getattr(sp, name))


@pytest.mark.parametrize("axis", [2, -3, (0, 0), (0, 5), [0, 1], 1.0])
def test_bad_axis_raises_like_scipy(axis):
    x = np.ones((2, 3))
    for name in ("softmax", "log_softmax", "logsumexp"):
        with pytest.raises(Exception) as expected:
            scipy(name, x, axis=axis)
        with pytest.raises(expected.type):
            getattr(ps, name)(x, axis=axis)


def test_weights_that_do_not_broadcast():
    with pytest.raises(ValueError, match=r"b: weights of shape \(2,\)"):
        ps.logsumexp(np.ones((2, 3)), b=np.ones(2))


def test_array_likes_and_no_writeback():
    a, b = np.array([5.0, 4.0, np.inf]), np.array([3.0, -2.0, 0.0])
    a0, b0 = a.copy(), b.copy()
    ps.logsumexp(a, b=b, return_sign=True)
    ps.log_softmax(a)
    ps.softmax(a)
    assert np.array_equal(a, a0) and np.array_equal(b, b0)
    assert_matches(ps.logsumexp([1000, 1000]), scipy("logsumexp", [1000, 1000]))
    assert_matches(ps.softmax([[1, 2], [3, 4]]), scipy("softmax", [[1, 2], [3, 4]]))
    assert_matches(ps.log_softmax((1.0, 2.0)), scipy("log_softmax", (1.0, 2.0)))
    assert_matches(ps.logsumexp(a, b=list(b)), scipy("logsumexp", a, b=list(b)))


def test_fortran_order_and_strided_views():
    rng = np.random.default_rng(4)
    x = np.asfortranarray(rng.normal(size=(6, 5)) + 4)
    b = rng.uniform(-1, 2, size=(6, 10))[:, ::2]
    for axis in (None, 0, 1):
        for name in ("softmax", "log_softmax"):
            assert_matches(getattr(ps, name)(x, axis=axis), scipy(name, x, axis=axis),
                           extra=eps("float64") * ULPS)
        assert_matches(ps.logsumexp(x[::2], axis=axis), scipy("logsumexp", x[::2], axis=axis))
        extra = eps("float64") * ULPS * (condition(x, axis, b, False) - 1)
        assert_matches(ps.logsumexp(x, axis=axis, b=b, return_sign=True)[0],
                       scipy("logsumexp", x, axis=axis, b=b, return_sign=True)[0], extra=extra)


# ---- the module and the top-level functions ------------------------------------------------------

def test_importable():
    module = importlib.import_module("pysoftmax.special")
    assert sorted(module.__all__) == ["log_softmax", "logsumexp", "softmax"]
    # in a fresh interpreter, as a user writes it
    code = ("import pysoftmax.special\n"
            "from pysoftmax.special import log_softmax, logsumexp, softmax\n"
            "assert pysoftmax.special.logsumexp([0.0, 0.0]) == logsumexp([0.0, 0.0])\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_top_level_keeps_axis_minus_one(name):
    assert inspect.signature(getattr(pysoftmax, name)).parameters["axis"].default == -1
    x = np.arange(6.0).reshape(2, 3)
    top = getattr(pysoftmax, name)(x)
    assert top.shape == ((2,) if name == "logsumexp" else (2, 3))
    np.testing.assert_array_equal(top, getattr(ps, name)(x, axis=-1))
    assert np.shape(getattr(ps, name)(x)) == (() if name == "logsumexp" else (2, 3))
    if name != "logsumexp":
        assert not np.allclose(top, getattr(ps, name)(x))
