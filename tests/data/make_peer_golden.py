"""Writes peer_golden.npz: what SciPy and torch compute, in float64, on fixed inputs.

    python tests/data/make_peer_golden.py        # needs torch and scipy; rewrites the file

tests/test_peer_golden.py compares pysoftmax against these values on every instruction set,
in float64 and float32, without importing either peer. The inputs are stored with the
outputs; every floating input is a float32 value (so the float32 runs compute on the same
numbers) and every output is float64. The SciPy cases cover the softmax family
(scipy.special's softmax, log_softmax and logsumexp, with its weights, signs and axes); the
torch cases cover temperatures, masks (as -inf logits), cross-entropy with class weights,
ignore_index, label smoothing and probability targets under every reduction, and the fused
linear cross-entropy, with gradients from autograd. Before writing, the script checks that
the two peers agree with each other on the softmax family.

The file holds one array per output, named "<case>/<name>", the inputs as "input/<digest>"
(each stored once), and "manifest", a JSON text (UTF-8 bytes): the peers' versions and, for
each case, its peer, the pysoftmax function it checks, the keyword arguments, its inputs
(argument name: array name) and the names of its outputs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import scipy
import scipy.special
import torch

HERE = Path(__file__).parent
OUT = HERE / "peer_golden.npz"
SEED = 20261203

arrays: dict[str, np.ndarray] = {}
manifest: list[dict] = []


def f32(a) -> np.ndarray:
    """float64 holding float32 values."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def add(name, peer, fn, inputs, outputs, **kwargs):
    """One case; an input shared by several cases is stored once, as "input/<digest>"."""
    keys = {}
    for key, value in inputs.items():
        value = np.asarray(value)
        digest = hashlib.sha256(value.dtype.str.encode() + str(value.shape).encode()
                                + value.tobytes()).hexdigest()[:16]
        keys[key] = f"input/{digest}"
        arrays[keys[key]] = value
    for key, value in outputs.items():
        arrays[f"{name}/{key}"] = np.asarray(value)
    manifest.append({"name": name, "peer": peer, "fn": fn, "kwargs": kwargs, "inputs": keys,
                     "outputs": list(outputs)})


def tensor(a, grad=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=grad)


rng = np.random.default_rng(SEED)

# ---- the softmax family: SciPy, checked against torch ----------------------------------------
for k in (1, 2, 15, 16, 17, 100, 4097):
    n = 2 if k > 1000 else 6
    x = f32(rng.standard_normal((n, k)) * 4)
    sm = scipy.special.softmax(x, axis=-1)
    lsm = scipy.special.log_softmax(x, axis=-1)
    lse = scipy.special.logsumexp(x, axis=-1)
    t = tensor(x)
    np.testing.assert_allclose(torch.softmax(t, -1).numpy(), sm, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(torch.log_softmax(t, -1).numpy(), lsm, rtol=1e-13)
    np.testing.assert_allclose(torch.logsumexp(t, -1).numpy(), lse, rtol=1e-13)
    add(f"softmax k={k}", "scipy", "softmax", {"x": x}, {"y": sm})
    add(f"log_softmax k={k}", "scipy", "log_softmax", {"x": x}, {"y": lsm})
    add(f"logsumexp k={k}", "scipy", "logsumexp", {"x": x}, {"y": lse})

x3 = f32(rng.standard_normal((3, 4, 5)) * 3)
for axis in (None, 0, (0, 2)):
    add(f"special.softmax axis={axis}", "scipy", "special.softmax", {"x": x3},
        {"y": scipy.special.softmax(x3, axis=axis)}, axis=axis)
    add(f"special.log_softmax axis={axis}", "scipy", "special.log_softmax", {"x": x3},
        {"y": scipy.special.log_softmax(x3, axis=axis)}, axis=axis)
    add(f"special.logsumexp axis={axis}", "scipy", "special.logsumexp", {"x": x3},
        {"y": scipy.special.logsumexp(x3, axis=axis)}, axis=axis)
b_pos = f32(rng.uniform(0.1, 2, (3, 4, 5)))
add("special.logsumexp b>0", "scipy", "special.logsumexp", {"x": x3, "b": b_pos},
    {"y": scipy.special.logsumexp(x3, axis=-1, b=b_pos)}, axis=-1)
b_any = f32(rng.uniform(-1, 1, (3, 4, 5)))
r, s = scipy.special.logsumexp(x3, axis=1, b=b_any, return_sign=True)
add("special.logsumexp b signs", "scipy", "special.logsumexp", {"x": x3, "b": b_any},
    {"y": r, "sign": s}, axis=1, return_sign=True)

# ---- torch: temperatures and masks ----------------------------------------------------------
for k in (3, 17, 100):
    x = f32(rng.standard_normal((5, k)) * 4)
    for temperature in (0.37, 3.0):
        t = tensor(x) / temperature
        add(f"softmax k={k} T={temperature}", "torch", "softmax", {"x": x},
            {"y": torch.softmax(t, -1).numpy()}, temperature=temperature)
        add(f"log_softmax k={k} T={temperature}", "torch", "log_softmax", {"x": x},
            {"y": torch.log_softmax(t, -1).numpy()}, temperature=temperature)
    where = rng.uniform(size=x.shape) < 0.7
    where[:, 0] = True
    t = tensor(x).masked_fill(~torch.tensor(where), -np.inf)
    add(f"softmax k={k} where", "torch", "softmax", {"x": x, "where": where},
        {"y": torch.softmax(t, -1).numpy()})
    add(f"logsumexp k={k} where", "torch", "logsumexp", {"x": x, "where": where},
        {"y": torch.logsumexp(t, -1).numpy()})

def gradient_terms(x, target, weight, e):
    """The sizes of the two terms whose difference is each gradient entry of the "sum"
    reduction, p_j sum_i w_i t'_i + w_j t'_j (t' the smoothed target, 0 for ignored examples),
    and what "mean" divides by: a scale for the gradients' errors (the entries cancel when p_j is
    near its target), in float32, and the denominator."""
    n, k = x.shape
    p = torch.softmax(tensor(x), -1).numpy()
    w = np.ones(k) if weight is None else weight
    if target.ndim == 2:
        t, counted = (1 - e) * target + e / k, np.ones(n, bool)
    else:
        counted = target != -100
        t = (1 - e) * np.eye(k)[np.where(counted, target, 0)] + e / k
    wt = w * t * counted[:, None]
    terms = p * wt.sum(-1, keepdims=True) + wt
    if target.ndim == 1:
        denominator = float(np.sum(w[target[counted]]))
    else:
        denominator = float(n)
    return terms, denominator


# ---- torch: cross-entropy --------------------------------------------------------------------
CONFIGS = {  # name: (probability targets, class weights, label smoothing, some ignored)
    "labels": (False, False, 0.0, False),
    "weight": (False, True, 0.0, False),
    "ignore_index": (False, False, 0.0, True),
    "smoothing": (False, False, 0.1, False),
    "weight smoothing ignore_index": (False, True, 0.1, True),
    "probs": (True, False, 0.0, False),
    "probs weight": (True, True, 0.0, False),
    "probs smoothing": (True, False, 0.1, False),
    "probs weight smoothing": (True, True, 0.1, False),
}
BIG = ("weight smoothing ignore_index", "probs weight smoothing")  # the only ones at k = 4097

for k in (1, 2, 15, 16, 17, 100, 4097):
    n = 2 if k > 1000 else 7
    x = f32(rng.standard_normal((n, k)) * 3)
    labels = rng.integers(0, k, n)
    probs = rng.random((n, k)) ** 3
    probs = f32(probs / probs.sum(-1, keepdims=True))
    weight = f32(rng.uniform(0.2, 3, k))
    for config, (soft, weighted, e, ignored) in CONFIGS.items():
        if k > 1000 and config not in BIG:
            continue
        target = probs if soft else labels.copy()
        if ignored:
            target[1] = -100
        inputs = {"x": x, "target": target}
        if weighted:
            inputs["weight"] = weight
        outputs = {}
        for reduction in ("mean", "sum", "none"):
            t = tensor(x, grad=True)
            tt = torch.tensor(target)
            loss = torch.nn.functional.cross_entropy(
                t, tt, weight=tensor(weight) if weighted else None, reduction=reduction,
                label_smoothing=e)
            loss.sum().backward()
            outputs[f"loss {reduction}"] = loss.detach().numpy()
            # "none" gives the gradient of the sum; at k = 4097 only the mean's is kept (size)
            if reduction == "mean" or (reduction == "sum" and k < 1000):
                outputs[f"grad {reduction}"] = t.grad.numpy()
        terms, denominator = gradient_terms(x, target, weight if weighted else None, e)
        outputs["grad terms"], outputs["denominator"] = terms.astype(np.float32), denominator
        add(f"cross_entropy k={k} {config}", "torch", "cross_entropy_with_grad", inputs,
            outputs, label_smoothing=e)

# ---- torch: linear cross-entropy -------------------------------------------------------------
for k, with_b, sample_weight in ((3, True, False), (17, True, True), (100, False, True)):
    n, d = 9, 6
    X, W = f32(rng.standard_normal((n, d))), f32(rng.standard_normal((k, d)) * 0.5)
    b = f32(rng.standard_normal(k)) if with_b else None
    labels = rng.integers(0, k, n)
    labels[2] = -100
    weight = f32(rng.uniform(0.2, 3, k))
    s = f32(rng.uniform(0.1, 2, n)) if sample_weight else None
    inputs = {"X": X, "W": W, "target": labels, "weight": weight}
    if with_b:
        inputs["b"] = b
    if sample_weight:
        inputs["sample_weight"] = s
    outputs = {}
    for reduction in ("mean", "sum", "none"):
        tw, tb = tensor(W, grad=True), tensor(b, grad=True) if with_b else None
        z = tensor(X) @ tw.T + (tb if with_b else 0)
        per = torch.nn.functional.cross_entropy(z, torch.tensor(labels), weight=tensor(weight),
                                                reduction="none", label_smoothing=0.1)
        if sample_weight:
            per = per * tensor(s)
        counted = labels != -100
        denominator = float(np.sum(weight[labels[counted]] * (s[counted] if sample_weight
                                                               else 1)))
        loss = {"mean": per.sum() / denominator, "sum": per.sum(), "none": per}[reduction]
        loss.sum().backward()
        outputs[f"loss {reduction}"] = loss.detach().numpy()
        outputs[f"dW {reduction}"] = tw.grad.numpy()
        if with_b:
            outputs[f"db {reduction}"] = tb.grad.numpy()
    terms, _ = gradient_terms(X @ W.T + (b if with_b else 0), labels, weight, 0.1)
    if sample_weight:
        terms = terms * s[:, None]
    outputs["dW terms"] = (terms.T @ np.abs(X)).astype(np.float32)
    outputs["db terms"] = terms.sum(axis=0).astype(np.float32)
    outputs["denominator"] = denominator
    add(f"linear_cross_entropy k={k}", "torch", "linear_cross_entropy", inputs, outputs,
        label_smoothing=0.1)

meta = {"scipy": scipy.__version__, "torch": torch.__version__.split("+")[0],
        "numpy": np.__version__, "cases": manifest}
arrays["manifest"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
np.savez_compressed(OUT, **arrays)
print(f"{OUT.name}: {len(manifest)} cases, {OUT.stat().st_size / 1e3:.0f} kB")
