"""SoftmaxRegression's training objective: the layer between the fused linear + cross-entropy
kernels (the loss, _native.LinearProblem) and the solvers (_regression_solvers).

The parameters are one flat float64 vector theta (what SciPy works in):

    theta = [W.ravel() (K*d, C order), b (K,) when fit_intercept],

W's row k being class k's template. `Objective.pack` and `Objective.unpack` convert; the
solvers see theta only through `FeatureScaling`, whose coordinates u have the same layout.
"""

from __future__ import annotations

import math

import numpy as np

from . import _core, _native
from ._common import LinearCrossEntropyArgs
from ._sparse import issparse

__all__ = ["FeatureScaling", "Moments", "Objective", "Stream"]


class Moments:
    """Weighted moments of the features (float64): the total weight, the means and the
    variances, as sums in chunks of rows (no (N, d) temporary). `a + b` combines the moments
    of two sets of rows (Chan's update), as a stream of chunks does."""

    def __init__(self, weight, mean, var):
        self.weight, self.mean, self.var = weight, mean, var

    @staticmethod
    def sums(X, sample_weight, chunk=4096):
        """(sum of |s_i|, sum of |s_i| x_i, sum of |s_i| x_i^2) over the rows of X in float64,
        `chunk` rows at a time (sample_weight None: every s_i = 1)."""
        n, d = X.shape
        total, squares = np.zeros(d), np.zeros(d)
        weights = (np.ones(n) if sample_weight is None
                   else np.abs(np.asarray(sample_weight, dtype=np.float64)))
        if issparse(X):       # from the stored entries: a chunk's copy, repeats added first
            for i in range(0, n, chunk):
                part, w = X[i:i + chunk].astype(np.float64), weights[i:i + chunk]
                part.sum_duplicates()
                total += part.T @ w
                part.data *= part.data
                squares += part.T @ w
            return float(weights.sum()), total, squares
        for i in range(0, n, chunk):
            part, w = X[i:i + chunk].astype(np.float64), weights[i:i + chunk]
            total += w @ part
            squares += w @ (part * part)
        return float(weights.sum()), total, squares

    @classmethod
    def from_sums(cls, weight, total, squares):
        """The Moments of rows whose sums (Moments.sums) are these."""
        mean = total / max(weight, np.finfo(float).tiny)
        var = np.maximum(squares / max(weight, np.finfo(float).tiny) - mean * mean, 0.0)
        return cls(weight, mean, var)

    @classmethod
    def of(cls, X, sample_weight, chunk=4096):
        return cls.from_sums(*cls.sums(X, sample_weight, chunk))

    def __add__(self, other):
        weight = self.weight + other.weight
        if weight <= 0:
            return Moments(weight, self.mean, self.var)
        a, b = self.weight / weight, other.weight / weight
        delta = other.mean - self.mean
        return Moments(weight, self.mean + b * delta,
                       a * self.var + b * other.var + a * b * delta * delta)


class Stream:
    """The rows a stream of chunks has shown so far: their Moments (None before the first
    chunk), total sample weight and count. partial_fit keeps one between calls (fit starts one
    with its data) and gives it to the next chunk's Objective."""

    def __init__(self, moments=None, weight=0.0, rows=0):
        self.moments, self.weight, self.rows = moments, weight, rows

    def then(self, moments, weight, rows):
        """This stream followed by rows of these moments, total weight and count."""
        return Stream(moments if self.moments is None else self.moments + moments,
                      self.weight + weight, self.rows + rows)


class Objective:
    """The training objective as a function of theta (the module's layout):

        value(theta) = (sum_i s_i CE_i + ||W||^2 / (2C)) / S,    S = sum_i s_i,

    s_i the sample weights (times the class weights), b not penalised. W and b are rounded to
    the training dtype (X's) before each evaluation, so float32 data trains in float32; the loss
    is summed in float64. `loss_grad(theta)` gives the value and its gradient, `value(theta)`
    the value alone; X and sample_weight are kept for the solvers (their coordinates depend on
    the features' scales, `moments()`).

    Minibatches (`batch_loss_grad(theta, rows)`): the unbiased estimate of the same value,

        sum_{i in B} s_i CE_i / (|B| s_mean) + ||W||^2 / (2 C S),    s_mean = data_weight / N,

    whose mean over batches drawn uniformly is value(theta) (data_weight = S for a data set on
    its own).

    stream: the Stream of the rows before these, when they are a chunk of a stream
    (partial_fit). Then `stream` becomes the rows seen so far, these included; s_mean is the
    stream's mean sample weight (data_weight = N s_mean); the penalty is spread over the
    stream's total weight, or over stream_size samples of weight s_mean when stream_size is
    given (S = stream_size s_mean); `moments()` are the stream's.

    callback(value, W, b), when given, runs after every evaluation of the whole objective
    (loss_grad, value; not the minibatch estimates): value the objective times S (sum_i s_i
    CE_i + ||W||^2 / (2C), LogisticRegression's form), W and b what unpack(theta) returns.
    """

    def __init__(self, X, y, sample_weight, C, fit_intercept, n_classes, *, stream=None,
                 stream_size=None, callback=None):
        self.X, self.y, self.sample_weight, self.dtype = X, y, sample_weight, X.dtype
        self.n, self.k, self.d = X.shape[0], n_classes, X.shape[1]
        self.fit_intercept = fit_intercept
        self.sparse = issparse(X)           # a CSR matrix (SoftmaxRegression's validation)
        self.S = float(np.sum(sample_weight, dtype=np.float64))
        self.data_weight = self.S
        self.alpha = 0.0 if math.isinf(C) else 1.0 / C  # the penalty is alpha / 2 ||W||^2
        self._problem = _native.LinearProblem(self._args(X, y, sample_weight))
        self._moments = None
        self._stream = None
        self._callback = callback
        if stream is not None:
            self._stream = stream.then(self.moments(), self.S, self.n)
            mean_weight = self._stream.weight / self._stream.rows
            self.data_weight = self.n * mean_weight
            self.S = self._stream.weight if stream_size is None else stream_size * mean_weight

    def _args(self, X, y, sample_weight):
        # The shapes and dtype of W and b only: a read-only view of one zero, no K x d array.
        w0 = np.broadcast_to(np.zeros((), dtype=self.dtype), (self.k, self.d))
        b0 = np.zeros(self.k, dtype=self.dtype) if self.fit_intercept else None
        return LinearCrossEntropyArgs(X, w0, b0, y, None, sample_weight, "sum", -100, 0.0)

    @property
    def size(self):
        return self.k * self.d + (self.k if self.fit_intercept else 0)

    def unpack(self, theta):
        """(W, b) in the training dtype (b None without intercept)."""
        kd = self.k * self.d
        w = theta[:kd].reshape(self.k, self.d).astype(self.dtype)
        b = theta[kd:].astype(self.dtype) if self.fit_intercept else None
        return w, b

    def pack(self, w, b):
        theta = np.zeros(self.size)
        theta[:self.k * self.d] = np.asarray(w, dtype=np.float64).ravel()
        if self.fit_intercept and b is not None:
            theta[self.k * self.d:] = b
        return theta

    def moments(self):
        """The Moments the solvers' coordinates standardise: those of the stream's rows so far
        with a stream, else those of X under the sample weights (computed once)."""
        if self._stream is not None:
            return self._stream.moments
        if self._moments is None:
            self._moments = Moments.of(self.X, self.sample_weight)
        return self._moments

    @property
    def chunk(self):
        """Whether these rows are a chunk of a stream (given `stream`): a sample of the data,
        as a minibatch is."""
        return self._stream is not None

    @property
    def stream(self):
        """The Stream of the rows seen so far, these included (for a data set on its own, a
        stream that begins with it)."""
        if self._stream is not None:
            return self._stream
        return Stream().then(self.moments(), self.S, self.n)

    def loss_grad(self, theta):
        w, b = self.unpack(theta)
        loss, dw, db = self._problem(w, b)
        value, grad = self._value_grad(theta, loss, dw, db, self.data_weight)
        if self._callback is not None:
            self._callback(value * self.S, w, b)
        return value, grad

    def batch_loss_grad(self, theta, rows):
        """The estimate of loss_grad(theta) from the rows `rows` (indices) alone: a copy of
        those rows of X, the same fused path."""
        w, b = self.unpack(theta)
        X = self.X[rows]
        problem = _native.LinearProblem(
            self._args(X, self.y[rows], self.sample_weight[rows]),
            self._problem.x.subset(X) if self.sparse else None)   # rows checked already
        loss, dw, db = problem(w, b)
        return self._value_grad(theta, loss, dw, db, self.data_weight * len(rows) / self.n)

    def value(self, theta):
        """loss_grad(theta)[0] without the gradient (about half the work)."""
        w, b = self.unpack(theta)
        loss = self._problem(w, b, grad=False)[0]
        value = self._value(theta[:self.k * self.d], loss, self.data_weight)
        if self._callback is not None:
            self._callback(value * self.S, w, b)
        return value

    # loss / data_weight + alpha ||W||^2 / (2 S), as (loss r + alpha ||W||^2 / 2) / S with
    # r = S / data_weight: for fit r = 1 and this is the arithmetic of (loss + penalty) / S
    # exactly (lbfgs's path in float32 depends on the last bits: a reordering cost 4x the
    # evaluations on the training benchmark).
    def _value(self, w64, loss, data_weight):
        return (loss * (self.S / data_weight) + 0.5 * self.alpha * float(w64 @ w64)) / self.S

    # The gradient (dw r + alpha W) / S in two passes over the parameters: dw r / S in float64,
    # then alpha / S W added (one fused multiply-add per element, _core.vector_combine).
    def _value_grad(self, theta, loss, dw, db, data_weight):
        kd, w64, r = self.k * self.d, theta[:self.k * self.d], self.S / data_weight
        grad = np.empty_like(theta)
        gw = grad[:kd]
        np.multiply(dw.ravel(), r / self.S, out=gw)
        if self.alpha:
            _core.vector_combine([gw, w64], [1.0, self.alpha / self.S], gw)
        if self.fit_intercept:
            np.multiply(db, r / self.S, out=grad[kd:])
        return self._value(w64, loss, data_weight), grad


class FeatureScaling:
    """Coordinates u = [U.ravel(), c] in which the solver sees standardised features:

        W = U / s,   b = c - W mu        so that   W x + b = U (x - mu) / s + c,

    mu the features' means (0 without intercept) and s^2 their variances plus the penalty's
    curvature alpha / S (1 if both are 0), both weighted by the sample weights (weights and
    repeated rows give the same coordinates). The curvature of the objective along each U_kj
    is then about the same, whatever the scale of feature j: the objective is the same
    function of W and b, far better conditioned in u when the features' scales differ
    (make_classification 10000 x 784: L-BFGS reaches scikit-learn's final objective in 19
    evaluations, not 201). Both maps are linear, so velocities and steps convert with them too.

    centre=False (sparse X, whose columns are never centred): the identity, mu = 0 and s = 1.
    On the TF-IDF text of bench --train --sparse (10,000 documents, C = 1) L-BFGS reached
    scikit-learn's final objective in 35 evaluations so, in 56 with s^2 the second moments
    about 0 plus alpha / S, in 39 centred.
    """

    def __init__(self, moments, k, fit_intercept, penalty=0.0, centre=True):
        mean, var = moments.mean, moments.var.copy()
        var[var <= (1e-8 * (1.0 + np.abs(mean))) ** 2] = 0.0    # constant up to rounding
        scale = np.sqrt(var + penalty)
        self.scale = np.where(scale > 0, scale, 1.0) if centre else np.ones_like(mean)
        self.mean = mean if fit_intercept and centre else np.zeros_like(mean)
        self.k, self.d, self.fit_intercept = k, len(mean), fit_intercept
        self.identity = not centre

    @classmethod
    def of(cls, objective):
        """The coordinates for `objective` (of its moments())."""
        return cls(objective.moments(), objective.k, objective.fit_intercept,
                   objective.alpha / objective.S, centre=not objective.sparse)

    # Each map writes one new vector and no other of its size, the identity none (the
    # parameters of a sparse problem are large: SoftmaxRegression's memory bound counts their
    # copies). The solvers never write into what a map returns.
    def theta(self, u):
        if self.identity:
            return u
        kd = self.k * self.d
        out = np.empty_like(u)
        w = out[:kd].reshape(self.k, self.d)
        np.divide(u[:kd].reshape(self.k, self.d), self.scale, out=w)
        out[kd:] = u[kd:] - w @ self.mean if self.fit_intercept else u[kd:]
        return out

    def u(self, theta):
        if self.identity:
            return theta
        kd = self.k * self.d
        w = theta[:kd].reshape(self.k, self.d)
        out = np.empty_like(theta)
        out[kd:] = theta[kd:] + w @ self.mean if self.fit_intercept else theta[kd:]
        np.multiply(w, self.scale, out=out[:kd].reshape(self.k, self.d))
        return out

    def gradient(self, grad):
        """d f / d u from d f / d theta."""
        if self.identity:
            return grad
        kd = self.k * self.d
        g_w, g_b = grad[:kd].reshape(self.k, self.d), grad[kd:]
        out = np.empty_like(grad)
        o_w = out[:kd].reshape(self.k, self.d)
        if self.fit_intercept and np.any(self.mean):
            np.subtract(g_w, np.outer(g_b, self.mean), out=o_w)
            o_w /= self.scale
        else:
            np.divide(g_w, self.scale, out=o_w)
        out[kd:] = g_b
        return out
