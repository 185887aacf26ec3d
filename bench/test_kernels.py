"""Every public kernel against its peers, one benchmark entry per library.

Groups are "op shape dtype target", so each group of the report compares the libraries on the
same inputs. extra_info holds the library, op, shape, dtype, the threads the library used,
elements and bytes per call and, from the median, elements/s and bytes/s.
"""

import pytest

from pysoftmax.bench import kernels, peers

DTYPES = ["float32", "float64"]


def _cases(ops, shapes, dtypes):
    return [pytest.param(op, shape, dtype, lib, id=f"{op}-{shape[0]}x{shape[1]}-{dtype}-{lib}")
            for op in ops for shape in shapes for dtype in dtypes
            for lib in peers.LIBRARIES if op in peers.SUPPORTED[lib]]


def _run(benchmark, op, library, data, threads):
    pytest.importorskip(peers.MODULES[library])
    fn = peers.kernel(op, library, data, threads)
    n, k = data.logits.shape
    dtype = data.logits.dtype.name
    target = "probabilities" if data.soft else "labels"
    benchmark.group = f"{op} {n}x{k} {dtype} {target}"
    info = benchmark.extra_info
    info.update(library=library, op=op, shape=[n, k], dtype=dtype, target=target,
                threads=1 if library in peers.SINGLE_THREADED else threads, run_threads=threads,
                elements_per_call=n * k, bytes_per_call=kernels.bytes_moved(op, data))
    if library in peers.SINGLE_THREADED:
        info["note"] = "single-threaded by nature (NumPy), whatever the run's thread count"
    benchmark(fn)
    if benchmark.stats:                       # None or empty with --benchmark-disable
        median = benchmark.stats.stats.median
        info["elements_per_s"] = info["elements_per_call"] / median
        info["bytes_per_s"] = info["bytes_per_call"] / median


@pytest.mark.parametrize("op, shape, dtype, library", _cases(peers.OPS, kernels.SHAPES, DTYPES))
def test_kernel(benchmark, inputs, threads, op, shape, dtype, library):
    _run(benchmark, op, library, inputs(shape, dtype), threads)


@pytest.mark.parametrize("library", ["pysoftmax", "reference", "torch"],   # sklearn: labels only
                         ids=lambda lib: f"4096x1000-float32-{lib}")
def test_cross_entropy_with_grad_soft_target(benchmark, inputs, threads, library):
    data = inputs((4096, 1000), "float32", "probabilities")
    _run(benchmark, "cross_entropy_with_grad", library, data, threads)
