"""Command line: ``python -m pysoftmax demo``, ``python -m pysoftmax config`` and
``python -m pysoftmax bench``."""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

import pysoftmax
from pysoftmax import _bench


def _median_seconds(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _peers(x):
    """Other implementations of float32 softmax over the last axis that are installed."""
    peers = [("numpy reference", lambda: pysoftmax.reference.softmax(x))]
    try:
        import scipy.special
        peers.append(("scipy.special", lambda: scipy.special.softmax(x, axis=-1)))
    except ImportError:
        pass
    try:
        import torch
        t = torch.from_numpy(x)
        peers.append((f"torch ({torch.get_num_threads()} threads)", lambda: torch.softmax(t, dim=-1)))
    except ImportError:
        pass
    return peers


def demo(args):
    np.set_printoptions(precision=4, suppress=True)
    print("pysoftmax", pysoftmax.__version__)
    pysoftmax.show_config()

    print("\n-- the softmax family --")
    z = np.array([0.1, 0.2, 0.3])
    print("softmax([0.1, 0.2, 0.3])              =", pysoftmax.softmax(z))
    print("  temperature 0.05 (sharper)          =", pysoftmax.softmax(z, temperature=0.05))
    print("  temperature 10 (flatter)            =", pysoftmax.softmax(z, temperature=10))
    print("argmax is preserved                    :", int(np.argmax(pysoftmax.softmax(z))) == 2)
    big = np.array([1000.0, 1000.0])
    print("logsumexp([1000, 1000]) (naive: inf)   =", pysoftmax.logsumexp(big))
    print("log_softmax([1e4, 0]) (from logits)    =", pysoftmax.log_softmax(np.array([1e4, 0.0])))
    masked = pysoftmax.softmax(np.array([2.0, 1.0, 5.0, 0.5]), where=np.array([True, True, False, True]))
    print("softmax with where=[T, T, F, T]        =", masked)
    print("axis=0: each column of a (4, 3) array is one distribution:")
    print(pysoftmax.softmax(np.arange(12.0).reshape(4, 3), axis=0))

    n, k = args.shape
    x = np.random.default_rng(0).standard_normal((n, k), dtype=np.float32) * 3
    print(f"\n-- softmax timing, {n}x{k} float32, {pysoftmax.get_num_threads()} threads, "
          f"median of {args.repeat} --")
    ours = _median_seconds(lambda: pysoftmax.softmax(x), args.repeat)
    print(f"{'pysoftmax':<28}{ours * 1e3:9.3f} ms {ours * 1e9 / x.size:8.3f} ns/element")
    for name, fn in _peers(x):
        t = _median_seconds(fn, args.repeat)
        print(f"{name:<28}{t * 1e3:9.3f} ms {t * 1e9 / x.size:8.3f} ns/element"
              f"   pysoftmax is {t / ours:5.1f}x faster")
    ref = pysoftmax.reference.softmax(x.astype(np.float64))
    err = np.max(np.abs(pysoftmax.softmax(x) - ref) / np.spacing(ref.astype(np.float32)))
    print(f"worst error against a float64 computation: {err:.2f} ULP")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pysoftmax", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="a short showcase of the API and a timing against NumPy")
    d.add_argument("--shape", type=int, nargs=2, default=(4096, 1000), metavar=("N", "K"))
    d.add_argument("--repeat", type=int, default=15)
    d.set_defaults(func=demo)
    c = sub.add_parser("config", help="print the build and runtime configuration")
    c.set_defaults(func=lambda args: pysoftmax.show_config() or 0)
    _bench.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
