"""The native backend: NumPy arguments arranged into row views for pysoftmax._core.

Every function brings the reduced axes to the end and looks for an (n, k) view with
contiguous rows; only when none exists (Fortran order along the reduced axis, or a
non-contiguous reduction) is the input copied. Results are written straight into `out`
whenever its layout allows. No maths happens here.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _core
from ._common import (as_input, broadcast_where, check_out, check_temperature, normalize_axes,
                      reduced_shape)

__all__ = ["softmax", "log_softmax", "logsumexp"]


def _merged_stride(shape, strides):
    """Stride of a 1-D view walking `shape` in C order, or None if no such view exists."""
    dims = [(n, s) for n, s in zip(shape, strides) if n != 1]
    for (_, s0), (n1, s1) in zip(dims, dims[1:]):
        if s0 != s1 * n1:
            return None
    return dims[-1][1] if dims else 0


def _as_rows(a, nred):
    """An (n, k) view of `a`, whose last `nred` axes are reduced, with unit-stride rows; or None."""
    lead = a.ndim - nred
    n, k = math.prod(a.shape[:lead]), math.prod(a.shape[lead:])
    sn = _merged_stride(a.shape[:lead], a.strides[:lead])
    sk = _merged_stride(a.shape[lead:], a.strides[lead:])
    if sn is None or sk is None or (k > 1 and sk != a.itemsize) or sn % a.itemsize:
        return None
    return as_strided(a, (n, k), (sn if n > 1 else k * a.itemsize, a.itemsize))


def _rows(a, nred):
    """_as_rows, or the rows of a C-contiguous copy when no view exists."""
    r = _as_rows(a, nred)
    if r is None:
        k = math.prod(a.shape[a.ndim - nred:])
        r = np.ascontiguousarray(a).reshape(-1, k)
    return r


def _same_view(a, b):
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.strides == b.strides and a.shape == b.shape)


def _prepare(x, axis, where):
    """Checked inputs: x (float32/float64), result dtype, axes, rows of x and of the mask."""
    x, rdt = as_input(x)
    axes = normalize_axes(axis, x.ndim)
    reduced_shape(x.shape, axes)  # rejects an empty reduction
    mask = broadcast_where(where, x.shape)
    dest = tuple(range(x.ndim - len(axes), x.ndim))
    xm = np.moveaxis(x, axes, dest)
    xr = _rows(xm, len(axes))
    mr = None if mask is None else _rows(np.moveaxis(mask, axes, dest), len(axes))
    return x, rdt, axes, dest, xm, xr, mr


def _softmax(x, axis, temperature, where, out, log):
    x, rdt, axes, dest, xm, xr, mr = _prepare(x, axis, where)
    t = check_temperature(temperature)
    if out is not None:
        check_out(out, x.shape, rdt)
        if out.dtype == x.dtype:
            orows = _as_rows(np.moveaxis(out, axes, dest), len(axes))
            if orows is not None:
                if np.may_share_memory(orows, xr) and not _same_view(orows, xr):
                    xr = xr.copy()  # overlapping but not element-for-element: read a copy
                _core.softmax_rows(xr, orows, mr, t, log)
                return out
    res = np.empty(xm.shape, dtype=x.dtype)
    _core.softmax_rows(xr, res.reshape(xr.shape), mr, t, log)
    res = np.moveaxis(res, dest, axes)
    if out is not None:
        np.copyto(out, res, casting="unsafe")
        return out
    return res.astype(rdt, copy=False)


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
