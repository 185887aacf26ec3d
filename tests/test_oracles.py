"""Oracles that share nothing with either backend: closed forms and hand-computed examples.

Every public function on every instruction set (and the reference backend): zero logits give
log K; rows whose softmax is a known rational vector, with class weights, ignore_index, label
smoothing, probability targets and masks, under "mean", "sum" and "none" (the losses and
gradients below are written out by hand from those probabilities, not computed by any
softmax); one-hot limits; the limits T -> 0 (argmax one-hot) and T -> inf (uniform).
"""

import math

import numpy as np
import pytest

import pysoftmax
from pysoftmax import reference, special

KS = [1, 2, 3, 7, 8, 9, 15, 16, 17, 33, 1000]
DTYPES = [np.float32, np.float64]


def _rtol(dtype):
    return 4e-6 if dtype == np.float32 else 4e-15


def _close(got, want, dtype, atol=0.0):
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), want, rtol=_rtol(dtype),
                               atol=atol)


# ---- zero logits -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", KS)
def test_zero_logits_give_log_k(isa, dtype, k):
    x = np.zeros((3, k), dtype)
    log_k = math.log(k)
    _close(pysoftmax.logsumexp(x), np.full(3, log_k), dtype)
    _close(pysoftmax.log_softmax(x), np.full((3, k), -log_k), dtype)
    _close(pysoftmax.softmax(x), np.full((3, k), 1 / k), dtype)
    _close(special.logsumexp(x), math.log(3 * k), dtype)
    _close(special.softmax(x), np.full((3, k), 1 / (3 * k)), dtype)
    _close(special.log_softmax(x, axis=1), np.full((3, k), -log_k), dtype)
    _close(special.logsumexp(x[0], b=np.full(k, 2.5, dtype)), math.log(2.5 * k), dtype)
    y = np.array([0, k - 1, k // 2])
    onehot = np.eye(k)[y]
    for e in (0.0, 0.3):
        # every -log p_j is log K, so the smoothed loss is log K too
        loss, grad = pysoftmax.cross_entropy_with_grad(x, y, label_smoothing=e, reduction="none")
        _close(loss, np.full(3, log_k), dtype)
        _close(grad, 1 / k - ((1 - e) * onehot + e / k), dtype, atol=_rtol(dtype) / k)
    _close(pysoftmax.cross_entropy(x, onehot.astype(dtype)), log_k, dtype)
    # linear: W = 0 and b = 0 give zero logits; G = (1/K - onehot) / N, dW = G.T X, db = sum G
    X = np.arange(6, dtype=dtype).reshape(3, 2) - 2
    loss, dw, db = pysoftmax.linear_cross_entropy(X, np.zeros((k, 2), dtype), np.zeros(k, dtype),
                                                  y)
    g = (1 / k - onehot) / 3
    _close(loss, log_k, dtype)
    _close(dw, g.T @ X.astype(np.float64), dtype, atol=_rtol(dtype))
    _close(db, g.sum(axis=0), dtype, atol=_rtol(dtype))


# ---- hand-computed examples ------------------------------------------------------------------
# Three rows of K = 4 classes whose softmax is P (logits log P plus a row offset), and
# L = -log P written out.
P = np.array([[1, 2, 3, 4], [4, 2, 1, 1], [1, 1, 1, 1]]) / np.array([[10], [8], [4]])
L = np.array([[math.log(10), math.log(5), math.log(10 / 3), math.log(2.5)],
              [math.log(2), math.log(4), math.log(8), math.log(8)],
              [math.log(4)] * 4])
SUM_L = [math.log(1250 / 3), math.log(512), math.log(256)]  # sum_j L_ij: log 1 / prod_j P_ij
OFFSETS = np.array([[5.0], [-3.0], [100.0]])
W = np.array([1.0, 2.0, 3.0, 0.5])
E = np.eye(4)
Y = np.array([2, 0, 1])


def _hand_cases():
    """{name: (target, keywords, per-example losses, per-example gradients, mean's denominator)}
    for the logits log P + OFFSETS."""
    oh = E[Y]
    wy = W[Y][:, None]
    cases = {
        "labels": (Y, {}, [L[0, 2], L[1, 0], L[2, 1]], P - oh, 3),
        "weights": (Y, {"weight": W}, [3 * L[0, 2], 1 * L[1, 0], 2 * L[2, 1]], wy * (P - oh), 6),
        "ignore_index": (np.array([2, -100, 1]), {}, [L[0, 2], 0, L[2, 1]],
                         (P - oh) * [[1], [0], [1]], 2),
        "ignore_index weights": (Y, {"ignore_index": 0, "weight": W}, [3 * L[0, 2], 0, 2 * L[2, 1]],
                                 wy * (P - oh) * [[1], [0], [1]], 5),
        "smoothing": (Y, {"label_smoothing": 0.2},
                      [0.8 * L[i, Y[i]] + 0.05 * SUM_L[i] for i in range(3)],
                      P - 0.8 * oh - 0.05, 3),
        "smoothing weights": (Y, {"label_smoothing": 0.2, "weight": W},
                              [0.8 * W[Y[i]] * L[i, Y[i]] + 0.05 * (L[i] @ W) for i in range(3)],
                              0.8 * wy * (P - oh) + 0.05 * (6.5 * P - W), 6),
        "smoothing ignore_index": (np.array([-100, 0, 1]), {"label_smoothing": 0.2},
                                   [0, 0.8 * L[1, 0] + 0.05 * SUM_L[1],
                                    0.8 * L[2, 1] + 0.05 * SUM_L[2]],
                                   (P - 0.8 * oh - 0.05) * [[0], [1], [1]], 2),
    }
    t = np.array([[0, 0.5, 0.5, 0], [0.25] * 4, [1, 0, 0, 0]])
    cases["probs"] = (t, {}, [0.5 * (L[0, 1] + L[0, 2]), 0.25 * SUM_L[1], L[2, 0]], P - t, 3)
    wt = W * t
    cases["probs weights"] = (t, {"weight": W}, [1 * L[0, 1] + 1.5 * L[0, 2], 0.25 * (L[1] @ W),
                                                 L[2, 0]],
                              P * wt.sum(-1, keepdims=True) - wt, 3)
    ts = 0.8 * t + 0.05
    cases["probs smoothing"] = (t, {"label_smoothing": 0.2}, [ts[i] @ L[i] for i in range(3)],
                                P - ts, 3)
    # where: row 0 without class 3 (softmax [1, 2, 3] / 6), row 2 without any class (not counted)
    mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1], [0, 0, 0, 0]], bool)
    p0 = np.array([1 / 6, 1 / 3, 1 / 2, 0])
    g = np.array([p0 - E[2], P[1] - E[0], np.zeros(4)])
    cases["where"] = (Y, {"where": mask}, [math.log(2), L[1, 0], 0], g, 2)
    gs = g + np.array([0.2 * E[2] - 0.2 / 3 * mask[0], 0.2 * E[0] - 0.05 * mask[1], np.zeros(4)])
    cases["where smoothing"] = (Y, {"where": mask, "label_smoothing": 0.2},
                                [0.8 * math.log(2) + 0.2 / 3 * math.log(36),
                                 0.8 * L[1, 0] + 0.05 * SUM_L[1], 0], gs, 2)
    return cases


HAND = _hand_cases()


def _check_hand(module, name, dtype, reduction):
    target, kw, rows, grads, denominator = HAND[name]
    x = (np.log(P) + OFFSETS).astype(dtype)
    if target.dtype.kind == "f":
        target = target.astype(dtype)
    kw = {key: (v.astype(dtype) if key == "weight" else v) for key, v in kw.items()}
    rows, grads = np.asarray(rows, np.float64), np.asarray(grads, np.float64)
    if reduction == "mean":
        want, want_grad = rows.sum() / denominator, grads / denominator
    elif reduction == "sum":
        want, want_grad = rows.sum(), grads
    else:
        want, want_grad = rows, grads
    # float32 logits log P are rounded: p_j moves by up to ~|x_j| eps relative
    atol = 1e-6 if dtype == np.float32 else 2e-16
    loss = module.cross_entropy(x, target, reduction=reduction, **kw)
    loss2, grad = module.cross_entropy_with_grad(x, target, reduction=reduction, **kw)
    _close(loss, want, dtype, atol=atol)
    _close(loss2, want, dtype, atol=atol)
    _close(grad, want_grad, dtype, atol=atol)
    assert grad.dtype == dtype
    # the same along axis 0
    loss3, grad3 = module.cross_entropy_with_grad(
        x.T, target.T if target.ndim == 2 else target, axis=0, reduction=reduction,
        **{key: (v.T if key == "where" else v) for key, v in kw.items()})
    _close(loss3, want, dtype, atol=atol)
    _close(grad3, want_grad.T, dtype, atol=atol)
    if "where" in kw:
        return
    # linear: X = I (3 x 3) and W = the logits' transpose give the same logits; dW = G.T, db = G
    # summed; sample weights s multiply each example and enter the mean's denominator
    s = np.array([0.5, 2.0, 1.0])
    if target.dtype.kind == "f":
        counts = np.ones(3)                            # probabilities: no class weight
    else:
        counted = target != kw.get("ignore_index", -100)
        counts = counted * kw.get("weight", np.ones(4))[np.where(counted, target, 0)]
    lin = module.linear_cross_entropy(np.eye(3, dtype=dtype), x.T.copy(), None, target,
                                      sample_weight=s.astype(dtype), reduction=reduction, **kw)
    srows, sgrads = s * rows, s[:, None] * grads
    if reduction == "mean":
        d = float(np.dot(s, counts))
        srows, sgrads = srows.sum() / d, sgrads / d
    elif reduction == "sum":
        srows = srows.sum()
    _close(lin[0], srows, dtype, atol=atol)
    _close(lin[1], sgrads.T, dtype, atol=atol)
    assert lin[2] is None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", list(HAND))
def test_hand_computed(isa, name, reduction, dtype):
    _check_hand(pysoftmax, name, dtype, reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", list(HAND))
def test_hand_computed_reference(name, reduction):
    for dtype in DTYPES:
        _check_hand(reference, name, dtype, reduction)


@pytest.mark.parametrize("dtype", DTYPES)
def test_hand_computed_softmax_family(isa, dtype):
    x = (np.log(P) + OFFSETS).astype(dtype)
    atol = 1e-6 if dtype == np.float32 else 0.0
    _close(pysoftmax.softmax(x), P, dtype, atol=atol)
    _close(pysoftmax.log_softmax(x), -L, dtype, atol=atol)
    _close(pysoftmax.logsumexp(x), OFFSETS[:, 0], dtype, atol=atol)
    _close(special.softmax(x, axis=1), P, dtype, atol=atol)
    _close(special.log_softmax(x, axis=-1), -L, dtype, atol=atol)
    _close(special.logsumexp(x, axis=1), OFFSETS[:, 0], dtype, atol=atol)
    # b: log(sum_j b_j P_ij) + offset (each sum is 1/2), and a negative sum's sign
    b = np.array([1.0, -1.0, 2.0, 0.0], dtype)
    r, sign = special.logsumexp(x, axis=1, b=b, return_sign=True)
    _close(r, [math.log(0.5) + 5, math.log(0.5) - 3, math.log(0.5) + 100], dtype, atol=atol)
    _close(sign, [1, 1, 1], dtype)
    r, sign = special.logsumexp(x[1], b=np.array([1.0, -3, 0, 0], dtype), return_sign=True)
    _close(r, math.log(0.25) - 3, dtype, atol=atol)
    assert sign == -1
    # masks: the remaining entries renormalised
    mask = np.array([[1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 0, 1]], bool)
    pm = np.array([[1 / 6, 1 / 3, 1 / 2, 0], [0, 1 / 2, 1 / 4, 1 / 4], [1 / 2, 0, 0, 1 / 2]])
    _close(pysoftmax.softmax(x, where=mask), pm, dtype, atol=atol)
    with np.errstate(divide="ignore"):
        _close(pysoftmax.log_softmax(x, where=mask), np.log(pm), dtype, atol=atol)
    _close(pysoftmax.logsumexp(x, where=mask),
           [math.log(0.6) + 5, math.log(0.5) - 3, math.log(0.5) + 100], dtype, atol=atol)


# ---- one-hot limits --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [2, 3, 8, 9, 16, 17, 1000])
def test_one_hot_limits(isa, dtype, k):
    """One logit 1000 above the others (exp(-1000) is 0 in both dtypes): the softmax is the
    one-hot vector, the loss of that class 0 and of another 1000, exactly."""
    rows = np.arange(4)
    top = (3 * rows + 1) % k
    x = np.zeros((4, k), dtype)
    x[rows, top] = 1000
    onehot = np.eye(k, dtype=dtype)[top]
    assert np.array_equal(pysoftmax.softmax(x), onehot)
    assert np.array_equal(special.softmax(x, axis=1), onehot)
    assert np.array_equal(pysoftmax.log_softmax(x), (onehot - 1) * 1000)
    assert np.array_equal(pysoftmax.logsumexp(x), np.full(4, 1000, dtype))
    loss, grad = pysoftmax.cross_entropy_with_grad(x, top, reduction="none")
    assert np.array_equal(loss, np.zeros(4, dtype)) and np.array_equal(grad, np.zeros_like(x))
    loss, grad = pysoftmax.cross_entropy_with_grad(x, onehot, reduction="sum")
    assert loss == 0 and np.array_equal(grad, np.zeros_like(x))
    other = (top + 1) % k
    loss, grad = pysoftmax.cross_entropy_with_grad(x, other, reduction="none")
    assert np.array_equal(loss, np.full(4, 1000, dtype))
    assert np.array_equal(grad, onehot - np.eye(k, dtype=dtype)[other])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 2, 9, 17, 1000])
def test_one_hot_probabilities_equal_labels(isa, rng, dtype, k):
    """Probability targets one-hot at y give what the labels y give, weights and smoothing
    included; label_smoothing = 1 gives the uniform target."""
    x = (rng.standard_normal((5, k)) * 4).astype(dtype)
    y = rng.integers(0, k, 5)
    onehot = np.eye(k, dtype=dtype)[y]
    w = rng.uniform(0.5, 2, k).astype(dtype)
    tol = dict(rtol=_rtol(dtype) * 4, atol=_rtol(dtype) / 4)
    for e in (0.0, 0.1):
        lab = pysoftmax.cross_entropy_with_grad(x, y, weight=w, label_smoothing=e,
                                                reduction="sum")
        soft = pysoftmax.cross_entropy_with_grad(x, onehot, weight=w, label_smoothing=e,
                                                 reduction="sum")
        np.testing.assert_allclose(soft[0], lab[0], **tol)
        np.testing.assert_allclose(soft[1], lab[1], **tol)
    uniform = pysoftmax.cross_entropy(x, np.full((5, k), 1 / k, dtype), reduction="none")
    for target in (y, onehot):
        np.testing.assert_allclose(pysoftmax.cross_entropy(x, target, label_smoothing=1.0,
                                                           reduction="none"), uniform, **tol)
    # the uniform target's loss is the mean of -log p_j: logsumexp - mean(x)
    want = pysoftmax.logsumexp(x.astype(np.float64)) - x.astype(np.float64).mean(axis=1)
    np.testing.assert_allclose(uniform, want, rtol=_rtol(dtype) * 4, atol=_rtol(dtype) * 4)


# ---- temperature limits ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [2, 3, 8, 9, 16, 17, 1000])
def test_temperature_limits(isa, rng, dtype, k):
    """T -> 0: the one-hot vector of the argmax (gaps of at least 1 over T = 1e-3 make the
    others' exp(-1000) = 0); T -> inf: uniform, log_softmax -log K."""
    x = rng.permutation(k).astype(dtype)[None, :] * np.array([[1], [-1], [2]], dtype)
    onehot = np.eye(k, dtype=dtype)[np.argmax(x, axis=1)]
    assert np.array_equal(pysoftmax.softmax(x, temperature=1e-3), onehot)
    lsm = pysoftmax.log_softmax(x, temperature=1e-3)
    assert np.array_equal(lsm[onehot == 1], np.zeros(3, dtype))
    big = 1e9 if dtype == np.float64 else 1e6   # |x / T| <= 2e-6 (k = 1000): within eps of 0
    tol = 4 * (k * 2 / big + np.finfo(dtype).eps)
    np.testing.assert_allclose(pysoftmax.softmax(x, temperature=big), np.full(x.shape, 1 / k),
                               rtol=tol)
    np.testing.assert_allclose(pysoftmax.log_softmax(x, temperature=big),
                               np.full(x.shape, -math.log(k)), rtol=tol)
    # the reference agrees on both limits
    assert np.array_equal(reference.softmax(x, temperature=1e-3), onehot)
    np.testing.assert_allclose(reference.softmax(x, temperature=big), np.full(x.shape, 1 / k),
                               rtol=tol)

