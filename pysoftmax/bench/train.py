"""The training comparison of ``python -m pysoftmax bench --train``.

Three trainers of the same model on the same float32 problem (scikit-learn's
make_classification: N rows, 784 features, 10 classes) and the same objective

    sum_i CE_i + ||W||^2 / (2C)          (C = 1, the intercept not penalised)

with max_iter = 200, tol = 1e-6 and the same thread count:

- pysoftmax: SoftmaxRegression (its L-BFGS on the fused loss and gradient);
- sklearn: LogisticRegression (lbfgs) on the same float32 X, BLAS limited to the thread count;
- torch: torch.optim.LBFGS (line_search_fn="strong_wolfe", its default history of 100) on
  loss = (cross_entropy(X W^T + b, y, reduction="sum") + ||W||^2 / (2C)) / N, the scaling the
  other two minimise; torch.set_num_threads(threads); max_eval 15000 (SciPy's default maxfun),
  so that max_iter is the limit as for the other two.

With --sparse (SPARSE_FULL, SPARSE_QUICK): text-like data instead, make_text_problem's TF-IDF
of Zipf-distributed word counts (N documents x 2^17 features, about 100 nonzeros per row, 20
classes, float32, scipy.sparse CSR), at C = 1 and C = 10; the trainers take it as it is:
SoftmaxRegression and LogisticRegression the CSR matrix, scikit-learn-intelex's
LogisticRegression (when installed) the same, torch (when installed) a sparse COO tensor
(torch.sparse.mm). Each trainer's peak memory is that of its allocations traced by
tracemalloc during the training (NumPy's, SciPy's, scikit-learn's; not torch's, whose
allocator tracemalloc does not see). Their parameters being large, pysoftmax's and torch's
evaluations are checked against the target as they come (TargetCheck), the checks' time and
memory left out.

scikit-learn runs first: its final objective is the target. pysoftmax and torch record every
evaluation of the objective with its time; a trainer's time to the target is that of the first
evaluated parameters whose objective, recomputed in float64, is at most the target. Final
objectives are all recomputed in float64 from the trained parameters.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import time
import tracemalloc
import warnings

import numpy as np

import pysoftmax

TRAINERS = ("sklearn", "pysoftmax", "torch")
MODULES = {"sklearn": "sklearn.linear_model", "pysoftmax": "pysoftmax._regression",
           "torch": "torch"}
FULL = {"d": 784, "k": 10, "C": 1.0, "max_iter": 200, "tol": 1e-6}
QUICK = {"n": 2000, "d": 64, "k": 10, "C": 1.0, "max_iter": 50, "tol": 1e-6}
SPARSE_TRAINERS = ("sklearn", "pysoftmax", "sklearnex", "torch")
SPARSE_FULL = {"d": 1 << 17, "k": 20, "words": 130, "max_iter": 200, "tol": 1e-6,
               "C": (1.0, 10.0)}
SPARSE_QUICK = {"n": 2000, "d": 1 << 12, "k": 5, "words": 40, "max_iter": 50, "tol": 1e-6,
                "C": (1.0,)}


@dataclasses.dataclass
class Problem:
    X: np.ndarray          # (n, d) float32 (make_text_problem: a scipy.sparse CSR matrix)
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
    peak_mb: float | None = None   # peak of the allocations tracemalloc saw while training
    time_to_target: float | None = None
    note: str = ""


def make_problem(n, *, d=784, k=10, C=1.0, max_iter=200, tol=1e-6, seed=0):
    """make_classification(n, d, k classes, n_informative = min(64, d // 2)), X in float32."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=d, n_informative=min(64, d // 2),
                               n_classes=k, random_state=seed)
    return Problem(X.astype(np.float32), y.astype(np.int64), k, C, max_iter, tol)


def make_text_problem(n, *, d=1 << 17, k=20, words=130, C=1.0, max_iter=200, tol=1e-6,
                      seed=0):
    """Documents as bags of words, TF-IDF (scikit-learn's TfidfTransformer: smooth idf, rows
    of unit norm), float32 CSR with sorted columns. Each of the n documents draws `words`
    words: with probability 0.7 from a Zipf law (exponent 1) over the d features shared by all
    classes, else from one over its class's 2000 topic words (a random subset of the
    vocabulary), so that repeated words leave about 100 distinct ones per row at the default
    sizes. The labels are uniform over the k classes."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfTransformer

    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)

    def zipf(size, m):                      # ranks 0..m-1, P(r) proportional to 1 / (r + 1)
        cdf = np.cumsum(1.0 / np.arange(1, m + 1))
        return np.searchsorted(cdf, rng.uniform(0, cdf[-1], size)).astype(np.int64)

    topics = np.stack([rng.choice(d, min(2000, d), replace=False) for _ in range(k)])
    rows = np.repeat(np.arange(n), words)
    cols = zipf(n * words, d)
    topical = rng.uniform(size=n * words) < 0.3
    cols[topical] = topics[y[rows[topical]], zipf(int(topical.sum()), topics.shape[1])]
    counts = sparse.csr_matrix((np.ones(n * words, dtype=np.float32), (rows, cols)),
                               shape=(n, d))
    counts.sum_duplicates()
    X = TfidfTransformer().fit_transform(counts).astype(np.float32).tocsr()
    X.sort_indices()
    return Problem(X, y.astype(np.int64), k, C, max_iter, tol)


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
    from sklearn.linear_model import LogisticRegression

    return _fit_logistic("sklearn", __version__,
                         LogisticRegression(C=p.C, max_iter=p.max_iter, tol=p.tol), p, threads)


def _fit_logistic(name, version, model, p, threads):
    """A LogisticRegression-like `model` fitted on p with `threads` BLAS/OpenMP threads, timed;
    its ConvergenceWarning silenced (the table shows its iterations)."""
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        model.fit(p.X, p.y)
        seconds = time.perf_counter() - t0
    return Result(name, version, seconds, (model.coef_, model.intercept_),
                  int(np.max(model.n_iter_)), None)


class KeepAll:
    """What a trainer's trace keeps: every evaluation's parameters, timed by perf_counter."""

    clock = staticmethod(time.perf_counter)

    def keep(self, value, coef, intercept):
        return True


class TargetCheck(KeepAll):
    """For the sparse trainers, whose parameters (K x d) are too large to keep for every
    evaluation: checks each candidate (find_time_to_target's test) against the target as it
    comes, in float64, and keeps the first that reaches it; the checks' time is taken out of
    the clock, their memory out of the traced peak (peak())."""

    def __init__(self, p, target, most=20):
        self.p, self.target, self.most = p, target, most
        self.paused, self.checks, self.reached, self._peak = 0.0, 0, False, 0

    def clock(self):
        return time.perf_counter() - self.paused

    def keep(self, value, coef, intercept):
        if (self.reached or self.checks >= self.most
                or value > self.target + 1e-6 * abs(self.target)):
            return False
        t = time.perf_counter()
        if tracemalloc.is_tracing():
            self._peak = max(self._peak, tracemalloc.get_traced_memory()[1])
        self.checks += 1
        self.reached = objective(self.p, coef, intercept) <= self.target
        if tracemalloc.is_tracing():
            tracemalloc.reset_peak()
        self.paused += time.perf_counter() - t
        return self.reached

    def peak(self):
        """The traced peak without the checks' allocations (bytes)."""
        return max(self._peak, tracemalloc.get_traced_memory()[1])


def train_pysoftmax(p, threads, trace_with=None):
    """trace_with: a KeepAll (the default) or a TargetCheck, which decides which parameters
    the trace keeps (the others are None) and times the evaluations."""
    from sklearn.exceptions import ConvergenceWarning

    from .._regression import SoftmaxRegression

    trace = []
    check = KeepAll() if trace_with is None else trace_with
    clock = check.clock

    def record(value, coef, intercept):
        kept = check.keep(value, coef, intercept)
        trace.append((clock(), value, coef if kept else None, intercept if kept else None))

    previous = pysoftmax.get_num_threads()
    pysoftmax.set_num_threads(threads)
    try:
        model = SoftmaxRegression(C=p.C, max_iter=p.max_iter, tol=p.tol)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = clock()
            model._fit(p.X, p.y, callback=record)
            seconds = clock() - t0
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


def train_sklearnex(p, threads):
    from sklearnex import __version__
    from sklearnex.linear_model import LogisticRegression

    return _fit_logistic("sklearnex", __version__,
                         LogisticRegression(C=p.C, max_iter=p.max_iter, tol=p.tol, n_jobs=threads),
                         p, threads)


def train_torch_sparse(p, threads, trace_with=None):
    """train_torch's L-BFGS loop with X a sparse COO tensor (torch.sparse.mm, which
    differentiates with respect to its dense argument); trace_with as train_pysoftmax's."""
    import torch
    import torch.nn.functional as F

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        coo = p.X.tocoo()
        n, d = p.shape
        # checked once when built (torch warns when the choice is left implicit)
        X = torch.sparse_coo_tensor(np.vstack([coo.row, coo.col]).astype(np.int64),
                                    torch.from_numpy(coo.data), (n, d),
                                    check_invariants=True).coalesce()
        y = torch.from_numpy(p.y)
        W = torch.zeros((p.k, d), requires_grad=True)
        b = torch.zeros(p.k, requires_grad=True)
        opt = torch.optim.LBFGS([W, b], lr=1, max_iter=p.max_iter, max_eval=15000,
                                tolerance_grad=p.tol, line_search_fn="strong_wolfe")
        trace = []
        check = KeepAll() if trace_with is None else trace_with
        clock = check.clock

        def closure():
            opt.zero_grad()
            logits = torch.sparse.mm(X, W.t()) + b
            loss = (F.cross_entropy(logits, y, reduction="sum")
                    + W.pow(2).sum() / (2 * p.C)) / n
            loss.backward()
            value = float(loss.detach()) * n
            w, c = W.detach().numpy(), b.detach().numpy()
            kept = check.keep(value, w, c)
            trace.append((clock(), value, w.copy() if kept else None,
                          c.copy() if kept else None))
            return loss

        t0 = clock()
        opt.step(closure)
        seconds = clock() - t0
        state = opt.state[W]
    finally:
        torch.set_num_threads(previous)
    trace = [(t - t0,) + tuple(rest) for t, *rest in trace]
    return Result("torch", torch.__version__, seconds, (W.detach().numpy(), b.detach().numpy()),
                  int(state["n_iter"]), int(state["func_evals"]), trace)


TRAIN = {"sklearn": train_sklearn, "pysoftmax": train_pysoftmax, "torch": train_torch}
SPARSE_TRAIN = {"sklearn": train_sklearn, "pysoftmax": train_pysoftmax,
                "sklearnex": train_sklearnex, "torch": train_torch_sparse}
SPARSE_MODULES = dict(MODULES, sklearnex="sklearnex")


def find_time_to_target(p, result, target, max_checks=20):
    """The time of the first recorded evaluation whose float64 objective is <= target (the
    recorded float32 values pick the candidates), or None."""
    checks = 0
    for t, value, w, b in result.trace:
        if value > target + 1e-6 * abs(target) or w is None:
            continue
        if objective(p, w, b) <= target:
            return t
        checks += 1
        if checks >= max_checks:
            break
    return None


def _traced(train, p, threads, peak=None):
    """train(p, threads) with its peak traced allocation (MB) in the Result's peak_mb (peak():
    the peak in bytes, when the trainer knows better than tracemalloc)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = train(p, threads)
        result.peak_mb = (tracemalloc.get_traced_memory()[1] if peak is None
                          else peak()) / 2**20
    finally:
        tracemalloc.stop()
    return result


def compare(p, threads, trainers=TRAINERS, progress=print, sparse=False):
    """Runs the trainers (scikit-learn first, for the target); returns their Results.
    sparse: p is make_text_problem's, the trainers are SPARSE_TRAIN's and their peak memory is
    traced."""
    results = {}
    modules, train = (SPARSE_MODULES, SPARSE_TRAIN) if sparse else (MODULES, TRAIN)
    for name in ("sklearn",) + tuple(t for t in trainers if t != "sklearn"):
        try:
            importlib.import_module(modules[name])
        except ImportError:
            progress(f"  {name}: not installed, skipped")
            continue
        progress(f"  training with {name} ...")
        if not sparse:
            results[name] = train[name](p, threads)
        elif name in ("pysoftmax", "torch"):      # the target checked as training goes
            check = TargetCheck(p, results["sklearn"].objective)
            results[name] = _traced(functools.partial(train[name], trace_with=check), p,
                                    threads, check.peak)
        else:
            results[name] = _traced(train[name], p, threads)
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


def sparse_table(p, threads, results):
    """The sparse training run's (header lines, table cells): as report.format_training's,
    with each trainer's peak memory and the size of the data (laid out by report.table)."""
    n, d = p.shape
    X = p.X
    data_mb = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20
    lines = [f"training: TF-IDF text {n} x {d} ({X.nnz / n:.0f} nonzeros per row, CSR "
             f"{data_mb:.0f} MB; dense it would be {n * d * 4 / 2**30:.1f} GB), {p.k} classes, "
             f"float32; C={p.C:g}, max_iter={p.max_iter}, tol={p.tol:g}; {threads} thread(s)",
             f"to reach: scikit-learn's final objective {results['sklearn'].objective:.6f} "
             f"(sum_i CE_i + ||W||^2 / (2C), float64)",
             f"preconditioning: {PRECONDITIONING['sparse']}"]
    notes = [f"  {name}: {r.note}" for name, r in results.items() if r.note]
    return lines, result_cells(results, peak_memory=True), notes


# What each trainer's L-BFGS minimises over: pysoftmax's runs in FeatureScaling's coordinates
# (pysoftmax._regression_objective), the others in W and b as they are.
PRECONDITIONING = {
    "dense": "pysoftmax's L-BFGS runs in standardised coordinates (each feature centred and "
             "divided by its standard deviation; the objective unchanged), the others' in W, b",
    "sparse": "no preconditioning: every trainer's L-BFGS runs in W, b (pysoftmax's coordinates "
              "are the identity for sparse X)",
}


def per_call(seconds, count):
    """seconds / count, or None when the count is unknown (or 0)."""
    return seconds / count if count else None


def result_cells(results, peak_memory=False):
    """The training table's cells: a header, then each trainer's times, iterations and
    evaluations with the time of each, final objective, time to reach scikit-learn's final
    objective, speed-up (and peak memory). A trainer that does not count its evaluations
    (scikit-learn) shows "-" there."""
    cells = [["trainer", "version", "time (s)", "iterations", "s/iteration", "evaluations",
              "s/evaluation", "final objective", "time to reach (s)", "speed-up"]
             + (["peak memory (MB)"] if peak_memory else [])]
    ups = speedups(results)
    for name, r in results.items():
        up = ""
        if name in ups:
            value, lower = ups[name]
            up = f"{'>' if lower else ''}{value:.1f}x"
        tt = f"{r.time_to_target:.3f}" if r.time_to_target is not None else "never"
        per_iter, per_eval = per_call(r.seconds, r.n_iter), per_call(r.seconds, r.n_evals)
        row = [name, r.version, f"{r.seconds:.3f}", str(r.n_iter),
               "-" if per_iter is None else f"{per_iter:.4f}",
               "-" if r.n_evals is None else str(r.n_evals),
               "-" if per_eval is None else f"{per_eval:.4f}", f"{r.objective:.6f}", tt, up]
        if peak_memory:
            row.append("-" if r.peak_mb is None or name == "torch" else f"{r.peak_mb:.0f}")
        cells.append(row)
    return cells


def run_sparse(args):
    """`bench --train --sparse` (arguments: rows, quick, threads): make_text_problem at each C
    of the settings and each thread count; yields (problem, threads, results)."""
    settings = dict(SPARSE_QUICK) if args.quick else dict(SPARSE_FULL, n=args.rows)
    n, cs = settings.pop("n"), settings.pop("C")
    p = make_text_problem(n, **settings)
    for C in cs:
        p.C = C
        for threads in args.threads:
            yield p, threads, compare(p, threads, SPARSE_TRAINERS, sparse=True)


# ---- --dask ----------------------------------------------------------------------------------

DASK_FULL = {"n": 4_000_000, "d": 100, "k": 10, "chunk": 250_000, "max_iter": 30, "C": 1.0}


def _dask_problem(n, d, k, chunk, seed=0):
    """X (n, d) float32 and labels in [0, k) from a noisy linear model, generated block by
    block where the blocks are computed (on the workers): never in this process."""
    import dask.array as da

    rs = da.random.default_rng(seed)
    X = rs.standard_normal((n, d), chunks=(chunk, d)).astype(np.float32)
    G = np.random.default_rng(seed + 1).standard_normal((d, k)).astype(np.float32) / np.sqrt(d)
    noise = -np.log(-np.log(rs.random((n, k), chunks=(chunk, k)) + 1e-12)).astype(np.float32)
    y = da.argmax(X @ G * 2 + noise, axis=1).astype(np.int64)
    return X, y


def _time_evaluations(problem, k, d, repeats=3):
    w, b = np.zeros((k, d), np.float32), np.zeros(k, np.float32)
    problem(w, b)
    start = time.perf_counter()
    for _ in range(repeats):
        problem(w, b)
    return (time.perf_counter() - start) / repeats


def run_dask(n, workers=(1, 2), max_iter=DASK_FULL["max_iter"], chunk=None, out=print):
    """Seconds per objective evaluation and per fit (SoftmaxRegression, lbfgs, max_iter
    iterations) on a LocalCluster of 1 and 2 single-threaded worker processes, against the
    in-memory fit of the same data (brought to this process once), and dask-ml's binary
    LogisticRegression on the 2-class version when dask-ml is installed."""
    import distributed

    from pysoftmax import _dask
    from pysoftmax._regression import SoftmaxRegression

    d, k = DASK_FULL["d"], DASK_FULL["k"]
    chunk = chunk or max(1000, min(DASK_FULL["chunk"], n // 8))
    rows = []
    for count in workers:
        with distributed.LocalCluster(n_workers=count, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, \
                distributed.Client(cluster):
            X, y = _dask_problem(n, d, k, chunk)
            X, y = X.persist(), y.persist()
            evaluation = _time_evaluations(_dask.DaskLinearProblem(X, y), k, d)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = SoftmaxRegression(max_iter=max_iter, tol=1e-6).fit(X, y)
            rows.append((f"dask, {count} worker{'s' if count > 1 else ''}", evaluation,
                         time.perf_counter() - start, int(model.n_iter_[0])))
            if count == max(workers):
                Xm, ym = X.compute(), y.compute()
                ml = _dask_ml_row(X, y, max_iter)
    # in memory: the same data in this process, on pysoftmax's threads
    a = pysoftmax._common.LinearCrossEntropyArgs(
        Xm, np.zeros((k, d), np.float32), np.zeros(k, np.float32), ym, None, None, "sum",
        -100, 0.0)
    local = pysoftmax._native.LinearProblem(a)
    evaluation = _time_evaluations(lambda w, b: local(w, b), k, d)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SoftmaxRegression(max_iter=max_iter, tol=1e-6).fit(Xm, ym)
    rows.append((f"in memory, {pysoftmax.get_num_threads()} threads", evaluation,
                 time.perf_counter() - start, int(model.n_iter_[0])))
    out(f"training on Dask: {n} x {d} float32, {k} classes, chunks of {chunk} rows, "
        f"lbfgs max_iter={max_iter}")
    out(f"{'':24s} {'s/evaluation':>13s} {'s/fit':>9s} {'iterations':>10s}")
    for name, ev, fit, it in rows:
        out(f"{name:24s} {ev:13.4f} {fit:9.2f} {it:10d}")
    out(ml)
    return rows


def _dask_ml_row(X, y, max_iter):
    """dask-ml's LogisticRegression (binary: class 0 against the others) on the same X."""
    try:
        from dask_ml.linear_model import LogisticRegression
    except ImportError:
        return "dask-ml is not installed: its LogisticRegression is not compared"
    yb = (y == 0).astype(np.int64)
    start = time.perf_counter()
    LogisticRegression(max_iter=max_iter, solver="lbfgs").fit(X, yb)
    return f"dask-ml LogisticRegression (2 classes, lbfgs): {time.perf_counter() - start:.2f} s/fit"
