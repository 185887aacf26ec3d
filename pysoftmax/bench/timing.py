"""Timing: the median time of repeated calls, several callables timed in turns, the garbage
collector paused while timing (as in timeit), and a progress display."""

from __future__ import annotations

import contextlib
import gc
import statistics
import sys
import time


@contextlib.contextmanager
def gc_paused():
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
    with gc_paused():
        start = time.perf_counter()
        while len(times) < min_repeats or time.perf_counter() - start < min_time:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


# One turn of a callable in interleaved_medians(): an untimed call (it takes the switch from the
# callable before: caches, thread pools waking), then timed calls for at least this long (and two).
TURN_S = 0.05


def interleaved_medians(builders, min_repeats, min_time, turn_s=TURN_S):
    """{key: median seconds of one call}, for `builders` = {key: zero-argument function that
    returns the callable to time (and sets the thread count it runs with)}.

    The callables are timed in turns (one call to warm up, then calls for `turn_s`), one after
    the other, until each has at least `min_repeats` timed calls and `min_time` seconds of them.
    So every callable (a row's libraries, its thread counts, its floors) is timed within the same
    seconds: a slow spell of a shared machine falls on all of them, not on whichever happened to
    run then, and the ratios between them hold. The garbage collector is off while timing, as in
    timeit.
    """
    times = {key: [] for key in builders}
    with gc_paused():
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


def progress(total):
    """A progress bar on stderr over `total` rows: tqdm's if it is installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _Counter(total)
    return tqdm(total=total, file=sys.stderr, unit="row", leave=False)
