"""Row views: an (n, k) view with unit-stride rows of any array whose last axes are reduced,
without a copy whenever one exists. Shared by the native backend's functions (pysoftmax._native)
and its linear drivers (pysoftmax._linear)."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided


def _merged_stride(shape, strides):
    """Stride of a 1-D view walking `shape` in C order, or None if no such view exists."""
    dims = [(n, s) for n, s in zip(shape, strides) if n != 1]
    for (_, s0), (n1, s1) in zip(dims, dims[1:]):
        if s0 != s1 * n1:
            return None
    return dims[-1][1] if dims else 0


def as_rows(a, nred):
    """An (n, k) view of `a`, whose last `nred` axes are reduced, with unit-stride rows; or None
    (also when `a`'s data is not aligned to its itemsize: the kernels read aligned elements)."""
    if not a.flags.aligned:
        return None
    lead = a.ndim - nred
    n, k = math.prod(a.shape[:lead]), math.prod(a.shape[lead:])
    if a.flags.c_contiguous:
        return a.reshape(n, k)
    sn = _merged_stride(a.shape[:lead], a.strides[:lead])
    sk = _merged_stride(a.shape[lead:], a.strides[lead:])
    if sn is None or sk is None or (k > 1 and sk != a.itemsize) or sn % a.itemsize:
        return None
    return as_strided(a, (n, k), (sn if n > 1 else k * a.itemsize, a.itemsize))


def rows(a, nred):
    """as_rows, or the rows of a C-contiguous (aligned) copy when no view exists."""
    r = as_rows(a, nred)
    if r is None:
        k = math.prod(a.shape[a.ndim - nred:])
        r = np.array(a, order="C").reshape(-1, k)
    return r
