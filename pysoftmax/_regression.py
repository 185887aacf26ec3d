"""SoftmaxRegression: multinomial logistic regression with scikit-learn's API and objective,
trained through the fused linear + cross-entropy path (pysoftmax.linear_cross_entropy).

The model (seed 000): scores Z = X W^T + b, row k of W is class k's template; probabilities
softmax(Z); prediction argmax Z. Training minimises scikit-learn's multinomial objective

    sum_i s_i CE_i + ||W||^2 / (2C)        (s_i: sample weight times class weight; b free)

as scikit-learn's solvers do, divided by S = sum_i s_i (same minimiser; the gradient tolerance
`tol` then means what it means for LogisticRegression).

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
    from sklearn.utils._param_validation import Interval, StrOptions
    from sklearn.utils.class_weight import compute_class_weight
    from sklearn.utils.multiclass import check_classification_targets
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
    them (the lbfgs solver's coordinates depend on the features' scales).
    """

    def __init__(self, X, y, sample_weight, C, fit_intercept, n_classes):
        self.X, self.sample_weight, self.dtype = X, sample_weight, X.dtype
        self.k, self.d = n_classes, X.shape[1]
        self.fit_intercept = fit_intercept
        self.S = float(np.sum(sample_weight, dtype=np.float64))
        self.alpha = 0.0 if math.isinf(C) else 1.0 / C  # the penalty is alpha / 2 ||W||^2
        w0 = np.zeros((self.k, self.d), dtype=self.dtype)
        b0 = np.zeros(self.k, dtype=self.dtype) if fit_intercept else None
        args = LinearCrossEntropyArgs(X, w0, b0, y, None, sample_weight, "sum", -100, 0.0)
        self._problem = _native.LinearProblem(args)
        self.n_evals = 0

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

    def loss_grad(self, theta):
        self.n_evals += 1
        w, b = self.unpack(theta)
        loss, dw, db = self._problem(w, b)
        kd, w64 = self.k * self.d, theta[:self.k * self.d]
        value = (loss + 0.5 * self.alpha * float(w64 @ w64)) / self.S
        grad = np.empty_like(theta)
        np.add(dw.ravel(), self.alpha * w64, out=grad[:kd])
        if self.fit_intercept:
            grad[kd:] = db
        grad /= self.S
        return value, grad


class _FeatureScaling:
    """Coordinates u = [U.ravel(), c] in which the solver sees standardised features:

        W = U / s,   b = c - W mu        so that   W x + b = U (x - mu) / s + c,

    mu the features' means (0 without intercept) and s^2 their variances plus the penalty's
    curvature alpha / S (1 if both are 0), both weighted by the sample weights (weights and
    repeated rows give the same coordinates). The curvature of the objective along each U_kj is
    then about the same, whatever the scale of feature j: the objective is the same function of
    W and b, far better conditioned in u when the features' scales differ (make_classification
    10000 x 784: L-BFGS reaches scikit-learn's final objective in 19 evaluations, not 201).
    """

    def __init__(self, X, sample_weight, k, fit_intercept, penalty=0.0, chunk=4096):
        n, d = X.shape
        total, squares = np.zeros(d), np.zeros(d)
        weights = np.abs(np.asarray(sample_weight, dtype=np.float64))
        for i in range(0, n, chunk):           # float64 sums, no (N, d) temporary
            part, w = X[i:i + chunk].astype(np.float64), weights[i:i + chunk]
            total += w @ part
            squares += w @ (part * part)
        weight = max(float(weights.sum()), np.finfo(float).tiny)
        mean = total / weight
        var = np.maximum(squares / weight - mean * mean, 0.0)
        var[var <= (1e-8 * (1.0 + np.abs(mean))) ** 2] = 0.0    # constant up to rounding
        scale = np.sqrt(var + penalty)
        self.scale = np.where(scale > 0, scale, 1.0)
        self.mean = mean if fit_intercept else np.zeros(d)
        self.k, self.d, self.fit_intercept = k, d, fit_intercept

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
    def __init__(self, theta, n_iter, loss_curve, converged, message):
        self.theta, self.n_iter, self.loss_curve = theta, n_iter, loss_curve
        self.converged, self.message = converged, message


def _solve_lbfgs(objective, theta0, *, max_iter, tol, verbose, random_state):
    """SciPy's L-BFGS-B with LogisticRegression's options (maxls 50, ftol 64 eps), run in the
    coordinates of _FeatureScaling. It stops, as LogisticRegression, when the largest
    component of the gradient of the objective (divided by S, with respect to W and b) is
    <= tol."""
    scaling = _FeatureScaling(objective.X, objective.sample_weight, objective.k,
                              objective.fit_intercept, objective.alpha / objective.S)
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
                            "ftol": 64 * np.finfo(float).eps})
    message = res.message if isinstance(res.message, str) else res.message.decode()
    converged = res.status == 0 or res.status == 99       # 99: the callback's gradient test
    return _SolverResult(scaling.theta(res.x), int(res.nit), curve, converged, message)


# Solvers by name: each takes (objective, theta0, *, max_iter, tol, verbose, random_state)
# and returns a _SolverResult.
_SOLVERS = {"lbfgs": _solve_lbfgs}


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    """Multinomial logistic (softmax) regression, a drop-in for scikit-learn's
    ``LogisticRegression`` (multinomial, L2 penalty) trained by the fused linear +
    cross-entropy kernels of pysoftmax.

    Minimises ``sum_i s_i CE_i + ||W||^2 / (2C)`` over W (K, d) and b (K,), the intercept not
    penalised, where CE_i is the cross-entropy of softmax(W x_i + b) against y_i and s_i the
    sample weight times the class weight of y_i: the objective of LogisticRegression.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength, > 0; ``np.inf``: no penalty.
    fit_intercept : bool, default=True
        Learn b (unpenalised); False: b = 0.
    max_iter : int, default=100
        Maximum number of solver iterations; reaching it warns (ConvergenceWarning).
    tol : float, default=1e-4
        Stopping tolerance: "lbfgs" stops when the largest component of the gradient (with
        respect to W and b) of the objective divided by the sum of the sample weights is
        <= tol, as LogisticRegression.
    class_weight : dict, "balanced" or None
        Weights of the classes, multiplied into the sample weights ("balanced": n_samples /
        (n_classes * count of the class), weighted by sample_weight when given).
    warm_start : bool, default=False
        Start from the previous fit's coef_ and intercept_ when their shapes still fit.
    random_state : int, RandomState or None
        Unused by "lbfgs" (deterministic); kept for the stochastic solvers.
    verbose : int, default=0
        > 0: print the objective after each iteration.
    solver : {"lbfgs"}, default="lbfgs"
        "lbfgs": SciPy's L-BFGS-B on the fused loss and gradient, in coordinates where the
        features are standardised (the same objective, better conditioned: far fewer
        iterations than LogisticRegression when the features' scales differ).

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
        Iterations of the solver.
    loss_curve_ : list of float
        The objective divided by the sum of the sample weights after each iteration.

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
    }

    def __init__(self, *, C=1.0, fit_intercept=True, max_iter=100, tol=1e-4, class_weight=None,
                 warm_start=False, random_state=None, verbose=0, solver="lbfgs"):
        self.C = C
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose
        self.solver = solver

    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (n_samples, n_features) and labels y (n_samples,)."""
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], order="C")
        check_classification_targets(y)
        classes, y_codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"This solver needs samples of at least 2 classes in the data, but "
                             f"the data contains only one class: {classes[0].item()!r}")
        sw = _check_sample_weight(sample_weight, X, dtype=X.dtype)
        if self.class_weight is not None:
            kw = {"sample_weight": sample_weight} if _CLASS_WEIGHT_TAKES_SAMPLE_WEIGHT else {}
            cw = compute_class_weight(self.class_weight, classes=classes, y=y, **kw)
            sw = sw * cw[y_codes].astype(X.dtype)
        objective = self._objective_class(X, y_codes.astype(np.int64), sw, self.C,
                                          self.fit_intercept, len(classes))
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
                                           random_state=self.random_state)
        if not result.converged:
            warnings.warn(f"{self.solver} failed to converge after {result.n_iter} iteration(s): "
                          f"{result.message}. Increase max_iter or scale the data (e.g. "
                          f"sklearn.preprocessing.StandardScaler).", ConvergenceWarning,
                          stacklevel=2)
        w, b = objective.unpack(result.theta)
        self.classes_ = classes
        self.coef_ = w
        self.intercept_ = b if b is not None else np.zeros(len(classes), dtype=X.dtype)
        self.n_iter_ = result.n_iter
        self.loss_curve_ = result.loss_curve
        return self

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
