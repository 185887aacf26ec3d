"""Dask arrays in pysoftmax: the top-level functions block by block, and the distributed loss
of a linear model for training on data that lives on a Dask cluster.

Dask is imported only when one of these functions is given a Dask object: importing this
module does not import it (`is_dask_collection` recognises Dask objects without it).

- softmax, log_softmax, logsumexp, cross_entropy, cross_entropy_with_grad and entropy take
  dask arrays and return lazy ones, each block computed by the backend's kernel where it lives.
  A block holds whole slices: reduced axes spanning several chunks are rechunked into one.
- DaskLinearProblem: X, y and the sample weights persisted on the workers once; each call sends
  (W, b) and brings back only the loss and the gradients, summed in a fixed order.
- classes, encode_labels: the labels' pass and their class codes, for the estimator.

Requires ``pip install 'dask[array,distributed]'`` (distributed only for a cluster).
"""

from __future__ import annotations

import functools
import math
import operator
import sys
import types

import numpy as np

from . import _native, reference
from ._common import (
    CrossEntropyArgs,
    LinearCrossEntropyArgs,
    as_input,
    broadcast_where,
    check_temperature,
    entropy_function,
    normalize_axes,
    reduced_shape,
)
from ._regression_objective import Moments

__all__ = ["is_dask_collection", "functions", "softmax", "log_softmax", "logsumexp",
           "cross_entropy", "cross_entropy_with_grad", "entropy", "DaskLinearProblem",
           "classes", "encode_labels"]

_BACKENDS = {"native": _native, "reference": reference}
_DASK_MODULES = ("dask.", "dask_expr.")
_PLAIN = frozenset({np.ndarray, type(None), list, tuple, float, int, bool})   # the usual inputs


def is_dask_collection(obj):
    """True if `obj` is a Dask collection (dask.array.Array, a Dask DataFrame, Delayed, ...).

    Never imports Dask: False at once while Dask is not imported, for the usual inputs (a set
    lookup) and for objects whose class is not defined in a Dask module.
    """
    dask = sys.modules.get("dask")
    if (dask is None or type(obj) in _PLAIN
            or not type(obj).__module__.startswith(_DASK_MODULES)):
        return False
    return dask.is_dask_collection(obj)


def _da():
    try:
        import dask.array as da
    except ImportError as e:  # pragma: no cover - only reached with a Dask object
        raise ImportError("pysoftmax on Dask arrays needs dask: pip install "
                          "'dask[array,distributed]'") from e
    return da


def _proxy(shape, dtype):
    """A read-only array of `shape` and `dtype` taking no memory: argument checks on shapes."""
    return np.broadcast_to(np.zeros((), dtype), shape)


def _as_dask(a, name):
    """`a` as a dask array (a NumPy argument becomes one chunk) with known chunk sizes."""
    da = _da()
    if is_dask_collection(a):
        if not isinstance(a, da.Array):
            raise TypeError(f"{name}: expected a dask.array.Array, got {type(a).__name__} (a "
                            f"Dask DataFrame converts with .to_dask_array(lengths=True))")
    else:
        a = da.asarray(np.asarray(a))
    if any(math.isnan(n) for n in a.shape):
        raise ValueError(f"{name}: the dask array of shape {a.shape} has unknown chunk sizes; "
                         f"call {name}.compute_chunk_sizes() first")
    return a


def _one_chunk(x, axes):
    """`x` with each of `axes` in a single chunk."""
    if all(len(x.chunks[a]) == 1 for a in axes):
        return x
    return x.rechunk({a: -1 for a in axes})


def _mask(where, x):
    """`where` checked as broadcast_where does, broadcast to x's shape with x's chunks."""
    if where is None:
        return None
    da = _da()
    w = _as_dask(where, "where") if is_dask_collection(where) else np.asarray(where)
    broadcast_where(_proxy(w.shape, w.dtype), x.shape)
    w = w.reshape((1,) * (x.ndim - w.ndim) + w.shape)
    chunks = tuple((1,) if n == 1 else c for n, c in zip(w.shape, x.chunks))
    w = w.rechunk(chunks) if isinstance(w, da.Array) else da.from_array(w, chunks=chunks)
    return da.broadcast_to(w, x.shape, chunks=x.chunks)


def _check_out(out):
    if out is not None:
        raise TypeError("out: not supported for Dask arrays (the result is lazy); store the "
                        "computed result, e.g. with dask.array.store")


def _dtypes(dtype, name):
    """(computing dtype, result dtype) of inputs of `dtype`: as_input's rules and errors."""
    a, rdt = as_input(np.empty(0, dtype), name)
    return a.dtype, rdt


def _meta(ndim, dtype):
    return np.empty((0,) * ndim, dtype=dtype)


# ---- softmax, log_softmax, logsumexp ---------------------------------------------------------

def _prepare(x, axis, where):
    """(x, result dtype, axes, mask): x a dask array whose reduced axes are one chunk each."""
    x = _as_dask(x, "x")
    rdt = _dtypes(x.dtype, "x")[1]
    axes = normalize_axes(axis, x.ndim)
    reduced_shape(x.shape, axes)  # rejects an empty reduction
    x = _one_chunk(x, axes)
    return x, rdt, axes, _mask(where, x)


def _softmax_block(x, mask, axes, temperature, log, backend):
    f = _BACKENDS[backend].log_softmax if log else _BACKENDS[backend].softmax
    return f(x, axes, temperature=temperature, where=mask)


def _softmax(x, axis, temperature, where, out, log, backend):
    _check_out(out)
    t = check_temperature(temperature)
    x, rdt, axes, mask = _prepare(x, axis, where)
    return _da().map_blocks(_softmax_block, x, mask, axes=axes, temperature=t, log=log,
                            backend=backend, dtype=rdt, meta=_meta(x.ndim, rdt))


def softmax(x, axis=-1, *, temperature=1.0, where=None, out=None, backend="native"):
    """pysoftmax.softmax of a dask array: a lazy dask array of x's chunks.

    Each block is computed by `backend`'s kernel ("native" or "reference"). When a reduced
    axis spans several chunks, it is rechunked into one (the other axes keep their chunks), so
    that every block holds whole distributions: choose the other chunks for that block size.
    `where` may be a dask array; `out` is not supported (the result is lazy).
    """
    return _softmax(x, axis, temperature, where, out, False, backend)


def log_softmax(x, axis=-1, *, temperature=1.0, where=None, out=None, backend="native"):
    """pysoftmax.log_softmax of a dask array, block by block as :func:`softmax`."""
    return _softmax(x, axis, temperature, where, out, True, backend)


def _logsumexp_block(x, mask, axes, backend):
    return _BACKENDS[backend].logsumexp(x, axes, where=mask, keepdims=True)


def logsumexp(x, axis=-1, *, where=None, keepdims=False, backend="native"):
    """pysoftmax.logsumexp of a dask array: a lazy dask array (0-d for a full reduction).

    Reduced axes spanning several chunks are rechunked into one, as in :func:`softmax`; a full
    reduction (axis=None) is therefore one block.
    """
    da = _da()
    x, rdt, axes, mask = _prepare(x, axis, where)
    res = da.blockwise(_logsumexp_block, tuple(range(x.ndim)), x, tuple(range(x.ndim)), mask,
                       None if mask is None else tuple(range(x.ndim)), axes=axes,
                       backend=backend, adjust_chunks={a: 1 for a in axes}, dtype=rdt,
                       meta=_meta(x.ndim, rdt))
    return res if keepdims else res.squeeze(axis=axes)


# ---- cross-entropy ---------------------------------------------------------------------------

def _check_cross_entropy(logits, target, axis, weight, ignore_index, reduction, label_smoothing):
    """CrossEntropyArgs's checks that need no data, on arrays taking no memory: on a batch of at
    most one example, then with the real shapes if the target's are wrong (so that the error
    names the real shapes). Returns the class axis."""
    dtype = _dtypes(logits.dtype, "logits")[0]

    def args(logits_shape, target_shape):
        return CrossEntropyArgs(_proxy(logits_shape, dtype), _proxy(target_shape, target.dtype),
                                axis, weight, ignore_index, reduction, label_smoothing, None)

    if logits.ndim == 0:
        args((), target.shape)   # raises
    ax = normalize_axes(operator.index(axis), logits.ndim)[0]

    def small(shape):   # at most one example, all the classes
        return tuple(n if i == ax and len(shape) == logits.ndim else min(n, 1)
                     for i, n in enumerate(shape))

    try:
        a = args(small(logits.shape), small(target.shape))
    except ValueError:
        args(logits.shape, target.shape)
        raise
    batch = logits.shape[:ax] + logits.shape[ax + 1:]
    if target.shape != (batch if a.labels is not None else logits.shape):
        args(logits.shape, target.shape)   # raises
    return ax


def _scale(denominator):
    """CrossEntropyArgs.scale for "mean": 1 / denominator, 0 for a mean over no example."""
    return 1.0 / denominator if denominator else 0.0


def _cross_entropy_block(x, t, mask, denominator, axis, weight, ignore_index, reduction,
                         label_smoothing, with_grad, backend):
    """One block: the per-example losses (with the class axis, of length 1) for "none", else
    the block's float64 loss sum in a (1, ..., 1) array; with the gradient, (loss, grad), the
    gradient times 1 / denominator for "mean" (computed in float64, rounded once)."""
    f = _BACKENDS[backend]
    kw = {"axis": axis, "weight": weight, "ignore_index": ignore_index, "where": mask,
          "reduction": "none" if reduction == "none" else "sum",
          "label_smoothing": label_smoothing}
    if with_grad:
        loss, grad = f.cross_entropy_with_grad(x, t, **kw)
    else:
        loss = f.cross_entropy(x, t, **kw)
    loss = np.expand_dims(loss, axis) if reduction == "none" else np.full((1,) * x.ndim, loss)
    if not with_grad:
        return loss
    if reduction == "mean":
        np.multiply(grad, np.float64(_scale(denominator)), out=grad, casting="same_kind")
    return loss, grad


def _denominator_block(t, mask, k, axis, float_dtype, weight, ignore_index):
    """A block's share of CrossEntropyArgs.denominator in a (1, ..., 1) array of the batch's
    dimensions; t None for probability targets (only the mask counts)."""
    if t is None:
        shape = mask.shape
        t = _proxy(shape, float_dtype)
    else:
        shape = t.shape[:axis] + (k,) + t.shape[axis:]
    a = CrossEntropyArgs(_proxy(shape, float_dtype), t, axis, weight, ignore_index, "mean", 0.0,
                         mask)
    return np.full((1,) * (len(shape) - 1), a.denominator)


def _times_scale(total, denominator):
    return np.float64(total * _scale(denominator))


def _cross_entropy(logits, target, axis, weight, ignore_index, reduction, label_smoothing, where,
                   out, with_grad, backend):
    da = _da()
    _check_out(out)
    logits, target = _as_dask(logits, "logits"), _as_dask(target, "target")
    if is_dask_collection(weight):
        weight = weight.compute()
    ax = _check_cross_entropy(logits, target, axis, weight, ignore_index, reduction,
                              label_smoothing)
    dtype, rdt = _dtypes(logits.dtype, "logits")
    logits = _one_chunk(logits, (ax,))
    nd, labels = logits.ndim, target.dtype.kind in "iu"
    ind = tuple(range(nd))                     # blockwise indices: the logits' axes,
    bind = ind[:ax] + ind[ax + 1:]             # the batch axes,
    tind = bind if labels else ind             # the target's
    target = target.rechunk(tuple(logits.chunks[i] for i in tind))
    mask = _mask(where, logits)
    mind = None if mask is None else ind
    denominator = None
    if reduction == "mean" and (labels or mask is not None):
        denominator = da.blockwise(
            _denominator_block, bind, target if labels else None, tind if labels else None,
            mask, mind, k=logits.shape[ax], axis=ax, float_dtype=dtype, weight=weight,
            ignore_index=ignore_index, concatenate=True, adjust_chunks={i: 1 for i in bind},
            dtype=np.float64, meta=_meta(nd - 1, np.float64)).sum()
    elif reduction == "mean":    # probability targets without a mask: every example counts
        denominator = float(math.prod(logits.shape[i] for i in bind))
    dind = () if isinstance(denominator, da.Array) else None
    args = (logits, ind, target, tind, mask, mind, denominator, dind)
    kw = {"axis": ax, "weight": weight, "ignore_index": ignore_index, "reduction": reduction,
          "label_smoothing": label_smoothing, "backend": backend}
    # a block's loss: per-example losses (the class axis of length 1), or one partial sum
    short = (ax,) if reduction == "none" else ind
    loss_dtype = rdt if reduction == "none" else np.dtype(np.float64)
    loss_meta = _meta(nd, loss_dtype)
    if with_grad:
        both = da.blockwise(_cross_entropy_block, ind, *args, with_grad=True, **kw,
                            dtype=object, meta=_meta(nd, object))
        grad = both.map_blocks(operator.getitem, 1, dtype=rdt, meta=_meta(nd, rdt))
        chunks = tuple((1,) * len(c) if i in short else c for i, c in enumerate(logits.chunks))
        loss = both.map_blocks(operator.getitem, 0, chunks=chunks, dtype=loss_dtype,
                               meta=loss_meta)
    else:
        loss = da.blockwise(_cross_entropy_block, ind, *args, with_grad=False, **kw,
                            adjust_chunks=dict.fromkeys(short, 1), dtype=loss_dtype,
                            meta=loss_meta)
    if reduction == "none":
        loss = loss.squeeze(axis=ax)
    else:
        loss = loss.sum()
        if reduction == "mean":
            loss = da.blockwise(_times_scale, (), loss, (), denominator, dind, dtype=np.float64,
                                meta=_meta(0, np.float64))
    return (loss, grad) if with_grad else loss


def cross_entropy(logits, target, *, axis=-1, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, where=None, backend="native"):
    """pysoftmax.cross_entropy of dask arrays, lazily.

    "none": a dask array of the per-example losses, chunked as the logits' batch axes. "mean"
    and "sum": a 0-d float64 dask array, the sum of the blocks' float64 loss sums (a tree
    reduction fixed by the chunks); "mean" divides it by the summed class weights of the
    counted examples (their number without class weights), as torch, also computed lazily.
    The class axis is rechunked into one chunk when it spans several; the target (and `where`)
    is rechunked to the logits' chunks. NumPy arguments become single-chunk dask arrays.
    Errors found in the data (a label out of range, a masked label) are raised by compute().
    """
    return _cross_entropy(logits, target, axis, weight, ignore_index, reduction, label_smoothing,
                          where, None, False, backend)


def cross_entropy_with_grad(logits, target, *, axis=-1, weight=None, ignore_index=-100,
                            reduction="mean", label_smoothing=0.0, where=None, out=None,
                            backend="native"):
    """``(loss, grad)`` of dask arrays, lazily: the loss as in :func:`cross_entropy`, the
    gradient a dask array of the logits' chunks (after the class axis' rechunk). Both come from
    one pass per block, shared when computed together (``dask.compute(loss, grad)``). For
    "mean" each block's gradient is multiplied by 1 / denominator in float64 and rounded once
    (the NumPy path scales inside the kernel: the two may differ in the last bit). `out` is
    not supported.
    """
    return _cross_entropy(logits, target, axis, weight, ignore_index, reduction, label_smoothing,
                          where, out, True, backend)


entropy = entropy_function(softmax, log_softmax)
entropy.__doc__ = ("pysoftmax.entropy of a dask array, lazily (from :func:`softmax` and "
                   ":func:`log_softmax`).")

_FUNCTIONS = ("softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_with_grad")


@functools.cache
@functools.cache
def functions(backend="native"):
    """The top-level functions on dask arrays with `backend`'s kernels ("native" or
    "reference"): a namespace with the backends' function names, for pysoftmax's dispatch."""
    if backend not in _BACKENDS:
        raise ValueError(f"backend: unknown backend {backend!r}; expected 'native' or 'reference'")
    f = {name: functools.partial(globals()[name], backend=backend) for name in _FUNCTIONS}
    f["entropy"] = entropy_function(f["softmax"], f["log_softmax"])
    return types.SimpleNamespace(**f)


# ---- training on a Dask cluster --------------------------------------------------------------

class _Scheduler:
    """Where the passes run: the distributed Client that dask would use (the current one, or
    `scheduler` when it is a Client), or a local scheduler ("threads", "sync", ...)."""

    def __init__(self, scheduler=None):
        from dask.base import get_scheduler

        get = get_scheduler(scheduler=scheduler)
        client = getattr(get, "__self__", None)
        self.client = client if hasattr(client, "scatter") else None
        self.get = None if self.client is not None else get

    def persist(self, parts):
        """The delayed `parts` computed and kept where they are computed (futures on a
        cluster, values in this process otherwise)."""
        if self.client is not None:
            return self.client.compute(parts)
        import dask

        return list(dask.persist(*parts, scheduler=self.get))

    def send(self, value, tasks):
        """`value` as an argument of `tasks` tasks: one key of the graph holding it when several
        tasks need it (sent once with the graph; each worker fetches it once, as a dependency,
        also a worker that replaces a lost one), otherwise embedded in the task."""
        if tasks < 2:
            return value
        import dask

        return dask.delayed(value, traverse=False, pure=False)

    def compute(self, obj):
        """The value of one delayed object, brought to this process."""
        if self.client is not None:
            return self.client.compute(obj).result()
        import dask

        return dask.compute(obj, scheduler=self.get)[0]


def _tree(parts, combine):
    """The delayed reduction of `parts` by combine(a, b) in a fixed pairing: (0, 1), (2, 3), ...
    level by level, an odd last part carried up. The same tree for the same number of parts,
    whatever the scheduling, so floating-point sums are reproduced bit for bit."""
    import dask

    combine = dask.delayed(combine, pure=False)
    while len(parts) > 1:
        parts = [combine(*parts[i:i + 2]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0]


def _add(a, b):
    """Elementwise sum of two tuples of partial sums (None stays None)."""
    return tuple(None if u is None else u + v for u, v in zip(a, b))


def _float64(a):
    return None if a is None else a.astype(np.float64)


def _aligned(a, rows, name, ndims, x_name="X"):
    """`a` as a dask array of len(rows) blocks of `rows` rows (one chunk along a second axis)."""
    a = _as_dask(a, name)
    n = sum(rows)
    if a.ndim not in ndims or a.shape[0] != n:
        expected = " or ".join(f"({n},)" if k == 1 else f"({n}, K)" for k in ndims)
        raise ValueError(f"{name}: expected shape {expected}, one row per row of {x_name}, got "
                         f"shape {a.shape}")
    return a.rechunk((rows,) + ((-1,) if a.ndim == 2 else ()))


def _blocks(a, count):
    """The delayed blocks of a dask array aligned by _aligned, or `count` Nones."""
    return [None] * count if a is None else list(a.to_delayed().ravel())


def _pack(x, y, sw, dtype):
    """A block as the workers keep it: X's rows contiguous in the computing dtype."""
    return np.ascontiguousarray(x, dtype=dtype), np.ascontiguousarray(y), (
        None if sw is None else np.ascontiguousarray(sw))


def _block_sums(block, wb, grad, rows, weight, ignore_index, label_smoothing):
    """(loss, dW, db) of one block (or its rows rows[0]:rows[1]), reduction "sum", in float64."""
    x, y, sw = block
    if rows is not None:
        s = slice(*rows)
        x, y, sw = x[s], y[s], None if sw is None else sw[s]
    w, b = wb
    a = LinearCrossEntropyArgs(x, w, b, y, weight, sw, "sum", ignore_index, label_smoothing)
    loss, dw, db = _native.LinearProblem(a)(a.w, a.b, grad)
    return float(loss), _float64(dw), _float64(db)


def _block_moments(block):
    """Moments.sums of a block's rows: (sum of |s_i|, sum of |s_i| x_i, sum of |s_i| x_i^2)."""
    x, _, sw = block
    return Moments.sums(x, sw)


class DaskLinearProblem:
    """The summed linear cross-entropy of data on a Dask cluster, for one or many (W, b): the
    distributed counterpart of pysoftmax._native.LinearProblem, for training.

    X is a dask array (N, d) chunked by rows only (ValueError otherwise: rechunk it with
    ``X.rechunk({1: -1})``); y (N,) class indices or (N, K) probabilities and sample_weight
    (N,) (optional) are rechunked to X's row chunks (they are small next to X). At
    construction each block (X rows in the computing dtype, float32 or float64 as
    linear_cross_entropy computes X's dtype, with its y and sample weights) is persisted as
    one piece on the worker that computes it, and stays there until the problem is deleted.

    ``problem(w, b, grad=True)`` returns (loss, dw, db) as LinearProblem: the loss summed over
    all rows (reduction "sum", times the sample weights) and its gradients in the computing
    dtype (db None when b is None; (loss, None, None) with grad=False). W and b are rounded to
    the computing dtype and sent once per call (one key of the graph, which each worker
    fetches once, a replacement of a lost worker too); each block's loss and gradient are
    computed where it lives by the fused kernel; the blocks' float64 partial sums are added
    in a fixed tree (_tree): the result depends on the row chunks, never on the scheduling
    or the number of workers (given workers with the same instruction set). Only (loss, dW,
    db) reach this process. Errors found in the data (labels out of range, at a position
    within a block) are raised by the call.

    `weight`, `ignore_index` and `label_smoothing` are linear_cross_entropy's. `scheduler`:
    None for the distributed Client dask would use (the current one) or, without one, dask's
    default local scheduler; or a Client, or a local scheduler's name ("threads", "sync").
    """

    def __init__(self, X, y, sample_weight=None, *, weight=None, ignore_index=-100,
                 label_smoothing=0.0, scheduler=None):
        import dask

        X = _as_dask(X, "X")
        if X.ndim != 2:
            raise ValueError(f"X: expected a 2-D array (N, d), got shape {X.shape}")
        if len(X.chunks[1]) > 1:
            raise ValueError(f"X: chunked along the features (chunks {X.chunks[1]}); each block "
                             f"must hold whole rows: X.rechunk({{1: -1}}) (then chunks of rows "
                             f"sized for it)")
        self.dtype = _dtypes(X.dtype, "X")[0]
        self.n, self.d = X.shape
        rows = X.chunks[0]
        y = _aligned(y, rows, "y", (1, 2))
        sw = None if sample_weight is None else _aligned(sample_weight, rows, "sample_weight",
                                                         (1,))
        keep = [i for i, n in enumerate(rows) if n]   # an empty block contributes nothing
        if not keep:
            raise ValueError(f"X: no rows (shape {X.shape})")
        self.rows = tuple(rows[i] for i in keep)
        self._target = (y.dtype, y.shape[1:])
        self._sw_dtype = None if sw is None else sw.dtype
        self._options = {"weight": weight, "ignore_index": ignore_index,
                         "label_smoothing": label_smoothing}
        self._scheduler = _Scheduler(scheduler)
        pack = dask.delayed(_pack, pure=False)
        xs, ys, sws = _blocks(X, len(rows)), _blocks(y, len(rows)), _blocks(sw, len(rows))
        self._blocks = self._scheduler.persist([pack(xs[i], ys[i], sws[i], self.dtype)
                                                for i in keep])

    @property
    def n_blocks(self):
        return len(self._blocks)

    def _check(self, w, b):
        """W and b in the computing dtype, checked with linear_cross_entropy's rules."""
        w = np.ascontiguousarray(w, dtype=self.dtype)
        b = None if b is None else np.ascontiguousarray(b, dtype=self.dtype)
        tdt, tshape = self._target
        sw = None if self._sw_dtype is None else _proxy((1,), self._sw_dtype)
        LinearCrossEntropyArgs(_proxy((1, self.d), self.dtype), w, b, _proxy((1,) + tshape, tdt),
                               self._options["weight"], sw, "sum", self._options["ignore_index"],
                               self._options["label_smoothing"])
        return w, b

    def _graph(self, pieces, w, b, grad):
        """The delayed (loss, dW, db) of pieces [(block index, rows or None)]: what a call
        sends (W and b, or their future, and the keys of the blocks)."""
        import dask

        w, b = self._check(w, b)
        wb = self._scheduler.send((w, b), len(pieces))
        leaf = dask.delayed(_block_sums, pure=False)
        return _tree([leaf(self._blocks[i], wb, grad, rows, **self._options)
                      for i, rows in pieces], _add)

    def _sums(self, pieces, w, b, grad):
        loss, dw, db = self._scheduler.compute(self._graph(pieces, w, b, grad))
        if not grad:
            return loss, None, None
        return loss, dw.astype(self.dtype), None if db is None else db.astype(self.dtype)

    def __call__(self, w, b, grad=True):
        return self._sums([(i, None) for i in range(self.n_blocks)], w, b, grad)

    def moments(self):
        """(weight, mean, var): the weighted moments of X's features as the estimator's
        Moments.of defines them (total weight, means and variances under the absolute sample
        weights, float64), from one pass over the blocks where they live, the sums added in the
        fixed tree; ``Moments(*problem.moments())`` is the estimator's object."""
        import dask

        part = dask.delayed(_block_moments, pure=False)
        m = Moments.from_sums(*self._scheduler.compute(
            _tree([part(block) for block in self._blocks], _add)))
        return m.weight, m.mean, m.var

    def batches(self, random_state=None, batch_size=None):
        """An iterator over the minibatches of one epoch, in an order drawn (at this call) from
        `random_state` (a seed, a numpy Generator or RandomState): every block, or with
        `batch_size` every run of at most that many consecutive rows within a block, once. Each
        batch has `n_rows` and is called as the problem, ``batch(w, b, grad=True)`` -> (loss,
        dW, db) over its rows, computed where its block lives."""
        rng = (random_state if hasattr(random_state, "permutation")
               else np.random.default_rng(random_state))
        if batch_size is None:
            pieces = [(i, (0, n)) for i, n in enumerate(self.rows)]
        else:
            size = operator.index(batch_size)
            if size < 1:
                raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
            pieces = [(i, (s, min(n, s + size))) for i, n in enumerate(self.rows)
                      for s in range(0, n, size)]
        return iter([_Batch(self, *pieces[int(j)]) for j in rng.permutation(len(pieces))])


class _Batch:
    """Rows start:stop of one block of a DaskLinearProblem, called as the problem is."""

    def __init__(self, problem, block, rows):
        self.problem, self.block, self.rows = problem, block, rows
        self.n_rows = rows[1] - rows[0]

    def __call__(self, w, b, grad=True):
        whole = self.n_rows == self.problem.rows[self.block]
        return self.problem._sums([(self.block, None if whole else self.rows)], w, b, grad)


def _block_classes(y, sw):
    u, inverse = np.unique(y, return_inverse=True)
    return u, np.bincount(inverse.ravel(), weights=sw, minlength=len(u))


def _merge_classes(a, b):
    u = np.union1d(a[0], b[0])
    counts = np.zeros(len(u), dtype=np.result_type(a[1], b[1]))
    for labels, c in (a, b):
        counts[np.searchsorted(u, labels)] += c
    return u, counts


def classes(y, sample_weight=None, *, return_counts=False, scheduler=None):
    """The sorted distinct labels of the dask array y in one pass over its blocks (where they
    live), and with return_counts their counts (int64) or, with sample_weight, the sums of
    their sample weights (float64): what class_weight="balanced" needs."""
    import dask

    y = _as_dask(y, "y")
    if y.ndim != 1:
        raise ValueError(f"y: expected a 1-D array of labels, got shape {y.shape}")
    sw = (None if sample_weight is None
          else _aligned(sample_weight, y.chunks[0], "sample_weight", (1,), "y"))
    sws = _blocks(sw, len(y.chunks[0]))
    part = dask.delayed(_block_classes, pure=False)
    u, counts = _Scheduler(scheduler).compute(
        _tree([part(yb, swb) for yb, swb in zip(y.to_delayed().ravel(), sws)], _merge_classes))
    return (u, counts) if return_counts else u


def _encode_block(y, classes):
    codes = np.searchsorted(classes, y)
    found = codes < len(classes)
    found[found] = classes[codes[found]] == y[found]
    if not found.all():
        raise ValueError(f"y: label {y[~found].tolist()[0]!r} is not one of the classes "
                         f"{classes.tolist()[:10]!r}")
    return codes.astype(np.int64)


def encode_labels(y, classes):
    """The class codes (int64, lazily, block by block) of the labels y in the sorted `classes`
    (:func:`classes`); a label not among them raises ValueError at compute()."""
    y = _as_dask(y, "y")
    classes = np.asarray(classes)
    return y.map_blocks(_encode_block, classes, dtype=np.int64, meta=_meta(y.ndim, np.int64))
