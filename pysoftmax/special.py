"""Drop-in replacements for scipy.special's softmax, log_softmax and logsumexp (native kernels).

``from pysoftmax.special import softmax, log_softmax, logsumexp`` replaces the same import
from scipy.special: the same signatures, the same default (``axis=None``: all elements form
one distribution), NumPy scalars for 0-d results, the same dtypes and the same handling of
inf, nan, empty inputs and weights. pysoftmax's top-level functions keep ``axis=-1``.

The differences, most of them where scipy's fallback to the plain sum (for non-finite
results) breaks scipy's documented rules:

- Real input only: complex and extended-precision arrays raise TypeError.
- softmax and log_softmax convert integers to float64 before subtracting the maximum, and
  accept bool (scipy subtracts in the integer dtype: float16 results for 8-bit integers,
  wrap-around for unsigned ones; TypeError for bool).
- logsumexp: an entry whose weight is 0 never contributes, even when it is inf or nan (scipy
  returns nan for some of these, e.g. ``a=[inf, inf], b=[1, 0]``).
- logsumexp: a negative sum is always nan without return_sign (scipy: inf or -inf when the
  plain sum overflows or underflows), and when the weights of the largest terms cancel the
  result is the log of the rest (scipy: nan once the plain sum overflows, e.g.
  ``a=[1000, 1000, 999], b=[1, -1, 1]``, which gives 999 here).
- logsumexp of an empty reduction is -inf with sign 0, the sign of the empty sum (scipy: sign
  -1, and IndexError for some reductions over several axes).
"""

from __future__ import annotations

import operator

import numpy as np

from . import _native
from ._common import normalize_axes

__all__ = ["softmax", "log_softmax", "logsumexp"]

_LN2 = float(np.log(2.0))


def _real(x, name):
    """`x` as an array of real numbers; complex and other dtypes raise TypeError."""
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name}: complex input (dtype {arr.dtype}) is not supported; "
                        f"pysoftmax.special computes real input only")
    if arr.dtype.kind not in "biuf" or arr.dtype.itemsize > 8:
        raise TypeError(f"{name}: dtype {arr.dtype} is not supported; expected real numbers "
                        f"of at most 64 bits (floating, integer or bool)")
    return arr


def _scalar(r):
    return r[()] if r.ndim == 0 else r


def _vector_if_scalar(x, axis):
    """A 0-d `x` as a 1-element vector when NumPy's reductions accept `axis` for it (None, (),
    0 or -1); otherwise `x` unchanged (and the axis check reports the error)."""
    if x.ndim != 0:
        return x
    if axis is None or axis == ():
        return x.reshape(1)
    try:
        index = operator.index(axis)
    except TypeError:
        return x
    return x.reshape(1) if index in (0, -1) else x


def softmax(x, axis=None):
    """Softmax of `x` over `axis`, as ``scipy.special.softmax``.

    Computes ``exp(x) / sum(exp(x))`` over `axis` with pysoftmax's native kernels. Unlike
    :func:`pysoftmax.softmax`, the default ``axis=None`` makes all elements one distribution.

    Parameters
    ----------
    x : array_like
        Real input. float32, float64 and float16 keep their dtype; integers and bool give
        float64.
    axis : int, tuple of ints or None, default=None
        The axis (axes) whose elements form one distribution; None: all of them.

    Returns
    -------
    ndarray or numpy.floating
        The probabilities, of x's shape; a NumPy scalar for a 0-d `x`.

    Raises
    ------
    TypeError
        If `x` is complex or of another non-real dtype, or of more than 64 bits.
    ValueError
        If a slice is empty (a reduced axis of length 0).
    numpy.exceptions.AxisError
        If an axis is out of range.

    See Also
    --------
    pysoftmax.softmax : The same with ``axis=-1``, a temperature, a mask and `out`.
    log_softmax : Its logarithm.

    Notes
    -----
    A slice holding nan or +inf, or made only of -inf, gives nan; -inf entries elsewhere get 0.

    Examples
    --------
    >>> import numpy as np
    >>> from pysoftmax.special import softmax
    >>> print(np.round(softmax([[1.0, 2.0], [3.0, 4.0]]), 4))     # all four elements
    [[0.0321 0.0871]
     [0.2369 0.6439]]
    >>> print(np.round(softmax([[1.0, 2.0], [3.0, 4.0]], axis=1), 4))
    [[0.2689 0.7311]
     [0.2689 0.7311]]
    """
    x = _real(x, "x")
    v = _vector_if_scalar(x, axis)
    y = _native.softmax(v, axis)
    return y[0] if v is not x else y    # a 0-d x: a NumPy scalar


def log_softmax(x, axis=None):
    """Logarithm of the softmax of `x` over `axis`, as ``scipy.special.log_softmax``.

    Computed from `x` (``x - logsumexp(x)`` in one pass), so that tiny probabilities keep their
    logarithm instead of -inf. The default ``axis=None`` makes all elements one distribution.

    Parameters
    ----------
    x : array_like
        Real input. float32, float64 and float16 keep their dtype; integers and bool give
        float64.
    axis : int, tuple of ints or None, default=None
        The axis (axes) whose elements form one distribution; None: all of them.

    Returns
    -------
    ndarray or numpy.floating
        The log-probabilities, of x's shape; a NumPy scalar for a 0-d `x`.

    Raises
    ------
    TypeError
        If `x` is complex or of another non-real dtype, or of more than 64 bits.
    ValueError
        If a slice is empty (a reduced axis of length 0).
    numpy.exceptions.AxisError
        If an axis is out of range.

    See Also
    --------
    pysoftmax.log_softmax : The same with ``axis=-1``, a temperature, a mask and `out`.
    softmax : The probabilities.

    Notes
    -----
    -inf entries get -inf; a slice holding nan, or made only of -inf, gives nan; a slice holding
    +inf and no nan gives nan at the +inf entries and -inf at the others (as scipy).

    Examples
    --------
    >>> import numpy as np
    >>> from pysoftmax.special import log_softmax
    >>> print(np.round(log_softmax([1.0, 2.0, 3.0]), 4))
    [-2.4076 -1.4076 -0.4076]
    >>> float(log_softmax([0.0, 1000.0])[0])
    -1000.0
    """
    x = _real(x, "x")
    v = _vector_if_scalar(x, axis)
    y = _native.log_softmax(v, axis)
    if v.size and not v.max() < np.inf:  # the max is +inf or nan: look for +inf slices
        axes = normalize_axes(axis, v.ndim)
        pinf = np.isposinf(v)
        inf_slice = np.any(pinf, axis=axes, keepdims=True)
        inf_slice &= ~np.any(np.isnan(v), axis=axes, keepdims=True)
        np.copyto(y, -np.inf, where=inf_slice & ~pinf)
    return y[0] if v is not x else y


def _promote(a, b):
    """a and b (or None) as arrays of their common floating dtype, broadcast together, at
    least 1-d. Python scalars do not raise the dtype (NumPy's rules for them)."""
    arrays = [_real(a, "a"), None if b is None else _real(b, "b")]
    operands = [arr if np.iterable(x) else x
                for x, arr in zip((a, b), arrays) if arr is not None]
    dtype = np.result_type(*operands, 1.0)
    if b is None:
        return np.atleast_1d(arrays[0].astype(dtype, copy=False)), None, dtype
    try:
        a, b = np.broadcast_arrays(arrays[0].astype(dtype, copy=False),
                                   arrays[1].astype(dtype, copy=False))
    except ValueError:
        raise ValueError(f"b: weights of shape {arrays[1].shape} cannot be broadcast with a's "
                         f"shape {arrays[0].shape}") from None
    return np.atleast_1d(a), np.atleast_1d(b), dtype


def _sign_of_lse(out):
    """The sign of the sum whose logarithm is `out` (a sum of non-negative terms)."""
    return np.where(np.isnan(out), np.nan, out > -np.inf).astype(out.dtype)


def _log1mexp(d):
    """log(1 - exp(d)) for d <= 0, accurate for d near 0 and for d very negative."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > -_LN2, np.log(-np.expm1(d)), np.log1p(-np.exp(d)))


def _two_sum(x, y):
    """(s, e) with s + e = x + y exactly, elementwise (Knuth's TwoSum)."""
    s = x + y
    bb = s - x
    return s, (x - (s - bb)) + (y - bb)


def _logsumexp_lo(c, c_lo, axes, where):
    """logsumexp of c + c_lo over `axes` (kept) where `where`, for c_lo within rounding of c:
    the native logsumexp of c plus the first-order term sum(softmax(c) c_lo), so that the
    rounding of c does not show in a result near 0."""
    out = _native.logsumexp(c, axes, where=where, keepdims=True)
    with np.errstate(invalid="ignore", over="ignore"):
        p = np.exp(c - out)
        terms = where & np.isfinite(c_lo) & (p > 0)
        fix = np.sum(p * c_lo, axis=axes, keepdims=True, where=terms)
    return np.where(np.isfinite(out), out + fix, out)


def _weighted(a, b, axes):
    """(log|sum b e^a|, sign of the sum) over `axes`, kept as size-1 dimensions.

    The kernels add the positive and the negative terms separately, each as
    logsumexp(a - shift + log|b|) with shift the slice's largest a of non-zero weight (so
    that log|b| is added to small numbers), the roundings of that sum and difference carried
    to first order (_logsumexp_lo); the two are then subtracted in log space.
    """
    nonzero = b != 0                          # nan weights count, as positive ones
    negative = b < 0
    shift = np.max(a, axis=axes, keepdims=True, where=nonzero, initial=-np.inf)
    shift[~np.isfinite(shift)] = 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d, d_lo = _two_sum(a, -shift)
        c, c_lo = _two_sum(d, np.log(np.abs(b)))
        c_lo += d_lo
    pos = _logsumexp_lo(c, c_lo, axes, nonzero & ~negative)
    if negative.any():
        neg = _logsumexp_lo(c, c_lo, axes, negative)
    else:
        neg = np.full_like(pos, -np.inf)
    hi, lo = np.maximum(pos, neg), np.minimum(pos, neg)   # nan propagates
    with np.errstate(invalid="ignore"):
        sgn = np.sign(pos - neg)
        out = hi + _log1mexp(lo - hi) + shift
    zero = (pos == neg) & (pos < np.inf)      # the two sums are equal, or there are no terms
    out[zero] = -np.inf
    sgn[zero] = 0
    return out, sgn


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """Logarithm of the sum of ``b * exp(a)`` over `axis`, as ``scipy.special.logsumexp``.

    Computed without overflow; weights `b` may be negative (`return_sign` then gives the sum's
    sign). The default ``axis=None`` sums all elements.

    Parameters
    ----------
    a : array_like
        Real input; integers and bool give float64, float32 and float16 are kept.
    axis : int, tuple of ints or None, default=None
        The axis (axes) summed over; None: all of them. A 0-d `a` counts as 1-d.
    b : array_like, optional
        Weights, broadcast with `a` (the result has the shape of the broadcast); they may be
        negative. An entry of weight 0 contributes nothing, even if it is inf or nan.
    keepdims : bool, default=False
        Keep the reduced axes as dimensions of size 1.
    return_sign : bool, default=False
        Also return the sign of the sum. Without it, a negative sum gives nan.

    Returns
    -------
    res : ndarray or numpy.floating
        ``log(abs(sum(b * exp(a))))``; NumPy scalars for 0-d results. The dtype is the common
        floating dtype of `a` and `b` (Python scalars do not raise it).
    sgn : ndarray or numpy.floating
        Only with `return_sign`: the sign of the sum, 1, -1, 0 (the terms cancel exactly, or
        there are none) or nan.

    Raises
    ------
    TypeError
        If `a` or `b` is complex or of another non-real dtype, or of more than 64 bits.
    ValueError
        If `b` cannot be broadcast with `a`, or an axis is repeated.
    numpy.exceptions.AxisError
        If an axis is out of range.

    See Also
    --------
    pysoftmax.logsumexp : The same with ``axis=-1`` and a mask, without weights.
    log_softmax : ``a - logsumexp(a)``, computed in one pass.

    Notes
    -----
    A slice holding nan gives nan, one holding +inf gives +inf (nan if +inf terms of both signs
    meet), one of all -inf or an empty one gives -inf (sign 0).

    Examples
    --------
    >>> import numpy as np
    >>> from pysoftmax.special import logsumexp
    >>> round(float(logsumexp([1000.0, 1000.0])), 6)
    1000.693147
    >>> r, s = logsumexp([1.0, 2.0], b=[1.0, -1.0], return_sign=True)   # log|e - e**2|
    >>> round(float(r), 6), float(s)
    (1.541325, -1.0)
    >>> print(np.round(logsumexp(np.zeros((2, 3)), axis=1), 4))
    [1.0986 1.0986]
    """
    a, b, dtype = _promote(a, b)
    axes = normalize_axes(axis, a.ndim)
    if a.size == 0:
        shape = tuple(1 if i in axes else n for i, n in enumerate(a.shape)
                      if keepdims or i not in axes)
        out, sgn = np.full(shape, -np.inf, dtype=dtype), np.zeros(shape, dtype=dtype)
    elif b is None:
        out = np.asarray(_native.logsumexp(a, axes, keepdims=keepdims))
        sgn = _sign_of_lse(out) if return_sign else None
    else:
        work = np.float32 if dtype == np.float16 else dtype
        out, sgn = _weighted(a.astype(work, copy=False), b.astype(work, copy=False), axes)
        if not keepdims:
            out, sgn = np.squeeze(out, axis=axes), np.squeeze(sgn, axis=axes)
        with np.errstate(over="ignore"):
            out, sgn = out.astype(dtype, copy=False), sgn.astype(dtype, copy=False)
        if not return_sign:
            out[sgn < 0] = np.nan
    if return_sign:
        return _scalar(out), _scalar(sgn)
    return _scalar(out)
