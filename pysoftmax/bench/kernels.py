"""The kernel benchmark: its inputs (shared with the pytest-benchmark suite in bench/), its rows,
and their measurement: pysoftmax, its peers and the floors timed in turns on the same inputs.
"""

from __future__ import annotations

import dataclasses
import functools
import statistics

import numpy as np

import pysoftmax
import pysoftmax.reference

from . import floors, peers, timing

SHAPES = ((4096, 1000), (65536, 10), (128, 50257))
# In-cache rows: 64 rows of 4000 float32, 1 MB in and out (out= preallocated: in_cache_call),
# stay in the L3 between calls, and each 16 KB row in L1 for its passes (a smaller call would
# time mostly the Python around the kernel).
IN_CACHE_SHAPE = (64, 4000)
IN_CACHE_OPS = ("softmax", "log_softmax", "logsumexp", "cross_entropy_with_grad")
SWEEP_KS = (2, 10, 32, 100, 316, 1000, 3162, 10000, 50257, 100000)
SWEEP_ELEMENTS = 4096 * 1000      # N = SWEEP_ELEMENTS / K, so K = 1000 is the 4096x1000 row
SWEEP_OPS = ("softmax", "cross_entropy_with_grad")


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
    raise ValueError(f"op: unknown operation {op!r}; expected one of {', '.join(peers.OPS)}")


def benchmark_rows(quick, sweep):
    """The rows (op, n, k, dtype name) in table order, without duplicates."""
    rows = []
    shapes = SHAPES[:2] if quick else SHAPES
    ops = ("softmax", "log_softmax", "logsumexp", "cross_entropy_with_grad")
    rows += [(op, n, k, "float32") for op in ops for n, k in shapes]
    if not quick:
        rows += [(op, n, k, "float64") for op in ("softmax", "log_softmax",
                                                  "cross_entropy_with_grad")
                 for n, k in SHAPES[:2]]
    if sweep:
        dtypes = ("float32",) if quick else ("float32", "float64")
        rows += [(op, n, k, dtype) for dtype in dtypes for op in SWEEP_OPS
                 for n, k in sweep_shapes()]
    return list(dict.fromkeys(rows))


def sweep_shapes():
    return [(max(1, round(SWEEP_ELEMENTS / k)), k) for k in SWEEP_KS]


# Out-of-cache rows: arrays of at least OUT_OF_CACHE_L3S times the L3 (the record's), float32,
# K >= 1000, timed with the output preallocated (out=), pysoftmax alone against its floors.
OUT_OF_CACHE_L3S = 4
OUT_OF_CACHE_KS = (1000, 50257)
OUT_OF_CACHE_OPS = ("softmax", "log_softmax", "logsumexp", "cross_entropy_with_grad")
L3_BYTES_IF_UNKNOWN = 32 << 20


def out_of_cache_rows(l3_bytes):
    """(op, n, k, "float32") rows of at least OUT_OF_CACHE_L3S x l3_bytes of logits."""
    l3 = l3_bytes or L3_BYTES_IF_UNKNOWN
    return [(op, -(-OUT_OF_CACHE_L3S * l3 // (4 * k)), k, "float32")
            for op in OUT_OF_CACHE_OPS for k in OUT_OF_CACHE_KS]


def _runs_on(single_threaded, t, threads):
    """The thread count a callable runs with in the run at `t`: one count for all (threads[0])
    if it is single-threaded, so that it is timed once and reported at each count."""
    return threads[0] if single_threaded else t


def on_isa(isa, build):
    """A builder that switches pysoftmax to instruction set `isa` (None: leave it) before
    building: each turn of interleaved_medians runs on its own set."""
    def built():
        if isa is not None:
            pysoftmax._core.set_isa(isa)
        return build()
    return built


def _floor_builders(bounds, data, threads, isas):
    """{(floor, isa, threads): builder} for the floors `bounds` on data's logits."""
    return {(f, isa, t): on_isa(isa, functools.partial(f.build, data.logits, t))
            for f in bounds for isa in isas for t in threads}


def ours(op, data, threads, out):
    """pysoftmax's call of `op`: as peers.kernel (a fresh output per call), or with `out` the
    output preallocated once (out=; softmax, log_softmax and cross_entropy_with_grad), which
    stays where it is between calls."""
    call = peers.kernel(op, "pysoftmax", data, threads)     # also sets the thread count
    if not out or op not in ("softmax", "log_softmax", "cross_entropy_with_grad"):
        return call
    x, target, y = data.logits, data.target, np.empty_like(data.logits)
    if op == "cross_entropy_with_grad":
        return lambda: pysoftmax.cross_entropy_with_grad(x, target, out=y)
    fn = getattr(pysoftmax, op)
    return lambda: fn(x, out=y)


def measure(rows, libraries, threads, min_repeats, min_time, isas=(None,), out=False):
    """Times every row with every library in `libraries` that offers its op, pysoftmax on each
    instruction set of `isas` (None: the active one), and with the floors that bound its op
    (on each set too), at each thread count of `threads`, interleaved (interleaved_medians) on
    the same inputs; what runs on one thread whatever the count (the reference, scipy) is timed
    once per row and reported at each count. Every library allocates its outputs in each call
    (peers.OUTPUTS); `out`: pysoftmax writes into a preallocated output instead (ours), for the
    rows that time it alone. Returns one dict per row, thread count and set, those of
    threads[0] first."""
    plan = [(row, [lib for lib in libraries if row[0] in peers.SUPPORTED[lib]],
             floors.bounding(row[0])) for row in rows]
    bar = timing.progress(len(plan))
    by_threads = {t: [] for t in threads}
    try:
        for (op, n, k, dtype), libs, bounds in plan:
            bar.set_description(f"{op} {n}x{k} {dtype}")
            data = make_inputs(n, k, dtype)
            builders = {}
            for lib in libs:
                for t in threads:
                    if lib == "pysoftmax":
                        for isa in isas:
                            builders[lib, isa, t] = on_isa(
                                isa, functools.partial(ours, op, data, t, out))
                    else:
                        on = _runs_on(lib in peers.SINGLE_THREADED, t, threads)
                        builders[lib, None, on] = functools.partial(peers.kernel, op, lib,
                                                                    data, on)
            builders.update(_floor_builders(bounds, data, threads, isas))
            medians = timing.interleaved_medians(builders, min_repeats, min_time)
            for t in threads:
                for isa in isas:
                    at_t = {lib: medians[(lib, isa, t) if lib == "pysoftmax" else
                                         (lib, None, _runs_on(lib in peers.SINGLE_THREADED, t,
                                                              threads))]
                            for lib in libs}
                    floor_s = {f.name: medians[f, isa, t] for f in bounds}
                    by_threads[t].append(_result(op, n, k, dtype, t, bytes_moved(op, data),
                                                 at_t, floor_s, isa))
            bar.update(1)
    finally:
        bar.close()
    return [r for t in threads for r in by_threads[t]]


def combine_rounds(rounds):
    """One result per row from several rounds of `measure` over the same rows: each library's
    and each floor's time is the median of its rounds' medians (a round is one whole pass over
    the rows, so the rounds of a row are minutes apart and a slow spell of a shared machine
    shows in one of them); the rounds' medians are kept in "round_medians_s" and
    "round_floor_medians_s"."""
    if len(rounds) == 1:
        return rounds[0]
    results = []
    for same in zip(*rounds):
        r = same[0]
        per_lib = {lib: [x["median_s"][lib] for x in same] for lib in r["median_s"]}
        per_floor = {f: [x["floor_median_s"][f] for x in same] for f in r["floor_median_s"]}
        n, k = r["shape"]
        combined = _result(r["op"], n, k, r["dtype"], r["threads"], r["bytes"],
                           {lib: statistics.median(ts) for lib, ts in per_lib.items()},
                           {f: statistics.median(ts) for f, ts in per_floor.items()}, r["isa"])
        combined["round_medians_s"] = per_lib
        combined["round_floor_medians_s"] = per_floor
        results.append(combined)
    return results


def _floor_fields(op, ours_s, floor_s, elements):
    """A row's floors: their ns/element, pysoftmax's time over each, and over the row's limit
    (floors.limit_ns: the larger of its memory and exp floors)."""
    floor_ns = {f: s * 1e9 / elements for f, s in floor_s.items()}
    limit = floors.limit_ns(op, floor_ns)
    return {"floor_ns_per_element": floor_ns,
            "floor_ratio": {f: ours_s / s for f, s in floor_s.items()},
            "limit_ns_per_element": limit,
            "limit_ratio": None if limit is None else ours_s * 1e9 / elements / limit}


def _result(op, n, k, dtype, threads, nbytes, medians, floor_s, isa):
    ours_s = medians["pysoftmax"]
    return {
        "op": op, "shape": [n, k], "dtype": dtype, "threads": threads,
        "isa": isa or pysoftmax._core.get_isa(),
        "elements": n * k, "bytes": nbytes,
        "median_s": medians,
        # the threads each library ran on: the reference and scipy on one whatever `threads`
        "library_threads": {lib: peers.threads_of(lib, threads) for lib in medians},
        "ns_per_element": {lib: t * 1e9 / (n * k) for lib, t in medians.items()},
        "speedup": {lib: t / ours_s for lib, t in medians.items() if lib != "pysoftmax"},
        "floor_median_s": floor_s,
        **_floor_fields(op, ours_s, floor_s, n * k),
    }


def in_cache_call(op, data, threads):
    """One in-cache call of pysoftmax: softmax, log_softmax and cross_entropy_with_grad write
    into one preallocated `out`, which stays in the caches with the input (a fresh output per
    call is memory the kernel first touches: its page faults are the allocator's cost, not the
    kernel's); logsumexp's output is one number per row."""
    return ours(op, data, threads, out=True)


def measure_in_cache(threads, min_repeats, min_time, isas=(None,)):
    """pysoftmax alone on IN_CACHE_SHAPE float32, for each op of IN_CACHE_OPS, thread count and
    instruction set, and the floors that bound them on the same (in-cache) inputs,
    interleaved."""
    data = make_inputs(*IN_CACHE_SHAPE, "float32")
    bounds = list(dict.fromkeys(f for op in IN_CACHE_OPS for f in floors.bounding(op)))
    builders = {(op, isa, t): on_isa(isa, functools.partial(in_cache_call, op, data, t))
                for t in threads for isa in isas for op in IN_CACHE_OPS}
    builders.update(_floor_builders(bounds, data, threads, isas))
    medians = timing.interleaved_medians(builders, min_repeats, min_time)
    rows = []
    for t in threads:
        for isa in isas:
            for op in IN_CACHE_OPS:
                floor_s = {f.name: medians[f, isa, t] for f in floors.bounding(op)}
                rows.append(_in_cache_row(op, IN_CACHE_SHAPE, t, medians[op, isa, t], floor_s,
                                          isa))
    return rows


def _in_cache_row(op, shape, threads, seconds, floor_s, isa):
    elements = shape[0] * shape[1]
    return {"op": op, "shape": list(shape), "dtype": "float32", "threads": threads,
            "isa": isa or pysoftmax._core.get_isa(),
            "ns_per_element": seconds * 1e9 / elements, "median_s": seconds,
            "floor_median_s": floor_s, **_floor_fields(op, seconds, floor_s, elements)}


def combine_in_cache(rounds):
    """As combine_rounds, for measure_in_cache's rows."""
    if len(rounds) == 1:
        return rounds[0]
    rows = []
    for same in zip(*rounds):
        r = same[0]
        seconds = [x["median_s"] for x in same]
        per_floor = {f: [x["floor_median_s"][f] for x in same] for f in r["floor_median_s"]}
        row = _in_cache_row(r["op"], r["shape"], r["threads"], statistics.median(seconds),
                            {f: statistics.median(ts) for f, ts in per_floor.items()}, r["isa"])
        row["round_ns_per_element"] = [x["ns_per_element"] for x in same]
        row["round_floor_medians_s"] = per_floor
        rows.append(row)
    return rows


def measure_floors(threads, min_repeats, min_time, isas=(None,), l3_bytes=None):
    """The machine's floors alone, for each instruction set, dtype and thread count: the streamed
    copy and the read of an array of OUT_OF_CACHE_L3S times the L3, and the exp floors (exp and
    exp_bare, L1-resident). One dict per set, dtype and thread count, with ns/element and, for
    the memory floors, GB/s (bytes read and written)."""
    l3 = l3_bytes or L3_BYTES_IF_UNKNOWN
    rows = []
    for dtype in ("float32", "float64"):
        itemsize = np.dtype(dtype).itemsize
        n = -(-OUT_OF_CACHE_L3S * l3 // (itemsize * 1024))
        data = make_inputs(n, 1024, dtype)
        builders = _floor_builders(floors.FLOORS, data, threads, isas)
        medians = timing.interleaved_medians(builders, min_repeats, min_time)
        for t in threads:
            for isa in isas:
                ns = {f.name: medians[f, isa, t] * 1e9 / data.logits.size for f in floors.FLOORS}
                moved = {"copy": 2 * itemsize, "read": itemsize}
                rows.append({"isa": isa or pysoftmax._core.get_isa(), "dtype": dtype,
                             "threads": t, "bytes": data.logits.nbytes, "ns_per_element": ns,
                             "gb_per_s": {name: b / ns[name] for name, b in moved.items()}})
    return rows
