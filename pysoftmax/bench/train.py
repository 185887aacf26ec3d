"""The training comparison of ``python -m pysoftmax bench --train``.

Three trainers of the same model on the same float32 problem (scikit-learn's
make_classification: N rows, 784 features, 10 classes) and the same objective

    sum_i CE_i + ||W||^2 / (2C)          (C = 1, the intercept not penalised)

with max_iter = 200, tol = 1e-6 and the same thread count:

- pysoftmax: SoftmaxRegression (SciPy's L-BFGS-B on the fused loss and gradient);
- sklearn: LogisticRegression (lbfgs) on the same float32 X, BLAS limited to the thread count;
- torch: torch.optim.LBFGS (line_search_fn="strong_wolfe", its default history of 100) on
  loss = (cross_entropy(X W^T + b, y, reduction="sum") + ||W||^2 / (2C)) / N, the scaling the
  other two minimise; torch.set_num_threads(threads); max_eval 15000 (SciPy's default maxfun),
  so that max_iter is the limit as for the other two.

scikit-learn runs first: its final objective is the target. pysoftmax and torch record every
evaluation of the objective with its time; a trainer's time to the target is that of the first
evaluated parameters whose objective, recomputed in float64, is at most the target. Final
objectives are all recomputed in float64 from the trained parameters.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
import warnings

import numpy as np

import pysoftmax

TRAINERS = ("sklearn", "pysoftmax", "torch")
MODULES = {"sklearn": "sklearn.linear_model", "pysoftmax": "pysoftmax._regression",
           "torch": "torch"}
FULL = {"d": 784, "k": 10, "C": 1.0, "max_iter": 200, "tol": 1e-6}
QUICK = {"n": 2000, "d": 64, "k": 10, "C": 1.0, "max_iter": 50, "tol": 1e-6}


@dataclasses.dataclass
class Problem:
    X: np.ndarray          # (n, d) float32
    y: np.ndarray          # (n,) int64 in [0, k)
    k: int
    C: float
    max_iter: int
    tol: float

    @property
    def shape(self):
        return self.X.shape


@dataclasses.dataclass
class Result:
    trainer: str
    version: str
    seconds: float                 # wall time of the whole training
    params: tuple = dataclasses.field(repr=False)     # (coef (k, d), intercept (k,))
    n_iter: int
    n_evals: int | None            # evaluations of the objective (None: not counted)
    trace: list = dataclasses.field(default_factory=list, repr=False)  # (s, value, W, b)
    objective: float | None = None  # final objective, float64 (set by compare)
    time_to_target: float | None = None
    note: str = ""


def make_problem(n, *, d=784, k=10, C=1.0, max_iter=200, tol=1e-6, seed=0):
    """make_classification(n, d, k classes, n_informative = min(64, d // 2)), X in float32."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=d, n_informative=min(64, d // 2),
                               n_classes=k, random_state=seed)
    return Problem(X.astype(np.float32), y.astype(np.int64), k, C, max_iter, tol)


def objective(p, coef, intercept):
    """sum_i CE_i + ||W||^2 / (2C) in float64 (4096 rows at a time)."""
    w = np.asarray(coef, dtype=np.float64)
    b = np.asarray(intercept, dtype=np.float64)
    total = 0.0
    for s in range(0, len(p.y), 4096):
        total += pysoftmax.linear_cross_entropy(p.X[s:s + 4096].astype(np.float64), w, b,
                                                p.y[s:s + 4096], reduction="sum",
                                                return_grad=False)
    return total + 0.5 * float(np.sum(w * w)) / p.C


def train_sklearn(p, threads):
    from sklearn import __version__
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    model = LogisticRegression(C=p.C, max_iter=p.max_iter, tol=p.tol)
    with threadpool_limits(limits=threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        model.fit(p.X, p.y)
        seconds = time.perf_counter() - t0
    return Result("sklearn", __version__, seconds, (model.coef_, model.intercept_),
                  int(np.max(model.n_iter_)), None)


def train_pysoftmax(p, threads):
    from sklearn.exceptions import ConvergenceWarning

    from .._regression import SoftmaxRegression

    trace = []

    def record(value, coef, intercept):
        trace.append((time.perf_counter(), value, coef, intercept))

    previous = pysoftmax.get_num_threads()
    pysoftmax.set_num_threads(threads)
    try:
        model = SoftmaxRegression(C=p.C, max_iter=p.max_iter, tol=p.tol)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            model._fit(p.X, p.y, callback=record)
            seconds = time.perf_counter() - t0
    finally:
        pysoftmax.set_num_threads(previous)
    trace = [(t - t0,) + tuple(rest) for t, *rest in trace]
    return Result("pysoftmax", pysoftmax.__version__, seconds, (model.coef_, model.intercept_),
                  int(np.max(model.n_iter_)), len(trace), trace)


def train_torch(p, threads):
    import torch
    import torch.nn.functional as F

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        n, d = p.shape
        X, y = torch.from_numpy(p.X), torch.from_numpy(p.y)
        W = torch.zeros((p.k, d), requires_grad=True)
        b = torch.zeros(p.k, requires_grad=True)
        opt = torch.optim.LBFGS([W, b], lr=1, max_iter=p.max_iter, max_eval=15000,
                                tolerance_grad=p.tol, line_search_fn="strong_wolfe")
        trace = []

        def closure():
            opt.zero_grad()
            loss = (F.cross_entropy(torch.addmm(b, X, W.t()), y, reduction="sum")
                    + W.pow(2).sum() / (2 * p.C)) / n
            loss.backward()
            trace.append((time.perf_counter(), float(loss.detach()) * n,
                          W.detach().numpy().copy(), b.detach().numpy().copy()))
            return loss

        t0 = time.perf_counter()
        opt.step(closure)
        seconds = time.perf_counter() - t0
        state = opt.state[W]
    finally:
        torch.set_num_threads(previous)
    trace = [(t - t0,) + tuple(rest) for t, *rest in trace]
    return Result("torch", torch.__version__, seconds, (W.detach().numpy(), b.detach().numpy()),
                  int(state["n_iter"]), int(state["func_evals"]), trace)


TRAIN = {"sklearn": train_sklearn, "pysoftmax": train_pysoftmax, "torch": train_torch}


def find_time_to_target(p, result, target, max_checks=20):
    """The time of the first recorded evaluation whose float64 objective is <= target (the
    recorded float32 values pick the candidates), or None."""
    checks = 0
    for t, value, w, b in result.trace:
        if value > target + 1e-6 * abs(target):
            continue
        if objective(p, w, b) <= target:
            return t
        checks += 1
        if checks >= max_checks:
            break
    return None


def compare(p, threads, trainers=TRAINERS, progress=print):
    """Runs the trainers (scikit-learn first, for the target); returns their Results."""
    results = {}
    for name in ("sklearn",) + tuple(t for t in trainers if t != "sklearn"):
        try:
            importlib.import_module(MODULES[name])
        except ImportError:
            progress(f"  {name}: not installed, skipped")
            continue
        progress(f"  training with {name} ...")
        results[name] = TRAIN[name](p, threads)
        results[name].objective = objective(p, *results[name].params)
    target = results["sklearn"].objective
    results["sklearn"].time_to_target = results["sklearn"].seconds
    for name, r in results.items():
        if name != "sklearn":
            r.time_to_target = find_time_to_target(p, r, target)
            if r.time_to_target is None:
                best = min(v for _, v, *_ in r.trace) if r.trace else float("nan")
                r.note = f"never reached it (best recorded {best:.6f})"
    return results


def speedups(results):
    """{peer: (speed-up of pysoftmax, is a lower bound)}: the peer's time to the target over
    pysoftmax's (the peer's whole time when it never reached the target)."""
    ours = results.get("pysoftmax")
    out = {}
    if ours is None or ours.time_to_target is None:
        return out
    for name, r in results.items():
        if name == "pysoftmax":
            continue
        peer = r.time_to_target if r.time_to_target is not None else r.seconds
        out[name] = (peer / ours.time_to_target, r.time_to_target is None)
    return out
