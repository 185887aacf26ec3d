"""Extreme but accepted inputs give one answer on every instruction set, the reference's, which
is checked here against the mathematics: temperatures whose reciprocal leaves the input's
precision, target mass on -inf logits, float32 rows spread beyond FLT_MAX, NaN class weights
on classes no label uses."""

import numpy as np
import pytest

import pysoftmax
from pysoftmax import reference

F32, F64 = np.float32, np.float64
FLT_MAX = float(np.finfo(F32).max)


def _rows(rng, n, k, dtype):
    """n rows of k logits with one maximum per row (no ties), around 0."""
    x = rng.standard_normal((n, k)) * 3.0
    x[np.arange(n), rng.integers(0, k, size=n)] = 20.0
    return x.astype(dtype)


# ---- temperatures --------------------------------------------------------------------------

# (dtype, T): 1 / T overflows the dtype, is beyond it or underflows it, or (x - max) / T does.
COLD = [(F32, 1e-40), (F32, 1e-46), (F32, 1e-30), (F64, 1e-320), (F64, 5e-324), (F64, 1e-300)]
HOT = [(F32, 1e39), (F32, 1e100), (F32, 1e300), (F64, 1e100), (F64, 1e300), (F64, 1.7e308)]
# n x k: one row, short rows in blocks (n a multiple of 16), rows longer than every unroll
SHAPES = [(1, 3), (32, 5), (3, 67)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(("dtype", "t"), COLD, ids=lambda v: str(v))
def test_cold_softmax_is_one_hot(isa, rng, shape, dtype, t):
    x = _rows(rng, *shape, dtype)
    onehot = (x == x.max(axis=-1, keepdims=True)).astype(dtype)
    want_log = np.where(onehot == 1, dtype(0), dtype(-np.inf))
    for backend in (pysoftmax, reference):
        np.testing.assert_array_equal(backend.softmax(x, temperature=t), onehot)
        got = backend.log_softmax(x, temperature=t)
        # (x - max) / T is far below the dtype's range except at the maximum
        np.testing.assert_array_equal(np.where(got < -1e30, -np.inf, got), want_log)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(("dtype", "t"), HOT, ids=lambda v: str(v))
def test_hot_softmax_is_uniform(isa, rng, shape, dtype, t):
    x = _rows(rng, *shape, dtype)
    k = shape[1]
    for backend in (pysoftmax, reference):
        np.testing.assert_allclose(backend.softmax(x, temperature=t), 1.0 / k, rtol=1e-6)
        np.testing.assert_allclose(backend.log_softmax(x, temperature=t), -np.log(k), rtol=1e-6)


def test_cold_softmax_splits_ties(isa):
    x = np.array([[3.0, 1.0, 3.0, -2.0]] * 2)
    want = np.array([[0.5, 0.0, 0.5, 0.0]] * 2)
    for dtype, t in COLD:
        xd = x.astype(dtype)
        np.testing.assert_array_equal(pysoftmax.softmax(xd, temperature=t), want.astype(dtype))
        np.testing.assert_array_equal(reference.softmax(xd, temperature=t), want.astype(dtype))


@pytest.mark.parametrize("dtype", [F32, F64])
def test_cold_softmax_with_a_mask(isa, rng, dtype):
    x = _rows(rng, 4, 37, dtype)
    where = rng.random(x.shape) < 0.7
    where[:, 0] = True
    t = 1e-40 if dtype == F32 else 1e-320
    got = pysoftmax.softmax(x, temperature=t, where=where)
    want = reference.softmax(x, temperature=t, where=where)
    np.testing.assert_array_equal(got, want)
    m = np.where(where, x, -np.inf).max(axis=-1, keepdims=True)
    np.testing.assert_array_equal(want, ((x == m) & where).astype(dtype))


@pytest.mark.parametrize("dtype", [F32, F64])
def test_ordinary_temperatures_match_the_reference(isa, rng, dtype):
    x = _rows(rng, 32, 19, dtype)
    for t in (1e-3, 0.5, 3.0, 1e3):
        tol = {"rtol": 2e-5 if dtype == F32 else 1e-12, "atol": 1e-30}
        np.testing.assert_allclose(pysoftmax.softmax(x, temperature=t),
                                   reference.softmax(x, temperature=t), **tol)


# ---- target mass on -inf logits ------------------------------------------------------------

def _with_neg_inf(rng, n, k, dtype):
    x = _rows(rng, n, k, dtype)
    x[:, 1] = -np.inf
    return x


def _probs(rng, n, k, dtype, zero_on=None):
    p = rng.random((n, k))
    if zero_on is not None:
        p[:, zero_on] = 0.0
    return (p / p.sum(axis=-1, keepdims=True)).astype(dtype)


def _loss_and_grad(backend, x, t, **kw):
    return backend.cross_entropy_with_grad(x, t, **kw)


@pytest.mark.parametrize("k", [3, 17, 40])
@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("target", ["smoothing", "probs"])
def test_target_mass_on_a_neg_inf_logit_is_an_infinite_loss(isa, rng, k, dtype, target):
    x = _with_neg_inf(rng, 5, k, dtype)
    if target == "smoothing":
        t, kw = rng.integers(2, k, size=5) if k > 2 else np.zeros(5, int), {"label_smoothing": 0.1}
    else:
        t, kw = _probs(rng, 5, k, dtype), {}
    for reduction in ("mean", "none"):
        loss, grad = _loss_and_grad(pysoftmax, x, t, reduction=reduction, **kw)
        want, want_grad = _loss_and_grad(reference, x, t, reduction=reduction, **kw)
        np.testing.assert_array_equal(loss, np.inf)   # every row holds target mass at -inf
        np.testing.assert_array_equal(want, np.inf)
        assert np.isfinite(grad).all()
        np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-7)
    assert pysoftmax.cross_entropy(x, t, **kw) == np.inf


@pytest.mark.parametrize("k", [3, 17, 40])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_no_target_mass_on_a_neg_inf_logit_is_a_finite_loss(isa, rng, k, dtype):
    x = _with_neg_inf(rng, 5, k, dtype)
    t = _probs(rng, 5, k, dtype, zero_on=1)
    loss, grad = _loss_and_grad(pysoftmax, x, t, reduction="none")
    want, want_grad = _loss_and_grad(reference, x, t, reduction="none")
    # the mathematics: -sum_j t_j log p_j over the finite logits (0 log 0 = 0)
    x64 = x.astype(F64)
    fin = np.isfinite(x64)
    m = x64.max(axis=-1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(np.where(fin, x64 - m, -np.inf)).sum(axis=-1))
    exact = np.sum(t * np.where(fin, lse[:, None] - x64, 0.0), axis=-1)
    tol = {"rtol": 1e-5} if dtype == F32 else {"rtol": 1e-12}
    np.testing.assert_allclose(want, exact, **tol)
    np.testing.assert_allclose(loss, exact, **tol)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-5, atol=1e-7)


def test_the_label_on_a_neg_inf_logit(isa):
    x = np.array([[0.0, -np.inf, 1.0]] * 3)
    y = np.array([1, 1, 1])
    for e in (0.0, 0.2):
        assert pysoftmax.cross_entropy(x, y, label_smoothing=e) == np.inf
        assert reference.cross_entropy(x, y, label_smoothing=e) == np.inf


# ---- float32 rows spread beyond FLT_MAX ----------------------------------------------------

def _spread_rows(rng, n, k):
    x = (rng.standard_normal((n, k)) * 1e37).astype(F32)
    x[:, 0] = 3e38
    x[:, 2 % k] = -3e38
    return x


@pytest.mark.parametrize("k", [3, 17, 40])
@pytest.mark.parametrize("target", ["smoothing", "probs"])
def test_a_float32_row_spread_beyond_flt_max(isa, rng, k, target):
    x = _spread_rows(rng, 5, k)
    if target == "smoothing":
        t, kw = np.zeros(5, dtype=int), {"label_smoothing": 0.1}
        t64 = t
    else:   # half the mass on the maximum: the loss stays within float32's range
        p = rng.random((5, k)) + 0.1
        p[:, 0] = 0.0
        p = 0.5 * p / p.sum(axis=-1, keepdims=True)
        p[:, 0] = 0.5
        t, kw = p.astype(F32), {}
        t64 = t.astype(F64)
    # the float64 answer: (x - max) in float64 does not overflow
    exact = reference.cross_entropy(x.astype(F64), t64, reduction="none", **kw)
    assert np.isfinite(exact).all() and (exact < FLT_MAX).all()
    want = reference.cross_entropy(x, t, reduction="none", **kw)
    np.testing.assert_allclose(want, exact, rtol=1e-6)
    for grad in (False, True):
        f = pysoftmax.cross_entropy_with_grad if grad else pysoftmax.cross_entropy
        got = f(x, t, reduction="none", **kw)
        got = got[0] if grad else got
        assert got.dtype == F32
        np.testing.assert_allclose(got, exact, rtol=1e-6)
        total = f(x, t, reduction="sum", **kw)
        total = total[0] if grad else total
        np.testing.assert_allclose(total, exact.sum(), rtol=1e-6)
    # the gradient written over the logits themselves (out=x) reads them again for the loss
    xc = x.copy()
    loss, g = pysoftmax.cross_entropy_with_grad(xc, t, reduction="none", out=xc, **kw)
    np.testing.assert_allclose(loss, exact, rtol=1e-6)
    np.testing.assert_allclose(g, pysoftmax.cross_entropy_with_grad(x, t, reduction="none",
                                                                    **kw)[1], rtol=1e-6)


def test_a_loss_beyond_flt_max_overflows_only_in_float32(isa):
    x = np.array([[3e38, -3e38, 0.0]] * 2, dtype=F32)
    t = np.array([[0.0, 1.0, 0.0]] * 2, dtype=F32)    # the target on the lowest logit: 6e38
    for backend in (pysoftmax, reference):
        with np.errstate(over="ignore"):    # the float64 losses rounded to float32
            none = backend.cross_entropy(x, t, reduction="none")
        np.testing.assert_array_equal(none, np.inf)
        np.testing.assert_allclose(backend.cross_entropy(x, t, reduction="sum"), 1.2e39,
                                   rtol=1e-6)


# ---- NaN class weights ---------------------------------------------------------------------

@pytest.mark.parametrize("k", [3, 17, 40])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_a_nan_weight_on_a_class_no_label_uses(isa, rng, k, dtype):
    x = _rows(rng, 6, k, dtype)
    y = rng.integers(1, k, size=6)
    w = rng.random(k).astype(dtype) + 0.5
    w[0] = np.nan
    for reduction in ("mean", "sum", "none"):
        loss, grad = pysoftmax.cross_entropy_with_grad(x, y, weight=w, reduction=reduction)
        want, want_grad = reference.cross_entropy_with_grad(x, y, weight=w, reduction=reduction)
        assert np.isfinite(loss).all() and np.isfinite(grad).all()
        tol = {"rtol": 1e-5, "atol": 1e-7} if dtype == F32 else {"rtol": 1e-12, "atol": 1e-15}
        np.testing.assert_allclose(loss, want, **tol)
        np.testing.assert_allclose(grad, want_grad, **tol)
    # with smoothing, every class's weight enters the loss (as in torch): NaN
    assert np.isnan(pysoftmax.cross_entropy(x, y, weight=w, label_smoothing=0.1))
    assert np.isnan(reference.cross_entropy(x, y, weight=w, label_smoothing=0.1))


def test_a_nan_weight_matches_torch(isa, rng):
    torch = pytest.importorskip("torch")
    x = _rows(rng, 6, 5, F64)
    y = rng.integers(1, 5, size=6)
    w = np.array([np.nan, 1.0, 2.0, 0.5, 1.5])
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor(y), weight=torch.tensor(w))
    lt.backward()
    loss, grad = pysoftmax.cross_entropy_with_grad(x, y, weight=w)
    np.testing.assert_allclose(loss, lt.item(), rtol=1e-12)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-10, atol=1e-15)
