"""`python -m pysoftmax bench --contention`: pysoftmax on 1 and on 2 threads, first on the
machine as found (idle, for figures worth quoting), then while another process keeps one core
busy (a spinning Python process), timed in turns (timing.interleaved_medians). The target: under
contention, 2 threads take at most 1.5x the time of 1 thread (the thread the OS deschedules
holds up only the block it is on)."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np

import pysoftmax

from . import timing

# (name, shape): short rows, long rows, and the fused linear path (N x d, K classes)
CASES = (("softmax", (65536, 10)), ("softmax", (4096, 1000)),
         ("linear_cross_entropy", (20000, 100, 10)))
QUICK_CASES = (("softmax", (4096, 10)), ("softmax", (256, 1000)),
               ("linear_cross_entropy", (2000, 100, 10)))
TARGET = 1.5
THREADS = (1, 2)


def _call(name, shape, rng):
    """The float32 call to time, on seeded inputs."""
    if name == "softmax":
        x = rng.standard_normal(shape, dtype=np.float32)
        out = np.empty_like(x)
        return lambda: pysoftmax.softmax(x, out=out)
    n, d, k = shape
    x = rng.standard_normal((n, d), dtype=np.float32)
    w = rng.standard_normal((k, d), dtype=np.float32)
    b = np.zeros(k, np.float32)
    y = rng.integers(0, k, n)
    return lambda: pysoftmax.linear_cross_entropy(x, w, b, y)


def start_busy_process():
    """A process that keeps one core busy until it is terminated."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.2)               # running by now
    return busy


def measure(cases, min_repeats, min_time, busy):
    """[{name, shape, busy, median_s: {threads: s}, ratio}] for each case, 1 and 2 threads."""
    rng = np.random.default_rng(0)
    rows = []
    for name, shape in cases:
        fn = _call(name, shape, rng)

        def builder(t, fn=fn):
            def build():
                pysoftmax.set_num_threads(min(t, pysoftmax.max_num_threads()))
                return fn
            return build

        medians = timing.interleaved_medians({t: builder(t) for t in THREADS}, min_repeats,
                                             min_time)
        rows.append({"name": name, "shape": list(shape), "busy": busy,
                     "median_s": {str(t): medians[t] for t in THREADS},
                     "ratio": medians[2] / medians[1]})
    return rows


def format_rows(rows):
    """The table: each case's medians on 1 and 2 threads (ms) and their ratio."""
    lines = [f"{'case':<38} {'machine':<14} {'1 thread ms':>12} {'2 threads ms':>13} "
             f"{'2t / 1t':>8}"]
    for r in rows:
        shape = "x".join(map(str, r["shape"][:2]))
        case = f"{r['name']} {shape}" + (f", K={r['shape'][2]}" if len(r["shape"]) > 2 else "")
        machine = "one core busy" if r["busy"] else "as found"
        lines.append(f"{case:<38} {machine:<14} {r['median_s']['1'] * 1e3:>12.3f} "
                     f"{r['median_s']['2'] * 1e3:>13.3f} {r['ratio']:>8.2f}")
    return lines


def run(quick):
    """Measures CASES (QUICK_CASES with quick) idle and under contention; returns the rows.
    The thread count in use before is restored."""
    cases = QUICK_CASES if quick else CASES
    min_repeats, min_time = (3, 0.0) if quick else (10, 0.5)
    before = pysoftmax.get_num_threads()
    try:
        rows = measure(cases, min_repeats, min_time, busy=False)
        busy = start_busy_process()
        try:
            rows += measure(cases, min_repeats, min_time, busy=True)
        finally:
            busy.terminate()
            busy.wait()
    finally:
        pysoftmax.set_num_threads(before)
    return rows
