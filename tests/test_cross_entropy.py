"""cross_entropy, cross_entropy_with_grad, one_hot and entropy: native against the NumPy
reference, against finite differences, against torch (when installed), and every bad input."""

import functools
import itertools

import numpy as np
import pytest

import pysoftmax
from pysoftmax import _native as native
from pysoftmax import reference

from helpers import assert_same, using_threads

SIZES = [1, 2, 3, 7, 8, 9, 10, 31, 32, 33, 1000, 50000]
REDUCTIONS = ["mean", "sum", "none"]


def _logits(rng, n, k, dtype, scale=3.0):
    return (rng.standard_normal((n, k)) * scale).astype(dtype)


def _labels(rng, n, k, ignore=False):
    y = rng.integers(0, k, size=n)
    if ignore and n > 1:
        y[:: 3] = -100
    return y


def _probs(rng, n, k, dtype):
    p = rng.random((n, k)) ** 3
    return (p / p.sum(-1, keepdims=True)).astype(dtype)


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-13)


def both(fn_name, *args, **kwargs):
    return getattr(native, fn_name)(*args, **kwargs), getattr(reference, fn_name)(*args, **kwargs)


# ---- native against the reference --------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", SIZES)
def test_labels_all_sizes(isa, rng, dtype, k):
    for n in sorted({1, 2, 3, 7, 8, 9, 10, 31, 32, 33} if k < 1000 else {1, 3}):
        x, y = _logits(rng, n, k, dtype), _labels(rng, n, k)
        for reduction in REDUCTIONS:
            (l1, g1), (l2, g2) = both("cross_entropy_with_grad", x, y, reduction=reduction)
            assert_same(l1, l2, **_tol(dtype))
            assert_same(g1, g2, **_tol(dtype))
            assert_same(native.cross_entropy(x, y, reduction=reduction), l2, **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 3, 8, 9, 33, 1000])
@pytest.mark.parametrize("soft", [False, True], ids=["labels", "probs"])
def test_every_keyword(isa, rng, dtype, k, soft):
    n = 17
    x = _logits(rng, n, k, dtype)
    target = _probs(rng, n, k, dtype) if soft else _labels(rng, n, k, ignore=True)
    weight = rng.random(k) + 0.5
    for reduction, w, eps in itertools.product(REDUCTIONS, [None, weight], [0.0, 0.1, 1.0]):
        kw = dict(reduction=reduction, weight=w, label_smoothing=eps)
        (l1, g1), (l2, g2) = both("cross_entropy_with_grad", x, target, **kw)
        assert_same(l1, l2, **_tol(dtype))
        assert_same(g1, g2, **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axis_and_layouts(isa, rng, dtype):
    x = _logits(rng, 6 * 5, 7, dtype).reshape(6, 5, 7)
    for axis in [0, 1, 2, -1]:
        xa = np.moveaxis(x, -1, axis)
        y = rng.integers(0, 7, size=np.delete(np.array(xa.shape), axis % 3))
        for arr in [xa, np.asfortranarray(xa), xa[..., ::1]]:
            (l1, g1), (l2, g2) = both("cross_entropy_with_grad", arr, y, axis=axis,
                                      reduction="none")
            assert_same(l1, l2, **_tol(dtype))
            assert_same(g1, g2, **_tol(dtype))
    big = _logits(rng, 40, 60, dtype)
    strided = big[::2, ::3]
    y = rng.integers(0, strided.shape[1], size=strided.shape[0])
    (l1, g1), (l2, g2) = both("cross_entropy_with_grad", strided, y)
    assert_same(g1, g2, **_tol(dtype))


def test_integer_target_dtypes(rng):
    x = _logits(rng, 9, 5, np.float64)
    y = rng.integers(0, 5, size=9)
    want = reference.cross_entropy(x, y)
    for dt in [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]:
        assert native.cross_entropy(x, y.astype(dt)) == pytest.approx(want, rel=1e-13)


def test_dtypes_are_kept(rng):
    y = _labels(rng, 4, 6)
    for dt, gdt in [(np.float32, np.float32), (np.float64, np.float64), (np.float16, np.float16),
                    (np.int32, np.float64)]:
        x = (rng.standard_normal((4, 6)) * 3).astype(dt)
        loss, grad = pysoftmax.cross_entropy_with_grad(x, y)
        assert isinstance(loss, float) and grad.dtype == gdt
        per = pysoftmax.cross_entropy(x, y, reduction="none")
        assert per.dtype == gdt and per.shape == (4,)


def test_threads_do_not_change_results(rng):
    x, y = _logits(rng, 3000, 50, np.float32), _labels(rng, 3000, 50)
    with using_threads(1):
        l1, g1 = native.cross_entropy_with_grad(x, y)
    with using_threads(2):
        l2, g2 = native.cross_entropy_with_grad(x, y)
    assert l1 == l2
    np.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [10, 100])
def test_a_row_does_not_depend_on_its_neighbours(isa, rng, dtype, k):
    # As for softmax: a block of short rows that the block kernels refuse (a NaN logit, an
    # out-of-range label checked later) goes to the row kernels alone; the others keep their
    # results bit for bit.
    x, y = _logits(rng, 64, k, dtype), _labels(rng, 64, k)
    x[3, 1] = np.nan
    x[40:42, 0] = 40.0  # confident rows
    y[40:42] = 0
    y[50] = -100
    loss, grad = native.cross_entropy_with_grad(x, y, reduction="none")
    for start in range(0, 64, 16):  # whole blocks at either width (8 or 16 rows)
        part = slice(start, start + 16)
        lp, gp = native.cross_entropy_with_grad(x[part], y[part], reduction="none")
        np.testing.assert_array_equal(loss[part], lp)
        np.testing.assert_array_equal(grad[part], gp)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [10, 64, 100])
@pytest.mark.parametrize("offset", [0, 3])
def test_gradients_beyond_the_caches_stream_the_same_values(isa, rng, threads, dtype, k, offset):
    # As for softmax: a gradient of >= 2 MB per thread is written with streaming stores.
    n = (9 << 19) // (k * np.dtype(dtype).itemsize) + 37
    x, y = _logits(rng, n, k, dtype), _labels(rng, n, k)
    parts = [native.cross_entropy_with_grad(x[i:i + 1024], y[i:i + 1024], reduction="none")
             for i in range(0, n, 1024)]
    out = np.empty(n * k + offset, dtype)[offset:].reshape(n, k)
    loss, grad = native.cross_entropy_with_grad(x, y, reduction="none", out=out)
    assert grad is out
    np.testing.assert_array_equal(loss, np.concatenate([p[0] for p in parts]))
    np.testing.assert_array_equal(grad, np.concatenate([p[1] for p in parts]))


# ---- the maths ------------------------------------------------------------------------------

def _numeric_grad(f, x, h=1e-3):
    """4th-order central differences, one logit at a time."""
    def at(idx, d):
        xp = x.copy()
        xp[idx] += d
        return f(xp)

    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        g[idx] = (-at(idx, 2 * h) + 8 * at(idx, h) - 8 * at(idx, -h) + at(idx, -2 * h)) / (12 * h)
    return g


@pytest.mark.parametrize("soft", [False, True], ids=["labels", "probs"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradient_matches_finite_differences(rng, soft, reduction):
    n, k = 5, 4
    x = rng.standard_normal((n, k))
    target = _probs(rng, n, k, np.float64) if soft else np.array([0, 3, -100, 1, 1])
    kw = dict(reduction=reduction, weight=rng.random(k) + 0.5, label_smoothing=0.2)
    mask = np.ones((n, k), bool)
    mask[1, 2] = False
    for where in [None, mask]:
        f = functools.partial(reference.cross_entropy, target=target, where=where, **kw)
        num = _numeric_grad(f, x)
        for impl in (reference, native):
            _, g = impl.cross_entropy_with_grad(x, target, where=where, **kw)
            np.testing.assert_allclose(g, num, rtol=1e-8, atol=1e-10)


def test_fused_equals_softmax_minus_onehot(rng):
    x, y = _logits(rng, 64, 100, np.float64), _labels(rng, 64, 100)
    loss, g = native.cross_entropy_with_grad(x, y)
    p = native.softmax(x)
    np.testing.assert_allclose(g, (p - pysoftmax.one_hot(y, 100, np.float64)) / 64,
                               rtol=1e-12, atol=1e-16)
    want = np.mean(-native.log_softmax(x)[np.arange(64), y])
    assert loss == pytest.approx(want, rel=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_may_be_the_logits(isa, rng, dtype):
    x, y = _logits(rng, 50, 37, dtype), _labels(rng, 50, 37)
    want_loss, want_grad = native.cross_entropy_with_grad(x, y)
    buf = x.copy()
    loss, grad = native.cross_entropy_with_grad(buf, y, out=buf)
    assert grad is buf and np.shares_memory(grad, buf)
    assert loss == want_loss
    np.testing.assert_array_equal(grad, want_grad)
    out = np.empty_like(x)
    assert native.cross_entropy_with_grad(x, y, out=out)[1] is out
    fbuf = np.asfortranarray(x)  # no row view: computed aside, then copied in
    loss, grad = native.cross_entropy_with_grad(fbuf, y, out=fbuf)
    np.testing.assert_allclose(fbuf, want_grad, **_tol(dtype))


def test_loss_is_computed_from_logits():
    x = np.array([[1e4, 0.0], [0.0, 1e4]], dtype=np.float32)
    y = np.array([1, 1])
    for impl in (native, reference):
        per = impl.cross_entropy(x, y, reduction="none")
        np.testing.assert_array_equal(per, np.array([1e4, 0.0], dtype=np.float32))


def test_no_examples_give_zero(rng):
    x = _logits(rng, 4, 3, np.float64)
    for impl in (native, reference):
        for target, kw in [(np.full(4, -100), {}), (np.zeros(0, int), {}),
                           (np.array([0, 1, 2, 0]), dict(where=np.zeros((4, 3), bool)))]:
            xx = x[: len(target)]
            loss, grad = impl.cross_entropy_with_grad(xx, target, **kw)
            assert loss == 0.0
            assert not grad.any() and grad.shape == xx.shape


def test_masks_with_minus_inf_logits(rng):
    x = _logits(rng, 6, 5, np.float32)
    mask = np.ones((6, 5), bool)
    mask[:, 3] = False
    x[:, 3] = -np.inf
    y = np.array([0, 1, 2, 4, 0, 1])
    for impl in (native, reference):
        for target in [y, np.where(mask, _probs(rng, 6, 5, np.float32), 0)]:
            loss, grad = impl.cross_entropy_with_grad(x, target, where=mask, label_smoothing=0.1)
            assert np.isfinite(loss)
            assert np.all(grad[:, 3] == 0) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(native.cross_entropy(x, y, where=mask),
                               reference.cross_entropy(x, y, where=mask), rtol=1e-6)


def test_non_finite_logits(rng):
    x = _logits(rng, 4, 5, np.float64)
    x[0, 1] = np.nan
    x[1, 2] = np.inf
    x[2, :] = -np.inf
    x[3, 4] = -np.inf  # the target's logit: an infinite loss, a finite gradient
    y = np.array([0, 0, 0, 4])
    for impl in (native, reference):
        per, grad = impl.cross_entropy_with_grad(x, y, reduction="none")
        assert np.isnan(per[:3]).all() and per[3] == np.inf
        assert np.isnan(grad[:3]).all() and np.isfinite(grad[3]).all()


# ---- against torch ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_against_torch(rng, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for (n, k), soft, reduction, w, eps in itertools.product(
            [(1, 1), (7, 3), (33, 10), (8, 1000)], [False, True], REDUCTIONS, [False, True],
            [0.0, 0.15]):
        x = _logits(rng, n, k, dtype)
        target = _probs(rng, n, k, dtype) if soft else _labels(rng, n, k, ignore=True)
        weight = (rng.random(k) + 0.5).astype(dtype) if w else None
        if not soft and reduction == "mean" and np.all(target == -100):
            continue  # torch: NaN; ours: 0 (documented)
        xt = torch.tensor(x, requires_grad=True)
        tt = torch.tensor(target)
        lt = F.cross_entropy(xt, tt, weight=None if weight is None else torch.tensor(weight),
                             reduction=reduction, label_smoothing=eps)
        lt.sum().backward()
        loss, grad = pysoftmax.cross_entropy_with_grad(x, target, weight=weight,
                                                       reduction=reduction, label_smoothing=eps)
        tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(loss, lt.detach().numpy(), **tol)
        np.testing.assert_allclose(grad, xt.grad.numpy(), **tol)


# ---- bad input ----------------------------------------------------------------------------

BACKENDS = [native, reference]


@pytest.mark.parametrize("impl", BACKENDS, ids=["native", "reference"])
@pytest.mark.parametrize("bad, pos", [(5, 2), (-1, 2), (-101, 2), (2**40, 2), (7, 0)])
def test_bad_labels_are_reported_before_any_output(impl, bad, pos):
    x = np.zeros((4, 5))
    y = np.array([0, 1, 2, 3])
    y[pos] = bad
    out = np.full_like(x, 7.0)
    with pytest.raises(IndexError, match=rf"label {bad} at position \({pos},\)"):
        impl.cross_entropy_with_grad(x, y, out=out)
    assert np.all(out == 7.0)
    with pytest.raises(IndexError, match="out of range for 5 classes"):
        impl.cross_entropy(x, y)


@pytest.mark.parametrize("impl", BACKENDS, ids=["native", "reference"])
def test_bad_label_dtypes(impl):
    x = np.zeros((3, 300))
    with pytest.raises(IndexError, match=r"label 200 at position \(1,\)"):
        impl.cross_entropy(x[:, :100], np.array([1, 200, 3], dtype=np.uint8))
    with pytest.raises(IndexError, match=r"label -5 at position \(2,\)"):
        impl.cross_entropy(x, np.array([1, 2, -5], dtype=np.int8))
    with pytest.raises(IndexError, match=r"label 18446744073709551615 at position \(0,\)"):
        impl.cross_entropy(x, np.array([2**64 - 1, 0, 0], dtype=np.uint64))
    with pytest.raises(ValueError, match="use an integer dtype"):
        impl.cross_entropy(x, np.array([1.0, 2.0, 0.0]))
    with pytest.raises(TypeError, match="target"):
        impl.cross_entropy(x, np.array([True, False, True]))


@pytest.mark.parametrize("impl", BACKENDS, ids=["native", "reference"])
def test_bad_arguments(impl):
    x = np.zeros((4, 5))
    y = np.array([0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"target.*\(4,\).*\(3,\)"):
        impl.cross_entropy(x, y[:3])
    with pytest.raises(ValueError, match=r"target.*\(4, 5\).*\(4, 4\)"):
        impl.cross_entropy(x, np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"weight.*\(5,\).*\(4,\)"):
        impl.cross_entropy(x, y, weight=np.ones(4))
    with pytest.raises(ValueError, match="reduction"):
        impl.cross_entropy(x, y, reduction="avg")
    for eps in [-0.1, 1.5, np.nan, "a"]:
        with pytest.raises(ValueError, match="label_smoothing"):
            impl.cross_entropy(x, y, label_smoothing=eps)
    with pytest.raises(ValueError, match="logits"):
        impl.cross_entropy(np.zeros((4, 0)), y)
    with pytest.raises(np.exceptions.AxisError):
        impl.cross_entropy(x, y, axis=2)
    with pytest.raises(TypeError, match="logits"):
        impl.cross_entropy(x.astype(complex), y)
    with pytest.raises(ValueError, match="out"):
        impl.cross_entropy_with_grad(x, y, out=np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="masks out"):
        mask = np.ones((4, 5), bool)
        mask[1, 1] = False
        impl.cross_entropy(x, y, where=mask)


@pytest.mark.parametrize("impl", BACKENDS, ids=["native", "reference"])
def test_ignore_index_with_probabilities(impl, rng):
    # torch.nn.functional.cross_entropy: "ignore_index is not supported for floating point
    # target" for any ignore_index >= 0 (a class); a negative one is no class and is accepted.
    x, t = _logits(rng, 4, 5, np.float64), _probs(rng, 4, 5, np.float64)
    for bad in [0, 3, 5, 100, np.int64(2)]:
        with pytest.raises(ValueError, match=rf"ignore_index: .*class probabilities.*"
                                             rf"ignore_index={int(bad)}"):
            impl.cross_entropy(x, t, ignore_index=bad)
        out = np.full_like(x, 7.0)
        with pytest.raises(ValueError, match="ignore_index"):
            impl.cross_entropy_with_grad(x, t, ignore_index=bad, out=out)
        assert np.all(out == 7.0)
        with pytest.raises(ValueError, match="ignore_index"):
            impl.linear_cross_entropy(x, np.ones((5, 5)), None, t, ignore_index=bad)
    expected = impl.cross_entropy(x, t)
    for negative in [-1, -100, -(2**40)]:
        assert impl.cross_entropy(x, t, ignore_index=negative) == expected
    # Class indices keep every ignore_index. The kept rows' losses agree to rounding, not bit
    # for bit: 4 rows and 2 rows can take different kernels (a block of rows, or one by one).
    y = np.array([0, 3, 3, 1])
    np.testing.assert_allclose(impl.cross_entropy(x, y, ignore_index=3),
                               impl.cross_entropy(x[[0, 3]], y[[0, 3]]), rtol=4e-16)


def test_ignore_index_with_probabilities_as_torch(rng):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, t = _logits(rng, 4, 5, np.float64), _probs(rng, 4, 5, np.float64)
    for ignore_index in [-100, -1, 0, 3]:
        try:
            expected = F.cross_entropy(torch.tensor(x), torch.tensor(t),
                                       ignore_index=ignore_index).item()
        except RuntimeError as e:
            assert "ignore_index is not supported" in str(e)
            with pytest.raises(ValueError, match="ignore_index"):
                pysoftmax.cross_entropy(x, t, ignore_index=ignore_index)
        else:
            assert ignore_index < 0
            loss = pysoftmax.cross_entropy(x, t, ignore_index=ignore_index)
            np.testing.assert_allclose(loss, expected, rtol=1e-12)


# ---- one_hot and entropy ------------------------------------------------------------------

def test_one_hot():
    y = np.array([[0, 2], [1, 1]], dtype=np.int8)
    oh = pysoftmax.one_hot(y, 3)
    assert oh.dtype == np.float32 and oh.shape == (2, 2, 3)
    np.testing.assert_array_equal(oh.argmax(-1), y)
    assert oh.sum() == 4
    assert pysoftmax.one_hot([1], 2, dtype=np.int64).dtype == np.int64
    with pytest.raises(IndexError, match=r"label 3 at position \(1,\)"):
        pysoftmax.one_hot([0, 3], 3)
    with pytest.raises(ValueError, match="num_classes"):
        pysoftmax.one_hot([0], 0)
    with pytest.raises(TypeError, match="labels"):
        pysoftmax.one_hot([0.5], 2)


@pytest.mark.parametrize("impl", BACKENDS, ids=["native", "reference"])
def test_entropy(impl, rng):
    x = rng.standard_normal((10, 6)) * 2
    p = np.exp(x) / np.exp(x).sum(-1, keepdims=True)
    want = -(p * np.log(p)).sum(-1)
    np.testing.assert_allclose(impl.entropy(x), want, rtol=1e-12)
    np.testing.assert_allclose(impl.entropy(x, base=2), want / np.log(2), rtol=1e-12)
    np.testing.assert_allclose(impl.entropy(x.T, axis=0), want, rtol=1e-12)
    assert impl.entropy(np.zeros(4)) == pytest.approx(np.log(4))
    assert impl.entropy(np.array([0.0, -np.inf, 0.0])) == pytest.approx(np.log(2))
    assert impl.entropy(np.array([1e4, 0.0])) == 0.0
    with pytest.raises(ValueError, match="base"):
        impl.entropy(x, base=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [2, 10, 70, 1000])
def test_edge_rows_among_many(isa, rng, dtype, k):
    x = _logits(rng, 40, k, dtype)
    y = _labels(rng, 40, k)
    x[3, 0], x[8, 1 % k], x[13] = np.nan, np.inf, -np.inf
    y[20:24] = -100
    w = (rng.random(k) + 0.5).astype(dtype)
    for kw in [{}, dict(weight=w), dict(reduction="none"), dict(label_smoothing=0.2),
               dict(weight=w, label_smoothing=0.1, reduction="none")]:
        (l1, g1), (l2, g2) = both("cross_entropy_with_grad", x, y, **kw)
        np.testing.assert_allclose(g1, g2, equal_nan=True, **_tol(dtype))
        np.testing.assert_allclose(l1, l2, equal_nan=True, **_tol(dtype))
        l3 = native.cross_entropy(x, y, **kw)
        np.testing.assert_allclose(l3, l1, equal_nan=True, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [3, 70, 130, 1000])
def test_confident_rows_keep_their_tiny_loss(isa, dtype, k):
    # p_y = 1 / (1 + (k - 1) e^-gap): the loss log1p((k - 1) e^-gap) is far below float eps
    # (torch's log(sum) - z_y rounds it to 0). k = 3 takes the short-row kernels, 70 those of
    # float32 and float64's row kernels, 130 and 1000 the row kernels.
    gap = 30.0 if dtype == np.float32 else 60.0
    x = np.zeros((16, k), dtype)
    x[:, 0] = gap
    y = np.zeros(16, np.int64)
    exact = np.log1p((k - 1) * np.exp(-gap))
    per = native.cross_entropy(x, y, reduction="none")
    np.testing.assert_allclose(per, exact, rtol=1e-6 if dtype == np.float32 else 1e-13)
    _, g = native.cross_entropy_with_grad(x, y, reduction="sum")
    np.testing.assert_allclose(g[:, 0], -exact, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [3, 10, 64, 70, 130])
def test_hopeless_rows_next_to_ordinary_ones(isa, rng, dtype, k):
    # A label whose logit is far below the maximum (p_y underflows: the loss is log s - t_y, not
    # log1p(others / q_y)) in every third row, ordinary rows between them, both in one group of
    # the short-row kernels (k <= 100 float32, k <= 64 float64) and in the row kernels.
    x = _logits(rng, 48, k, dtype)
    y = _labels(rng, 48, k)
    gap = 120.0 if dtype == np.float32 else 800.0
    x[np.arange(0, 48, 3), y[::3]] -= gap
    for reduction in ("none", "sum"):
        (l1, g1), (l2, g2) = [mod.cross_entropy_with_grad(x, y, reduction=reduction)
                              for mod in (native, reference)]
        np.testing.assert_allclose(l1, l2, **_tol(dtype))
        np.testing.assert_allclose(g1, g2, **_tol(dtype))
    assert np.all(native.cross_entropy(x, y, reduction="none")[::3] > gap - 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [70, 1000])
def test_confident_rows_masked_and_in_place(isa, dtype, k):
    gap = 30.0 if dtype == np.float32 else 60.0
    x = np.zeros((16, k), dtype)
    x[:, 3] = gap
    y = np.full(16, 3, np.int64)
    where = np.ones((16, k), bool)
    where[:, -5:] = False
    exact = np.log1p((k - 6) * np.exp(-gap))
    per = native.cross_entropy(x, y, reduction="none", where=where)
    np.testing.assert_allclose(per, exact, rtol=1e-6 if dtype == np.float32 else 1e-13)
    loss, g = native.cross_entropy_with_grad(x, y, reduction="sum", out=x)
    assert g is x
    exact_all = np.log1p((k - 1) * np.exp(-gap))
    np.testing.assert_allclose(loss, 16 * exact_all, rtol=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_allclose(g[:, 3], -exact_all, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [5, 33, 200, 1000])
@pytest.mark.parametrize("soft", [False, True], ids=["smoothing", "probs"])
def test_targets_with_masks_and_minus_inf(isa, rng, dtype, k, soft):
    # Probabilities and label smoothing take their own kernels: masks, -inf logits (masked,
    # or included with zero target), class weights, in place, against the reference.
    n = 24
    x = _logits(rng, n, k, dtype)
    where = rng.random((n, k)) > 0.3
    y = _labels(rng, n, k)
    where[np.arange(n), y] = True
    x[~where & (rng.random((n, k)) > 0.5)] = -np.inf
    target = np.where(where, _probs(rng, n, k, dtype), 0).astype(dtype) if soft else y
    if soft:
        x[5, np.flatnonzero(target[5] == 0)[:1]] = -np.inf  # included, zero target
    w = (rng.random(k) + 0.5).astype(dtype)
    eps = 0.0 if soft else 0.15
    for kw in [dict(where=where), dict(where=where, weight=w, reduction="none"),
               dict(weight=w, label_smoothing=0.3)]:
        kw = {"label_smoothing": eps, **kw}
        xx = np.where(np.isneginf(x) & ~where, 0, x).astype(dtype) if "where" not in kw else x
        (l1, g1), (l2, g2) = both("cross_entropy_with_grad", xx, target, **kw)
        np.testing.assert_allclose(l1, l2, **_tol(dtype))
        np.testing.assert_allclose(g1, g2, **_tol(dtype))
        inplace = xx.copy()
        l3, g3 = native.cross_entropy_with_grad(inplace, target, out=inplace, **kw)
        assert g3 is inplace
        np.testing.assert_allclose(l3, l1, rtol=1e-12)
        np.testing.assert_array_equal(g3, g1)
        # without a gradient a confident row re-sums exps instead of the stored q: same to ~eps
        np.testing.assert_allclose(native.cross_entropy(xx, target, **kw), l1,
                                   rtol=1e-6 if dtype == np.float32 else 1e-12)
