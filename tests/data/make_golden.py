"""Writes golden.json: a SHA-256 of every public function's output on fixed inputs, per
instruction set this CPU runs (and AVX-512 through its emulation where the CPU lacks it), so
that a change meant to preserve behaviour (a refactoring, a move of code between files) can be
checked bit for bit against the build that wrote the file.

    python tests/data/make_golden.py [NOTE]     # rewrite tests/data/golden.json

tests/test_golden.py recomputes the same cases and compares. The inputs are made from fixed
seeds (NumPy's PCG64, stable across NumPy versions); only the digests are stored.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

import pysoftmax as ps
from pysoftmax import _core

HERE = Path(__file__).parent
GOLDEN = HERE / "golden.json"


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"None")
            continue
        a = np.asarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _logits(rng, n, k, dtype, scale=3.0):
    return (scale * rng.standard_normal((n, k))).astype(dtype)


def kernel_cases():
    """(name, thunk) pairs: each thunk returns the arrays whose bytes are digested."""
    cases = []
    # Short rows (the grouped block kernels), a vector's width and one either side, long rows
    # (in-cache and streamed), and the chunked float32 sums.
    shapes = [(37, 1), (100, 2), (64, 7), (64, 8), (64, 9), (129, 10), (40, 16), (33, 17),
              (50, 33), (20, 100), (9, 127), (5, 128), (6, 1000), (3, 4097), (2, 20000)]
    for dtype in (np.float32, np.float64):
        for n, k in shapes:
            name = f"{np.dtype(dtype).name}-{n}x{k}"

            def rows(n=n, k=k, dtype=dtype):
                rng = np.random.default_rng(n * 100003 + k)
                x = _logits(rng, n, k, dtype)
                x[0, k // 2] = -np.inf
                return x, rng

            def soft(rows=rows, **kw):
                x, _ = rows()
                return (ps.softmax(x, **kw), ps.log_softmax(x, **kw))

            def masked(rows=rows):
                x, rng = rows()
                where = rng.random(x.shape) < 0.7
                return (ps.softmax(x, where=where), ps.log_softmax(x, where=where),
                        ps.logsumexp(x, where=where))

            def lse(rows=rows):
                x, _ = rows()
                return (ps.logsumexp(x), ps.logsumexp(x.T, axis=0), ps.entropy(x))

            def ce(rows=rows, k=k, **kw):
                x, rng = rows()
                y = rng.integers(0, k, x.shape[0])
                y[1::7] = -100
                out = []
                for reduction in ("mean", "sum", "none"):
                    loss, g = ps.cross_entropy_with_grad(x, y, reduction=reduction, **kw)
                    out += [np.asarray(loss), g,
                            np.asarray(ps.cross_entropy(x, y, reduction=reduction, **kw))]
                return out

            def ce_probs(rows=rows, **kw):
                x, rng = rows()
                t = ps.softmax(rng.standard_normal(x.shape)).astype(x.dtype)
                loss, g = ps.cross_entropy_with_grad(x, t, **kw)
                return np.asarray(loss), g

            def ce_masked(rows=rows, k=k, **kw):
                x, rng = rows()
                where = rng.random(x.shape) < 0.8
                y = np.array([int(np.flatnonzero(r)[0]) if r.any() else -100 for r in where])
                loss, g = ps.cross_entropy_with_grad(x, y, where=where, reduction="sum", **kw)
                return np.asarray(loss), g

            cases += [
                (f"softmax/{name}", soft),
                (f"softmax-temperature/{name}", lambda soft=soft: soft(temperature=0.37)),
                (f"softmax-masked/{name}", masked),
                (f"logsumexp/{name}", lse),
                (f"cross_entropy/{name}", ce),
                (f"cross_entropy-weighted-smoothed/{name}",
                 lambda ce=ce, k=k: ce(weight=np.linspace(0.5, 2.0, k), label_smoothing=0.1)),
                (f"cross_entropy-probs/{name}", ce_probs),
                (f"cross_entropy-probs-smoothed/{name}",
                 lambda ce_probs=ce_probs: ce_probs(label_smoothing=0.2)),
                (f"cross_entropy-masked/{name}", ce_masked),
                (f"cross_entropy-masked-smoothed/{name}",
                 lambda ce_masked=ce_masked, k=k: ce_masked(weight=np.linspace(2.0, 0.5, k),
                                                            label_smoothing=0.15)),
            ]
    # Extreme rows: large logits, +inf, NaN, all -inf.
    for dtype in (np.float32, np.float64):
        def extreme(dtype=dtype):
            x = np.array([[800.0, 0.0, -5.0, 3.0], [np.inf, 1.0, 2.0, 3.0],
                          [np.nan, 1.0, 2.0, 3.0], [-np.inf] * 4, [1e30, -1e30, 0.0, 1.0]],
                         dtype=dtype)
            x = np.tile(x, (20, 1))
            with np.errstate(all="ignore"):
                return (ps.softmax(x), ps.log_softmax(x), ps.logsumexp(x))
        cases.append((f"extreme/{np.dtype(dtype).name}", extreme))
    # Linear + cross-entropy: the fused path (K <= 128) and the BLAS path.
    for dtype in (np.float32, np.float64):
        for n, d, k in [(300, 20, 3), (517, 64, 10), (200, 33, 100), (150, 40, 300)]:
            def lin(n=n, d=d, k=k, dtype=dtype, **kw):
                rng = np.random.default_rng(n + d + k)
                X = rng.standard_normal((n, d)).astype(dtype)
                W = (0.1 * rng.standard_normal((k, d))).astype(dtype)
                b = rng.standard_normal(k).astype(dtype)
                y = rng.integers(0, k, n)
                sw = rng.random(n).astype(dtype)
                out = []
                for reduction in ("mean", "sum", "none"):
                    loss, dw, db = ps.linear_cross_entropy(X, W, b, y, reduction=reduction,
                                                           sample_weight=sw, **kw)
                    out += [np.asarray(loss), dw, db]
                out.append(np.asarray(ps.linear_cross_entropy(X, W, None, y, return_grad=False)))
                return out
            name = f"{np.dtype(dtype).name}-{n}x{d}x{k}"
            cases += [(f"linear_cross_entropy/{name}", lin),
                      (f"linear_cross_entropy-smoothed/{name}",
                       lambda lin=lin: lin(label_smoothing=0.1))]
    return cases


def estimator_cases():
    """SoftmaxRegression fits (every solver, partial_fit), when scikit-learn is installed."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return []
    X, y = load_digits(return_X_y=True)
    X32 = X.astype(np.float32)
    fits = {
        "lbfgs": {},
        "lbfgs-C10-balanced": {"C": 10.0, "class_weight": "balanced"},
        "gd": {"solver": "gd", "max_iter": 30},
        "sgd": {"solver": "sgd", "max_iter": 5, "random_state": 0},
        "sgd-early": {"solver": "sgd", "max_iter": 5, "random_state": 0,
                      "early_stopping": True},
    }
    cases = []
    for name, params in fits.items():
        for dt, data in (("float64", X), ("float32", X32)):
            def fit(params=params, data=data):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    m = ps.SoftmaxRegression(**params).fit(data, y)
                return (m.coef_, m.intercept_, np.asarray(m.loss_curve_), m.predict_proba(data),
                        np.asarray(m.n_iter_))
            cases.append((f"SoftmaxRegression-{name}/{dt}", fit))

    def partial():
        m = ps.SoftmaxRegression(random_state=0)
        for i in range(0, len(y), 500):
            m.partial_fit(X[i:i + 500], y[i:i + 500], classes=np.unique(y))
        return m.coef_, m.intercept_, m.predict_proba(X)
    cases.append(("SoftmaxRegression-partial_fit/float64", partial))
    return cases


def all_cases():
    return kernel_cases() + estimator_cases()


def compute(isa: str) -> dict[str, str]:
    previous = _core.get_isa()
    _core.set_isa(isa)
    try:
        return {name: _digest(*thunk()) for name, thunk in all_cases()}
    finally:
        _core.set_isa(previous)


def main() -> None:
    """`python tests/data/make_golden.py [NOTE]`: NOTE says why the digests changed (else the
    file's previous note is kept)."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    note = sys.argv[1] if len(sys.argv) > 1 else (
        json.loads(GOLDEN.read_text()).get("note", "") if GOLDEN.exists() else "")
    isas = {isa: compute(isa) for isa in _core.available_isas()}
    # A set this CPU cannot run is recorded through the testing set that reproduces it bit for
    # bit (avx512 through emulated512); a CPU that runs it then checks the emulation.
    for testing, emulated in _core.testing_isas():
        if emulated not in isas and emulated in _core.compiled_isas():
            isas[emulated] = compute(testing)
            print(f"{emulated}: recorded through {testing}", file=sys.stderr)
    data = {"commit": commit, "note": note, "isas": isas}
    GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"{GOLDEN}: {sum(map(len, data['isas'].values()))} digests for "
          f"{', '.join(data['isas'])} at {commit}", file=sys.stderr)


if __name__ == "__main__":
    main()
