"""The reference backend: every public function in plain NumPy, written to be read.

Same signatures, argument checks, dtypes and edge-case semantics as the native backend.
The softmax family is computed the textbook way in the working dtype (float32 stays
float32, as a NumPy user would write it):

    m = max(z)                 over the reduced axes, z = x / temperature
    softmax(z)     = exp(z - m) / sum(exp(z - m))
    log_softmax(z) = (z - m) - log(sum(exp(z - m)))
    logsumexp(x)   = m + log(sum(exp(x - m)))

The native kernels are more accurate than this in float32 (they do not round z - m before
exp); the tests measure both against float64 and long-double computations.

The cross-entropy functions compute in float64 from the checked inputs and round only the
results to the result dtype.

What is shared with the native backend, and what is not: both call pysoftmax._common to
check and convert the arguments (as_input, normalize_axes, broadcast_where, check_out,
check_temperature, check_base, and the constructors of CrossEntropyArgs and
LinearCrossEntropyArgs, which validate the target, weights and mask and convert them to the
computing dtype; cross_entropy_functions only forwards the keywords), so that the
two accept and reject the same inputs with the same messages, and compute on the same
rounded weights and probabilities. Nothing this module computes comes from there: which
examples count (ignore_index, fully masked rows), the weights, the label smoothing, the
denominator of "mean", the reductions and the entropy's sum are computed here, so that the
tests comparing the two backends can find a mistake in either.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ._common import (
    CrossEntropyArgs,
    LinearCrossEntropyArgs,
    as_input,
    broadcast_where,
    check_base,
    check_out,
    check_temperature,
    cross_entropy_functions,
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


def _counted(labels, ignore_index, mask):
    """(...) bool: the examples that enter the loss (a label other than `ignore_index`, and at
    least one class left by `mask`)."""
    counted = mask.any(axis=-1)
    if labels is not None:
        counted &= labels != ignore_index
    return counted


def _example_losses(x, labels, probs, w, mask, counted, e):
    """Every example's loss and gradient before the reduction, in float64, class axis last.

    x: (..., K) logits, float64; labels: (...) int64 or None; probs: (..., K) float64 or None;
    w: (K,) class weights, float64; mask: (..., K) bool; counted: (...) bool; e: the label
    smoothing. With p = softmax over the included classes, K' their number:

    class indices y:  loss = (1 - e) w[y] (-log p_y) + e / K' sum_j w_j (-log p_j)
                      grad = (1 - e) w[y] (p - onehot(y)) + e / K' (p sum_j w_j - w)
    probabilities t:  t' = (1 - e) t + e / K',  loss = sum_j w_j t'_j (-log p_j),
                      grad = p sum_j w_j t'_j - w t'

    Excluded classes and uncounted examples get 0. Returns (loss (...), grad (..., K)).
    """
    k = x.shape[-1]
    with np.errstate(all="ignore"):
        lp = log_softmax(x, axis=-1, where=mask)             # -inf where excluded
        p = np.exp(lp)                                       # 0 where excluded
        minus_lp = np.where(mask, -lp, 0.0)                  # -log p, 0 where excluded
        k_in = np.count_nonzero(mask, axis=-1, keepdims=True).astype(np.float64)
        if labels is not None:
            y = np.where(counted, labels, 0)[..., None]
            wy = w[y]
            onehot = np.arange(k) == y
            nll = np.take_along_axis(minus_lp, y, axis=-1)
            loss = (1 - e) * wy * nll
            grad = (1 - e) * wy * (p - onehot)
            if e > 0:
                w_in = np.where(mask, w, 0.0)
                loss = loss + e / k_in * np.sum(_times(w_in, minus_lp), axis=-1, keepdims=True)
                grad = grad + e / k_in * (p * w_in.sum(-1, keepdims=True) - w_in)
        else:
            t = np.where(mask, (1 - e) * probs + e / k_in, 0.0)
            wt = w * t
            loss = np.sum(_times(wt, minus_lp), axis=-1, keepdims=True)
            grad = p * wt.sum(-1, keepdims=True) - wt
    loss = np.where(counted, loss[..., 0], 0.0)
    grad = np.where(counted[..., None] & mask, grad, 0.0)
    return loss, grad


def _mean_denominator(labels, w, counted, f=None):
    """What "mean" divides by: the sum over the counted examples of f_i (1 when None) times the
    class weight of their label (1 for probability targets), in float64."""
    c = np.ones(counted.shape) if f is None else f
    if labels is not None:
        c = c * w[np.where(counted, labels, 0)]
    return float(np.sum(np.where(counted, c, 0.0)))


def _divided(a, denominator, count):
    """a / denominator; a * 0 for a mean over no example (0, NaN kept), NaN for a mean over
    examples whose weights sum to 0 (torch's 0 / 0)."""
    with np.errstate(invalid="ignore", over="ignore"):     # inf / inf, NaN weights: NaN
        if count == 0:
            return a * 0.0
        return a / denominator if denominator else a * math.nan


def _cross_entropy(logits, target, axis, weight, ignore_index, reduction, label_smoothing,
                   where, out, with_grad):
    """The formulas of csrc/kernels.h (see _example_losses) in float64; "mean" divides the
    summed losses and the gradient by the summed class weights of the counted examples (their
    number without class weights or with probability targets), 0 when there are none."""
    a = CrossEntropyArgs(logits, target, axis, weight, ignore_index, reduction, label_smoothing,
                         where)
    if out is not None:
        check_out(out, a.shape, a.rdt)
    x = a.x.astype(np.float64)
    mask = np.ones(x.shape, dtype=bool) if a.mask is None else np.asarray(a.mask)
    w = np.ones(a.k) if a.weight is None else a.weight.astype(np.float64)
    probs = None if a.probs is None else a.probs.astype(np.float64)
    counted = _counted(a.labels, a.ignore_index, mask)
    loss, grad = _example_losses(x, a.labels, probs, w, mask, counted, a.label_smoothing)
    if reduction == "none":
        value = loss.astype(a.rdt)
    elif reduction == "sum":
        value = float(np.sum(loss))
    else:
        denominator, count = _mean_denominator(a.labels, w, counted), np.count_nonzero(counted)
        value = float(_divided(np.sum(loss), denominator, count))
        # the examples that do not count keep a zero gradient, as the excluded classes
        grad = np.where(counted[..., None] & mask, _divided(grad, denominator, count), 0.0)
    if not with_grad:
        return value
    grad = np.moveaxis(grad, -1, a.axis).astype(a.rdt)
    if out is None:
        return value, grad
    out[...] = grad
    return value, out


cross_entropy, cross_entropy_with_grad = cross_entropy_functions(_cross_entropy)


def entropy(logits: ArrayLike, axis: Axis = -1, base: float | None = None) -> Reduced:
    check_base(base)
    p, lp = softmax(logits, axis), log_softmax(logits, axis)
    with np.errstate(invalid="ignore"):
        plogp = np.where(p == 0, 0.0, p.astype(np.float64) * lp)    # 0 log 0 = 0; NaN stays
    h = -np.sum(plogp, axis=axis)
    if base is not None:
        h = h / np.log(float(base))
    h = np.asarray(h).astype(p.dtype)
    return h[()] if h.ndim == 0 else h


cross_entropy.__doc__ = """Cross-entropy between softmax(logits) and `target`, in plain NumPy.

    The reference of :func:`pysoftmax.cross_entropy`: log_softmax over the included classes,
    then the formulas of the native kernels (weights, label smoothing, the mean's
    denominator), in float64.

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
    ``Z = X @ W.T + b`` in full, in float64, then, with s the sample weights (1 when absent)
    and D the denominator of "mean" (the sum over the counted examples of s_i times the class
    weight of their label; D = 1 for "sum" and "none"), ``loss_i = s_i CE_i(Z_i) / D``,
    ``G_i = s_i dCE_i/dZ_i / D``, ``dW = G.T @ X`` and ``db = sum_i G_i``. X may be a
    scipy.sparse matrix.

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
    x = a.x.astype(np.float64)                             # scipy.sparse stays sparse
    z = np.asarray(x @ a.w.astype(np.float64).T)
    if a.b is not None:
        z = z + a.b.astype(np.float64)
    mask = np.ones(z.shape, dtype=bool)
    w = np.ones(a.k) if ce.weight is None else ce.weight.astype(np.float64)
    probs = None if ce.probs is None else ce.probs.astype(np.float64)
    counted = _counted(ce.labels, ce.ignore_index, mask)
    loss, g = _example_losses(z, ce.labels, probs, w, mask, counted, ce.label_smoothing)
    f = np.ones(a.n) if a.sample_weight is None else a.sample_weight.astype(np.float64)
    loss, g = f * loss, f[:, None] * g
    if reduction == "mean":
        denominator, count = _mean_denominator(ce.labels, w, counted, f), np.count_nonzero(counted)
        loss = _divided(loss, denominator, count)
        g = np.where(counted[:, None], _divided(g, denominator, count), 0.0)
    loss = loss.astype(a.rdt) if reduction == "none" else float(np.sum(loss))
    if not return_grad:
        return loss
    dw = np.asarray((x.T @ g).T).astype(a.rdt)
    db = None if a.b is None else g.sum(axis=0).astype(a.rdt)
    return loss, dw, db
