"""Tests written for the deliberate bugs of tests/mutate.py (make mutate) that the other tests
let through: each names the mutation it catches. They check properties of the results the
kernels state, on inputs chosen so that the bug shows."""

import math

import numpy as np
import pytest

import pysoftmax
from pysoftmax import _native as native

# K not a multiple of any vector width (4, 8, 16 lanes), so that rows end in a masked tail.
TAIL_KS = [3, 7, 13, 21, 45, 67]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", TAIL_KS)
def test_masked_rows_whose_maximum_is_their_last_element(isa, dtype, k):
    """masked_tail_max_off_by_one: the row maximum must include the tail's last element. A
    maximum far above the others (beyond exp's range) then holds all the mass: a maximum taken
    without it makes exp(x - max) overflow."""
    gap = 200.0 if dtype == np.float32 else 1000.0
    x = np.zeros((3, k), dtype=dtype)
    x[:, -1] = gap
    mask = np.ones((3, k), dtype=bool)
    mask[:, 0] = False                      # a mask, so that the masked kernels run
    want = np.zeros((3, k), dtype=dtype)
    want[:, -1] = 1
    np.testing.assert_array_equal(native.softmax(x, where=mask), want)
    lsm = native.log_softmax(x, where=mask)
    np.testing.assert_array_equal(lsm[:, -1], 0)
    np.testing.assert_allclose(lsm[:, 1:-1], -gap, rtol=1e-6)
    np.testing.assert_array_equal(native.logsumexp(x, where=mask), dtype(gap))


def _sum_error(rows):
    """|sum of each row - 1|, exactly (math.fsum), in units of eps of the rows' dtype."""
    eps = np.finfo(rows.dtype).eps
    return np.array([abs(math.fsum([*map(float, r), -1.0])) for r in rows]) / eps


@pytest.mark.parametrize("k", [64, 1000])       # the short-row blocks, the row kernels
def test_softmax_rows_sum_to_one_without_a_bias(isa, rng, k):
    """softmax_reciprocal_low_part: y = q / s is formed as q (1/s)_hi + q (1/s)_lo, so that
    the rounding of 1/s does not show. The exp values' own errors cancel in a row's sum (s is
    their sum), so each row sums to 1 within the roundings of the products: a few hundredths
    of eps in the median row. Dropping the low part makes every element of a row err the
    same way, by the rounding of 1/s: about 0.2 eps in the median row. float32 only: its s
    is a double, whereas float64's s is itself rounded to its dtype, a bias of its own."""
    x = rng.standard_normal((400, k)).astype(np.float32)
    err = _sum_error(native.softmax(x))
    assert np.median(err) < 0.1, f"median |sum - 1| = {np.median(err):.3f} eps"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [130, 1000, 1003])    # the row kernels (past the short rows)
def test_a_far_maximum_in_every_lane(isa, dtype, k):
    """avx2_hmax_low_half: the row maximum's horizontal reduction must see every lane. A
    maximum beyond exp's range above the others, at each position modulo 16 (each lane of
    each accumulator), holds all the mass; a reduction that misses its lane takes a smaller
    maximum, and exp(x - max) overflows."""
    gap = 200.0 if dtype == np.float32 else 1000.0
    positions = sorted({*range(64), *range(k - 20, k)})
    x = np.zeros((len(positions), k), dtype=dtype)
    x[np.arange(len(positions)), positions] = gap
    want = np.zeros_like(x)
    want[np.arange(len(positions)), positions] = 1
    np.testing.assert_array_equal(native.softmax(x), want)
    np.testing.assert_array_equal(native.logsumexp(x), np.full(len(positions), gap, dtype))
    lsm = native.log_softmax(x)
    np.testing.assert_array_equal(lsm[np.arange(len(positions)), positions], 0)


@pytest.mark.parametrize("backend", ["native", "reference"])
def test_mean_divides_by_the_rows_that_count(rng, backend):
    """mean_counts_ignored_rows: reduction="mean" divides by the rows that are not ignored
    (CrossEntropyArgs, shared by both backends, so that comparing them cannot tell), here
    against the closed form sum_i (logsumexp(x_i) - x_i[y_i]) / #counted, in float64."""
    x = rng.standard_normal((12, 5))
    y = rng.integers(0, 5, 12)
    y[::3] = -100                                           # 4 of the 12 rows ignored
    counted = y != -100
    m = x.max(axis=1)
    per_row = m + np.log(np.exp(x - m[:, None]).sum(axis=1)) - x[np.arange(12), np.where(
        counted, y, 0)]
    want = math.fsum(per_row[counted]) / counted.sum()
    with pysoftmax.use_backend(backend):
        got = pysoftmax.cross_entropy(x, y, reduction="mean")
        loss, grad = pysoftmax.cross_entropy_with_grad(x, y, reduction="mean")
    assert got == pytest.approx(want, rel=1e-12) and loss == pytest.approx(want, rel=1e-12)
    p = np.exp(x - m[:, None])
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(12), np.where(counted, y, 0)] -= 1
    np.testing.assert_allclose(grad, np.where(counted[:, None], p, 0) / counted.sum(),
                               rtol=1e-10, atol=1e-15)
