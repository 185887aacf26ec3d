"""pysoftmax against SciPy's and torch's float64 results, recorded once in
tests/data/peer_golden.npz by tests/data/make_peer_golden.py (neither peer is imported here).

Every case runs on every instruction set in float64 and in float32 (the recorded inputs are
float32 values, so both dtypes compute on the same numbers). The errors are relative:
probabilities to their value (down to the smallest normal number); log-space values and
losses to 1 + |value| (the peers compute x - max - log s, whose rounding is absolute near 0);
gradient entries to the sizes of the two terms whose difference they are (recorded with them:
an entry cancels when p_j is near its target, in every implementation).
"""

import json
from pathlib import Path

import numpy as np
import pytest

import pysoftmax
from pysoftmax import special

DATA = np.load(Path(__file__).parent / "data" / "peer_golden.npz")
META = json.loads(DATA["manifest"].tobytes())
CASES = {case["name"]: case for case in META["cases"]}

FUNCTIONS = {
    "softmax": pysoftmax.softmax,
    "log_softmax": pysoftmax.log_softmax,
    "logsumexp": pysoftmax.logsumexp,
    "special.softmax": special.softmax,
    "special.log_softmax": special.log_softmax,
    "special.logsumexp": special.logsumexp,
}
# The bounds on values (probabilities, log-space values, losses) and on gradients, from
# measurement with a margin: the worst seen over every case and instruction set was 8e-16 and
# 1.6e-15 (float64), 1.7e-7 and 3.2e-7 (float32).
REL = {(np.float64, False): 1.2e-15, (np.float64, True): 2.5e-15,
       (np.float32, False): 2.5e-7, (np.float32, True): 4.5e-7}
PROBABILITIES = {"softmax", "special.softmax"}
GRADIENTS = ("grad", "dW", "db")


def _error(got, want, scale):
    """max |got - want| / scale (0 where both are equal or both NaN)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.where(same, 0.0, np.abs(got - want) / scale)
    return float(np.max(err, initial=0.0))


def _scale(case, out, want, dtype):
    if out.startswith(GRADIENTS):
        kind, reduction = out.split()
        terms = DATA[f"{case['name']}/{kind} terms"].astype(np.float64)
        if reduction == "mean":
            terms = terms / float(DATA[f"{case['name']}/denominator"])
        return np.maximum(terms, np.finfo(dtype).tiny)
    if case["fn"] in PROBABILITIES:
        scale = np.maximum(np.abs(want), np.finfo(dtype).tiny)
        if "temperature" in case["kwargs"]:   # the peer rounds z = x / T before exp(z - max z)
            z = DATA[case["inputs"]["x"]] / case["kwargs"]["temperature"]
            scale = scale * (1 + np.abs(z - z.max(axis=-1, keepdims=True)))
        return scale
    return 1 + np.abs(want)


def _inputs(case, dtype):
    out = {}
    for name, key in case["inputs"].items():
        a = DATA[key]
        out[name] = a.astype(dtype) if a.dtype == np.float64 else a
    return out


def _run(case, dtype):
    """[(output name, value, is a gradient)] of pysoftmax on the case's inputs."""
    kw = dict(case["kwargs"])
    if isinstance(kw.get("axis"), list):
        kw["axis"] = tuple(kw["axis"])
    a = _inputs(case, dtype)
    fn = case["fn"]
    if fn in FUNCTIONS:
        x = a.pop("x")
        res = FUNCTIONS[fn](x, **a, **kw)
        if kw.get("return_sign"):
            return [("y", res[0], False), ("sign", res[1], False)]
        return [("y", res, False)]
    if fn == "cross_entropy_with_grad":
        got = []
        for reduction in ("mean", "sum", "none"):
            loss, grad = pysoftmax.cross_entropy_with_grad(a["x"], a["target"], reduction=reduction,
                                                           weight=a.get("weight"), **kw)
            got.append((f"loss {reduction}", loss, False))
            # "none" gives the gradient of the sum
            got.append((f"grad {'sum' if reduction == 'none' else reduction}", grad, True))
            loss2 = pysoftmax.cross_entropy(a["x"], a["target"], reduction=reduction,
                                            weight=a.get("weight"), **kw)
            got.append((f"loss {reduction}", loss2, False))
        return got
    assert fn == "linear_cross_entropy"
    got = []
    for reduction in ("mean", "sum", "none"):
        loss, dw, db = pysoftmax.linear_cross_entropy(
            a["X"], a["W"], a.get("b"), a["target"], weight=a.get("weight"),
            sample_weight=a.get("sample_weight"), reduction=reduction, **kw)
        got += [(f"loss {reduction}", loss, False), (f"dW {reduction}", dw, True)]
        if db is not None:
            got.append((f"db {reduction}", db, True))
    return got


def errors(case, dtype):
    """{output name: worst relative error} of pysoftmax on a case, on the current ISA."""
    found = {}
    for out, value, _ in _run(case, dtype):
        if f"{case['name']}/{out}" not in DATA:
            continue                                   # not recorded for this case
        want = DATA[f"{case['name']}/{out}"]
        if np.ndim(want) and out != "sign":
            assert value.dtype == dtype, out
        e = _error(value, want, _scale(case, out, want, dtype))
        found[out] = max(found.get(out, 0.0), e)
    recorded = {out for out in case["outputs"] if "terms" not in out and out != "denominator"}
    assert set(found) == recorded
    return found


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(CASES))
def test_against_peers(isa, name, dtype):
    case = CASES[name]
    bad = {out: f"{e:.3g}" for out, e in errors(case, dtype).items()
           if not e <= REL[dtype, out.startswith(GRADIENTS)]}
    assert not bad, f"relative error over the bound against {case['peer']}: {bad}"


def test_the_file_covers_every_function():
    fns = {case["fn"] for case in CASES.values()}
    assert fns == set(FUNCTIONS) | {"cross_entropy_with_grad", "linear_cross_entropy"}
    assert {case["peer"] for case in CASES.values()} == {"scipy", "torch"}
