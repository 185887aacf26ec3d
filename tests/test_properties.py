"""Properties that hold for every input (hypothesis): probabilities sum to 1, softmax is
invariant under a shift of the logits, order is preserved, and the three functions agree."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import pysoftmax

settings.register_profile("pysoftmax", max_examples=150, deadline=None)
settings.load_profile("pysoftmax")


def logits(dtype, max_value):
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=80),
                      elements=st.floats(-max_value, max_value, width=np.dtype(dtype).itemsize * 8))


@given(logits(np.float32, 2.0**100) | logits(np.float64, 2.0**990))
def test_rows_sum_to_one(x):
    p = pysoftmax.softmax(x)
    assert np.all((p >= 0) & (p <= 1))
    k = x.shape[-1]
    np.testing.assert_allclose(p.sum(axis=-1, dtype=np.float64), 1.0,
                               rtol=0, atol=4 * k * np.finfo(x.dtype).eps)


@given(logits(np.float64, 1e3), st.floats(-1e4, 1e4))
def test_shift_invariance(x, c):
    # x + c is rounded by at most |x + c| * eps, which moves exp by as much relatively
    y = x + c
    atol = 8 * np.finfo(np.float64).eps * (1 + np.abs(y).max())
    np.testing.assert_allclose(pysoftmax.softmax(y), pysoftmax.softmax(x), rtol=0, atol=atol)
    np.testing.assert_allclose(pysoftmax.log_softmax(y), pysoftmax.log_softmax(x),
                               rtol=0, atol=atol * 4)
    np.testing.assert_allclose(pysoftmax.logsumexp(y), pysoftmax.logsumexp(x) + c,
                               rtol=0, atol=atol * 4)


@given(logits(np.float32, 1e4) | logits(np.float64, 1e4))
def test_order_is_preserved(x):
    for f in (pysoftmax.softmax, pysoftmax.log_softmax):
        y = f(x)
        order = np.argsort(x, axis=-1, kind="stable")
        sorted_y = np.take_along_axis(y, order, axis=-1)
        assert np.all(np.diff(sorted_y, axis=-1) >= 0), f.__name__


@given(logits(np.float32, 1e4) | logits(np.float64, 1e4))
def test_functions_agree(x):
    lse = pysoftmax.logsumexp(x, keepdims=True)
    lsm = pysoftmax.log_softmax(x)
    eps = np.finfo(x.dtype).eps
    np.testing.assert_allclose(lsm, x - lse, rtol=0,
                               atol=4 * eps * (1 + np.abs(x).max() + np.abs(lse).max()))
    assert np.all(lse[..., 0] >= x.max(axis=-1))
    bound = x.max(axis=-1) + np.log(x.shape[-1])
    assert np.all(lse[..., 0] <= bound + 4 * eps * np.abs(bound))
    p = pysoftmax.softmax(x)
    big = p > 1e-30
    np.testing.assert_allclose(np.log(p[big].astype(np.float64)), lsm[big], rtol=0,
                               atol=16 * eps * (1 + np.abs(lsm[big]).max()))
