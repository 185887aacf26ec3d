"""The native backend: NumPy arguments arranged into row views for pysoftmax._core.

Every function brings the reduced axes to the end and looks for an (n, k) view with
contiguous rows; only when none exists (Fortran order along the reduced axis, or a
non-contiguous reduction) is the input copied. Results are written straight into `out`
whenever its layout allows. No maths happens here; linear_cross_entropy and its drivers live in
pysoftmax._linear. Both find their row views with pysoftmax._layout.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._common import (
    CrossEntropyArgs,
    as_input,
    broadcast_where,
    check_out,
    check_temperature,
    cross_entropy_functions,
    entropy_function,
    normalize_axes,
    one_hot,
    reduced_shape,
)
from ._layout import as_rows as _as_rows
from ._layout import rows as _rows
from ._linear import (  # noqa: F401
    LinearProblem,
    linear_cross_entropy,
    single_threaded_blas,
)

__all__ = ["softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_with_grad",
           "one_hot", "entropy", "linear_cross_entropy"]


def _same_view(a, b):
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.strides == b.strides and a.shape == b.shape)


def _moved(a, axes, dest):
    """`a` with `axes` moved to `dest` (no call when they are already there: the common case)."""
    return a if axes == dest else np.moveaxis(a, axes, dest)


def _prepare(x, axis, where):
    """Checked inputs: x (float32/float64), result dtype, axes, rows of x and of the mask."""
    x, rdt = as_input(x)
    axes = normalize_axes(axis, x.ndim)
    reduced_shape(x.shape, axes)  # rejects an empty reduction
    mask = broadcast_where(where, x.shape)
    dest = tuple(range(x.ndim - len(axes), x.ndim))
    xm = _moved(x, axes, dest)
    xr = _rows(xm, len(axes))
    mr = None if mask is None else _rows(_moved(mask, axes, dest), len(axes))
    return x, rdt, axes, dest, xm, xr, mr


def _output_rows(out, axes, dest, xr, dtype, moved_shape):
    """Where a kernel writes: (rows of `out` or of a new array, x rows to read, new array).

    `out`'s own rows when its layout allows (reading a copy of x if the two overlap other
    than element for element); otherwise a new C-ordered array, returned third.
    """
    if out is not None and out.dtype == dtype:
        orows = _as_rows(_moved(out, axes, dest), len(axes))
        if orows is not None:
            if np.may_share_memory(orows, xr) and not _same_view(orows, xr):
                xr = xr.copy()
            return orows, xr, None
    res = np.empty(moved_shape, dtype=dtype)
    return res.reshape(xr.shape), xr, res


def _finish(res, out, axes, dest, rdt):
    """The result: `out` (filled from `res` unless the kernel wrote it), or `res` as rdt."""
    if res is None:
        return out
    res = _moved(res, dest, axes)
    if out is not None:
        np.copyto(out, res, casting="unsafe")
        return out
    return res.astype(rdt, copy=False)


def _softmax(x, axis, temperature, where, out, log):
    x, rdt, axes, dest, xm, xr, mr = _prepare(x, axis, where)
    t = check_temperature(temperature)
    if out is not None:
        check_out(out, x.shape, rdt)
    yr, xr, res = _output_rows(out, axes, dest, xr, x.dtype, xm.shape)
    _core.softmax_rows(xr, yr, mr, t, log)
    return _finish(res, out, axes, dest, rdt)


def softmax(x, axis=-1, *, temperature=1.0, where=None, out=None):
    return _softmax(x, axis, temperature, where, out, False)


def log_softmax(x, axis=-1, *, temperature=1.0, where=None, out=None):
    return _softmax(x, axis, temperature, where, out, True)


def logsumexp(x, axis=-1, *, where=None, keepdims=False):
    x, rdt, axes, dest, xm, xr, mr = _prepare(x, axis, where)
    res = np.empty(xr.shape[0], dtype=x.dtype)
    _core.logsumexp_rows(xr, res, mr)
    res = res.reshape(reduced_shape(x.shape, axes, keepdims)).astype(rdt, copy=False)
    return res[()] if res.ndim == 0 else res


def _cross_entropy(logits, target, axis, weight, ignore_index, reduction, label_smoothing, where,
                   out, with_grad):
    a = CrossEntropyArgs(logits, target, axis, weight, ignore_index, reduction, label_smoothing,
                         where)
    if out is not None:
        check_out(out, a.shape, a.rdt)
    xr = _rows(a.x, 1)
    labels = None if a.labels is None else a.labels.reshape(-1)
    probs = None if a.probs is None else _rows(a.probs, 1)
    mr = None if a.mask is None else _rows(a.mask, 1)
    loss = np.empty(xr.shape[0], dtype=np.float64)
    gr = res = None
    axes, dest = (a.axis,), (a.x.ndim - 1,)
    if with_grad:
        gr, xr, res = _output_rows(out, axes, dest, xr, a.x.dtype, a.x.shape)
    _core.cross_entropy_rows(xr, labels, probs, a.weight, mr, loss, gr, a.ignore_index,
                             a.label_smoothing, a.scale())
    value = a.reduce(loss.reshape(a.batch_shape))
    if not with_grad:
        return value
    return value, _finish(res, out, axes, dest, a.rdt)


cross_entropy, cross_entropy_with_grad = cross_entropy_functions(_cross_entropy)
entropy = entropy_function(softmax, log_softmax)
