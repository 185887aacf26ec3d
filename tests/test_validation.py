"""Validation at the edges of the accepted inputs, the same on both backends and every
instruction set: non-finite and tiny class weights, ignore_index beyond int64, weights that
sum to 0, misaligned arrays. Errors name the user's argument, never an internal one."""

import numpy as np
import pytest

import pysoftmax
from pysoftmax import _core, reference

BACKENDS = [pysoftmax, reference]
INT64_MAX = 2**63 - 1


def _problem(rng, n=6, k=5, dtype=np.float64):
    x = (rng.standard_normal((n, k)) * 2).astype(dtype)
    y = rng.integers(0, k, size=n)
    return x, y


# ---- class weights -------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_non_finite_weight_on_a_used_class_gives_torchs_nan(isa, rng, bad):
    x, y = _problem(rng)
    y[0] = 2
    w = np.ones(5)
    w[2] = bad
    for backend in BACKENDS:
        loss, grad = backend.cross_entropy_with_grad(x, y, weight=w)   # no "scale:" error
        assert np.isnan(loss)
        assert np.isnan(backend.cross_entropy(x, y, weight=w))
        assert np.isnan(grad[0]).all()


def test_a_non_finite_weight_matches_torch(isa, rng):
    torch = pytest.importorskip("torch")
    x, y = _problem(rng)
    y[:2] = 2
    for bad in (np.nan, np.inf):
        w = np.ones(5)
        w[2] = bad
        xt = torch.tensor(x, requires_grad=True)
        lt = torch.nn.functional.cross_entropy(xt, torch.tensor(y), weight=torch.tensor(w))
        lt.backward()
        loss, grad = pysoftmax.cross_entropy_with_grad(x, y, weight=w)
        assert np.isnan(lt.item()) and np.isnan(loss)
        np.testing.assert_array_equal(np.isnan(grad), np.isnan(xt.grad.numpy()))
        np.testing.assert_allclose(np.nan_to_num(grad), np.nan_to_num(xt.grad.numpy()),
                                   rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("tiny", [1e-310, 5e-324, 1e-300])
def test_tiny_weights_give_the_mean_of_their_ratios(isa, rng, tiny):
    x, y = _problem(rng)
    ratios = np.array([1.0, 2.0, 3.0, 1.0, 2.0])
    w = ratios * tiny                      # subnormal: the ratios hold to about 2^-44
    for backend in BACKENDS:
        for label_smoothing in (0.0, 0.1):
            loss, grad = backend.cross_entropy_with_grad(x, y, weight=w,
                                                         label_smoothing=label_smoothing)
            want, want_grad = backend.cross_entropy_with_grad(x, y, weight=w / tiny,
                                                              label_smoothing=label_smoothing)
            rtol = 1e-12 if tiny > 1e-308 else 0.5     # 5e-324 is 1, 2 or 3 (times 2^-1074)
            np.testing.assert_allclose(loss, want, rtol=rtol)
            np.testing.assert_allclose(grad, want_grad, rtol=rtol, atol=1e-15)


def test_tiny_sample_weights_in_linear_cross_entropy(isa, rng):
    X = rng.standard_normal((8, 3))
    W = rng.standard_normal((4, 3))
    y = rng.integers(0, 4, size=8)
    sw = rng.random(8) + 0.5
    for backend in BACKENDS:
        loss, dw, db = backend.linear_cross_entropy(X, W, None, y, sample_weight=sw * 1e-310)
        want, want_dw, _ = backend.linear_cross_entropy(X, W, None, y, sample_weight=sw)
        np.testing.assert_allclose(loss, want, rtol=1e-11)
        np.testing.assert_allclose(dw, want_dw, rtol=1e-11, atol=1e-15)


def test_weights_too_wide_for_a_mean_name_weight(rng):
    x, y = _problem(rng)
    y[:] = 0
    w = np.array([1e-310, 1e300, 1.0, 1.0, 1.0])
    for backend in BACKENDS:
        with pytest.raises(ValueError, match=r"^weight: .*too wide"):
            backend.cross_entropy(x, y, weight=w)


@pytest.mark.parametrize("with_grad", [False, True])
def test_weights_summing_to_zero_give_nan(isa, rng, with_grad):
    x, y = _problem(rng)
    y[:] = [0, 1, 0, 1, -100, 0]
    w = np.array([0.0, 0.0, 1.0, 1.0, 1.0])
    for backend in BACKENDS:
        if with_grad:
            loss, grad = backend.cross_entropy_with_grad(x, y, weight=w)
            assert np.isnan(grad[y != -100]).all()
            np.testing.assert_array_equal(grad[4], 0.0)    # the ignored row
        else:
            loss = backend.cross_entropy(x, y, weight=w)
        assert isinstance(loss, float) and np.isnan(loss)
        # "sum" and "none" have no denominator
        assert backend.cross_entropy(x, y, weight=w, reduction="sum") == 0.0
        # a mean over no example at all stays 0 (documented)
        assert backend.cross_entropy(x, np.full(6, -100), weight=w) == 0.0


def test_weights_summing_to_zero_match_torch(rng):
    torch = pytest.importorskip("torch")
    x, y = _problem(rng)
    y[:] = [0, 1, 0, 1, 1, 0]
    w = np.array([0.0, 0.0, 1.0, 1.0, 1.0])
    lt = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(y),
                                           weight=torch.tensor(w))
    assert np.isnan(lt.item()) and np.isnan(pysoftmax.cross_entropy(x, y, weight=w))


def test_zero_sample_weights_give_nan_in_linear_cross_entropy(rng):
    X = rng.standard_normal((8, 3))
    W = rng.standard_normal((4, 3))
    y = rng.integers(0, 4, size=8)
    for backend in BACKENDS:
        loss, dw, _ = backend.linear_cross_entropy(X, W, None, y, sample_weight=np.zeros(8))
        assert np.isnan(loss) and np.isnan(dw).all()


# ---- ignore_index beyond int64 -------------------------------------------------------------

@pytest.mark.parametrize("ignore_index", [2**63, 2**64, -(2**63) - 1, 10**30])
def test_an_ignore_index_beyond_int64_matches_no_label(isa, rng, ignore_index):
    x, y = _problem(rng)
    for backend in BACKENDS:
        got = backend.cross_entropy_with_grad(x, y, ignore_index=ignore_index)
        want = backend.cross_entropy_with_grad(x, y)
        assert got[0] == want[0]
        np.testing.assert_array_equal(got[1], want[1])
    X, W = rng.standard_normal((6, 2)), rng.standard_normal((5, 2))
    assert (pysoftmax.linear_cross_entropy(X, W, None, y, ignore_index=ignore_index,
                                           return_grad=False)
            == pysoftmax.linear_cross_entropy(X, W, None, y, return_grad=False))


def test_an_out_of_range_label_names_a_large_ignore_index(rng):
    x, y = _problem(rng)
    y[3] = 7
    for backend in BACKENDS:
        with pytest.raises(IndexError, match=r"label 7 at position \(3,\).*"
                                             r"ignore_index=9223372036854775808\)"):
            backend.cross_entropy(x, y, ignore_index=2**63)


def test_a_large_ignore_index_with_probabilities_names_ignore_index(rng):
    x, _ = _problem(rng)
    p = pysoftmax.softmax(rng.standard_normal(x.shape))
    for backend in BACKENDS:
        with pytest.raises(ValueError, match=r"^ignore_index: .*ignore_index=9223372036854775808"):
            backend.cross_entropy(x, p, ignore_index=2**63)
        # a negative one beyond int64 is no class, as any negative one
        assert backend.cross_entropy(x, p, ignore_index=-(2**70)) == backend.cross_entropy(x, p)


@pytest.mark.parametrize("ignore_index", [2**63 + 5, 2**64 - 1])
def test_uint64_labels_equal_to_a_large_ignore_index_are_ignored(isa, rng, ignore_index):
    x, y = _problem(rng)
    u = y.astype(np.uint64)
    u[[1, 4]] = ignore_index
    y[[1, 4]] = -100
    for backend in BACKENDS:
        for reduction in ("mean", "none"):
            got = backend.cross_entropy_with_grad(x, u, ignore_index=ignore_index,
                                                  reduction=reduction)
            want = backend.cross_entropy_with_grad(x, y, reduction=reduction)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])


def test_uint64_labels_out_of_range_beside_a_large_ignore_index(rng):
    x, y = _problem(rng)
    for bad in (2**63 + 6, 9):
        u = y.astype(np.uint64)
        u[1] = 2**63 + 5
        u[2] = bad
        for backend in BACKENDS:
            with pytest.raises(IndexError, match=rf"^target: label {bad} at position \(2,\)"):
                backend.cross_entropy(x, u, ignore_index=2**63 + 5)


def test_messages_never_name_an_internal_argument(rng):
    x, y = _problem(rng)
    cases = [dict(weight=np.array([np.nan] * 5)), dict(weight=np.full(5, 1e-320)),
             dict(ignore_index=2**63), dict(weight=np.zeros(5))]
    for kw in cases:
        for backend in BACKENDS:
            backend.cross_entropy(x, y, **kw)      # computes: no error at all


# ---- misaligned arrays ---------------------------------------------------------------------

def _misaligned(a):
    """A copy of `a` whose data starts one byte past an aligned address."""
    buf = bytearray(a.nbytes + 1)
    m = np.frombuffer(buf, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    m[...] = a
    assert not m.flags.aligned
    return m


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_misaligned_inputs_give_the_aligned_results(isa, rng, dtype):
    x = (rng.standard_normal((9, 37)) * 3).astype(dtype)
    xm = _misaligned(x)
    for f in (pysoftmax.softmax, pysoftmax.log_softmax, pysoftmax.logsumexp):
        np.testing.assert_array_equal(f(xm), f(x))
    np.testing.assert_array_equal(pysoftmax.softmax(xm, temperature=0.3),
                                  pysoftmax.softmax(x, temperature=0.3))
    np.testing.assert_array_equal(pysoftmax.softmax(xm, axis=0), pysoftmax.softmax(x, axis=0))
    y = rng.integers(0, 37, size=9)
    w = (rng.random(37) + 0.5).astype(dtype)
    p = pysoftmax.softmax(rng.standard_normal(x.shape)).astype(dtype)
    for target, tm in ((y, _misaligned(y)), (p, _misaligned(p))):
        want = pysoftmax.cross_entropy_with_grad(x, target, weight=w, label_smoothing=0.1)
        got = pysoftmax.cross_entropy_with_grad(xm, tm, weight=_misaligned(w),
                                                label_smoothing=0.1)
        assert got[0] == want[0]
        np.testing.assert_array_equal(got[1], want[1])
        out = _misaligned(np.zeros_like(x))
        got = pysoftmax.cross_entropy_with_grad(xm, tm, weight=w, label_smoothing=0.1, out=out)
        assert got[1] is out
        np.testing.assert_array_equal(out, pysoftmax.cross_entropy_with_grad(
            x, target, weight=w, label_smoothing=0.1)[1])
    X, W, b = x[:, :5], rng.standard_normal((4, 5)).astype(dtype), np.ones(4, dtype)
    yl = rng.integers(0, 4, size=9)
    sw = (rng.random(9) + 0.5).astype(dtype)
    want = pysoftmax.linear_cross_entropy(np.ascontiguousarray(X), W, b, yl, sample_weight=sw)
    got = pysoftmax.linear_cross_entropy(_misaligned(np.ascontiguousarray(X)), _misaligned(W),
                                         _misaligned(b), _misaligned(yl),
                                         sample_weight=_misaligned(sw))
    assert got[0] == want[0]
    for g, wg in zip(got[1:], want[1:]):
        np.testing.assert_array_equal(g, wg)


def test_misaligned_out_receives_softmax(isa, rng):
    x = rng.standard_normal((5, 19))
    out = _misaligned(np.zeros_like(x))
    assert pysoftmax.softmax(x, out=out) is out
    np.testing.assert_array_equal(out, pysoftmax.softmax(x))


def test_the_module_refuses_misaligned_arrays(rng):
    x = _misaligned(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match=r"^x: the data is not aligned"):
        _core.softmax_rows(x, np.empty((2, 3)), None, 1.0, False)
    with pytest.raises(ValueError, match=r"^out: the data is not aligned"):
        _core.softmax_rows(np.zeros((2, 3)), _misaligned(np.zeros((2, 3))), None, 1.0, False)


def test_a_misaligned_sparse_matrix_gives_the_aligned_result(isa, rng):
    sparse = pytest.importorskip("scipy.sparse")
    X = sparse.random(12, 7, density=0.4, format="csr", random_state=1, dtype=np.float64)
    W = rng.standard_normal((3, 7))
    y = rng.integers(0, 3, size=12)
    want = pysoftmax.linear_cross_entropy(X, W, None, y)
    Xm = X.copy()
    Xm.data, Xm.indices, Xm.indptr = (_misaligned(X.data), _misaligned(X.indices),
                                      _misaligned(X.indptr))
    got = pysoftmax.linear_cross_entropy(Xm, W, None, y)
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize("reduction", ["sum", "none"])
def test_tiny_weights_keep_their_scale_outside_mean(isa, reduction):
    # only "mean" rescales tiny weights (its 1 / denominator would overflow): a sum of
    # subnormal weights times losses stays that small
    x, y = np.array([[1.0, 2.0, 3.0], [0.0, 1.0, 0.0]]), np.array([0, 2])
    X, W = np.eye(2, 3), np.ones((3, 3))
    for backend in BACKENDS:
        got = backend.cross_entropy(x, y, weight=np.full(3, 1e-310), reduction=reduction)
        want = pysoftmax.cross_entropy(x, y, reduction=reduction) * 1e-310
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
        got = backend.linear_cross_entropy(X, W, None, y, sample_weight=np.full(2, 1e-310),
                                           reduction=reduction)[0]
        want = pysoftmax.linear_cross_entropy(X, W, None, y, reduction=reduction)[0] * 1e-310
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
