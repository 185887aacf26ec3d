"""Benchmarks of pysoftmax against its peers: ``python -m pysoftmax bench``.

The pieces the command and the pytest-benchmark suite (bench/) share: the inputs
(:func:`make_inputs`), one call of an operation by a library (:func:`kernel`), the bytes that
call must move (:func:`bytes_moved`). The rest is the command: rows, timing, the table with the
speed-ups and the targets, ``--json`` and ``--plot``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import functools
import gc
import importlib
import importlib.util
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

import pysoftmax

OPS = ("softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_with_grad")
LIBRARIES = ("pysoftmax", "reference", "scipy", "torch", "sklearn")
# The module each library needs (what `pytest.importorskip` and the command try to import).
MODULES = {"pysoftmax": "pysoftmax", "reference": "pysoftmax.reference",
           "scipy": "scipy.special", "torch": "torch", "sklearn": "sklearn._loss.loss"}
# NumPy runs them on one thread, whatever the thread count of the run.
SINGLE_THREADED = ("reference", "scipy")
SUPPORTED = {
    "pysoftmax": OPS,
    "reference": OPS,
    "scipy": ("softmax", "log_softmax", "logsumexp"),
    "torch": OPS,
    "sklearn": ("cross_entropy_with_grad",),   # HalfMultinomialLoss.loss_gradient, labels only
}

# Floors of float32 softmax-like kernels on the project machine, in ns/element, measured by
# bench/floors.c on 2026-11-22 (AMD EPYC family 25 model 1, i.e. Zen 3, 2 cores; the notes in
# ../shared/notes/performance.md describe an older Zen 1 machine, about 1.5-2x slower):
# memory = 1 / float32 copy with non-temporal stores, 256 MB arrays (4.14 and 5.30 G elements/s
# on 1 and 2 threads); exp = 1 / vector exp (degree 6) + sum, data in L1 (3.84 and 7.68 G
# elements/s). Drawn on the --plot; they do not apply to other machines.
MACHINE_FLOORS_NS = {
    1: {"memory": 0.24, "exp": 0.26},
    2: {"memory": 0.19, "exp": 0.13},
}

SHAPES = ((4096, 1000), (65536, 10), (128, 50257))
# In-cache rows (the issue: within 1.5x of the exp-throughput floor): 64 rows of 4000 float32,
# 1 MB in and out (out= preallocated: in_cache_call), stay in the L3 between calls, and each
# 16 KB row in L1 for its passes (a smaller call would time mostly the ~6 us of Python around
# the kernel).
IN_CACHE_SHAPE = (64, 4000)
IN_CACHE_OPS = ("softmax", "log_softmax", "logsumexp")
IN_CACHE_TARGET = 1.5
SWEEP_KS = (10, 32, 100, 316, 1000, 3162, 10000, 50257)
SWEEP_ELEMENTS = 4096 * 1000      # N = SWEEP_ELEMENTS / K, so K = 1000 is the 4096x1000 row
SWEEP_OPS = ("softmax", "cross_entropy_with_grad")


# ---------------------------------------------------------------------------------------------
# Shared with bench/: inputs, one call, bytes per call


@dataclasses.dataclass
class Inputs:
    """logits: (N, K) N(0, 3²) in the benchmark dtype; target: (N,) int64 class indices drawn
    uniformly, or (N, K) class probabilities in the logits' dtype (soft targets)."""

    logits: np.ndarray
    target: np.ndarray

    @property
    def soft(self):
        return self.target.ndim == 2


def make_inputs(n, k, dtype, *, target="labels", seed=0):
    """Seeded benchmark inputs of shape (n, k); `target` is "labels" or "probabilities"."""
    if target not in ("labels", "probabilities"):
        raise ValueError(f"target: expected 'labels' or 'probabilities', got {target!r}")
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal((n, k)) * 3).astype(dtype)
    if target == "labels":
        return Inputs(logits, rng.integers(0, k, size=n))
    probabilities = pysoftmax.reference.softmax(rng.standard_normal((n, k)).astype(dtype))
    return Inputs(logits, probabilities)


def bytes_moved(op, data):
    """Bytes one call of `op` must read and write at least (inputs once, outputs once)."""
    x = data.logits
    if op in ("softmax", "log_softmax"):
        return 2 * x.nbytes
    if op == "logsumexp":
        return x.nbytes + x.shape[0] * x.itemsize
    if op == "cross_entropy":
        return x.nbytes + data.target.nbytes
    if op == "cross_entropy_with_grad":
        return 2 * x.nbytes + data.target.nbytes
    raise ValueError(f"op: unknown operation {op!r}; expected one of {', '.join(OPS)}")


def kernel(op, library, data, threads):
    """A zero-argument callable running `op` once with `library` on `data` (an :class:`Inputs`).

    Everything that is not the call itself (conversions, output buffers) is done here, and so
    is the thread count: pysoftmax.set_num_threads and torch.set_num_threads are set to
    `threads` (process-wide), sklearn gets it as n_threads; the reference and scipy run on one
    thread. Raises ImportError if the library is not installed, ValueError if it does not
    offer `op` (or soft targets, for sklearn).
    """
    if op not in OPS:
        raise ValueError(f"op: unknown operation {op!r}; expected one of {', '.join(OPS)}")
    if library not in LIBRARIES:
        raise ValueError(f"library: unknown library {library!r}; expected one of "
                         f"{', '.join(LIBRARIES)}")
    if op not in SUPPORTED[library]:
        raise ValueError(f"library: {library} has no {op}")
    if threads < 1:
        raise ValueError(f"threads: must be >= 1, got {threads}")
    return _BUILDERS[library](op, data, threads)


def _numpy_api(module):
    """pysoftmax and its reference have the same API."""
    def build(op, data, threads):
        if module is pysoftmax:
            pysoftmax.set_num_threads(threads)
        x, t = data.logits, data.target
        if op == "softmax":
            return lambda: module.softmax(x)
        if op == "log_softmax":
            return lambda: module.log_softmax(x)
        if op == "logsumexp":
            return lambda: module.logsumexp(x)
        if op == "cross_entropy":
            return lambda: module.cross_entropy(x, t)
        return lambda: module.cross_entropy_with_grad(x, t)
    return build


def _scipy(op, data, threads):
    import scipy.special

    fn, x = getattr(scipy.special, op), data.logits
    return lambda: fn(x, axis=-1)


def _torch(op, data, threads):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    x, t = torch.from_numpy(data.logits), torch.from_numpy(data.target)
    if op == "softmax":
        return lambda: torch.softmax(x, dim=-1)
    if op == "log_softmax":
        return lambda: torch.log_softmax(x, dim=-1)
    if op == "logsumexp":
        return lambda: torch.logsumexp(x, dim=-1)
    if op == "cross_entropy":
        return lambda: F.cross_entropy(x, t)
    leaf = torch.from_numpy(data.logits).requires_grad_()

    def forward_backward():
        leaf.grad = None
        loss = F.cross_entropy(leaf, t)
        loss.backward()
        return loss, leaf.grad
    return forward_backward


def _sklearn(op, data, threads):
    from sklearn._loss.loss import HalfMultinomialLoss

    if data.soft:
        raise ValueError("data: sklearn's HalfMultinomialLoss takes class labels, "
                         "not probabilities")
    x = data.logits
    loss = HalfMultinomialLoss(n_classes=x.shape[1])
    labels = data.target.astype(x.dtype)
    loss_out, gradient_out = np.empty(x.shape[0], x.dtype), np.empty_like(x)
    return lambda: loss.loss_gradient(y_true=labels, raw_prediction=x, loss_out=loss_out,
                                      gradient_out=gradient_out, n_threads=threads)


_BUILDERS = {"pysoftmax": _numpy_api(pysoftmax), "reference": _numpy_api(pysoftmax.reference),
             "scipy": _scipy, "torch": _torch, "sklearn": _sklearn}


# ---------------------------------------------------------------------------------------------
# The command


def target_ratio(op, k, dtype, peer):
    """The speed-up over `peer` the issue asks of pysoftmax on this row, or None if it sets none."""
    if np.dtype(dtype) == np.float64:
        if peer == "torch" and op in ("softmax", "log_softmax", "cross_entropy_with_grad"):
            return 2.0
        return None
    if op in ("softmax", "log_softmax"):
        return {"torch": 2.5, "reference": 10.0}.get(peer)
    if op == "cross_entropy_with_grad":    # the issue: 8x torch at K = 10, 5x at K >= 1000
        return {"torch": 8.0 if k <= 32 else 5.0, "sklearn": 8.0}.get(peer)
    return None                            # logsumexp, cross_entropy: no stated target


def benchmark_rows(quick, sweep):
    """The rows (op, n, k, dtype name) in table order, without duplicates."""
    rows = []
    shapes = SHAPES[:2] if quick else SHAPES
    ops = ("softmax", "log_softmax", "logsumexp", "cross_entropy_with_grad")
    rows += [(op, n, k, "float32") for op in ops for n, k in shapes]
    if not quick:
        rows += [(op, n, k, "float64") for op in ("softmax", "log_softmax", "cross_entropy_with_grad")
                 for n, k in SHAPES[:2]]
    if sweep:
        rows += [(op, n, k, "float32") for op in SWEEP_OPS for n, k in sweep_shapes()]
    return list(dict.fromkeys(rows))


def sweep_shapes():
    return [(max(1, round(SWEEP_ELEMENTS / k)), k) for k in SWEEP_KS]


@contextlib.contextmanager
def _gc_paused():
    """The garbage collector off while timing, as in timeit."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def median_seconds(fn, min_repeats, min_time):
    """Median time of `fn()` after one warm-up call, over at least `min_repeats` calls and
    `min_time` seconds; the garbage collector is off while timing, as in timeit."""
    fn()
    times = []
    with _gc_paused():
        start = time.perf_counter()
        while len(times) < min_repeats or time.perf_counter() - start < min_time:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def installed_libraries():
    """{library: version} for each library that imports, and the list of those that do not."""
    versions, missing = {}, []
    for library in LIBRARIES:
        try:
            importlib.import_module(MODULES[library])
        except ImportError:
            missing.append(library)
            continue
        top = "pysoftmax" if library == "reference" else library
        versions[library] = sys.modules[top].__version__
    return versions, missing


def cpu_model():
    """The model name in /proc/cpuinfo with its family and model numbers, else what platform says."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if not key.strip():
                    break                              # the end of the first processor
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    if "model name" not in fields:
        return platform.processor() or platform.machine() or "unknown CPU"
    if "cpu family" in fields and "model" in fields:
        return f"{fields['model name']} (family {fields['cpu family']} model {fields['model']})"
    return fields["model name"]


class _Counter:
    """The progress display when tqdm is missing: one line on stderr, rewritten in place."""

    def __init__(self, total):
        self.total, self.done, self.label = total, 0, ""

    def set_description(self, label):
        self.label = label
        self._show()

    def update(self, n=1):
        self.done += n
        self._show()

    def _show(self):
        sys.stderr.write(f"\r{self.done}/{self.total} {self.label:<60}")
        sys.stderr.flush()

    def close(self):
        sys.stderr.write("\n")


def _progress(total):
    try:
        from tqdm import tqdm
    except ImportError:
        return _Counter(total)
    return tqdm(total=total, file=sys.stderr, unit="row", leave=False)


# One turn of a library in measure(): an untimed call (it takes the switch from the library
# before: caches, thread pools waking), then timed calls for at least this long (and two).
TURN_S = 0.05


def interleaved_medians(builders, min_repeats, min_time, turn_s=TURN_S):
    """{key: median seconds of one call}, for `builders` = {key: zero-argument function that
    returns the callable to time (and sets the thread count it runs with)}.

    The callables are timed in turns (one call to warm up, then calls for `turn_s`), one after
    the other, until each has at least `min_repeats` timed calls and `min_time` seconds of them.
    So every library of a row, and every thread count, is timed within the same seconds: a slow
    spell of this shared machine falls on all of them, not on whichever happened to run then,
    and the ratios between them hold. The garbage collector is off while timing, as in timeit.
    """
    times = {key: [] for key in builders}
    with _gc_paused():
        while any(len(t) < min_repeats or sum(t) < min_time for t in times.values()):
            for key, build in builders.items():
                fn = build()
                fn()
                begin = time.perf_counter()
                calls = 0
                while calls < 2 or time.perf_counter() - begin < turn_s:
                    t0 = time.perf_counter()
                    fn()
                    times[key].append(time.perf_counter() - t0)
                    calls += 1
    return {key: statistics.median(t) for key, t in times.items()}


def measure(rows, libraries, threads, min_repeats, min_time):
    """Times every row with every library in `libraries` that offers its op, at each thread
    count of `threads`, interleaved (interleaved_medians) on the same inputs; the reference
    and scipy, which run on one thread whatever the count, are timed once per row and reported
    at each count. Returns one dict per row and thread count, those of threads[0] first."""
    plan = [(row, [lib for lib in libraries if row[0] in SUPPORTED[lib]]) for row in rows]
    bar = _progress(len(plan))
    by_threads = {t: [] for t in threads}

    def runs_on(lib, t):  # the thread count lib's call runs with in the run at t
        return threads[0] if lib in SINGLE_THREADED else t

    try:
        for (op, n, k, dtype), libs in plan:
            bar.set_description(f"{op} {n}x{k} {dtype}")
            data = make_inputs(n, k, dtype)
            builders = {(lib, runs_on(lib, t)): functools.partial(kernel, op, lib, data, runs_on(lib, t))
                        for lib in libs for t in threads}
            medians = interleaved_medians(builders, min_repeats, min_time)
            for t in threads:
                at_t = {lib: medians[lib, runs_on(lib, t)] for lib in libs}
                by_threads[t].append(_result(op, n, k, dtype, t, bytes_moved(op, data), at_t))
            bar.update(1)
    finally:
        bar.close()
    return [r for t in threads for r in by_threads[t]]


def combine_rounds(rounds):
    """One result per row from several rounds of `measure` over the same rows: each library's
    time is the median of its rounds' medians (a round is one whole pass over the rows, so the
    rounds of a row are minutes apart and a slow spell of this shared machine shows in one of
    them); the rounds' medians are kept in "round_medians_s"."""
    if len(rounds) == 1:
        return rounds[0]
    results = []
    for same in zip(*rounds):
        r = same[0]
        per_lib = {lib: [x["median_s"][lib] for x in same] for lib in r["median_s"]}
        n, k = r["shape"]
        combined = _result(r["op"], n, k, r["dtype"], r["threads"], r["bytes"],
                           {lib: statistics.median(ts) for lib, ts in per_lib.items()})
        combined["round_medians_s"] = per_lib
        results.append(combined)
    return results


def _result(op, n, k, dtype, threads, nbytes, medians):
    ours = medians["pysoftmax"]
    speedups = {lib: t / ours for lib, t in medians.items() if lib != "pysoftmax"}
    targets = {}
    for peer, speedup in speedups.items():
        required = target_ratio(op, k, dtype, peer)
        if required is not None:
            targets[peer] = {"required": required, "speedup": speedup, "met": speedup >= required}
    return {
        "op": op, "shape": [n, k], "dtype": dtype, "threads": threads,
        "elements": n * k, "bytes": nbytes,
        "median_s": medians,
        "ns_per_element": {lib: t * 1e9 / (n * k) for lib, t in medians.items()},
        "speedup": speedups,
        "targets": targets,
    }


def _table(lines_of_cells):
    """Left-aligned first columns, right-aligned numbers, columns as wide as their widest cell."""
    widths = [max(len(row[i]) for row in lines_of_cells) for i in range(len(lines_of_cells[0]))]
    return ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
            .rstrip() for row in lines_of_cells]


def _row_name(result):
    return [result["op"], "x".join(map(str, result["shape"])), result["dtype"]]


def format_results(results, libraries):
    """The timing table, the target table and the summary line of missed targets."""
    peers = [lib for lib in libraries if lib != "pysoftmax"]
    head = ["op", "shape", "dtype", "threads"]
    cells = [head + list(libraries) + [f"vs {p}" for p in peers]]
    for r in results:
        key = _row_name(r) + [str(r["threads"])]
        ns = [f"{r['ns_per_element'][lib]:.3f}" if lib in r["ns_per_element"] else "-"
              for lib in libraries]
        up = [f"{r['speedup'][p]:.1f}x" if p in r["speedup"] else "-" for p in peers]
        cells.append(key + ns + up)
    lines = ["ns/element (median) of each library, then the speed-up of pysoftmax against each "
             "peer (peer time / pysoftmax time):"]
    lines += _table(cells)

    checked = [p for p in peers if any(p in r["targets"] for r in results)]
    cells = [["op", "shape", "dtype"] + [f"target vs {p}" for p in checked]]
    misses, n_checked = [], 0
    for r in results:
        row = _row_name(r)
        for p in checked:
            t = r["targets"].get(p)
            if t is None:
                row.append("")
                continue
            n_checked += 1
            row.append(f"{t['speedup']:.1f}x >= {t['required']:g}x {'ok' if t['met'] else 'MISS'}")
            if not t["met"]:
                misses.append(f"{' '.join(row[:3])} vs {p} {t['speedup']:.2f}x < {t['required']:g}x")
        cells.append(row)
    lines += ["", "targets (required speed-up of pysoftmax over each peer):"] + _table(cells)
    if misses:
        lines.append(f"targets: {len(misses)} of {n_checked} missed: " + "; ".join(misses))
    else:
        lines.append(f"targets: all {n_checked} met")
    return lines


# The scaling target: the most threads against one, on inputs larger than L2.
SCALING_TARGET = 1.7
L2_BYTES = 512 * 1024


def format_scaling(results, few, many):
    """pysoftmax's speed-up from `few` to `many` threads on each row measured with both."""
    times = {(r["op"], tuple(r["shape"]), r["dtype"], r["threads"]): r for r in results}
    cells = [["op", "shape", "dtype", f"{few} thread(s)", f"{many} threads", "speed-up",
              "input", "target"]]
    misses, checked = [], 0
    for r in results:
        if r["threads"] != few:
            continue
        key = (r["op"], tuple(r["shape"]), r["dtype"])
        other = times.get(key + (many,))
        if other is None:
            continue
        a, b = r["median_s"]["pysoftmax"], other["median_s"]["pysoftmax"]
        big = r["elements"] * np.dtype(r["dtype"]).itemsize > L2_BYTES
        verdict = ""
        if big and few == 1:
            checked += 1
            met = a / b >= SCALING_TARGET
            verdict = f">= {SCALING_TARGET}x {'ok' if met else 'MISS'}"
            if not met:
                misses.append(f"{' '.join(_row_name(r))} {a / b:.2f}x")
        cells.append(_row_name(r) + [f"{a * 1e3:.3f} ms", f"{b * 1e3:.3f} ms", f"{a / b:.2f}x",
                                     "> L2" if big else "in L2", verdict])
    lines = [f"pysoftmax scaling, {few} -> {many} threads (median times):"] + _table(cells)
    if checked:
        lines.append(f"scaling: all {checked} met" if not misses else
                     f"scaling: {len(misses)} of {checked} missed: " + "; ".join(misses))
    return lines


def in_cache_call(op, data, threads):
    """One in-cache call of pysoftmax: softmax and log_softmax write into one preallocated
    `out`, which stays in the caches with the input (a fresh output per call is memory the
    kernel first touches: its page faults cost ~0.27 ns/element at 64x4000 here, the
    allocator's cost, not the kernel's); logsumexp's output is one number per row."""
    call = kernel(op, "pysoftmax", data, threads)           # also sets the thread count
    if op not in ("softmax", "log_softmax"):
        return call
    fn, x, out = getattr(pysoftmax, op), data.logits, np.empty_like(data.logits)
    return lambda: fn(x, out=out)


def measure_in_cache(threads, min_repeats, min_time):
    """pysoftmax alone on IN_CACHE_SHAPE float32, for each op of IN_CACHE_OPS and thread count,
    against the project machine's exp floor (MACHINE_FLOORS_NS) where it is known."""
    data = make_inputs(*IN_CACHE_SHAPE, "float32")
    rows = []
    for t in threads:
        floor = MACHINE_FLOORS_NS.get(t, {}).get("exp")
        for op in IN_CACHE_OPS:
            ns = median_seconds(in_cache_call(op, data, t), min_repeats, min_time) * 1e9
            ns /= data.logits.size
            rows.append({"op": op, "shape": list(IN_CACHE_SHAPE), "dtype": "float32",
                         "threads": t, "ns_per_element": ns, "exp_floor_ns": floor,
                         "ratio": None if floor is None else ns / floor})
    return rows


def combine_in_cache(rounds):
    """As combine_rounds, for measure_in_cache's rows."""
    if len(rounds) == 1:
        return rounds[0]
    rows = []
    for same in zip(*rounds):
        r = dict(same[0])
        r["round_ns_per_element"] = [x["ns_per_element"] for x in same]
        r["ns_per_element"] = statistics.median(r["round_ns_per_element"])
        r["ratio"] = None if r["exp_floor_ns"] is None else r["ns_per_element"] / r["exp_floor_ns"]
        rows.append(r)
    return rows


def format_in_cache(rows):
    cells = [["op", "shape", "dtype", "threads", "pysoftmax", "exp floor", "ratio", "target"]]
    misses, checked = [], 0
    for r in rows:
        verdict, ratio = "", "-"
        if r["ratio"] is not None:
            checked += 1
            met = r["ratio"] <= IN_CACHE_TARGET
            ratio = f"{r['ratio']:.2f}x"
            verdict = f"<= {IN_CACHE_TARGET}x {'ok' if met else 'MISS'}"
            if not met:
                misses.append(f"{r['op']} {r['threads']} thread(s) {r['ratio']:.2f}x")
        floor = "-" if r["exp_floor_ns"] is None else f"{r['exp_floor_ns']:.3f}"
        cells.append([r["op"], "x".join(map(str, r["shape"])), r["dtype"], str(r["threads"]),
                      f"{r['ns_per_element']:.3f}", floor, ratio, verdict])
    lines = ["in-cache rows, ns/element of pysoftmax against the project machine's exp floor "
             "(bench/floors.c):"] + _table(cells)
    if checked:
        lines.append(f"in cache: all {checked} met" if not misses else
                     f"in cache: {len(misses)} of {checked} missed: " + "; ".join(misses))
    return lines


def plot(results, path, title, threads):
    """ns/element against K (log-log), softmax and cross_entropy_with_grad, float32, one line per
    library, with the project machine's floors (MACHINE_FLOORS_NS) as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = {tuple(s) for s in sweep_shapes()}
    colors = dict(zip(LIBRARIES, ("C0", "C1", "C2", "C3", "C4")))
    fig, axes = plt.subplots(1, len(SWEEP_OPS), figsize=(12, 5.5), sharey=True)
    for ax, op in zip(axes, SWEEP_OPS):
        rows = sorted((r for r in results if r["op"] == op and r["dtype"] == "float32"
                       and tuple(r["shape"]) in sweep), key=lambda r: r["shape"][1])
        for lib in LIBRARIES:
            points = [(r["shape"][1], r["ns_per_element"][lib]) for r in rows
                      if lib in r["ns_per_element"]]
            if points:
                ax.plot(*zip(*points), marker="o", color=colors[lib], label=lib)
        for (name, ns), color in zip(MACHINE_FLOORS_NS.get(threads, {}).items(), ("grey", "black")):
            ax.axhline(ns, linestyle="--", color=color, linewidth=1,
                       label=f"{name} floor, project machine ({ns} ns/el)")
        ax.set(xscale="log", yscale="log", xlabel="K (classes per row), N·K ≈ 4.1M",
               title=f"{op}, float32")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ns / element (median)")
    legend = {}
    for ax in axes:
        legend.update(zip(*reversed(ax.get_legend_handles_labels())))
    entries = sorted(legend.items(), key=lambda item: item[0] not in LIBRARIES)  # libraries first
    fig.legend([h for _, h in entries], [label for label, _ in entries], loc="lower center",
               ncol=4, fontsize="small")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _check_output_path(option, path):
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise SystemExit(f"{option}: directory {parent} does not exist")


def run(args):
    """The `bench` command (arguments: threads, quick, rounds, json, plot; train, rows)."""
    if args.train:
        from . import train

        return train.run(args)
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path is not None:
            _check_output_path(option, path)
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise SystemExit("--plot: matplotlib is not installed (`make bench` installs it)")

    versions, missing = installed_libraries()
    libraries = [lib for lib in LIBRARIES if lib in versions]
    cpu, now = cpu_model(), datetime.datetime.now().astimezone()
    print(f"pysoftmax {pysoftmax.__version__}, ISA {pysoftmax._core.get_isa()}, {cpu}")
    threads = args.threads
    print(f"{now:%Y-%m-%d %H:%M}, threads {','.join(map(str, threads))}; numpy {np.__version__}"
          + "".join(f", {lib} {versions[lib]}" for lib in ("scipy", "torch", "sklearn")
                    if lib in versions))
    if missing:
        print(f"not installed: {', '.join(missing)} (`make bench` installs them)")
    print("reference and scipy run on one thread (NumPy); the thread count applies to "
          "pysoftmax, torch and sklearn")

    if args.rounds > 1:
        print(f"{args.rounds} rounds: each time is the median of a library's medians over the rounds")

    rows = benchmark_rows(args.quick, sweep=args.plot is not None or not args.quick)
    min_repeats, min_time = (3, 0.0) if args.quick else (5, 0.3)
    rounds, cache_rounds = [], []
    for _ in range(args.rounds):
        rounds.append(measure(rows, libraries, threads, min_repeats, min_time))
        cache_rounds.append(measure_in_cache(threads, min_repeats, min_time))
    results = combine_rounds(rounds)
    in_cache = combine_in_cache(cache_rounds)
    print()
    print("\n".join(format_results(results, libraries)))
    if len(threads) > 1:
        print()
        print("\n".join(format_scaling(results, min(threads), max(threads))))
    print()
    print("\n".join(format_in_cache(in_cache)))

    if args.json is not None:
        record = {"pysoftmax": pysoftmax.__version__, "isa": pysoftmax._core.get_isa(),
                  "cpu": cpu, "date": now.isoformat(timespec="seconds"),
                  "threads": threads, "quick": args.quick, "rounds": args.rounds,
                  "repeats": {"min": min_repeats, "min_time_s": min_time},
                  "versions": {"numpy": np.__version__, **versions},
                  "not_installed": missing, "rows": results, "in_cache": in_cache}
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
        print(f"wrote {args.json}")
    if args.plot is not None:
        most = max(threads)
        plot([r for r in results if r["threads"] == most], args.plot,
             f"pysoftmax {pysoftmax.__version__} vs peers — {cpu}, {most} threads, {now:%Y-%m-%d}",
             most)
        print(f"wrote {args.plot}")
    return 0


def _count(text):
    """The integer `text` if it is one >= 1, else 0."""
    try:
        n = int(text)
    except ValueError:
        return 0
    return n if n >= 1 else 0


def _thread_counts(text):
    """"2" or "1,2": the thread counts to run, each >= 1, without repeats."""
    counts = [_count(part) for part in text.split(",")]
    if 0 in counts:
        raise argparse.ArgumentTypeError(f"expected thread counts >= 1 such as 2 or 1,2; "
                                         f"got {text!r}")
    return list(dict.fromkeys(counts))


def _positive(text):
    """--rounds: a count >= 1."""
    if not _count(text):
        raise argparse.ArgumentTypeError(f"expected a count >= 1; got {text!r}")
    return int(text)


def add_parser(sub):
    """Registers the `bench` subcommand on an argparse subparsers object."""
    b = sub.add_parser("bench", help="time pysoftmax against NumPy, scipy, torch and sklearn",
                       description="Time pysoftmax against its peers, print ns/element, the "
                                   "speed-ups and the targets they must meet.")
    b.add_argument("--threads", type=_thread_counts, default=[os.cpu_count() or 1],
                   metavar="N[,N...]",
                   help="threads for pysoftmax, torch and sklearn (default: all CPUs); several "
                        "counts (1,2) run the table for each and add pysoftmax's scaling")
    b.add_argument("--quick", action="store_true",
                   help="4096x1000 and 65536x10 float32 only, 3 repeats, no K sweep unless --plot")
    b.add_argument("--rounds", type=_positive, default=1, metavar="R",
                   help="measure everything R times, minutes apart, and report each library's "
                        "median over the rounds (steadier on a shared machine; default 1)")
    b.add_argument("--json", metavar="PATH", help="save the rows, raw medians and the setup")
    b.add_argument("--plot", metavar="PATH.png", help="plot ns/element against K (matplotlib)")
    b.add_argument("--train", action="store_true",
                   help="instead of the kernels: train on make_classification (ROWS x 784, 10 "
                        "classes, float32) with SoftmaxRegression, scikit-learn's "
                        "LogisticRegression and a torch L-BFGS loop; --quick: 2000 x 64")
    b.add_argument("--rows", type=int, default=30000, metavar="ROWS",
                   help="--train: rows of the problem (default 30000; the issue uses 60000 too)")
    b.set_defaults(func=run)
    return b
