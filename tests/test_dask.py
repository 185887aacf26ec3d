"""pysoftmax on Dask arrays (pysoftmax._dask): the functions block by block against the NumPy
path, lazily; DaskLinearProblem on a LocalCluster of two worker processes against
_native.LinearProblem, reproducible bit for bit, without X ever reaching this process."""

import logging
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

import pysoftmax
from pysoftmax import _dask, _native, reference
from pysoftmax._common import LinearCrossEntropyArgs

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

# The kernels' tests compute in this process while the cluster's Client is the default one
# (older dask versions warn about it).
pytestmark = pytest.mark.filterwarnings(
    "ignore:Running on a single-machine scheduler when a distributed client is active")

# Rows per block: a multiple of the row groups of the short-row kernels (at most 16 rows), so
# that every block's rows are grouped as in one call on the whole array: results bit for bit.
ROWS = 16

COMPUTED = []


def _counted(block):
    COMPUTED.append(block.shape)
    return block


def lazy(a, chunks):
    """`a` as a dask array whose blocks record their computation in COMPUTED."""
    COMPUTED.clear()
    return da.from_array(a, chunks=chunks).map_blocks(_counted, dtype=a.dtype,
                                                      meta=np.empty((0,) * a.ndim, a.dtype))


def compute(*arrays):
    """The values of lazy results, computed in this process (the kernels' ISA is this one's)."""
    values = dask.compute(*arrays, scheduler="sync")
    return values[0] if len(values) == 1 else values


def assert_same_bits(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


# ---- detection without importing dask ------------------------------------------------------

def test_pysoftmax_does_not_import_dask():
    code = ("import sys, numpy as np, pysoftmax, pysoftmax._dask as d\n"
            "pysoftmax.softmax(np.ones(3))\n"
            "assert not d.is_dask_collection(np.ones(3)) and not d.is_dask_collection([1.0])\n"
            "assert not [m for m in sys.modules if m.startswith('dask')]\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_is_dask_collection():
    assert _dask.is_dask_collection(da.ones(3))
    assert _dask.is_dask_collection(dask.delayed(sum)([1, 2]))
    for obj in (np.ones(3), [1.0], 1.0, None, da.Array, da.ones(3).compute()):
        assert not _dask.is_dask_collection(obj)


# ---- softmax, log_softmax, logsumexp, entropy ------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp", "entropy"])
def test_row_functions_bit_for_bit_and_lazy(isa, rng, dtype, name):
    x = (rng.standard_normal((70, 9)) * 3).astype(dtype)
    x[5, 2], x[6] = -np.inf, np.nan
    dx = lazy(x, (ROWS, 4))                 # the class axis in three chunks: rechunked into one
    res = getattr(_dask, name)(dx)
    assert isinstance(res, da.Array) and not COMPUTED
    want = getattr(pysoftmax, name)(x)
    assert res.dtype == want.dtype and res.shape == want.shape
    assert res.chunks[0] == dx.chunks[0] and res.chunks[1:] == ((9,),)[:res.ndim - 1]
    assert_same_bits(compute(res), want)
    assert COMPUTED


@pytest.mark.parametrize("dtype", [np.float16, np.int32, bool])
def test_dtypes_as_the_numpy_path(rng, dtype):
    x = (rng.standard_normal((40, 5)) * 2).astype(dtype)
    dx = da.from_array(x, chunks=(ROWS, 5))
    for name in ("softmax", "log_softmax", "logsumexp"):
        res = getattr(_dask, name)(dx)
        want = getattr(pysoftmax, name)(x)
        assert res.dtype == want.dtype
        assert_same_bits(compute(res), want)


@pytest.mark.parametrize("axis", [0, (0, 2), None, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduced_axes_are_rechunked_into_one(rng, axis, keepdims):
    x = rng.standard_normal((6, 20, 10))
    dx = da.from_array(x, chunks=(2, 8, 5))
    axes = pysoftmax._common.normalize_axes(axis, 3)
    res = _dask.log_softmax(dx, axis=axis, temperature=0.5)
    assert res.chunks == tuple((n,) if a in axes else c
                               for a, (n, c) in enumerate(zip(x.shape, dx.chunks)))
    np.testing.assert_allclose(compute(res), pysoftmax.log_softmax(x, axis, temperature=0.5),
                               rtol=1e-14, atol=1e-14)
    lse = _dask.logsumexp(dx, axis=axis, keepdims=keepdims)
    want = pysoftmax.logsumexp(x, axis, keepdims=keepdims)
    assert isinstance(lse, da.Array) and lse.shape == np.shape(want)
    np.testing.assert_allclose(compute(lse), want, rtol=1e-14)


def test_where_from_numpy_or_dask(rng):
    x = rng.standard_normal((48, 6)).astype(np.float32)
    mask = rng.random((48, 6)) > 0.4
    mask[3] = False
    dx = da.from_array(x, chunks=(ROWS, 6))
    for where in (mask, da.from_array(mask, chunks=(8, 3)), mask[0], mask[:1]):
        w = np.asarray(where)
        for name in ("softmax", "log_softmax", "logsumexp"):
            assert_same_bits(compute(getattr(_dask, name)(dx, where=where)),
                             getattr(pysoftmax, name)(x, where=w))
    res = _dask.softmax(x, where=da.from_array(mask, chunks=(8, 3)))   # NumPy x, dask mask
    assert isinstance(res, da.Array)
    assert_same_bits(compute(res), pysoftmax.softmax(x, where=mask))


# ---- cross-entropy -------------------------------------------------------------------------

def _cross_entropy_case(rng, case, n=75, k=6):
    x = rng.standard_normal((n, k)).astype(np.float32)
    target = rng.integers(0, k, n)
    target[::9] = -100
    kw = {}
    if case == "weighted":
        kw["weight"] = rng.integers(1, 4, k).astype(np.float32)   # an exact "mean" denominator
    elif case == "smoothed":
        kw["label_smoothing"] = 0.2
    elif case == "probs":
        target = pysoftmax.softmax(rng.standard_normal((n, k))).astype(np.float32)
    elif case == "masked":
        where = rng.random((n, k)) > 0.3
        where[np.arange(n), np.maximum(target, 0)] = True
        where[4] = False                      # a fully masked row: no example
        kw["where"] = where
    return x, target, kw


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("case", ["labels", "weighted", "smoothed", "probs", "masked"])
def test_cross_entropy_against_the_numpy_path(isa, rng, reduction, case):
    x, target, kw = _cross_entropy_case(rng, case)
    want = pysoftmax.cross_entropy(x, target, reduction=reduction, **kw)
    want_loss, want_grad = pysoftmax.cross_entropy_with_grad(x, target, reduction=reduction, **kw)
    dx = lazy(x, (ROWS, 4))
    dt = da.from_array(target, chunks=(10,) + target.shape[1:])   # misaligned: rechunked
    if "where" in kw:
        kw["where"] = da.from_array(kw["where"], chunks=(30, 2))
    loss = _dask.cross_entropy(dx, dt, reduction=reduction, **kw)
    loss2, grad = _dask.cross_entropy_with_grad(dx, dt, reduction=reduction, **kw)
    assert all(isinstance(a, da.Array) for a in (loss, loss2, grad)) and not COMPUTED
    assert grad.chunks == (dx.chunks[0], (6,)) and grad.dtype == np.float32
    got, got2, g = compute(loss, loss2, grad)
    if reduction == "none":
        assert loss.chunks == (dx.chunks[0],)
        assert_same_bits(got, want)
        assert_same_bits(got2, want_loss)
    else:
        assert loss.ndim == 0 and loss.dtype == np.float64
        np.testing.assert_allclose([got, got2], [want, want_loss], rtol=1e-14)
    if reduction == "mean":   # scaled after the kernel: float32 rounding of the largest entry
        np.testing.assert_allclose(g, want_grad, rtol=0, atol=2e-7 * np.abs(want_grad).max())
    else:
        assert_same_bits(g, want_grad)


def test_cross_entropy_class_axis_and_batch_axes(rng):
    x = rng.standard_normal((4, 5, 6))
    y = rng.integers(0, 5, (4, 6))
    dx = da.from_array(x, chunks=(2, 2, 4))
    loss, grad = _dask.cross_entropy_with_grad(dx, da.from_array(y, chunks=(3, 3)), axis=1,
                                               reduction="none")
    assert loss.chunks == ((2, 2), (4, 2)) and grad.chunks == ((2, 2), (5,), (4, 2))
    want_loss, want_grad = pysoftmax.cross_entropy_with_grad(x, y, axis=1, reduction="none")
    got_loss, got_grad = compute(loss, grad)
    np.testing.assert_allclose(got_loss, want_loss, rtol=1e-14)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-14, atol=1e-16)
    mean = _dask.cross_entropy(dx, y, axis=1)     # a NumPy target becomes a dask one
    np.testing.assert_allclose(compute(mean), pysoftmax.cross_entropy(x, y, axis=1), rtol=1e-14)
    probs = pysoftmax.softmax(rng.standard_normal(x.shape), axis=1)
    where = rng.random(x.shape) > 0.2
    where[1, :, 2] = False                        # no example there: the mean counts the others
    mean = _dask.cross_entropy(dx, da.from_array(probs, chunks=(1, 5, 3)), axis=1, where=where)
    np.testing.assert_allclose(compute(mean),
                               pysoftmax.cross_entropy(x, probs, axis=1, where=where), rtol=1e-14)


def test_cross_entropy_of_no_example_is_zero():
    x = da.zeros((32, 3), chunks=(ROWS, 3))
    y = da.full(32, -100, chunks=ROWS)
    loss, grad = _dask.cross_entropy_with_grad(x, y)
    assert compute(loss) == 0.0 and not compute(grad).any()


def _errors(f, *args, **kwargs):
    with pytest.raises(Exception) as e:
        f(*args, **kwargs)
    return e


def test_argument_errors_as_the_numpy_path(rng):
    x = rng.standard_normal((20, 4))
    y = rng.integers(0, 4, 20)
    dx = da.from_array(x, chunks=(ROWS, 4))
    for target, kw in [(y[:10], {}), (rng.random(20), {}), (rng.random((20, 3)), {}),
                       (y.astype(bool), {}), (y, {"reduction": "avg"}),
                       (y, {"label_smoothing": 2.0}), (y, {"weight": np.ones(3)}),
                       (y, {"axis": 2}), (y, {"where": np.ones(4, dtype=int)}),
                       (y, {"where": np.ones((3, 4), dtype=bool)})]:
        want = _errors(pysoftmax.cross_entropy, x, target, **kw)
        got = _errors(_dask.cross_entropy, dx, da.from_array(target), **kw)
        assert got.type is want.type and str(got.value) == str(want.value)
    for kw in [{"temperature": 0.0}, {"axis": 3}, {"where": np.ones((4, 4), dtype=bool)}]:
        want = _errors(pysoftmax.softmax, x, **kw)
        got = _errors(_dask.softmax, dx, **kw)
        assert got.type is want.type and str(got.value) == str(want.value)
    want = _errors(pysoftmax.logsumexp, np.ones((3, 0)))
    got = _errors(_dask.logsumexp, da.ones((3, 0)))
    assert got.type is want.type and str(got.value) == str(want.value)
    got = _errors(_dask.softmax, da.from_array(x.astype(complex)))
    assert got.type is TypeError and "complex128 is not supported" in str(got.value)
    with pytest.raises(TypeError, match="out: not supported for Dask arrays"):
        _dask.softmax(dx, out=np.empty_like(x))
    with pytest.raises(ValueError, match=r"x: .* unknown chunk sizes.*compute_chunk_sizes"):
        _dask.softmax(dx[dx[:, 0] > 0])


def test_errors_in_the_data_raise_at_compute(rng):
    x = da.from_array(rng.standard_normal((40, 4)), chunks=(ROWS, 4))
    y = np.zeros(40, dtype=np.int64)
    y[37] = 4
    loss = _dask.cross_entropy(x, da.from_array(y, chunks=ROWS))   # no error yet: lazy
    with pytest.raises(IndexError, match="label 4 at position .* is out of range for 4 classes"):
        compute(loss)


def test_functions_namespace_for_the_dispatch(rng):
    names = {"softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_with_grad",
             "entropy"}
    ns = _dask.functions("reference")
    assert ns is _dask.functions("reference") and set(vars(ns)) == names
    assert all(hasattr(_native, name) and hasattr(reference, name) for name in names)
    x = rng.standard_normal((40, 5))
    y = rng.integers(0, 5, 40)
    dx, dy = da.from_array(x, chunks=(ROWS, 5)), da.from_array(y, chunks=ROWS)
    for name in ("softmax", "log_softmax", "logsumexp", "entropy"):
        assert_same_bits(compute(getattr(ns, name)(dx)), getattr(reference, name)(x))
    loss, grad = compute(*ns.cross_entropy_with_grad(dx, dy, reduction="none"))
    want_loss, want_grad = reference.cross_entropy_with_grad(x, y, reduction="none")
    assert_same_bits(loss, want_loss)
    assert_same_bits(grad, want_grad)
    with pytest.raises(ValueError, match="backend: unknown backend 'gpu'"):
        _dask.functions("gpu")


# ---- training ----------------------------------------------------------------------------

def _linear_data(rng, n, d, k, dtype):
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, k, n)
    sw = (rng.random(n) + 0.5).astype(dtype)
    W = (rng.standard_normal((k, d)) / np.sqrt(d)).astype(dtype)
    b = rng.standard_normal(k).astype(dtype)
    return X, y, sw, W, b


def _want(X, y, sw, W, b):
    """_native.LinearProblem on the whole data (copies: it reuses its buffers)."""
    a = LinearCrossEntropyArgs(X, W, b, y, None, sw, "sum", -100, 0.0)
    loss, dw, db = _native.LinearProblem(a)(a.w, a.b, True)
    return loss, None if dw is None else dw.copy(), None if db is None else db.copy()


def test_problem_without_a_client(rng):
    """Before the module's cluster starts: no Client, so dask's default scheduler (threads)."""
    if "distributed" in sys.modules:
        try:
            sys.modules["distributed"].get_client()
        except ValueError:
            pass
        else:
            pytest.skip("a distributed Client is active")
    X, y, sw, W, b = _linear_data(rng, 1000, 9, 4, np.float64)
    data = (da.from_array(X, chunks=(128, 9)), da.from_array(y, chunks=128), sw)
    problem = _dask.DaskLinearProblem(*data)
    assert problem._scheduler.client is None and problem._scheduler.get is None
    loss, dw, db = problem(W, b)
    want_loss, want_dw, want_db = _want(X, y, sw, W, b)
    assert abs(loss - want_loss) <= 1e-12 * abs(want_loss)
    np.testing.assert_allclose(dw, want_dw, rtol=0, atol=1e-12 * np.abs(want_dw).max())
    for u, v in zip((loss, dw, db), _dask.DaskLinearProblem(*data, scheduler="sync")(W, b)):
        assert_same_bits(u, v)


# ---- on a cluster --------------------------------------------------------------------------

# Everything on the loopback interface, on free ports.
CLUSTER = {"threads_per_worker": 1, "memory_limit": "1GiB", "dashboard_address": "127.0.0.1:0",
           "worker_dashboard_address": None, "silence_logs": logging.ERROR}


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two worker processes and its Client (the default one) for the module."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, host="127.0.0.1", scheduler_port=0,
                                  **CLUSTER) as cluster:
        with distributed.Client(cluster) as c:
            yield c


def test_kernels_on_the_cluster(client, rng):
    x = rng.standard_normal((100, 8)).astype(np.float32)
    y = rng.integers(0, 8, 100)
    dx, dy = da.from_array(x, chunks=(ROWS, 8)), da.from_array(y, chunks=ROWS)
    results = [_dask.softmax(dx), _dask.logsumexp(dx),
               *_dask.cross_entropy_with_grad(dx, dy, reduction="mean")]
    remote = client.gather(client.compute(results))
    for got, want in zip(remote, compute(*results)):
        assert_same_bits(got, want)
    assert_same_bits(remote[0], pysoftmax.softmax(x))


@pytest.mark.parametrize("dtype, weighted, bias", [(np.float64, True, True),
                                                   (np.float64, True, False),
                                                   (np.float64, False, True),
                                                   (np.float32, True, True)])
def test_problem_against_linear_problem(client, rng, dtype, weighted, bias):
    n, d, k = 3001, 17, 5
    X, y, sw, W, b = _linear_data(rng, n, d, k, dtype)
    y[::11] = -100
    sw, b = sw if weighted else None, b if bias else None
    problem = _dask.DaskLinearProblem(da.from_array(X, chunks=(400, d)),
                                      da.from_array(y, chunks=700),    # rechunked to X's rows
                                      None if sw is None else da.from_array(sw, chunks=1000))
    assert problem.n_blocks == 8 and problem.dtype == dtype
    loss, dw, db = problem(W, b)
    assert all(client.who_has(problem._blocks).values())      # every block kept on a worker
    want_loss, want_dw, want_db = _want(X, y, sw, W, b)
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert isinstance(loss, float) and abs(loss - want_loss) <= rtol * abs(want_loss)
    assert dw.dtype == dtype and dw.shape == (k, d)
    scale = 1e-12 if dtype == np.float64 else 1e-5      # of the largest entry
    np.testing.assert_allclose(dw, want_dw, rtol=0, atol=scale * np.abs(want_dw).max())
    if b is None:
        assert db is None
    else:
        assert db.dtype == dtype
        np.testing.assert_allclose(db, want_db, rtol=0, atol=scale * np.abs(want_db).max())
    if weighted and bias:
        value = problem(W, b, grad=False)
        assert value[1:] == (None, None) and abs(value[0] - want_loss) <= rtol * abs(want_loss)


def test_problem_with_probabilities_and_options(client, rng):
    n, d, k = 500, 6, 4
    X, y, sw, W, b = _linear_data(rng, n, d, k, np.float64)
    probs = pysoftmax.softmax(rng.standard_normal((n, k)))
    weight = np.array([1.0, 2.0, 0.5, 1.5])
    dX = da.from_array(X, chunks=(128, d))
    for target, kw in [(probs, {"label_smoothing": 0.1}),
                       (y, {"weight": weight, "label_smoothing": 0.05})]:
        problem = _dask.DaskLinearProblem(dX, da.from_array(target, chunks=(200, 2)[:target.ndim]),
                                          **kw)
        loss, dw, db = problem(W, b)
        a = LinearCrossEntropyArgs(X, W, b, target, kw.get("weight"), None, "sum", -100,
                                   kw["label_smoothing"])
        want_loss, want_dw, want_db = _native.LinearProblem(a)(a.w, a.b, True)
        assert abs(loss - want_loss) <= 1e-12 * abs(want_loss)
        np.testing.assert_allclose(dw, want_dw, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(db, want_db, rtol=1e-11, atol=1e-12)


def test_problem_is_reproducible_bit_for_bit(client, rng):
    distributed = pytest.importorskip("distributed")
    X, y, sw, W, b = _linear_data(rng, 4000, 24, 7, np.float32)
    data = (da.from_array(X, chunks=(500, 24)), da.from_array(y, chunks=500),
            da.from_array(sw, chunks=500))
    problem = _dask.DaskLinearProblem(*data)
    first = problem(W, b)
    for again in (problem(W, b), _dask.DaskLinearProblem(*data)(W, b)):
        for u, v in zip(first, again):
            assert_same_bits(u, v)
    with distributed.LocalCluster(n_workers=1, processes=False, **CLUSTER) as cluster:
        with distributed.Client(cluster, set_as_default=False) as one_worker:
            others = [_dask.DaskLinearProblem(*data, scheduler=one_worker)(W, b)]
    with dask.config.set(scheduler="threads"):    # no Client: dask's local scheduler
        local = _dask.DaskLinearProblem(*data)
        assert local._scheduler.client is None
        others.append(local(W, b))
    others.append(_dask.DaskLinearProblem(*data, scheduler="sync")(W, b))
    for other in others:
        for u, v in zip(first, other):
            assert_same_bits(u, v)


def test_problem_chunks(client, rng):
    X, y, sw, W, b = _linear_data(rng, 100, 6, 3, np.float64)
    dX = da.from_array(X, chunks=(50, 6))
    with pytest.raises(ValueError, match=r"X: chunked along the features \(chunks \(3, 3\)\); "
                                         r"each block must hold whole rows"):
        _dask.DaskLinearProblem(da.from_array(X, chunks=(50, 3)), y)
    with pytest.raises(ValueError, match=r"X: expected a 2-D array \(N, d\), got shape \(100,\)"):
        _dask.DaskLinearProblem(dX[:, 0], y)
    with pytest.raises(ValueError, match=r"y: expected shape \(100,\) or \(100, K\), one row per "
                                         r"row of X, got shape \(99,\)"):
        _dask.DaskLinearProblem(dX, y[:99])
    with pytest.raises(ValueError, match=r"sample_weight: expected shape \(100,\), one row per "
                                         r"row of X, got shape \(100, 1\)"):
        _dask.DaskLinearProblem(dX, y, sw[:, None])
    with pytest.raises(ValueError, match="X: the dask array of shape .* unknown chunk sizes"):
        _dask.DaskLinearProblem(dX[dX[:, 0] > 0], y)
    problem = _dask.DaskLinearProblem(dX, da.from_array(y, chunks=50), sw)
    want = problem(W, b)
    # y and the sample weights rechunked to X's rows, NumPy ones included; empty blocks skipped
    for other in (_dask.DaskLinearProblem(dX, da.from_array(y, chunks=30), sw),
                  _dask.DaskLinearProblem(da.from_array(X, chunks=((0, 50, 0, 50, 0), (6,))), y,
                                          da.from_array(sw, chunks=7))):
        assert other.n_blocks == 2
        for u, v in zip(want, other(W, b)):
            assert_same_bits(u, v)
    with pytest.raises(ValueError, match=r"W: expected shape \(K, 6\)"):
        problem(W[:, :5], b)
    with pytest.raises(ValueError, match=r"b: expected shape \(3,\)"):
        problem(W, b[:2])
    bad = y.copy()
    bad[77] = 3
    with pytest.raises(IndexError, match="label 3 at position .* out of range for 3 classes"):
        _dask.DaskLinearProblem(dX, bad)(W, b)


def test_classes_labels_and_moments(client, rng):
    n = 1000
    labels = np.array([3, 7, 11, 20])
    codes = rng.integers(0, 4, n)
    y, sw = labels[codes], rng.random(n)
    dy, dsw = da.from_array(y, chunks=130), da.from_array(sw, chunks=300)
    np.testing.assert_array_equal(_dask.classes(dy), labels)
    u, counts = _dask.classes(dy, return_counts=True)
    assert counts.dtype == np.int64 and counts.tolist() == np.bincount(codes).tolist()
    u, weighted = _dask.classes(dy, dsw, return_counts=True)
    np.testing.assert_allclose(weighted, np.bincount(codes, sw), rtol=1e-13)
    names = np.array(["b", "a", "d", "c"])[codes]
    assert _dask.classes(da.from_array(names, chunks=300)).tolist() == ["a", "b", "c", "d"]
    dcodes = _dask.encode_labels(dy, u)
    assert isinstance(dcodes, da.Array) and dcodes.dtype == np.int64
    np.testing.assert_array_equal(dcodes.compute(), codes)
    with pytest.raises(ValueError, match=r"y: label 11 is not one of the classes \[3, 7, 20\]"):
        _dask.encode_labels(dy, [3, 7, 20]).compute()

    X = rng.standard_normal((n, 5)) * [1, 10, 100, 0.1, 1] + [0, 5, -3, 1e3, 0]
    dX = da.from_array(X, chunks=(128, 5))
    for weights in (sw, None):
        problem = _dask.DaskLinearProblem(dX, dcodes, None if weights is None else dsw)
        weight, mean, var = problem.moments()
        s = np.ones(n) if weights is None else weights
        want_mean = s @ X / s.sum()
        want_var = s @ (X - want_mean) ** 2 / s.sum()
        np.testing.assert_allclose(weight, s.sum(), rtol=1e-13)
        np.testing.assert_allclose(mean, want_mean, rtol=1e-13)
        # sums of squares, as the estimator's Moments.of: rounding relative to mean^2
        assert np.all(np.abs(var - want_var) <= 1e-13 * (want_mean ** 2 + want_var))


def test_batches_cover_every_row_once_in_a_seeded_order(client, rng):
    n, d, k = 1000, 5, 3
    X, y, sw, W, b = _linear_data(rng, n, d, k, np.float64)
    problem = _dask.DaskLinearProblem(da.from_array(X, chunks=(300, d)), y, sw)
    start = np.cumsum((0,) + problem.rows)

    def epoch(seed, size=None):
        return [(batch.block, batch.rows, batch.n_rows) for batch in problem.batches(seed, size)]

    order = epoch(7, 128)
    assert order == epoch(np.random.default_rng(7), 128) and order != epoch(8, 128)
    assert epoch(np.random.RandomState(3), 128) == epoch(np.random.RandomState(3), 128)
    rows = np.concatenate([np.arange(start[i] + s, start[i] + e) for i, (s, e), _ in order])
    assert sorted(rows.tolist()) == list(range(n)) and all(m <= 128 for *_, m in order)
    assert sorted(m for *_, m in epoch(0)) == sorted(problem.rows)
    total = 0.0
    for batch in problem.batches(1, 128):
        loss, dw, db = batch(W, b)
        r = slice(start[batch.block] + batch.rows[0], start[batch.block] + batch.rows[1])
        want_loss, want_dw, want_db = _want(X[r], y[r], sw[r], W, b)
        assert abs(loss - want_loss) <= 1e-12 * abs(want_loss)
        np.testing.assert_allclose(dw, want_dw, rtol=1e-12, atol=1e-13)
        total += loss
    assert abs(total - problem(W, b)[0]) <= 1e-12 * total
    with pytest.raises(ValueError, match="batch_size: must be >= 1, got 0"):
        problem.batches(0, 0)


def test_the_driver_never_holds_x(client):
    """X (96 MB) is made and kept on the workers: what a call sends holds no block of it, and
    this process' memory grows by far less than X (sampled during construction and calls)."""
    psutil = pytest.importorskip("psutil")
    n, d, k = 600_000, 20, 3
    rs = da.random.default_rng(0)
    X = rs.standard_normal((n, d), chunks=(75_000, d))
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)      # labels made where X's rows are
    sw = rs.random(n, chunks=75_000) + 0.5
    W, b = np.zeros((k, d)), np.zeros(k)
    _dask.DaskLinearProblem(X[:1000].rechunk((500, d)), y[:1000])(W, b)    # imports, warm-up

    process, peak, done = psutil.Process(), [0], threading.Event()

    def sample():
        while not done.wait(0.001):
            peak[0] = max(peak[0], process.memory_info().rss)

    base = process.memory_info().rss
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        problem = _dask.DaskLinearProblem(X, y, sw)
        for _ in range(2):
            loss, dw, db = problem(W, b)
        problem.moments()
        for batch in list(problem.batches(0))[:2]:
            batch(W, b)
    finally:
        done.set()
        sampler.join()
    assert np.isfinite(loss) and dw.shape == (k, d)
    assert sum(client.nbytes(keys=[f.key for f in problem._blocks]).values()) >= n * d * 8
    assert peak[0] - base < n * d * 8 // 4
    graph = problem._graph([(i, None) for i in range(problem.n_blocks)], W, b, True)
    assert len(pickle.dumps(dict(graph.__dask_graph__()))) < 100_000


def test_the_top_level_functions_route_dask_arrays():
    """pysoftmax.softmax & co. given a Dask array return the lazy results of pysoftmax._dask."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 10))
    y = rng.integers(0, 10, 64)
    dx, dy = da.from_array(x, chunks=(16, 10)), da.from_array(y, chunks=16)
    for name in ("softmax", "log_softmax", "logsumexp", "entropy"):
        got = getattr(pysoftmax, name)(dx)
        assert isinstance(got, da.Array), name
        np.testing.assert_array_equal(got.compute(), getattr(pysoftmax, name)(x))
    loss = pysoftmax.cross_entropy(dx, dy)
    assert isinstance(loss, da.Array) and loss.ndim == 0
    np.testing.assert_allclose(float(loss.compute()), pysoftmax.cross_entropy(x, y), rtol=1e-14)
    loss, grad = pysoftmax.cross_entropy_with_grad(dx, dy, reduction="sum")
    assert isinstance(grad, da.Array)
    want_loss, want_grad = pysoftmax.cross_entropy_with_grad(x, y, reduction="sum")
    np.testing.assert_array_equal(grad.compute(), want_grad)

