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

import numpy as np

from ._common import (CrossEntropyArgs, as_input, broadcast_where, check_out, check_temperature,
                      entropy_from_log_probs, normalize_axes, one_hot, reduced_shape)

__all__ = ["softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_with_grad",
           "one_hot", "entropy"]


def _prepare(x, axis, where):
    x, rdt = as_input(x)
    axes = normalize_axes(axis, x.ndim)
    reduced_shape(x.shape, axes)  # rejects an empty reduction
    mask = broadcast_where(where, x.shape)
    included = np.ones(x.shape, dtype=bool) if mask is None else mask
    return x, rdt, axes, included


def _shifted(x, axes, included, temperature=1.0):
    """The pieces every function shares, per slice along `axes` (kept as length-1 axes).

    Returns (d, m, s, state): d = z - m on included entries (-inf on excluded ones), the
    maximum m of the included non-NaN z, s = sum(exp(d)), and state, which is "empty" for a
    slice without included entries, "nan" for one with an included NaN, "inf" for one whose
    maximum is +inf or -inf, and "ok" otherwise.
    """
    z = x / x.dtype.type(temperature) if temperature != 1.0 else x
    z = np.where(included, z, -np.inf).astype(x.dtype, copy=False)
    has_any = np.any(included, axis=axes, keepdims=True)
    has_nan = np.any(np.isnan(z), axis=axes, keepdims=True)
    m = np.max(np.where(np.isnan(z), -np.inf, z), axis=axes, keepdims=True)
    state = np.select([~has_any, has_nan, ~np.isfinite(m)], ["empty", "nan", "inf"], "ok")
    m_ok = np.where(state == "ok", m, 0).astype(x.dtype, copy=False)
    d = z - m_ok
    s = np.sum(np.exp(d), axis=axes, keepdims=True)
    return d, m, s, state


def _softmax(x, axis, temperature, where, out, log):
    x, rdt, axes, included = _prepare(x, axis, where)
    t = check_temperature(temperature)
    if out is not None:
        check_out(out, x.shape, rdt)
    with np.errstate(all="ignore"):
        d, _, s, state = _shifted(x, axes, included, t)
        y = d - np.log(s) if log else np.exp(d) / s
    excluded = -np.inf if log else 0.0
    # Slices with an included NaN, +inf or only -inf are NaN (as scipy.special); excluded
    # entries and slices with nothing included get the excluded value.
    y = np.where(state == "ok", y, np.where(state == "empty", excluded, np.nan))
    y = np.where(included, y, excluded).astype(rdt, copy=False)
    if out is None:
        return y
    out[...] = y
    return out


def softmax(x, axis=-1, *, temperature=1.0, where=None, out=None):
    """Softmax of `x / temperature` along `axis` (see pysoftmax.softmax)."""
    return _softmax(x, axis, temperature, where, out, log=False)


def log_softmax(x, axis=-1, *, temperature=1.0, where=None, out=None):
    """Logarithm of softmax, from the logits (see pysoftmax.log_softmax)."""
    return _softmax(x, axis, temperature, where, out, log=True)


def logsumexp(x, axis=-1, *, where=None, keepdims=False):
    """log(sum(exp(x))) along `axis` (see pysoftmax.logsumexp)."""
    x, rdt, axes, included = _prepare(x, axis, where)
    with np.errstate(all="ignore"):
        _, m, s, state = _shifted(x, axes, included)
        r = m + np.log(s)
    # A slice holding +inf gives +inf, one of only -inf gives -inf: both are its maximum.
    r = np.select([state == "empty", state == "nan", state == "inf"], [-np.inf, np.nan, m], r)
    r = r.astype(rdt, copy=False)
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


def cross_entropy(logits, target, *, axis=-1, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, where=None):
    """Cross-entropy between softmax(logits) and `target` (see pysoftmax.cross_entropy)."""
    return _cross_entropy(logits, target, axis, weight, ignore_index, reduction, label_smoothing,
                          where, None, False)


def cross_entropy_with_grad(logits, target, *, axis=-1, weight=None, ignore_index=-100,
                            reduction="mean", label_smoothing=0.0, where=None, out=None):
    """(cross_entropy(...), its gradient with respect to the logits)."""
    return _cross_entropy(logits, target, axis, weight, ignore_index, reduction, label_smoothing,
                          where, out, True)


def entropy(logits, axis=-1, base=None):
    """Entropy of softmax(logits) along `axis`, in nats (or in `base` units)."""
    h = entropy_from_log_probs(log_softmax(logits, axis), axis, base)
    return h[()] if h.ndim == 0 else h
