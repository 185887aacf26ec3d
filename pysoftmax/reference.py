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

    Returns (d, e, m, s, state): d = z - m (-inf on masked-out entries), e = exp(d), the
    maximum m of the included z (NaN if one is NaN), s = sum(e), and state: "ok", or "nan"
    for a slice with an included NaN or whose maximum is +inf or -inf, or "empty" for a
    slice with nothing included.
    """
    z = x / x.dtype.type(temperature) if temperature != 1.0 else x
    if mask is not None:
        z = np.where(mask, z, x.dtype.type(-np.inf))
    m = np.max(z, axis=axes, keepdims=True)              # np.max propagates NaN
    state = np.where(np.isfinite(m), "ok", "nan")
    if mask is not None:
        state[~np.any(mask, axis=axes, keepdims=True)] = "empty"
    d = z - np.where(state == "ok", m, 0).astype(x.dtype, copy=False)
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
    """Softmax of `x / temperature` along `axis` (see pysoftmax.softmax)."""
    return _softmax(x, axis, temperature, where, out, log=False)


def log_softmax(x: ArrayLike, axis: Axis = -1, *, temperature: float = 1.0,
                where: ArrayLike | None = None, out: FloatArray | None = None) -> FloatArray:
    """Logarithm of softmax, from the logits (see pysoftmax.log_softmax)."""
    return _softmax(x, axis, temperature, where, out, log=True)


def logsumexp(x: ArrayLike, axis: Axis = -1, *, where: ArrayLike | None = None,
              keepdims: bool = False) -> Reduced:
    """log(sum(exp(x))) along `axis` (see pysoftmax.logsumexp)."""
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
        minus_lp = np.where(mask, -lp, 0).astype(dt)         # -log p, 0 where excluded
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
                loss = loss + smooth * np.sum(w_in * minus_lp, axis=-1, keepdims=True)
                grad = grad + smooth * (p * w_in.sum(-1, keepdims=True) - w_in)
        else:
            t = np.where(mask, (1 - e) * a.probs + e / k_in, 0).astype(dt)
            wt = w * t
            loss = scale * np.sum(wt * minus_lp, axis=-1, keepdims=True)
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


# ---- linear + cross-entropy -----------------------------------------------------------------

def linear_cross_entropy(X: ArrayLike, W: ArrayLike, b: ArrayLike | None, target: ArrayLike, *,
                         weight: ArrayLike | None = None, sample_weight: ArrayLike | None = None,
                         reduction: Reduction = "mean", ignore_index: SupportsIndex = -100,
                         label_smoothing: float = 0.0, return_grad: bool = True) -> LinearResult:
    """The logits Z = X W^T + b in full, then, with s = sample_weight (1 when absent) and
    a = the reduction's scale (LinearCrossEntropyArgs.scale):

        loss_i = a s_i CE_i(Z_i)        G_i = a s_i d CE_i / d Z_i      (CE_i as cross_entropy)
        dW = G^T X                      db = sum_i G_i
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
