"""SoftmaxRegression: multinomial logistic regression with scikit-learn's API and objective,
trained through the fused linear + cross-entropy path (pysoftmax.linear_cross_entropy).

The model (seed 000): scores Z = X W^T + b, row k of W is class k's template; probabilities
softmax(Z); prediction argmax Z. Training minimises scikit-learn's multinomial objective

    sum_i s_i CE_i + ||W||^2 / (2C)        (s_i: sample weight times class weight; b free)

as scikit-learn's solvers do, divided by S = sum_i s_i (same minimiser; the gradient tolerance
`tol` then means what it means for LogisticRegression). Solvers (`_SOLVERS`): "lbfgs" (SciPy's
L-BFGS-B), "gd" (gradient descent with an Armijo line search), "sgd" (minibatch SGD with
momentum, as MLPClassifier's); partial_fit streams epochs of the same SGD.

Needs scikit-learn (>= 1.6) and SciPy: ``pip install 'pysoftmax[sklearn]'``.
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings

import numpy as np

try:
    from scipy.optimize import minimize
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils._param_validation import Interval, StrOptions
    from sklearn.utils.class_weight import compute_class_weight
    from sklearn.utils.multiclass import check_classification_targets, unique_labels
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError("pysoftmax.SoftmaxRegression needs scikit-learn >= 1.6 and SciPy, optional "
                      "dependencies of pysoftmax: pip install 'pysoftmax[sklearn]'") from e

from . import _native
from ._common import LinearCrossEntropyArgs

__all__ = ["SoftmaxRegression"]

_CLASS_WEIGHT_TAKES_SAMPLE_WEIGHT = (
    "sample_weight" in inspect.signature(compute_class_weight).parameters)

_native.rescan_blas_libraries()   # SciPy's BLAS too (its L-BFGS-B calls it)


class _Objective:
    """The training objective as a function of the flat parameters theta (float64, what SciPy
    works in): theta = [W.ravel() (K*d, C order), b (K,) when fit_intercept].

    value(theta) = (sum_i s_i CE_i + ||W||^2 / (2C)) / S with S = sum_i s_i. W and b are
    rounded to the training dtype (X's) before each evaluation, so float32 data trains in
    float32; the loss is summed in float64. Shared by the solvers: `loss_grad(theta)` gives
    the value and its gradient, `n_evals` counts the calls; X and sample_weight are kept for
    them (the solvers' coordinates depend on the features' scales, `moments()`).

    Minibatches (`batch_loss_grad(theta, rows)`): the unbiased estimate of the same value,

        sum_{i in B} s_i CE_i / (|B| s_mean) + ||W||^2 / (2 C S),    s_mean = data_weight / N,

    whose mean over batches drawn uniformly is value(theta) (data_weight = S here). partial_fit
    sets `data_weight` (N times the stream's mean sample weight) and `S` (the weight the penalty
    is spread over) for a chunk of a stream; fit leaves both at S.
    """

    def __init__(self, X, y, sample_weight, C, fit_intercept, n_classes):
        self.X, self.y, self.sample_weight, self.dtype = X, y, sample_weight, X.dtype
        self.n, self.k, self.d = X.shape[0], n_classes, X.shape[1]
        self.fit_intercept = fit_intercept
        self.S = float(np.sum(sample_weight, dtype=np.float64))
        self.data_weight = self.S
        self.alpha = 0.0 if math.isinf(C) else 1.0 / C  # the penalty is alpha / 2 ||W||^2
        self._problem = _native.LinearProblem(self._args(X, y, sample_weight))
        self._moments = None
        self.n_evals = 0

    def _args(self, X, y, sample_weight):
        w0 = np.zeros((self.k, self.d), dtype=self.dtype)
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
        """The _Moments of X under the sample weights (computed once)."""
        if self._moments is None:
            self._moments = _Moments.of(self.X, self.sample_weight)
        return self._moments

    def loss_grad(self, theta):
        self.n_evals += 1
        w, b = self.unpack(theta)
        loss, dw, db = self._problem(w, b)
        return self._value_grad(theta, loss, dw, db, self.data_weight)

    def batch_loss_grad(self, theta, rows):
        """The estimate of loss_grad(theta) from the rows `rows` (indices) alone: a copy of
        those rows of X, the same fused path."""
        w, b = self.unpack(theta)
        problem = _native.LinearProblem(
            self._args(self.X[rows], self.y[rows], self.sample_weight[rows]))
        loss, dw, db = problem(w, b)
        return self._value_grad(theta, loss, dw, db, self.data_weight * len(rows) / self.n)

    def value(self, theta):
        """loss_grad(theta)[0] without the gradient (about half the work)."""
        w, b = self.unpack(theta)
        loss = self._problem(w, b, grad=False)[0]
        return self._value(theta[:self.k * self.d], loss, self.data_weight)

    # loss / data_weight + alpha ||W||^2 / (2 S), as (loss r + alpha ||W||^2 / 2) / S with
    # r = S / data_weight: for fit r = 1 and this is the arithmetic of (loss + penalty) / S
    # exactly (lbfgs's path in float32 depends on the last bits: a reordering cost 4x the
    # evaluations on the training benchmark).
    def _value(self, w64, loss, data_weight):
        return (loss * (self.S / data_weight) + 0.5 * self.alpha * float(w64 @ w64)) / self.S

    def _value_grad(self, theta, loss, dw, db, data_weight):
        kd, w64, r = self.k * self.d, theta[:self.k * self.d], self.S / data_weight
        grad = np.empty_like(theta)
        np.multiply(dw.ravel(), r, out=grad[:kd])
        grad[:kd] += self.alpha * w64
        if self.fit_intercept:
            np.multiply(db, r, out=grad[kd:])
        grad /= self.S
        return self._value(w64, loss, data_weight), grad


class _Moments:
    """Weighted moments of the features (float64): the total weight, the means and the
    variances, as sums in chunks of rows (no (N, d) temporary). `a + b` combines the moments
    of two sets of rows (Chan's update), as partial_fit does over a stream."""

    def __init__(self, weight, mean, var):
        self.weight, self.mean, self.var = weight, mean, var

    @classmethod
    def of(cls, X, sample_weight, chunk=4096):
        n, d = X.shape
        total, squares = np.zeros(d), np.zeros(d)
        weights = np.abs(np.asarray(sample_weight, dtype=np.float64))
        for i in range(0, n, chunk):
            part, w = X[i:i + chunk].astype(np.float64), weights[i:i + chunk]
            total += w @ part
            squares += w @ (part * part)
        weight = float(weights.sum())
        mean = total / max(weight, np.finfo(float).tiny)
        var = np.maximum(squares / max(weight, np.finfo(float).tiny) - mean * mean, 0.0)
        return cls(weight, mean, var)

    def __add__(self, other):
        weight = self.weight + other.weight
        if weight <= 0:
            return _Moments(weight, self.mean, self.var)
        a, b = self.weight / weight, other.weight / weight
        delta = other.mean - self.mean
        return _Moments(weight, self.mean + b * delta,
                        a * self.var + b * other.var + a * b * delta * delta)


class _FeatureScaling:
    """Coordinates u = [U.ravel(), c] in which the solver sees standardised features:

        W = U / s,   b = c - W mu        so that   W x + b = U (x - mu) / s + c,

    mu the features' means (0 without intercept) and s^2 their variances plus the penalty's
    curvature alpha / S (1 if both are 0), both weighted by the sample weights (weights and
    repeated rows give the same coordinates). The curvature of the objective along each U_kj is
    then about the same, whatever the scale of feature j: the objective is the same function of
    W and b, far better conditioned in u when the features' scales differ (make_classification
    10000 x 784: L-BFGS reaches scikit-learn's final objective in 19 evaluations, not 201).
    Both maps are linear, so velocities and steps convert with them too.
    """

    def __init__(self, moments, k, fit_intercept, penalty=0.0):
        mean, var = moments.mean, moments.var.copy()
        var[var <= (1e-8 * (1.0 + np.abs(mean))) ** 2] = 0.0    # constant up to rounding
        scale = np.sqrt(var + penalty)
        self.scale = np.where(scale > 0, scale, 1.0)
        self.mean = mean if fit_intercept else np.zeros_like(mean)
        self.k, self.d, self.fit_intercept = k, len(mean), fit_intercept

    @classmethod
    def of(cls, objective, moments=None):
        """The coordinates for `objective` (its X's moments unless given)."""
        return cls(objective.moments() if moments is None else moments, objective.k,
                   objective.fit_intercept, objective.alpha / objective.S)

    def theta(self, u):
        kd = self.k * self.d
        w = u[:kd].reshape(self.k, self.d) / self.scale
        b = u[kd:] - w @ self.mean if self.fit_intercept else u[kd:]
        return np.concatenate([w.ravel(), b])

    def u(self, theta):
        kd = self.k * self.d
        w = theta[:kd].reshape(self.k, self.d)
        c = theta[kd:] + w @ self.mean if self.fit_intercept else theta[kd:]
        return np.concatenate([(w * self.scale).ravel(), c])

    def gradient(self, grad):
        """d f / d u from d f / d theta."""
        kd = self.k * self.d
        g_w, g_b = grad[:kd].reshape(self.k, self.d), grad[kd:]
        if self.fit_intercept:
            g_w = g_w - np.outer(g_b, self.mean)
        return np.concatenate([(g_w / self.scale).ravel(), g_b])


class _SolverResult:
    def __init__(self, theta, n_iter, loss_curve, converged, message, validation_scores=None,
                 best_validation_score=None, optimizer=None):
        self.theta, self.n_iter, self.loss_curve = theta, n_iter, loss_curve
        self.converged, self.message = converged, message
        self.validation_scores = validation_scores     # sgd with early stopping
        self.best_validation_score = best_validation_score
        self.optimizer = optimizer                     # sgd: its _SGD, for partial_fit


class _Progress:
    """verbose > 0: a tqdm progress bar over `total` epochs (or iterations) showing the
    objective (and the validation score), or one printed line per epoch without tqdm or without
    a total; verbose 0: no output."""

    def __init__(self, verbose, name, total=None, unit="epoch"):
        self.verbose, self.name, self.unit, self.bar = verbose, name, unit, None
        if verbose and total:
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self.bar = tqdm(total=total, desc=name, unit=unit, dynamic_ncols=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()

    def update(self, count, loss, score=None):
        if not self.verbose:
            return
        if self.bar is not None:
            postfix = {"objective": f"{loss:.6g}"}
            if score is not None:
                postfix["validation score"] = f"{score:.4f}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update()
        else:
            print(f"{self.name} {self.unit} {count}: objective {loss:.10g}"
                  + ("" if score is None else f", validation score {score:.6f}"))


_FTOL = 64 * np.finfo(float).eps    # "the objective stopped decreasing" (lbfgs's ftol too)
_MORE_ITERATIONS = "; increase max_iter or scale the data (e.g. sklearn.preprocessing.StandardScaler)"


def _solve_lbfgs(objective, theta0, *, max_iter, tol, verbose, random_state):
    """SciPy's L-BFGS-B with LogisticRegression's options (maxls 50, ftol 64 eps), run in the
    coordinates of _FeatureScaling. It stops, as LogisticRegression, when the largest
    component of the gradient of the objective (divided by S, with respect to W and b) is
    <= tol."""
    scaling = _FeatureScaling.of(objective)
    curve, last = [], {}

    def fun(u):
        value, grad = objective.loss_grad(scaling.theta(u))
        last["u"], last["grad"] = u.copy(), grad
        return value, scaling.gradient(grad)

    def callback(intermediate_result):
        curve.append(float(intermediate_result.fun))
        if verbose:
            print(f"lbfgs iteration {len(curve)}: objective {curve[-1]:.10g}")
        if (np.array_equal(intermediate_result.x, last["u"])
                and np.max(np.abs(last["grad"]), initial=0.0) <= tol):
            raise StopIteration

    res = minimize(fun, scaling.u(theta0), method="L-BFGS-B", jac=True, callback=callback,
                   options={"maxiter": max_iter, "maxls": 50, "gtol": 0.0,
                            "ftol": _FTOL})
    message = res.message if isinstance(res.message, str) else res.message.decode()
    converged = res.status == 0 or res.status == 99       # 99: the callback's gradient test
    if not converged:
        message += _MORE_ITERATIONS
    return _SolverResult(scaling.theta(res.x), int(res.nit), curve, converged, message)


def _solve_gd(objective, theta0, *, max_iter, tol, verbose, random_state):
    """Full-batch gradient descent u <- u - t grad f(u) in the coordinates of _FeatureScaling
    (those of lbfgs), the step t from a backtracking (Armijo) line search: each iteration
    tries twice the last accepted step, halving it until f decreases by at least
    1e-4 t ||grad||^2. Stops when the largest component of the gradient with respect to W and
    b is <= tol (lbfgs's test), or when the objective stops decreasing (relative decrease
    <= 64 eps, or no step decreases it: the rounding floor; not a failure)."""
    scaling = _FeatureScaling.of(objective)
    u = scaling.u(theta0)
    f, grad = objective.loss_grad(scaling.theta(u))
    step, curve, n_iter = 1.0, [], 0
    converged, message = False, "the maximum number of iterations was reached" + _MORE_ITERATIONS
    with _Progress(verbose, "gd", max_iter, "iteration") as progress:
        while True:
            if np.max(np.abs(grad), initial=0.0) <= tol:
                converged, message = True, "the gradient is below tol"
                break
            if n_iter >= max_iter:
                break
            g = scaling.gradient(grad)
            gg = float(g @ g)
            step *= 2.0
            while True:
                u_new = u - step * g
                f_new, grad_new = objective.loss_grad(scaling.theta(u_new))
                if f_new <= f - 1e-4 * step * gg:
                    break
                step *= 0.5
                if step * math.sqrt(gg) <= np.finfo(float).eps * (1.0 + np.max(np.abs(u))):
                    f_new = None                    # no step moves u: the rounding floor
                    break
            if f_new is None:
                converged, message = True, "no step decreases the objective"
                break
            decrease = (f - f_new) / max(abs(f), abs(f_new), 1.0)
            u, f, grad = u_new, f_new, grad_new
            n_iter += 1
            curve.append(float(f))
            progress.update(n_iter, f)
            if decrease <= _FTOL:
                converged, message = True, "the objective stopped decreasing"
                break
    return _SolverResult(scaling.theta(u), n_iter, curve, converged, message)


class _SGD:
    """Minibatch SGD with momentum, MLPClassifier's update and schedules, and its state (kept
    across partial_fit calls):

        v <- momentum v - lr g,   u <- u + v   (nesterov: u <- u + momentum v - lr g)

    in the coordinates of a _FeatureScaling, g the minibatch gradient (_Objective's unbiased
    estimate). The velocity is kept in (W, b) coordinates between epochs, so that partial_fit's
    coordinates may change with the stream's statistics. After each epoch, `end_epoch` applies
    the stopping rule of MLPClassifier to the training objective, or to the validation score:
    no improvement by tol for more than n_iter_no_change epochs stops, or with "adaptive"
    divides the learning rate by 5 (stopping once it is below 1e-6); "invscaling" sets it to
    learning_rate_init / (epochs + 1) ** power_t.
    """

    def __init__(self, *, batch_size, learning_rate, learning_rate_init, power_t, momentum,
                 nesterov, n_iter_no_change, tol, random_state):
        self.batch_size, self.schedule = batch_size, learning_rate
        self.lr0 = self.lr = learning_rate_init
        self.power_t, self.momentum, self.nesterov = power_t, momentum, nesterov
        self.n_iter_no_change, self.tol = n_iter_no_change, tol
        self.rng = random_state
        self.velocity = None            # (W, b) coordinates, float64
        self.epochs = 0
        self.no_improvement = 0
        self.best = None                # best loss (lowest) or validation score (highest)

    def epoch(self, objective, theta, scaling):
        """One pass over objective's rows in a new random order, in batches; the new theta."""
        n = objective.n
        batch = min(n, 200 if self.batch_size == "auto" else self.batch_size)
        u = scaling.u(theta)
        v = np.zeros_like(u) if self.velocity is None else scaling.u(self.velocity)
        order = self.rng.permutation(n) if batch < n else None
        try:
            with np.errstate(over="raise", invalid="raise"):
                for start in range(0, n, batch):
                    if order is None:                # one batch: the whole data, no copy
                        grad = objective.loss_grad(scaling.theta(u))[1]
                    else:
                        rows = np.sort(order[start:start + batch])
                        grad = objective.batch_loss_grad(scaling.theta(u), rows)[1]
                    g = scaling.gradient(grad)
                    v *= self.momentum
                    v -= self.lr * g
                    if self.nesterov:
                        u += self.momentum * v - self.lr * g
                    else:
                        u += v
                theta, velocity = scaling.theta(u), scaling.theta(v)
            finite = np.all(np.isfinite(theta)) and np.all(np.isfinite(velocity))
        except FloatingPointError:
            finite = False
        if not finite:
            raise ValueError(f"sgd diverged (the weights overflowed): the learning rate "
                             f"({self.lr:g}) is too large for this data; lower "
                             f"learning_rate_init")
        self.velocity = velocity
        self.epochs += 1
        if self.schedule == "invscaling":
            self.lr = self.lr0 / (self.epochs + 1) ** self.power_t
        return theta

    def end_epoch(self, loss=None, score=None):
        """Records the epoch's training objective (or validation score); True: stop."""
        if score is None:
            improved = self.best is None or loss <= self.best - self.tol
            self.best = loss if self.best is None else min(self.best, loss)
        else:
            improved = self.best is None or score >= self.best + self.tol
            self.best = score if self.best is None else max(self.best, score)
        self.no_improvement = 0 if improved else self.no_improvement + 1
        if self.no_improvement <= self.n_iter_no_change:
            return False
        self.no_improvement = 0
        if self.schedule == "adaptive" and self.lr > 1e-6:
            self.lr /= 5.0
            return False
        return True


def _accuracy(objective, theta, X, y, sample_weight):
    w, b = objective.unpack(theta)
    scores = X @ w.T
    if b is not None:
        scores += b
    return float(np.average(np.argmax(scores, axis=1) == y, weights=sample_weight))


def _solve_sgd(objective, theta0, *, max_iter, tol, verbose, random_state, optimizer,
               validation=None):
    """Epochs of `optimizer` (an _SGD) in the coordinates of _FeatureScaling, up to max_iter.
    The objective is evaluated (in full) after each epoch: loss_curve and the stopping test.
    validation: (X, y codes, sample weights or None) held out for early stopping: the test is
    then on their accuracy, and the parameters of the best epoch are returned. Ending with an
    objective 10% above the starting one is a failure (the learning rate is too large)."""
    scaling = _FeatureScaling.of(objective)
    start = objective.value(theta0)
    theta, curve, scores = theta0, [], []
    best_theta, best_score = theta0, -np.inf
    converged, message = False, "the maximum number of epochs was reached" + _MORE_ITERATIONS
    with _Progress(verbose, "sgd", max_iter) as progress:
        for epoch in range(1, max_iter + 1):
            theta = optimizer.epoch(objective, theta, scaling)
            curve.append(objective.value(theta))
            score = None
            if validation is not None:
                score = _accuracy(objective, theta, *validation)
                scores.append(score)
                if score > best_score:
                    best_theta, best_score = theta, score
            progress.update(epoch, curve[-1], score)
            if optimizer.end_epoch(curve[-1], score):
                converged = True
                message = (f"the {'validation score' if validation else 'training objective'}"
                           f" did not improve by tol for {optimizer.n_iter_no_change} epochs")
                break
    if curve and curve[-1] > 1.1 * start:
        converged = False
        message = (f"the objective ({curve[-1]:.6g}) ended 10% above its starting value "
                   f"({start:.6g}): learning_rate_init ({optimizer.lr0:g}) is too large")
    if validation is not None:
        theta = best_theta
    return _SolverResult(theta, len(curve), curve, converged, message,
                         scores if validation is not None else None,
                         best_score if validation is not None else None, optimizer)


# Solvers by name: each takes (objective, theta0, *, max_iter, tol, verbose, random_state)
# (random_state: a RandomState) and its own keyword options (sgd: optimizer, validation; fit
# makes them), and returns a _SolverResult.
_SOLVERS = {"lbfgs": _solve_lbfgs, "gd": _solve_gd, "sgd": _solve_sgd}


class _Stream:
    """What partial_fit keeps between calls: the _SGD (velocity, learning rate, epochs, random
    state), and the stream's moments, total sample weight and rows so far (fit starts a stream
    with its data's)."""

    def __init__(self, optimizer=None):
        self.optimizer, self.moments, self.weight, self.rows = optimizer, None, 0.0, 0

    def add(self, objective):
        moments = objective.moments()
        self.moments = moments if self.moments is None else self.moments + moments
        self.weight += objective.S
        self.rows += objective.n


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    """Multinomial logistic (softmax) regression, a drop-in for scikit-learn's
    ``LogisticRegression`` (multinomial, L2 penalty) trained by the fused linear +
    cross-entropy kernels of pysoftmax.

    Minimises ``sum_i s_i CE_i + ||W||^2 / (2C)`` over W (K, d) and b (K,), the intercept not
    penalised, where CE_i is the cross-entropy of softmax(W x_i + b) against y_i and s_i the
    sample weight times the class weight of y_i: the objective of LogisticRegression. Every
    solver minimises it divided by S = sum_i s_i, in coordinates where the features are
    standardised (W = U / s, b = c - W mu; the objective and its optimum are unchanged).

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength, > 0; ``np.inf``: no penalty.
    fit_intercept : bool, default=True
        Learn b (unpenalised); False: b = 0.
    max_iter : int, default=100
        Maximum number of iterations ("lbfgs", "gd") or epochs ("sgd"); reaching it warns
        (ConvergenceWarning).
    tol : float, default=1e-4
        Stopping tolerance. "lbfgs" and "gd" stop when the largest component of the gradient
        (with respect to W and b) of the objective divided by S is <= tol, as
        LogisticRegression ("gd" also when the objective stops decreasing: relative decrease
        <= 64 eps). "sgd", as MLPClassifier: when for more than n_iter_no_change consecutive
        epochs the objective divided by S has not decreased by tol (with early_stopping: the
        validation accuracy has not increased by tol).
    class_weight : dict, "balanced" or None
        Weights of the classes, multiplied into the sample weights ("balanced": n_samples /
        (n_classes * count of the class), weighted by sample_weight when given; not for
        partial_fit).
    warm_start : bool, default=False
        Start from the previous fit's coef_ and intercept_ when their shapes still fit,
        whatever solver made them.
    random_state : int, RandomState or None
        Randomness of "sgd" and partial_fit (the order of the rows in each epoch, the
        validation split): the same value gives the same model. Unused by "lbfgs" and "gd".
    verbose : int, default=0
        > 0: "lbfgs" prints the objective after each iteration; "gd" and "sgd" show a progress
        bar (tqdm; without it a line per epoch) with the objective and the validation score;
        partial_fit prints a line per call. 0: no output.
    solver : {"lbfgs", "gd", "sgd"}, default="lbfgs"
        "lbfgs": SciPy's L-BFGS-B on the fused loss and gradient. "gd": full-batch gradient
        descent, the step from a backtracking (Armijo) line search (no step size to choose).
        "sgd": minibatch SGD with momentum (MLPClassifier's), the rows reshuffled each epoch.
    batch_size : int or "auto", default="auto"
        Rows per minibatch of "sgd" and partial_fit; "auto": min(200, n_samples). Larger than
        the data: one batch of all of it.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        The step size schedule of "sgd" and partial_fit, as MLPClassifier's: "constant":
        learning_rate_init; "invscaling": learning_rate_init / (epochs + 1) ** power_t (counting
        epochs, not samples as MLPClassifier); "adaptive": divided by 5 whenever the stopping
        test fails (training stops once it is below 1e-6).
    learning_rate_init : float, default=0.3
        The initial step size, in the standardised coordinates (so it suits any feature
        scales).
    power_t : float, default=0.5
        Exponent of "invscaling".
    momentum : float, default=0.9
        Momentum of the updates, in [0, 1].
    nesterov : bool, default=True
        Nesterov's momentum (MLPClassifier's form).
    early_stopping : bool, default=False
        "sgd": hold out validation_fraction of the training data (stratified) and stop when its
        accuracy stops improving; the parameters of the best epoch are kept. Not used by
        partial_fit.
    validation_fraction : float, default=0.1
        The held-out fraction for early stopping, in (0, 1).
    n_iter_no_change : int, default=10
        Epochs without improvement by tol that "sgd" tolerates.
    stream_size : float or None, default=None
        partial_fit only: the number of samples of the data set the calls stream through; the
        penalty ||W||^2 / (2C) is spread over that many (times the mean sample weight), so
        that passes over a data set in chunks minimise the objective fit would. None: the
        samples seen so far (by fit and partial_fit): the objective of all the data seen.

    Attributes
    ----------
    classes_ : ndarray (K,)
        The class labels (any labels: integers, strings), sorted.
    coef_ : ndarray (K, d)
        One row of weights per class, in the training dtype (float32 data: float32). Unlike
        LogisticRegression, a binary problem keeps both rows (K = 2).
    intercept_ : ndarray (K,)
    n_features_in_, feature_names_in_
        As in scikit-learn.
    n_iter_ : int
        Iterations ("lbfgs", "gd") or epochs ("sgd"); each partial_fit call adds one.
    loss_curve_ : list of float
        The objective divided by S after each iteration or epoch (with early stopping: on the
        training part; partial_fit appends its chunk's estimate of it).
    validation_scores_ : list of float or None
        "sgd" with early_stopping: the validation accuracy after each epoch; else None.
    best_validation_score_ : float or None
        Its best value (the returned parameters'); else None.

    Training runs on pysoftmax's threads (``pysoftmax.set_num_threads``); the result does not
    depend on their number. For a binary problem decision_function returns the log-odds of
    classes_[1] (one column), as LogisticRegression.
    """

    _objective_class = _Objective   # the training benchmark substitutes one that records

    _parameter_constraints = {
        "C": [Interval(numbers.Real, 0, None, closed="right")],   # (0, inf] as LogisticRegression
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "solver": [StrOptions(set(_SOLVERS))],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterov": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "stream_size": [Interval(numbers.Real, 0, None, closed="neither"), None],
    }

    def __init__(self, *, C=1.0, fit_intercept=True, max_iter=100, tol=1e-4, class_weight=None,
                 warm_start=False, random_state=None, verbose=0, solver="lbfgs",
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.3,
                 power_t=0.5, momentum=0.9, nesterov=True, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, stream_size=None):
        self.C = C
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.momentum = momentum
        self.nesterov = nesterov
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.stream_size = stream_size

    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features) and labels y (n_samples,)."""
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], order="C")
        check_classification_targets(y)
        classes, y_codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"This solver needs samples of at least 2 classes in the data, but "
                             f"the data contains only one class: {classes[0].item()!r}")
        sw = self._weights(sample_weight, X, y, classes, y_codes, self.class_weight)
        y_codes = y_codes.astype(np.int64)
        rng = check_random_state(self.random_state)
        options, validation = {}, None
        if self.solver == "sgd":
            if self.early_stopping:
                train, held = self._validation_split(y_codes, len(classes), rng)
                user_sw = (None if sample_weight is None else
                           _check_sample_weight(sample_weight, X, dtype=X.dtype)[held])
                validation = (X[held], y_codes[held], user_sw)
                X, y_codes, sw = X[train], y_codes[train], sw[train]
            options = {"optimizer": self._optimizer(rng), "validation": validation}
        objective = self._objective_class(X, y_codes, sw, self.C, self.fit_intercept,
                                          len(classes))
        theta0 = np.zeros(objective.size)
        if (self.warm_start and getattr(self, "coef_", None) is not None
                and self.coef_.shape == (len(classes), X.shape[1])):
            theta0 = objective.pack(self.coef_, self.intercept_)
        # The solvers' own BLAS calls are tiny (vectors of K * d), and the fused kernels run on
        # pysoftmax's threads: BLAS threads would only spin and take the cores from them
        # (measured on 2 cores: a digits fit takes 1.15 s with them, 0.04 s without).
        with _native.single_threaded_blas():
            result = _SOLVERS[self.solver](objective, theta0, max_iter=self.max_iter,
                                           tol=self.tol, verbose=self.verbose,
                                           random_state=rng, **options)
            stream = _Stream(result.optimizer)
            stream.add(objective)
        if not result.converged:
            unit = "epoch(s)" if self.solver == "sgd" else "iteration(s)"
            warnings.warn(f"{self.solver} failed to converge after {result.n_iter} {unit}: "
                          f"{result.message}.", ConvergenceWarning, stacklevel=2)
        self.classes_ = classes
        self._set_parameters(objective, result.theta)
        self.n_iter_ = result.n_iter
        self.loss_curve_ = result.loss_curve
        self.validation_scores_ = result.validation_scores
        self.best_validation_score_ = result.best_validation_score
        self._stream = stream
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of minibatch SGD with momentum over X, y: a step of training on a stream.

        Unlike SGDClassifier's (one-vs-rest), the update is that of the multinomial objective.
        `classes` (all the labels the stream holds) is required on the first call, optional
        later; a chunk may lack some classes, a label outside `classes` raises ValueError.
        The optimizer's state (velocity, learning rate, random state) is kept between calls;
        after fit (any solver) it continues from coef_ and intercept_ (and from the velocity of
        an "sgd" fit). The coordinates are standardised by the running moments of the data seen
        so far; the penalty is spread over stream_size samples (None: those seen so far). Uses
        batch_size, learning_rate, learning_rate_init, power_t, momentum, nesterov, tol and
        n_iter_no_change (for "adaptive"), whatever `solver` is; early_stopping is ignored.
        """
        self._validate_params()
        first = getattr(self, "coef_", None) is None
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            known = unique_labels(classes)
            if len(known) < 2:
                raise ValueError(f"classes: at least 2 classes are needed, got {list(known)!r}")
        else:
            known = self.classes_
            if classes is not None and not np.array_equal(known, unique_labels(classes)):
                raise ValueError(f"`classes={classes!r}` is not the same as on the last call to "
                                 f"partial_fit or fit, was: {known!r}")
        if self.class_weight == "balanced":
            raise ValueError("class_weight 'balanced' is not supported for partial_fit (it needs "
                             "the counts of the whole stream): pass a dict, e.g. from "
                             "sklearn.utils.class_weight.compute_class_weight('balanced', ...) "
                             "on a large enough sample of the labels")
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], order="C", reset=first)
        check_classification_targets(y)
        inside = np.isin(y, known)
        if not np.all(inside):
            raise ValueError(f"y contains labels not in classes {known.tolist()!r}: "
                             f"{np.unique(y[~inside]).tolist()[:10]!r}")
        y_codes = np.searchsorted(known, y)
        sw = self._weights(sample_weight, X, y, known, y_codes, self.class_weight)
        objective = self._objective_class(X, y_codes.astype(np.int64), sw, self.C,
                                          self.fit_intercept, len(known))
        stream = None if first else getattr(self, "_stream", None)
        if stream is None:
            stream = _Stream()
        if stream.optimizer is None:
            stream.optimizer = self._optimizer(check_random_state(self.random_state))
        theta = (np.zeros(objective.size) if first
                 else objective.pack(self.coef_, self.intercept_))
        with _native.single_threaded_blas():
            stream.add(objective)
            mean_weight = stream.weight / stream.rows
            objective.data_weight = objective.n * mean_weight
            objective.S = (stream.weight if self.stream_size is None
                           else self.stream_size * mean_weight)
            theta = stream.optimizer.epoch(objective, theta,
                                           _FeatureScaling.of(objective, stream.moments))
            loss = objective.value(theta)
        stream.optimizer.end_epoch(loss)        # "adaptive", as MLPClassifier's partial_fit
        self.classes_ = known
        self._set_parameters(objective, theta)
        self.n_iter_ = 1 if first else self.n_iter_ + 1
        self.loss_curve_ = [loss] if first else list(self.loss_curve_) + [loss]
        if first:
            self.validation_scores_ = self.best_validation_score_ = None
        self._stream = stream
        _Progress(self.verbose, "partial_fit").update(self.n_iter_, loss)
        return self

    def _validation_split(self, y_codes, k, rng):
        """Sorted indices of the training and held-out rows: stratified as MLPClassifier's,
        unless the data is too small for that (a class of one row, fewer held-out or training
        rows than classes), then a plain random split."""
        n = len(y_codes)
        held_out = math.ceil(self.validation_fraction * n)
        stratify = (np.bincount(y_codes, minlength=k).min() >= 2
                    and min(held_out, n - held_out) >= k)
        train, held = train_test_split(np.arange(n), test_size=self.validation_fraction,
                                       random_state=rng, stratify=y_codes if stratify else None)
        return np.sort(train), np.sort(held)

    @staticmethod
    def _weights(sample_weight, X, y, classes, y_codes, class_weight):
        """The s_i: sample weights times class weights, in X's dtype."""
        sw = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        if class_weight is not None:
            kw = {"sample_weight": sample_weight} if _CLASS_WEIGHT_TAKES_SAMPLE_WEIGHT else {}
            cw = compute_class_weight(class_weight, classes=classes, y=y, **kw)
            sw = sw * cw[y_codes].astype(X.dtype)
        return sw

    def _optimizer(self, rng):
        return _SGD(batch_size=self.batch_size, learning_rate=self.learning_rate,
                    learning_rate_init=self.learning_rate_init, power_t=self.power_t,
                    momentum=self.momentum, nesterov=self.nesterov,
                    n_iter_no_change=self.n_iter_no_change, tol=self.tol, random_state=rng)

    def _set_parameters(self, objective, theta):
        w, b = objective.unpack(theta)
        self.coef_ = w
        self.intercept_ = b if b is not None else np.zeros(objective.k, dtype=objective.dtype)

    def _scores(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], order="C", reset=False)
        return X @ self.coef_.T + self.intercept_

    def decision_function(self, X):
        """Scores X W^T + b (n_samples, K); for K = 2 the log-odds of classes_[1] (n_samples,)."""
        z = self._scores(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict(self, X):
        """The class of the largest score for each row of X."""
        scores = self._scores(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X):
        """softmax of the scores (n_samples, K)."""
        from . import softmax

        return softmax(self._scores(X), axis=1)

    def predict_log_proba(self, X):
        """log_softmax of the scores (n_samples, K), computed from the scores."""
        from . import log_softmax

        return log_softmax(self._scores(X), axis=1)
