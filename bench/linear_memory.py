"""Peak extra memory of pysoftmax.linear_cross_entropy against the logits it never forms.

    python bench/linear_memory.py [--n 4096] [--d 256] [--k 20000] [--dtype float32]

Each measurement runs in a fresh subprocess: inputs are made and touched, the call is made once
to set things up (thread pools, BLAS) and then measured:
- tracemalloc: the peak of the memory NumPy allocates during the call (every array: the
  returned dW and db, chunk buffers, temporaries);
- ru_maxrss: the growth of the process's peak resident memory over the call, which also sees
  allocations made in C++ (the fused kernel's per-thread buffers) and by the BLAS.
The same for the NumPy reference, which forms the (N, K) logits and their gradient. The
returned dW and db (K * (d + 1) elements) are part of both peaks; the workspace is the rest.
"""

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, tracemalloc
import numpy as np
import pysoftmax
from pysoftmax import reference
n, d, k = (int(a) for a in sys.argv[1:4])
dtype, which = sys.argv[4], sys.argv[5]
fn = pysoftmax.linear_cross_entropy if which == "pysoftmax" else reference.linear_cross_entropy
rng = np.random.default_rng(0)
x = rng.standard_normal((n, d), dtype=dtype)     # no temporaries: the process's peak so far
w = rng.standard_normal((k, d), dtype=dtype)     # is the inputs
w *= 1 / np.sqrt(d)
b = np.zeros(k, dtype=dtype)
y = rng.integers(0, k, size=n)
if which == "pysoftmax":                         # thread pools, BLAS controller: on a small W
    fn(x[:64], w[:200], b[:200], y[:64] % 200)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t0 = time.perf_counter()
out = fn(x, w, b, y)
seconds = time.perf_counter() - t0
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
del out
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
out = fn(x, w, b, y)
traced = tracemalloc.get_traced_memory()[1] - base
tracemalloc.stop()
print(json.dumps({"seconds": seconds, "rss_growth": rss1 - rss0, "traced_peak": traced,
                  "outputs": out[1].nbytes + out[2].nbytes}))
"""


def measure(n, d, k, dtype, which):
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(d), str(k), dtype, which],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--d", type=int, default=256)
    parser.add_argument("--k", type=int, default=20000)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args(argv)
    import numpy as np

    import pysoftmax
    from pysoftmax import _linear

    itemsize = np.dtype(args.dtype).itemsize
    logits = args.n * args.k * itemsize
    plan = _linear._linear_plan(args.n, args.d, args.k, itemsize)
    print(f"linear_cross_entropy, X ({args.n}, {args.d}), W ({args.k}, {args.d}), {args.dtype}, "
          f"{pysoftmax.get_num_threads()} threads; path {plan}")
    print(f"the logits it avoids: {args.n} x {args.k} x {itemsize} B = {logits / 1e6:.1f} MB")
    for which in ("pysoftmax", "reference"):
        r = measure(args.n, args.d, args.k, args.dtype, which)
        work = r["traced_peak"] - r["outputs"]
        print(f"{which:>9}: {r['seconds']:.3f} s; peak extra memory: NumPy (tracemalloc) "
              f"{r['traced_peak'] / 1e6:.1f} MB, process (ru_maxrss growth) "
              f"{r['rss_growth'] / 1e6:.1f} MB; of which the returned dW and db "
              f"{r['outputs'] / 1e6:.1f} MB; workspace {work / 1e6:.1f} MB = "
              f"{work / logits:.3f} x the logits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
