"""Worst-case error against a more precise computation, measured and asserted per instruction set.

float32 results are compared with float64 computed from the same float32 inputs (where
x - max is exact); float64 results with long double (x87 80-bit on x86-64, where the
difference of two doubles is exact to 2^-64).
"""

import functools

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


# ---- every op, every size: ULP and relative error against exact values -----------------------
# Rows of k in SIZES, N(0, s^2) logits with s cycling through 1, 3, 10 and 30 (s = 30 puts most
# float32 probabilities into subnormals or 0), against values computed in the next wider
# precision (float64 for float32, long double for float64). Errors are in ULP of the result's
# dtype at the exact value (np.spacing: the subnormal spacing is the only absolute tolerance),
# and relative (|got - want| / |want|, |want| floored at the dtype's smallest normal number).
# logsumexp's is measured at max(|lse|, |max x|): m + log s cancels when the maximum is
# negative, and no method that rounds the inputs' scale does better. A gradient entry is
# measured at the size of the terms it is the difference of (see ce_exact): with label
# smoothing or probability targets it cancels when p_j is near its target, and the float32
# kernels keep p_j in float32 between their passes.
SIZES = [1, 2, 15, 16, 17, 4097, 50257]
ROWS = {1: 4000, 2: 4000, 15: 3000, 16: 3000, 17: 3000, 4097: 60, 50257: 6}
SCALES = [1.0, 3.0, 10.0, 30.0]
CE_CONFIGS = {  # name: (probability targets, class weights, label smoothing)
    "labels": (False, False, 0.0),
    "labels smoothing": (False, False, 0.1),
    "labels weight": (False, True, 0.0),
    "labels weight smoothing": (False, True, 0.1),
    "probs": (True, False, 0.0),
    "probs weight smoothing": (True, True, 0.1),
}


def _wide(dtype):
    return np.float64 if dtype == np.float32 else np.longdouble


def pieces(x, mask):
    """The exact pieces of rows x (n, k) over the entries `mask` includes, in the next wider
    precision: m = the maximum (NaN-free rows), t = x - m (-inf where excluded), q = exp(t),
    s = sum q and ls = log(s) = log1p(the sum without the maximum's term). Rows whose maximum
    is not finite (an included +inf, nothing included but -inf, nothing included) are flagged
    in `special`; their pieces are meaningless."""
    wide = _wide(x.dtype)
    z = np.where(mask, x.astype(wide), wide(-np.inf))
    rows = np.arange(len(z))
    top = np.argmax(z, axis=-1)
    m = z[rows, top][:, None]
    special = ~np.isfinite(m[:, 0])
    with np.errstate(invalid="ignore"):
        t = z - np.where(special[:, None], 0, m)
        q = np.exp(t)
    others = q.copy()
    others[rows, top] = 0
    o = others.sum(axis=-1, keepdims=True)
    return dict(x=x, mask=mask, m=m, t=t, q=q, s=1 + o, ls=np.log1p(o), special=special)


@functools.cache
def sample(dtype, k):
    """Logits (n, k) of `dtype` with their exact pieces, labels, probabilities, class weights."""
    rng = np.random.default_rng(1000 * k + (dtype == np.float32))
    n = ROWS[k]
    x = (rng.standard_normal((n, k)) * np.resize(SCALES, n)[:, None]).astype(dtype)
    d = pieces(x, np.ones(x.shape, bool))
    probs = rng.random((n, k)) ** 3
    d["probs"] = (probs / probs.sum(-1, keepdims=True)).astype(dtype)
    d["weight"] = rng.uniform(0.2, 3.0, k).astype(dtype)
    d["labels"] = rng.integers(0, k, n)
    return d


def ce_exact(d, soft, weighted, e):
    """Exact per-example loss, gradient (of the sum) and the gradient's term sizes, over the
    included classes (K' of them, W = the sum of their weights):
    labels: grad_j = p_j c1 - e/K' w_j (j != y), -(1 - e) w_y (1 - p_y) + e/K' (p_y W - w_y),
            c1 = (1 - e) w_y + e/K' W;
    probs:  grad_j = p_j C - w_j t'_j, with C = sum w t', t' = (1 - e) t + e / K'.
    The term sizes are the same sums with |.| on each term. Rows flagged special are left."""
    wide = d["t"].dtype.type
    e = wide(e)                                        # 1 - e without rounding it to double
    mask = d["mask"]
    n, k = d["x"].shape
    w = np.where(mask, d["weight"].astype(wide) if weighted else wide(1), 0)
    k_in = mask.sum(axis=-1, keepdims=True).astype(wide)
    p = d["q"] / d["s"]
    with np.errstate(invalid="ignore"):
        nll = np.where(mask, d["ls"] - d["t"], 0)     # -log p_j >= 0, exact to the wide precision
    if soft:
        wt = w * np.where(mask, (1 - e) * d["probs"].astype(wide) + e / k_in, 0)
        c = wt.sum(axis=-1, keepdims=True)
        loss = (wt * nll).sum(axis=-1)
        return loss, p * c - wt, p * c + wt
    rows, y = np.arange(n), d["labels"]
    wy = w[rows, y][:, None]
    big_w = w.sum(axis=-1, keepdims=True)
    c1 = (1 - e) * wy + e / k_in * big_w
    loss = (1 - e) * wy[:, 0] * nll[rows, y]
    if e > 0:
        loss = loss + (e / k_in * (w * nll).sum(axis=-1, keepdims=True))[:, 0]
    grad, terms = p * c1 - e / k_in * w, p * c1 + e / k_in * w
    q_others = d["q"].copy()
    q_others[rows, y] = 0
    one_minus_py = q_others.sum(axis=-1) / d["s"][:, 0]
    py, wl, ke = p[rows, y], w[rows, y], e / k_in[:, 0]
    grad[rows, y] = -(1 - e) * wl * one_minus_py + ke * (py * big_w[:, 0] - wl)
    terms[rows, y] = (1 - e) * wl * one_minus_py + ke * (py * big_w[:, 0] + wl)
    return loss, grad, terms


def errors(got, want, dtype, at=None):
    """(worst ULP, worst relative error) of got against want, both measured at |at| (default
    |want|); entries equal to want (infinities included) count 0."""
    got, want = np.asarray(got).astype(want.dtype), np.asarray(want)
    at = np.abs(want if at is None else at)
    with np.errstate(invalid="ignore"):
        diff = np.where(got == want, 0, np.abs(got - want))   # inf - inf: NaN, compared below
        ulp = diff / np.spacing(at.astype(dtype)).astype(want.dtype)
        rel = diff / np.maximum(at, np.finfo(dtype).tiny)
    same = got == want
    ulp = np.where(same, 0, np.where(np.isnan(ulp), np.inf, ulp))
    rel = np.where(same, 0, np.where(np.isnan(rel), np.inf, rel))
    return float(np.max(ulp)), float(np.max(rel))


OPS = ["softmax", "log_softmax", "logsumexp"] + [
    f"{what} {config}" for config in CE_CONFIGS for what in ("loss", "grad")]


def measure(dtype, k):
    """{op: (worst ULP, worst relative error)} on the current instruction set."""
    d = sample(dtype, k)
    x = d["x"]
    out = {
        "softmax": errors(native.softmax(x), d["q"] / d["s"], dtype),
        "log_softmax": errors(native.log_softmax(x), d["t"] - d["ls"], dtype),
        "logsumexp": errors(native.logsumexp(x), (d["m"] + d["ls"])[:, 0], dtype,
                            at=np.maximum(np.abs(d["m"] + d["ls"]), np.abs(d["m"]))[:, 0]),
    }
    for config, (soft, weighted, e) in CE_CONFIGS.items():
        loss, grad, terms = ce_exact(d, soft, weighted, e)
        got_loss, got_grad = native.cross_entropy_with_grad(
            x, d["probs"] if soft else d["labels"], weight=d["weight"] if weighted else None,
            label_smoothing=e, reduction="none")
        out[f"loss {config}"] = errors(got_loss, loss, dtype)
        out[f"grad {config}"] = errors(got_grad, grad, dtype, at=terms)
    return out


# Worst ULP allowed, from measurement (tests/accuracy_table.py prints it per instruction set and
# size) with a margin of about 15-30%; the relative error is then within bound x eps. The worst
# seen on avx2, scalar and emulated512: float32 softmax 2.39, log_softmax 1.53, logsumexp 1.36,
# losses <= 1.70 (2.81 with probabilities, weights and smoothing), gradients <= 3.07; float64
# 3.15, 4.01, 4.19, <= 3.38, <= 3.90.
BOUNDS = {
    np.float32: {"softmax": 3.0, "log_softmax": 2.0, "logsumexp": 1.75, "loss": 2.25,
                 "loss probs weight smoothing": 3.5, "grad": 3.75},
    np.float64: {"softmax": 4.0, "log_softmax": 5.0, "logsumexp": 5.25, "loss": 4.25,
                 "grad": 4.5},
}


def bound(op, dtype):
    b = BOUNDS[dtype]
    return b[op] if op in b else b[op.split()[0]]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", SIZES)
def test_every_op_every_size(isa, dtype, k):
    if dtype == np.float64 and not WIDE:
        pytest.skip("long double is not wider than double on this platform")
    eps = float(np.finfo(dtype).eps)
    bad = {op: f"{ulp:.2f} ULP, {rel:.3g} relative" for op, (ulp, rel) in measure(dtype, k).items()
           if not (ulp <= bound(op, dtype) and rel <= bound(op, dtype) * eps)}
    assert not bad, f"over the bound: {bad}"


def test_the_oracle_against_mpmath():
    """Spot check of the long-double oracle with 40 significant digits."""
    mpmath = pytest.importorskip("mpmath")
    if not WIDE:
        pytest.skip("long double is not wider than double on this platform")
    d = sample(np.float64, 17)
    loss, grad, terms = ce_exact(d, soft=False, weighted=True, e=0.1)
    with mpmath.workdps(40):
        e = mpmath.mpf(0.1)                            # the double nearest 0.1, as the kernels
        for i in (0, 1, 2, 3, 101):
            x = [mpmath.mpf(float(v)) for v in d["x"][i]]
            lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in x))
            p = [mpmath.exp(v - lse) for v in x]
            w = [mpmath.mpf(float(v)) for v in d["weight"]]
            y, k = int(d["labels"][i]), len(x)
            want = ((1 - e) * w[y] * (lse - x[y])
                    + e / k * mpmath.fsum(wj * (lse - v) for wj, v in zip(w, x)))
            c1 = (1 - e) * w[y] + e / k * mpmath.fsum(w)
            g = [p[j] * c1 - e / k * w[j] - ((1 - e) * w[y] if j == y else 0) for j in range(k)]
            for got, exact, at in [(d["m"][i, 0] + d["ls"][i, 0], lse, lse),
                                   (loss[i], want, want), *zip(grad[i], g, terms[i]),
                                   *zip(d["q"][i] / d["s"][i, 0], p, p)]:
                # str(): every digit of the long double
                assert abs(mpmath.mpf(str(got)) - exact) <= 2e-18 * abs(mpmath.mpf(str(at))), exact


# ---- extreme rows ---------------------------------------------------------------------------
# One entry of +-1e4, +-1e30 or +-inf (the same value at the first and last positions too) at
# the first, the last and tail positions (the first element of the last 4-, 8- and 16-lane
# block: the vector loops' masked tails), without a mask, with a random mask that keeps it, and
# with one that leaves it out. Rows whose maximum is not finite follow the documented rules:
# an included +inf (or nothing but -inf) makes softmax and log_softmax NaN on the included
# entries, logsumexp that maximum, and the loss and gradient NaN; a row with nothing included
# gives 0 (-inf for log_softmax and logsumexp) and is not counted by the loss.
EXTREMES = [1e4, -1e4, 1e30, -1e30, np.inf, -np.inf]
EXTREME_KS = [1, 2, 15, 16, 17, 33, 4097]
EXTREME_CE = {"labels": (False, False, 0.0), "labels weight smoothing": (False, True, 0.1),
              "probs weight smoothing": (True, True, 0.1)}


def _positions(k):
    return sorted({0, k - 1} | {w * ((k - 1) // w) for w in (4, 8, 16)})


@functools.cache
def extreme_rows(dtype, k, masked):
    """(pieces with labels, probabilities and weights) of the extreme rows; masked: None, "keep"
    (a random mask that keeps the extreme entries) or "drop" (one that leaves them out)."""
    rng = np.random.default_rng(7 * k + (dtype == np.float32))
    rows, where, labels = [], [], []
    for v in EXTREMES:
        for places in [[j] for j in _positions(k)] + [[0, k - 1]]:
            x = rng.standard_normal(k) * 3
            x[places] = v
            keep = np.ones(k, bool) if masked is None else rng.uniform(size=k) < 0.7
            keep[places] = masked != "drop"
            free = [j for j in range(k) if keep[j] and j not in places]
            label = rng.choice(free) if free else places[0]     # not on the extreme, if possible
            keep[label] |= masked != "drop" or not free
            rows.append(x)
            where.append(keep)
            labels.append(label)
    x = np.array(rows).astype(dtype)
    d = pieces(x, np.array(where))
    probs = rng.random(x.shape) ** 2
    d["probs"] = (probs / probs.sum(-1, keepdims=True)).astype(dtype)
    d["weight"] = rng.uniform(0.2, 3.0, k).astype(dtype)
    d["labels"] = np.array(labels)
    return d


def _apply_rules(d, value, empty, nan_included=True):
    """`value` (n, k) or (n,) with the rows whose maximum is not finite replaced by the rules."""
    mask, special = d["mask"], d["special"]
    none = ~mask.any(axis=-1)
    value = value.copy()
    if value.ndim == 1:
        value[special] = d["m"][special, 0]                  # logsumexp: the maximum
        value[none] = empty
        return value
    value[special] = np.where(mask[special], np.nan if nan_included else 0, empty)
    value[none] = empty
    return value


def _check(name, got, want, dtype, limit, at=None):
    got = np.asarray(got)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), f"{name}: NaN where the rules say otherwise"
    if (~nan).any():
        ulp, _ = errors(got[~nan], want[~nan], dtype, None if at is None else at[~nan])
        assert ulp <= limit, f"{name}: {ulp:.2f} ULP"


@pytest.mark.parametrize("masked", [None, "keep", "drop"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", EXTREME_KS)
def test_extreme_rows(isa, dtype, k, masked):
    if dtype == np.float64 and not WIDE:
        pytest.skip("long double is not wider than double on this platform")
    d = extreme_rows(dtype, k, masked)
    x, where = d["x"], (None if masked is None else d["mask"])
    with np.errstate(all="ignore"):
        p = _apply_rules(d, np.where(d["mask"], d["q"] / d["s"], 0), 0.0)
        lsm = _apply_rules(d, np.where(d["mask"], d["t"] - d["ls"], -np.inf), -np.inf)
        lse = _apply_rules(d, (d["m"] + d["ls"])[:, 0], -np.inf)
    _check("softmax", native.softmax(x, where=where), p, dtype, bound("softmax", dtype))
    _check("log_softmax", native.log_softmax(x, where=where), lsm, dtype,
           bound("log_softmax", dtype))
    _check("logsumexp", native.logsumexp(x, where=where), lse, dtype, bound("logsumexp", dtype),
           at=np.where(np.isfinite(lse), np.maximum(np.abs(lse), np.abs(d["m"][:, 0])), lse))
    counted = d["mask"].any(axis=-1)
    for config, (soft, weighted, e) in EXTREME_CE.items():
        with np.errstate(all="ignore"):
            loss, grad, terms = ce_exact(d, soft, weighted, e)
        loss = np.where(counted, np.where(d["special"], np.nan, loss), 0)
        grad = _apply_rules(d, np.where(d["mask"], grad, 0), 0.0)
        grad[~counted] = 0
        got_loss, got_grad = native.cross_entropy_with_grad(
            x, d["probs"] if soft else d["labels"], weight=d["weight"] if weighted else None,
            label_smoothing=e, reduction="none", where=where)
        # Rows whose target puts mass (a probability or the smoothing's e / K') on an included
        # -inf logit, a loss of +inf, are left out here (their rule is tested with the
        # cross-entropy's other edge cases).
        keep = ~(np.isneginf(x) & d["mask"]).any(axis=-1) if soft or e > 0 else slice(None)
        terms = np.where(np.isfinite(terms), terms, 0)
        _check(f"loss {config}", got_loss[keep], loss[keep], dtype, bound(f"loss {config}", dtype))
        _check(f"grad {config}", got_grad[keep], grad[keep], dtype, bound(f"grad {config}", dtype),
               at=terms[keep])
