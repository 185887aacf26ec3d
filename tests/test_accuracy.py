"""Worst-case error against a more precise computation, measured and asserted per instruction set.

float32 results are compared with float64 computed from the same float32 inputs (where
x - max is exact); float64 results with long double (x87 80-bit on x86-64, where the
difference of two doubles is exact to 2^-64).
"""

import numpy as np
import pytest

from pysoftmax import _native as native

# The bounds the README states.
SOFTMAX_ULP = {np.float32: 8.0, np.float64: 8.0}
LOG_REL = {np.float32: 2e-7, np.float64: 4 * np.finfo(np.float64).eps}  # x (1 + |result|)

WIDE = np.finfo(np.longdouble).nmant >= 63


def exact(x, temperature):
    """softmax, log_softmax and logsumexp of x in the next wider precision."""
    wide = np.float64 if x.dtype == np.float32 else np.longdouble
    z = x.astype(wide)
    m = z.max(axis=-1, keepdims=True)
    d = (z - m) / wide(temperature)
    e = np.exp(d)
    s = e.sum(axis=-1, keepdims=True)
    return e / s, d - np.log(s), (m + np.log(s))[..., 0]


def ulp_error(got, want):
    """max |got - want| in units of the spacing of got's dtype at want (subnormals included)."""
    spacing = np.spacing(np.abs(want.astype(got.dtype))).astype(want.dtype)
    return float(np.max(np.abs(got.astype(want.dtype) - want) / spacing))


def log_error(got, want):
    """max |got - want| / (1 + |want|)."""
    return float(np.max(np.abs(got.astype(want.dtype) - want) / (1 + np.abs(want))))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1, 10, 100, 1000])
@pytest.mark.parametrize("temperature", [1.0, 0.37])
def test_worst_case_error(isa, rng, dtype, scale, temperature):
    if dtype == np.float64 and not WIDE:
        pytest.skip("long double is not wider than double on this platform")
    # N(0, scale^2) logits; scale 100 and 1000 push most probabilities into subnormals and 0
    x = (rng.standard_normal((300, 1000)) * scale).astype(dtype)
    p, lp, lse = exact(x, temperature)
    e_sm = ulp_error(native.softmax(x, temperature=temperature), p)
    e_lsm = log_error(native.log_softmax(x, temperature=temperature), lp)
    assert e_sm <= SOFTMAX_ULP[dtype], f"softmax: {e_sm:.2f} ULP"
    assert e_lsm <= LOG_REL[dtype], f"log_softmax: {e_lsm:.3g} relative"
    if temperature == 1.0:
        e_lse = log_error(native.logsumexp(x), lse)
        assert e_lse <= LOG_REL[dtype], f"logsumexp: {e_lse:.3g} relative"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 100, 127])
def test_worst_case_error_short_rows(isa, rng, dtype, k):
    if dtype == np.float64 and not WIDE:
        pytest.skip("long double is not wider than double on this platform")
    x = (rng.standard_normal((2000, k)) * 10).astype(dtype)
    p, lp, lse = exact(x, 1.0)
    assert ulp_error(native.softmax(x), p) <= SOFTMAX_ULP[dtype]
    assert log_error(native.log_softmax(x), lp) <= LOG_REL[dtype]
    assert log_error(native.logsumexp(x), lse) <= LOG_REL[dtype]


def test_more_accurate_than_rounding_x_minus_max(rng):
    """The naive float32 computation (scipy's and torch's) is measurably worse: x - max is
    rounded before exp. This guards the test above against a too-lenient oracle."""
    x = (rng.standard_normal((300, 1000)) * 10).astype(np.float32)
    p, _, _ = exact(x, 1.0)
    d = x - x.max(axis=-1, keepdims=True)
    naive = np.exp(d) / np.exp(d).sum(axis=-1, keepdims=True)
    assert ulp_error(naive, p) > 4 * ulp_error(native.softmax(x), p)
