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


# ---- relative accuracy near 0 ----------------------------------------------------------------
# logsumexp - max and the maximum's log_softmax are log1p(o), o the sum of exp(x_j - max) over
# the other entries: tiny when the maximum dominates. Their error is bounded relative to the
# exact value (down to values near the smallest normal number), not only by eps (1 + |result|).
# Rows here have a maximum >= 0, so that logsumexp = max + log1p(o) does not cancel.
NEAR_ZERO_ULP = {np.float32: 4.0, np.float64: 8.0}


def exact_near_zero(x, where, temperature=1.0):
    """logsumexp, log_softmax (NaN where excluded) and o = the others' mass in wider precision,
    with the maximum's term left out of the sum rather than subtracted from it."""
    wide = np.float64 if x.dtype == np.float32 else np.longdouble
    z = np.where(where, x.astype(wide), wide(-np.inf))
    m = z.max(axis=-1, keepdims=True)
    e = np.exp((z - m) / wide(temperature))
    e[np.arange(len(z)), np.argmax(z, axis=-1)] = 0
    lp1 = np.log1p(e.sum(axis=-1, keepdims=True))
    lsm = np.where(where, (z - m) / wide(temperature) - lp1, np.nan)
    return (m + lp1)[:, 0], lsm, lp1[:, 0]


def rel_ulp(got, want, dtype):
    """max |got - want| in units of the spacing of dtype at want (NaN entries of want skipped)."""
    keep = ~np.isnan(want)
    got, want = got[keep].astype(want.dtype), want[keep]
    spacing = np.spacing(np.abs(want.astype(dtype))).astype(want.dtype)
    return float(np.max(np.abs(got - want) / spacing))


def near_zero_rows(case, dtype, rng):
    f32 = dtype == np.float32
    if case == "pairs":  # e^-100 is subnormal in float32: its error is in subnormal spacings
        gaps = [-40.0, -80.0, -100.0] if f32 else [-40.0, -100.0, -700.0]
        return np.array([[0.0, g] for g in gaps] + [[g, 0.0] for g in gaps], dtype)
    if case.startswith("small"):  # one 0 and k - 1 entries of e^-30 (f32) / e^-60 (f64)
        k = int(case[5:])
        x = np.full((8, k), -30.0 if f32 else -60.0)
        x[np.arange(8), rng.integers(0, k, 8)] = 0.0
        x[4:, :] -= rng.uniform(0, 1, (4, k)) * (x[4:, :] != 0)  # not all equal
        return x.astype(dtype)
    n, k = {"random17": (1000, 17), "random1000": (200, 1000),
            "dominant17": (1000, 17), "dominant1000": (200, 1000)}[case]
    if case.startswith("random"):
        x = rng.standard_normal((n, k)) * 3
        x -= x.min(axis=-1, keepdims=True)
    else:  # one entry 15 to 35 (f32) / 60 (f64) above standard normal others
        x = rng.standard_normal((n, k))
        x[np.arange(n), rng.integers(0, k, n)] += rng.uniform(15, 35 if f32 else 60, n)
    return x.astype(dtype)


NEAR_ZERO_CASES = ["pairs", "small7", "small64", "small100", "small4096", "random17",
                   "random1000", "dominant17", "dominant1000"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", NEAR_ZERO_CASES)
def test_relative_error_near_zero(isa, rng, dtype, case):
    if dtype == np.float64 and not WIDE:
        pytest.skip("long double is not wider than double on this platform")
    x = near_zero_rows(case, dtype, rng)
    everywhere = np.ones(x.shape, bool)
    lse, lsm, lp1 = exact_near_zero(x, everywhere)
    bound = NEAR_ZERO_ULP[dtype]
    labels = np.argmax(x, axis=-1)
    onehot = np.eye(x.shape[1], dtype=dtype)[labels]
    errors = {
        "logsumexp": rel_ulp(native.logsumexp(x), lse, dtype),
        "log_softmax": rel_ulp(native.log_softmax(x), lsm, dtype),
        # the loss against the maximum's class is log1p(o); in the loss's float64 it is checked
        # in ULP of the logits' dtype
        "cross_entropy": rel_ulp(native.cross_entropy(x, labels, reduction="none"), lp1, dtype),
        "cross_entropy probs": rel_ulp(native.cross_entropy(x, onehot, reduction="none"), lp1,
                                       dtype),
    }
    # masked rows (the kernels' masked paths): some entries excluded, never the maximum
    where = rng.uniform(size=x.shape) < 0.8
    where[np.arange(len(x)), labels] = True
    lse_w, lsm_w, _ = exact_near_zero(x, where)
    errors["logsumexp where"] = rel_ulp(native.logsumexp(x, where=where), lse_w, dtype)
    errors["log_softmax where"] = rel_ulp(native.log_softmax(x, where=where), lsm_w, dtype)
    # with temperature, on x T: the terms stay those of x (x / T would push float32's into
    # subnormals, whose error is absolute)
    xt = (x * 0.37).astype(dtype)
    _, lsm_t, _ = exact_near_zero(xt, everywhere, 0.37)
    errors["log_softmax T=0.37"] = rel_ulp(native.log_softmax(xt, temperature=0.37), lsm_t, dtype)
    bad = {name: e for name, e in errors.items() if not e <= bound}
    assert not bad, f"over {bound} ULP of the exact value: {bad}"
