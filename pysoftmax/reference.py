"""The reference backend: every public function in plain NumPy, written to be read.

Same signatures, argument checks, dtypes and edge-case semantics as the native backend
(both use pysoftmax._common for the checks), computed the textbook way in the working
dtype (float32 stays float32, as a NumPy user would write it):

    m = max(z)                 over the reduced axes, z = x / temperature
    softmax(z)     = exp(z - m) / sum(exp(z - m))
    log_softmax(z) = (z - m) - log(sum(exp(z - m)))
    logsumexp(x)   = m + log(sum(exp(x - m)))

The native kernels are more accurate than this in float32 (they do not round z - m before
exp); the tests measure both against float64 and long-double computations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._common import (
    CrossEntropyArgs,
    LinearCrossEntropyArgs,
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

if TYPE_CHECKING:
    from typing import SupportsIndex

    from numpy.typing import ArrayLike, NDArray

    from ._common import Axis, FloatArray, LinearResult, Reduced, Reduction

__all__ = ["softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_with_grad",
           "one_hot", "entropy", "linear_cross_entropy"]


def _prepare(x: ArrayLike, axis: Axis, where: ArrayLike | None
             ) -> tuple[FloatArray, np.dtype, tuple[int, ...], NDArray[np.bool_] | None]:
    x, rdt = as_input(x)
    axes = normalize_axes(axis, x.ndim)
    reduced_shape(x.shape, axes)  # rejects an empty reduction
    return x, rdt, axes, broadcast_where(where, x.shape)


def _shifted(x, axes, mask, temperature=1.0):
    """The pieces every function shares, per slice along `axes` (kept as length-1 axes).

    Returns (d, e, m, s, state): d = (x - m) / temperature (-inf on masked-out entries),
    e = exp(d), the maximum m of the included x (NaN if one is NaN), s = sum(e), and state:
    "ok", or "nan" for a slice with an included NaN or whose maximum is +inf or -inf, or
    "empty" for a slice with nothing included.
    """
    z = x if mask is None else np.where(mask, x, x.dtype.type(-np.inf))
    m = np.max(z, axis=axes, keepdims=True)              # np.max propagates NaN
    state = np.where(np.isfinite(m), "ok", "nan")
    if mask is not None:
        state[~np.any(mask, axis=axes, keepdims=True)] = "empty"
    m0 = np.where(state == "ok", m, 0).astype(x.dtype, copy=False)
    if temperature == 1.0:
        d = z - m0
    else:
        # (x - m) / T in float64, then rounded: x / T itself would overflow (or 1 / T) for an
        # extreme T (1e-40 in float32, 1e-320 in float64), where the softmax is still defined
        d = ((z.astype(np.float64) - m0) / temperature).astype(x.dtype)
    e = np.exp(d)
    return d, e, m, np.sum(e, axis=axes, keepdims=True), state


def _softmax(x, axis, temperature, where, out, log):
    x, rdt, axes, mask = _prepare(x, axis, where)
    t = check_temperature(temperature)
    if out is not None:
        check_out(out, x.shape, rdt)
    excluded = -np.inf if log else 0.0
    with np.errstate(all="ignore"):
        d, e, _, s, state = _shifted(x, axes, mask, t)
        y = d - np.log(s) if log else e / s
    # Slices with an included NaN, +inf or only -inf are NaN (as scipy.special); masked-out
    # entries and slices with nothing included get the excluded value.
    if not np.all(state == "ok"):
        y = np.where(state == "ok", y, np.where(state == "empty", excluded, np.nan))
    if mask is not None:
        y = np.where(mask, y, excluded)
    y = y.astype(rdt, copy=False)
    if out is None:
        return y
    out[...] = y
    return out


def softmax(x: ArrayLike, axis: Axis = -1, *, temperature: float = 1.0,
            where: ArrayLike | None = None, out: FloatArray | None = None) -> FloatArray:
    """Softmax of ``x / temperature`` along `axis`, in plain NumPy.

    The reference of :func:`pysoftmax.softmax`: the same arguments, checks, dtypes and
    edge cases, computed as ``exp(z - max(z)) / sum(exp(z - max(z)))`` in the working dtype.

    Parameters
    ----------
    x : array_like
        The logits (float32 and float64 kept, float16 computed in float32, bool and integers
        promoted to float64).
    axis : int, tuple of ints or None, default=-1
        The axis (axes) whose elements form one distribution; None: all of them.
    temperature : float, default=1.0
        T > 0 and finite; the result is softmax(x / T).
    where : array_like of bool, optional
        False entries are left out of the distribution and get 0.
    out : ndarray, optional
        Receives the result (x's shape and the result's dtype).

    Returns
    -------
    ndarray
        The probabilities, of x's shape; `out` when given.

    Raises
    ------
    TypeError
        For the inputs :func:`pysoftmax.softmax` rejects with TypeError (unsupported dtypes).
    ValueError
        For the inputs :func:`pysoftmax.softmax` rejects with ValueError.

    See Also
    --------
    pysoftmax.softmax : The native version, with the details of every argument.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> x = np.random.default_rng(0).standard_normal((3, 5))
    >>> np.allclose(ps.reference.softmax(x), ps.softmax(x))
    True
    """
    return _softmax(x, axis, temperature, where, out, log=False)


def log_softmax(x: ArrayLike, axis: Axis = -1, *, temperature: float = 1.0,
                where: ArrayLike | None = None, out: FloatArray | None = None) -> FloatArray:
    """Logarithm of the softmax of ``x / temperature`` along `axis`, in plain NumPy.

    The reference of :func:`pysoftmax.log_softmax`, computed as
    ``(z - max(z)) - log(sum(exp(z - max(z))))`` in the working dtype.

    Parameters
    ----------
    x : array_like
        The logits, as in :func:`pysoftmax.log_softmax`.
    axis : int, tuple of ints or None, default=-1
        The axis (axes) whose elements form one distribution; None: all of them.
    temperature : float, default=1.0
        T > 0 and finite.
    where : array_like of bool, optional
        False entries are left out of the distribution and get -inf.
    out : ndarray, optional
        Receives the result (x's shape and the result's dtype).

    Returns
    -------
    ndarray
        The log-probabilities, of x's shape; `out` when given.

    Raises
    ------
    TypeError
        For the inputs :func:`pysoftmax.log_softmax` rejects with TypeError.
    ValueError
        For the inputs :func:`pysoftmax.log_softmax` rejects with ValueError.

    See Also
    --------
    pysoftmax.log_softmax : The native version, with the details of every argument.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> x = np.random.default_rng(0).standard_normal((3, 5))
    >>> np.allclose(ps.reference.log_softmax(x), ps.log_softmax(x))
    True
    """
    return _softmax(x, axis, temperature, where, out, log=True)


def logsumexp(x: ArrayLike, axis: Axis = -1, *, where: ArrayLike | None = None,
              keepdims: bool = False) -> Reduced:
    """Logarithm of the sum of the exponentials of `x` along `axis`, in plain NumPy.

    The reference of :func:`pysoftmax.logsumexp`, computed as ``m + log(sum(exp(x - m)))`` with
    m the slice's maximum.

    Parameters
    ----------
    x : array_like
        The input, as in :func:`pysoftmax.logsumexp`.
    axis : int, tuple of ints or None, default=-1
        The axis (axes) summed over; None: all of them.
    where : array_like of bool, optional
        Only the True entries are summed.
    keepdims : bool, default=False
        Keep the reduced axes as dimensions of size 1.

    Returns
    -------
    ndarray or numpy.floating
        One value per slice; a NumPy scalar for a full reduction.

    Raises
    ------
    TypeError
        For the inputs :func:`pysoftmax.logsumexp` rejects with TypeError.
    ValueError
        For the inputs :func:`pysoftmax.logsumexp` rejects with ValueError.

    See Also
    --------
    pysoftmax.logsumexp : The native version, with the details of every argument.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> x = np.random.default_rng(0).standard_normal((3, 5))
    >>> np.allclose(ps.reference.logsumexp(x), ps.logsumexp(x))
    True
    """
    x, rdt, axes, mask = _prepare(x, axis, where)
    with np.errstate(all="ignore"):
        _, _, m, s, state = _shifted(x, axes, mask)
        r = m + np.log(s)
    # A slice holding NaN gives NaN; one holding +inf (no NaN) +inf, one of only -inf -inf:
    # both are its maximum.
    r = np.select([state == "empty", state == "nan"], [-np.inf, m], r).astype(rdt, copy=False)
    if not keepdims:
        r = r.reshape(reduced_shape(x.shape, axes))
    return r[()] if r.ndim == 0 else r


# ---- cross-entropy ------------------------------------------------------------------------

def _times(c, minus_lp):
    """c * (-log p) in float64, 0 where c is 0: a class with no target weight adds nothing,
    even on a -inf logit (where -log p is inf); positive weight there makes the loss inf."""
    return np.where(c != 0, c.astype(np.float64) * minus_lp, 0.0)


def _cross_entropy(logits, target, axis, weight, ignore_index, reduction, label_smoothing,
                   where, out, with_grad):
    """The formulas of csrc/kernels.h, with the class axis last and e = label_smoothing:

    class indices y:  loss = a (1 - e) w[y] (-log p_y) + a e / K' sum_j w_j (-log p_j)
                      grad = a (1 - e) w[y] (p - onehot(y)) + a e / K' (p sum_j w_j - w)
    probabilities t:  t' = (1 - e) t + e / K',  loss = a sum_j w_j t'_j (-log p_j),
                      grad = a (p sum_j w_j t'_j - w t')
    with p = softmax over the included classes, K' their number, and a the reduction's
    scale (CrossEntropyArgs.scale). Excluded classes and uncounted rows get 0.
    """
    a = CrossEntropyArgs(logits, target, axis, weight, ignore_index, reduction, label_smoothing,
                         where)
    if out is not None:
        check_out(out, a.shape, a.rdt)
    x, dt = a.x, a.x.dtype
    k, e = a.k, a.label_smoothing
    scale = a.scale()
    mask = np.ones(x.shape, dtype=bool) if a.mask is None else a.mask
    w = np.ones(k, dtype=dt) if a.weight is None else a.weight
    counted = a.counted[..., None]
    with np.errstate(all="ignore"):
        lp = log_softmax(x, axis=-1, where=mask)             # -inf where excluded
        p = np.exp(lp)                                       # 0 where excluded
        # -log p, 0 where excluded, in float64 (as the kernels sum the loss): a float32 row
        # may spread beyond FLT_MAX while its loss does not
        lp64 = log_softmax(x.astype(np.float64), axis=-1, where=mask)
        minus_lp = np.where(mask, -lp64, 0)
        k_in = np.count_nonzero(mask, axis=-1, keepdims=True).astype(dt)
        if a.labels is not None:
            y = np.where(a.counted, a.labels, 0)[..., None]
            wy = w[y]
            onehot = np.arange(k) == y
            nll = np.take_along_axis(minus_lp, y, axis=-1)
            loss = scale * (1 - e) * wy * nll
            grad = scale * (1 - e) * wy * (p - onehot)
            if e > 0:
                w_in = np.where(mask, w, 0).astype(dt)
                smooth = scale * e / k_in
                loss = loss + smooth * np.sum(_times(w_in, minus_lp), axis=-1, keepdims=True)
                grad = grad + smooth * (p * w_in.sum(-1, keepdims=True) - w_in)
        else:
            t = np.where(mask, (1 - e) * a.probs + e / k_in, 0).astype(dt)
            wt = w * t
            loss = scale * np.sum(_times(wt, minus_lp), axis=-1, keepdims=True)
            grad = scale * (p * wt.sum(-1, keepdims=True) - wt)
    value = a.reduce(np.where(counted, loss, 0)[..., 0])
    if not with_grad:
        return value
    grad = np.moveaxis(np.where(counted & mask, grad, 0), -1, a.axis).astype(a.rdt, copy=False)
    if out is None:
        return value, grad
    out[...] = grad
    return value, out


cross_entropy, cross_entropy_with_grad = cross_entropy_functions(_cross_entropy)
entropy = entropy_function(softmax, log_softmax)

cross_entropy.__doc__ = """Cross-entropy between softmax(logits) and `target`, in plain NumPy.

    The reference of :func:`pysoftmax.cross_entropy`: log_softmax over the included classes,
    then the formulas of the native kernels (weights, label smoothing, the reduction's scale).

    Parameters
    ----------
    logits : array_like
        Scores with the classes along `axis`.
    target : array_like
        Class indices (integer; the logits' shape without the class axis) or class
        probabilities (floating; the logits' shape).
    axis : int, default=-1
        The class axis of `logits`.
    weight : array_like, optional
        One weight per class (K,).
    ignore_index : int, default=-100
        Class-index targets equal to it contribute nothing.
    reduction : {"mean", "sum", "none"}, default="mean"
        As in :func:`pysoftmax.cross_entropy`.
    label_smoothing : float, default=0.0
        In [0, 1], as in :func:`pysoftmax.cross_entropy`.
    where : array_like of bool, optional
        Masked-out classes leave the normaliser and the target.

    Returns
    -------
    float or ndarray
        A float for "mean" and "sum", the per-example losses for "none".

    Raises
    ------
    IndexError
        If a class index is out of range (and not `ignore_index`).
    ValueError
        For the inputs :func:`pysoftmax.cross_entropy` rejects with ValueError.
    TypeError
        For the inputs :func:`pysoftmax.cross_entropy` rejects with TypeError.

    See Also
    --------
    pysoftmax.cross_entropy : The native version, with the details of every argument.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> logits, y = np.random.default_rng(0).standard_normal((4, 3)), np.array([0, 1, 2, 0])
    >>> bool(np.isclose(ps.reference.cross_entropy(logits, y), ps.cross_entropy(logits, y)))
    True
    """

cross_entropy_with_grad.__doc__ = """Cross-entropy and its gradient, in plain NumPy.

    The reference of :func:`pysoftmax.cross_entropy_with_grad` (the gradient with respect to
    the logits), from the formulas of the native kernels.

    Parameters
    ----------
    logits : array_like
        Scores with the classes along `axis`.
    target : array_like
        Class indices or class probabilities, as in :func:`cross_entropy`.
    axis : int, default=-1
        The class axis of `logits`.
    weight : array_like, optional
        One weight per class (K,).
    ignore_index : int, default=-100
        Class-index targets equal to it contribute nothing.
    reduction : {"mean", "sum", "none"}, default="mean"
        As in :func:`pysoftmax.cross_entropy` ("none": the gradient of the sum).
    label_smoothing : float, default=0.0
        In [0, 1].
    where : array_like of bool, optional
        Masked-out classes; their gradient is 0.
    out : ndarray, optional
        Receives the gradient (the logits' shape and result dtype); it may be `logits`.

    Returns
    -------
    loss : float or ndarray
        As returned by :func:`cross_entropy`.
    grad : ndarray
        The gradient of `loss` with respect to the logits; `out` when given.

    Raises
    ------
    IndexError
        If a class index is out of range (and not `ignore_index`).
    ValueError
        For the inputs :func:`pysoftmax.cross_entropy_with_grad` rejects with ValueError.
    TypeError
        For the inputs :func:`pysoftmax.cross_entropy_with_grad` rejects with TypeError.

    See Also
    --------
    pysoftmax.cross_entropy_with_grad : The native version, in one pass over each row.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> logits, y = np.random.default_rng(0).standard_normal((4, 3)), np.array([0, 1, 2, 0])
    >>> loss, grad = ps.reference.cross_entropy_with_grad(logits, y)
    >>> np.allclose(grad, ps.cross_entropy_with_grad(logits, y)[1])
    True
    """

entropy.__doc__ = """Entropy of softmax(logits) along `axis`, in plain NumPy.

    The reference of :func:`pysoftmax.entropy`: ``-sum(p * log_p)`` from this module's
    :func:`softmax` and :func:`log_softmax`, with ``0 * log(0) = 0``.

    Parameters
    ----------
    logits : array_like
        The logits.
    axis : int, tuple of ints or None, default=-1
        The axis (axes) of one distribution; None: all of them.
    base : float, optional
        The logarithm's base (2: bits); None: nats.

    Returns
    -------
    ndarray or numpy.floating
        One value per slice; a NumPy scalar for a full reduction.

    Raises
    ------
    ValueError
        If `base` is not a positive number other than 1, or for the inputs
        :func:`softmax` rejects.

    See Also
    --------
    pysoftmax.entropy : The native version.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> round(float(ps.reference.entropy(np.zeros(4), base=2)), 6)
    2.0
    """


# ---- linear + cross-entropy -----------------------------------------------------------------

def linear_cross_entropy(X: ArrayLike, W: ArrayLike, b: ArrayLike | None, target: ArrayLike, *,
                         weight: ArrayLike | None = None, sample_weight: ArrayLike | None = None,
                         reduction: Reduction = "mean", ignore_index: SupportsIndex = -100,
                         label_smoothing: float = 0.0, return_grad: bool = True) -> LinearResult:
    """Cross-entropy of the logits ``X @ W.T + b`` and its gradients, in plain NumPy.

    The reference of :func:`pysoftmax.linear_cross_entropy`: it forms the logits
    ``Z = X @ W.T + b`` in full, then, with s the sample weights (1 when absent) and a the
    reduction's scale, ``loss_i = a s_i CE_i(Z_i)``, ``G_i = a s_i dCE_i/dZ_i``,
    ``dW = G.T @ X`` and ``db = sum_i G_i``. X may be a scipy.sparse matrix.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix, shape (N, d)
        One example per row.
    W : array_like, shape (K, d)
        One row of weights per class.
    b : array_like, shape (K,), or None
        One bias per class; None: no bias (and no db).
    target : array_like
        Class indices (N,) or class probabilities (N, K).
    weight : array_like, shape (K,), optional
        One weight per class.
    sample_weight : array_like, shape (N,), optional
        Multiplies each example's loss and gradient.
    reduction : {"mean", "sum", "none"}, default="mean"
        As in :func:`pysoftmax.cross_entropy`.
    ignore_index : int, default=-100
        As in :func:`pysoftmax.cross_entropy`.
    label_smoothing : float, default=0.0
        As in :func:`pysoftmax.cross_entropy`.
    return_grad : bool, default=True
        False: return the loss only.

    Returns
    -------
    loss : float or ndarray
        The loss (per example for "none"); returned alone when `return_grad` is False.
    dW : ndarray, shape (K, d)
        The gradient with respect to W.
    db : ndarray, shape (K,), or None
        The gradient with respect to b; None when `b` is None.

    Raises
    ------
    ValueError
        For the inputs :func:`pysoftmax.linear_cross_entropy` rejects with ValueError.
    IndexError
        If a class index is out of range (and not `ignore_index`).
    TypeError
        For the inputs :func:`pysoftmax.linear_cross_entropy` rejects with TypeError.

    See Also
    --------
    pysoftmax.linear_cross_entropy : The native version, which never forms the logits.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> rng = np.random.default_rng(0)
    >>> X, W, y = rng.standard_normal((6, 4)), rng.standard_normal((3, 4)), np.arange(6) % 3
    >>> ref = ps.reference.linear_cross_entropy(X, W, None, y)
    >>> nat = ps.linear_cross_entropy(X, W, None, y)
    >>> bool(np.isclose(ref[0], nat[0])), bool(np.allclose(ref[1], nat[1])), ref[2] is None
    (True, True, True)
    """
    a = LinearCrossEntropyArgs(X, W, b, target, weight, sample_weight, reduction, ignore_index,
                               label_smoothing)
    ce = a.ce
    z = a.x @ a.w.T
    if a.b is not None:
        z = z + a.b
    t = ce.labels if ce.labels is not None else ce.probs
    row_loss, g = cross_entropy_with_grad(z, t, weight=ce.weight, ignore_index=ce.ignore_index,
                                          reduction="none", label_smoothing=ce.label_smoothing)
    f = np.full(a.n, a.scale()) if a.sample_weight is None else a.scale() * a.sample_weight
    row_loss = row_loss.astype(np.float64) * f
    g = g * f[:, None].astype(a.dtype)
    dw = g.T @ a.x
    db = None if a.b is None else g.sum(axis=0)
    return a.result(row_loss, dw, db, return_grad)
