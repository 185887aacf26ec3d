"""softmax, log_softmax and logsumexp: native against the NumPy reference on every instruction
set this CPU supports, over sizes, axes, layouts, edge rows, masks, temperature and out=."""

import pickle

import numpy as np
import pytest

import pysoftmax
from pysoftmax import _native as native
from pysoftmax import reference

DTYPES = [np.float32, np.float64]
FUNCS = ["softmax", "log_softmax", "logsumexp"]


def tol(dtype):
    """Native against the reference: the reference rounds z - max before exp in the working
    dtype, so it is itself off by up to |z - max| * eps relative."""
    if dtype == np.float32:
        return dict(rtol=4e-6, atol=1e-7)
    return dict(rtol=1e-13, atol=1e-15)


def check(fn, x, *args, dtype=None, **kwargs):
    """Calls `fn` on both backends and compares them (values, NaN positions, dtype, shape).

    Log-space results near 0 are differences of numbers as large as the logits: there the
    reference's rounding of z - max is an absolute error of about |z| * eps.
    """
    got = getattr(native, fn)(x, *args, **kwargs)
    want = getattr(reference, fn)(x, *args, **kwargs)
    assert type(got) is type(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    dtype = dtype or got.dtype
    t = tol(dtype) if fn == "softmax" else log_tol(dtype, x, kwargs.get("temperature", 1.0))
    np.testing.assert_allclose(got, want, equal_nan=True, **t)
    return got


def log_tol(dtype, x, temperature=1.0):
    """tol() widened by the absolute error |z| * eps of a log-space result computed by
    rounding z - max."""
    xs = np.asarray(x, dtype=np.float64)
    span = np.max(np.abs(xs[np.isfinite(xs)]), initial=0.0) / temperature
    t = tol(dtype)
    t["atol"] = max(t["atol"], 4 * np.finfo(dtype).eps * span)
    return t


# ---- sizes around every vector width and unroll ------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", FUNCS)
def test_every_row_length_up_to_130(isa, rng, fn, dtype):
    for k in range(1, 131):
        for n in (1, 3, 17):
            x = (rng.standard_normal((n, k)) * 4).astype(dtype)
            check(fn, x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("k", [127, 128, 129, 1000, 4097, 50257, 200003])
def test_long_rows(isa, rng, fn, dtype, k):
    n = 3 if k > 10000 else 9
    x = (rng.standard_normal((n, k)) * 4).astype(dtype)
    check(fn, x)


@pytest.mark.parametrize("fn", FUNCS)
def test_many_rows_use_threads_and_give_identical_results(rng, fn, threads):
    x = (rng.standard_normal((3001, 67)) * 4).astype(np.float32)
    got = check(fn, x)
    pysoftmax.set_num_threads(3 - threads)
    np.testing.assert_array_equal(getattr(native, fn)(x), got)


# ---- axes, layouts and dtypes -------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3, None, (0, 2), (2, 0), (1, 2), (0, 1, 2)])
def test_axes(isa, rng, fn, dtype, axis):
    x = (rng.standard_normal((5, 6, 7)) * 4).astype(dtype)
    check(fn, x, axis)


def _layouts(x):
    yield "C", x
    yield "Fortran", np.asfortranarray(x)
    yield "strided rows", x[::2]
    yield "strided columns", x[:, ::3]
    yield "reversed", x[::-1, ::-1]
    readonly = x.copy()
    readonly.flags.writeable = False
    yield "read-only", readonly
    yield "broadcast", np.broadcast_to(x[0], x.shape)
    yield "transposed", x.T


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", FUNCS)
def test_layouts(isa, rng, fn, dtype):
    x = (rng.standard_normal((40, 37)) * 4).astype(dtype)
    for name, v in _layouts(x):
        before = v.copy()
        for axis in (-1, 0):
            check(fn, v, axis)
        np.testing.assert_array_equal(v, before, err_msg=f"{name}: the input was modified")


@pytest.mark.parametrize("fn", FUNCS)
def test_dtype_rules(rng, fn):
    x = rng.standard_normal((6, 9)) * 4
    f = getattr(pysoftmax, fn)
    assert f(x.astype(np.float32)).dtype == np.float32
    assert f(x).dtype == np.float64
    half = f(x.astype(np.float16))
    assert half.dtype == np.float16
    np.testing.assert_allclose(half, f(x.astype(np.float16).astype(np.float32)).astype(np.float16))
    for ints in (np.int8, np.uint16, np.int64, np.bool_):
        xi = (x > 0) if ints is np.bool_ else x.astype(ints)
        got = f(xi)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, f(xi.astype(np.float64)), rtol=1e-15)
    np.testing.assert_allclose(f(x.tolist()), f(x), rtol=1e-15)  # any array-like


@pytest.mark.parametrize("dtype", DTYPES)
def test_unpickled_arrays(rng, dtype):
    # An unpickled array (multiprocessing, joblib, memory maps from scikit-learn's checks) has a
    # dtype object equal to NumPy's float64 / float32 but not the same object.
    x = (rng.standard_normal((6, 9)) * 4).astype(dtype)
    u = pickle.loads(pickle.dumps(x))
    assert u.dtype == x.dtype and u.dtype is not np.dtype(dtype)
    for fn in FUNCS:
        np.testing.assert_array_equal(getattr(pysoftmax, fn)(u), getattr(pysoftmax, fn)(x))
    y = rng.integers(0, 9, size=6)
    assert pysoftmax.cross_entropy(u, y) == pysoftmax.cross_entropy(x, y)
    probs = pickle.loads(pickle.dumps(pysoftmax.softmax(x)))
    assert pysoftmax.cross_entropy(u, probs) == pysoftmax.cross_entropy(x, pysoftmax.softmax(x))


def test_zero_and_one_dimensional_inputs():
    assert pysoftmax.softmax([3.0]).tolist() == [1.0]
    assert pysoftmax.log_softmax([3.0]).tolist() == [0.0]
    lse = pysoftmax.logsumexp(np.float32([0, 0]))
    assert isinstance(lse, np.float32) and lse == np.float32(np.log(2))
    assert isinstance(pysoftmax.logsumexp(np.ones((2, 3)), axis=None), np.float64)
    assert pysoftmax.softmax(np.float64(2.0), axis=None) == 1.0
    assert pysoftmax.logsumexp(np.ones((2, 3)), keepdims=True).shape == (2, 1)
    assert pysoftmax.logsumexp(np.ones((2, 3)), axis=None, keepdims=True).shape == (1, 1)


@pytest.mark.parametrize("fn", FUNCS)
def test_empty_batch(fn):
    x = np.empty((0, 5), dtype=np.float32)
    for impl in (native, reference):
        got = getattr(impl, fn)(x)
        assert got.shape == ((0, 5) if fn != "logsumexp" else (0,)) and got.dtype == np.float32
    assert native.softmax(np.empty((4, 0, 3)), axis=-1).shape == (4, 0, 3)


# ---- non-finite and extreme values --------------------------------------------------------

INF, NAN = np.inf, np.nan
EDGE_ROWS = [
    # row, softmax, log_softmax, logsumexp
    ([1e30, 0.0, -1e30], [1, 0, 0], [0, -1e30, -2e30], 1e30),
    ([1000.0, 1000.0], [0.5, 0.5], [-np.log(2)] * 2, 1000 + np.log(2)),
    ([-1000.0, -1000.0], [0.5, 0.5], [-np.log(2)] * 2, -1000 + np.log(2)),
    ([100.0, 0.0], [1, np.exp(-100)], [-np.exp(-100), -100], 100.0),  # exp(100) overflows in f32
    ([-INF, 0.0, 1.0], None, None, None),
    ([-INF, -INF], [NAN, NAN], [NAN, NAN], -INF),
    ([INF, 0.0], [NAN, NAN], [NAN, NAN], INF),
    ([INF, INF], [NAN, NAN], [NAN, NAN], INF),
    ([-INF, INF], [NAN, NAN], [NAN, NAN], INF),
    ([NAN, 0.0], [NAN, NAN], [NAN, NAN], NAN),
    ([NAN, INF], [NAN, NAN], [NAN, NAN], NAN),
    ([0.0] * 3, [1 / 3] * 3, [-np.log(3)] * 3, np.log(3)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("row, sm, lsm, lse", EDGE_ROWS)
def test_edge_rows(isa, dtype, row, sm, lsm, lse):
    k = len(row)
    # the row alone, and inside a long row of -inf (so the SIMD body sees it) next to a
    # normal row
    long_row = np.full(70, -INF)
    long_row[33:33 + k] = row
    x = np.array([row], dtype=dtype)
    xl = np.array([long_row, np.linspace(-3, 3, 70)], dtype=dtype)
    for fn in FUNCS:
        check(fn, x)
        check(fn, xl)
    if sm is None:
        return
    rtol = 1e-6 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(native.softmax(x)[0], np.array(sm, dtype), rtol=rtol, atol=0)
    np.testing.assert_allclose(native.log_softmax(x)[0], np.array(lsm, dtype), rtol=rtol)
    np.testing.assert_allclose(native.logsumexp(x)[0], np.array(lse, dtype), rtol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_finite_like_scipy(isa, rng, dtype):
    special = pytest.importorskip("scipy.special")
    x = (rng.standard_normal((300, 9)) * 4).astype(dtype)
    for value, p in [(INF, 0.03), (-INF, 0.3), (NAN, 0.02)]:
        x[rng.random(x.shape) < p] = value
    x[-1] = -INF
    with np.errstate(all="ignore"):
        want_sm, want_lsm = special.softmax(x, axis=-1), special.log_softmax(x, axis=-1)
        want_lse = special.logsumexp(x, axis=-1)
    np.testing.assert_allclose(native.softmax(x), want_sm.astype(dtype), equal_nan=True,
                               **tol(dtype))
    np.testing.assert_allclose(native.logsumexp(x), want_lse.astype(dtype), equal_nan=True,
                               **tol(dtype))
    # scipy's log_softmax of a row holding +inf (and no NaN) is NaN at the +inf entries and
    # -inf elsewhere; ours is NaN throughout, like its softmax of that row.
    has_inf = np.isposinf(x).any(axis=-1)
    assert np.isnan(native.log_softmax(x)[has_inf]).all()
    np.testing.assert_allclose(native.log_softmax(x)[~has_inf], want_lsm[~has_inf].astype(dtype),
                               equal_nan=True, **log_tol(dtype, x))
    assert 10 < has_inf.sum() < 250 and np.isnan(want_lse).sum() > 10  # every case was hit


def test_huge_and_overflowing_values_exact(isa):
    x = np.float32([[88.8, 0.0], [-88.8, 0.0], [3e38, 3e38], [-3e38, 3e38]])
    tiny = np.exp(-np.float64(np.float32(88.8)))     # a subnormal float32
    np.testing.assert_allclose(native.softmax(x), [[1, tiny], [tiny, 1], [0.5, 0.5], [0, 1]],
                               rtol=1e-6, atol=4 * 1.4e-45)
    np.testing.assert_allclose(native.logsumexp(x), [np.float32(88.8), np.log1p(tiny),
                                                     3e38 + np.log(2), 3e38], rtol=1e-7, atol=1e-7)
    assert native.logsumexp(np.float32([3.4e38, 3.4e38])) == np.float32(3.4e38)  # no overflow


# ---- masks --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", FUNCS)
def test_masks(isa, rng, fn, dtype):
    for k in (1, 5, 8, 9, 33, 70, 1000):
        x = (rng.standard_normal((12, k)) * 4).astype(dtype)
        mask = rng.random((12, k)) < 0.6
        mask[0] = False                     # nothing included
        mask[1] = True
        x[2][~mask[2]] = NAN                # NaN and inf under the mask are ignored
        x[3][~mask[3]] = INF
        x[4][~mask[4]] = -INF
        x[5][mask[5]] = -INF                # every included entry is -inf
        got = check(fn, x, where=mask)
        empty = {"softmax": 0.0, "log_softmax": -INF, "logsumexp": -INF}[fn]
        np.testing.assert_array_equal(got[0], empty)
        if fn != "logsumexp":
            np.testing.assert_array_equal(got[~mask], empty)
            assert not np.isnan(got[2:5]).any()


def test_mask_values_and_broadcasting(isa, rng):
    x = rng.standard_normal((4, 6))
    cols = np.array([True, False, True, True, False, True])
    got = pysoftmax.softmax(x, where=cols)
    np.testing.assert_allclose(got[:, cols], pysoftmax.softmax(x[:, cols]), rtol=1e-15)
    assert (got[:, ~cols] == 0).all()
    np.testing.assert_allclose(pysoftmax.logsumexp(x, where=cols),
                               pysoftmax.logsumexp(x[:, cols]), rtol=1e-15)
    rows = np.array([[True], [False], [True], [True]])
    check("log_softmax", x, where=rows)
    check("softmax", x, 0, where=cols)
    check("logsumexp", x, None, where=rng.random(x.shape) < 0.5)


# ---- temperature --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("t", [1e-3, 0.1, 0.37, 1.0, 2.0, 1e3, 3])
def test_temperature(isa, rng, fn, dtype, t):
    x = (rng.standard_normal((9, 45)) * 4).astype(dtype)
    got = check(fn, x, temperature=t, dtype=dtype)
    x64 = x.astype(np.float64) / t
    np.testing.assert_allclose(got, getattr(native, fn)(x64).astype(dtype), **tol(dtype))
    check(fn, x, temperature=t, where=rng.random(x.shape) < 0.5)


@pytest.mark.parametrize("bad", [0, -1.0, np.inf, np.nan, -np.inf, "2", True, [1.0, 2.0], None,
                                 1j])
def test_bad_temperature(bad):
    for impl in (native, reference):
        with pytest.raises(ValueError, match="temperature"):
            impl.softmax(np.ones(3), temperature=bad)


# ---- out= and in place --------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_out_and_in_place(isa, rng, fn, dtype):
    x = (rng.standard_normal((30, 41)) * 4).astype(dtype)
    want = getattr(native, fn)(x)
    t = tol(dtype) if fn == "softmax" else log_tol(dtype, x)
    for impl in (native, reference):
        f = getattr(impl, fn)
        out = np.empty_like(x)
        assert f(x, out=out) is out
        np.testing.assert_allclose(out, want, **t)
        y = x.copy()                                    # in place
        assert f(y, out=y) is y
        np.testing.assert_allclose(y, want, **t)
        for axis in (0, -1):                            # in place along another axis, Fortran
            y = np.asfortranarray(x)
            assert f(y, axis, out=y) is y
            np.testing.assert_allclose(y, f(x, axis), **t)
        out = np.empty((41, 30), dtype).T               # out in another layout
        f(x, out=out)
        np.testing.assert_allclose(out, want, **t)
        y = x.copy()                                    # out overlaps x, rows reversed
        f(y, out=y[::-1])
        np.testing.assert_allclose(y[::-1], want, **t)
        h = x.astype(np.float16)                        # float16 computed in float32
        out = np.empty_like(h)
        assert f(h, out=out) is out and out.dtype == np.float16


def test_bad_out():
    x = np.ones((3, 4), np.float32)
    for impl in (native, reference):
        with pytest.raises(ValueError, match=r"out: shape \(4, 3\)"):
            impl.softmax(x, out=np.empty((4, 3), np.float32))
        with pytest.raises(ValueError, match="out: dtype float64"):
            impl.softmax(x, out=np.empty((3, 4)))
        with pytest.raises(ValueError, match="out: dtype float32"):
            impl.softmax(np.ones((3, 4), np.int32), out=x)
        ro = np.empty((3, 4), np.float32)
        ro.flags.writeable = False
        with pytest.raises(ValueError, match="out: .*read-only"):
            impl.log_softmax(x, out=ro)
        with pytest.raises(TypeError, match="out: expected a numpy.ndarray"):
            impl.softmax(x, out=[[0.0] * 4] * 3)


# ---- bad inputs ---------------------------------------------------------------------------

@pytest.mark.parametrize("impl", [native, reference], ids=["native", "reference"])
@pytest.mark.parametrize("fn", FUNCS)
def test_bad_inputs(impl, fn):
    f = getattr(impl, fn)
    for bad in (np.ones(3, np.complex128), np.array(["a", "b"]), np.array([1.0, None]),
                np.ones(3, np.longdouble)):
        with pytest.raises(TypeError, match=r"x: dtype"):
            f(bad)
    with pytest.raises(ValueError, match=r"x: the reduction over axis 1 of an array of shape "
                                         r"\(3, 0\) has length 0"):
        f(np.ones((3, 0)))
    with pytest.raises(np.exceptions.AxisError, match="axis"):
        f(np.ones((3, 4)), 2)
    with pytest.raises(ValueError, match="axis: repeated axis"):
        f(np.ones((3, 4)), (1, -1))
    with pytest.raises(TypeError, match="where: expected a boolean mask, got dtype int64"):
        f(np.ones((3, 4)), where=np.ones((3, 4), np.int64))
    with pytest.raises(ValueError, match=r"where: a mask of shape \(3,\) cannot be broadcast to "
                                         r"x's shape \(3, 4\)"):
        f(np.ones((3, 4)), where=np.ones(3, bool))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", FUNCS)
@pytest.mark.parametrize("k", [10, 100])
def test_a_row_does_not_depend_on_its_neighbours(isa, rng, fn, dtype, k):
    """Short rows go through the kernels in blocks of one row per SIMD lane (8 or 16), several
    blocks at a time; a block holding an edge row goes to the row kernels on its own, so every
    row gets the same result, bit for bit, whatever rows surround it in its blocks: here calls on
    16 rows, whole blocks at either width."""
    x = (rng.standard_normal((64, k)) * 4).astype(dtype)
    x[3, 1] = np.nan
    x[45, 2] = np.inf
    whole = getattr(native, fn)(x)
    for start in range(0, 64, 16):
        part = slice(start, start + 16)
        np.testing.assert_array_equal(whole[part], getattr(native, fn)(x[part]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("k", [10, 64, 100])
@pytest.mark.parametrize("offset", [0, 1, 5])
def test_outputs_beyond_the_caches_stream_the_same_values(isa, rng, threads, fn, dtype, k, offset):
    """Outputs beyond the caches (>= 2 MB per thread) are written with streaming stores, whole
    cache lines only, wherever `out` starts: the values are those of small calls."""
    n = (9 << 19) // (k * np.dtype(dtype).itemsize) + 37
    x = (rng.standard_normal((n, k)) * 4).astype(dtype)
    want = np.concatenate([getattr(native, fn)(x[i:i + 1024]) for i in range(0, n, 1024)])
    out = np.empty(n * k + offset, dtype)[offset:].reshape(n, k)
    assert getattr(native, fn)(x, out=out) is out
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(getattr(native, fn)(x), want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [2, 10, 70, 127])
def test_edge_rows_among_many(isa, rng, dtype, k):
    """Short rows go through the kernels in groups (one row per SIMD lane); a group holding an
    edge row is redone row by row. Each edge row sits among normal rows here."""
    x = (rng.standard_normal((40, k)) * 4).astype(dtype)
    values = [np.inf, -np.inf, np.nan, 1e30, -1e30, 100.0, -100.0]
    for i, v in enumerate(values):
        x[3 + 5 * i, i % k] = v
    x[37] = -np.inf
    for fn in FUNCS:
        for t in ([{}, {"temperature": 0.5}] if fn != "logsumexp" else [{}]):
            check(fn, x, **t)
            y = x.copy()
            if fn != "logsumexp":
                getattr(native, fn)(y, out=y, **t)
                np.testing.assert_array_equal(y, getattr(native, fn)(x, **t))
