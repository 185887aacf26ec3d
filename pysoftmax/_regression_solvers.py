"""SoftmaxRegression's solvers: minimisers of an Objective (_regression_objective) over theta.

Every solver in SOLVERS has one signature,

    solve(objective, theta0, options: SolverOptions) -> SolverResult,

and runs in the coordinates of FeatureScaling. "lbfgs": L-BFGS (_lbfgs); "gd": gradient descent
with an Armijo line search; "sgd": epochs of minibatch SGD with momentum (SGD, MLPClassifier's
update), whose state partial_fit continues one epoch at a time (`sgd_epoch`).

A SolverResult's status follows SciPy's L-BFGS-B codes, as scikit-learn reports them: 0 the
stopping rule ended the solve, 1 max_iter (or the evaluation limit) was reached, 2 any other
failure.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ._lbfgs import minimize_lbfgs
from ._regression_objective import FeatureScaling
from ._regression_progress import Progress

__all__ = ["SGD", "SOLVERS", "SolverOptions", "SolverResult", "auto_learning_rate", "sgd_epoch"]

_FTOL = 64 * np.finfo(float).eps    # "the objective stopped decreasing" (lbfgs's ftol too)


@dataclasses.dataclass(frozen=True)
class SolverOptions:
    """What a solver is told besides the objective and the start (SoftmaxRegression's
    parameters of the same names).

    max_iter: iterations ("lbfgs", "gd") or epochs ("sgd"). tol: the stopping tolerance.
    verbose: > 0 reports progress. random_state: a numpy RandomState ("sgd" draws the order of
    the rows from it). batch_size ... n_iter_no_change: the settings of SGD
    (learning_rate_init "auto": auto_learning_rate). validation:
    (X, y codes, sample weights or None) held out for "sgd"'s early stopping, or None.
    optimizer: the SGD that "sgd" runs (None: a new SGD of these settings).
    """

    max_iter: int
    tol: float
    verbose: int = 0
    random_state: np.random.RandomState | None = None
    batch_size: int | str = "auto"
    learning_rate: str = "constant"
    learning_rate_init: float | str = "auto"
    power_t: float = 0.5
    momentum: float = 0.9
    nesterov: bool = True
    n_iter_no_change: int = 10
    validation: tuple | None = None
    optimizer: object = None


@dataclasses.dataclass
class SolverResult:
    """theta: the solution; n_iter: iterations or epochs (at most max_iter); loss_curve: the
    objective (divided by S) after each; status (the module's codes) and message: how the solve
    ended. "sgd" only: validation_scores and best_validation_score (early stopping), and
    optimizer, its SGD (for partial_fit to continue)."""

    theta: np.ndarray
    n_iter: int
    loss_curve: list
    status: int
    message: str
    validation_scores: list | None = None
    best_validation_score: float | None = None
    optimizer: SGD | None = None

    @property
    def converged(self):
        return self.status == 0


def _gradient_test(grad, tol):
    """LogisticRegression's stopping test (SciPy's pgtol without bounds): the largest component
    of the gradient of the objective divided by S, with respect to W and b, is <= tol."""
    if grad.size == 0:
        return 0.0 <= tol
    return max(float(grad.max()), -float(grad.min())) <= tol     # max |grad|, no temporary


def solve_lbfgs(objective, theta0, options):
    """L-BFGS (_lbfgs: SciPy's L-BFGS-B iteration without bounds, LogisticRegression's options:
    memory 10, maxls 50, ftol 64 eps) run in the coordinates of FeatureScaling, with
    LogisticRegression's stopping test (_gradient_test, in the original coordinates W and b, not
    in those of the solver). A start that passes it takes no iteration (max_iter=0 takes none
    either); after that, the test must pass at two consecutive iterations: the gradient of
    L-BFGS's iterates is not monotone, and one below tol is often followed by larger ones, still
    far from the optimum. A last iteration that passes it is converged."""
    scaling = FeatureScaling.of(objective)
    u0 = scaling.u(theta0)
    value0, grad0 = objective.loss_grad(scaling.theta(u0))
    if _gradient_test(grad0, options.tol):
        return SolverResult(theta0, 0, [], 0, "the gradient is below tol")
    if options.max_iter == 0:
        return SolverResult(theta0, 0, [], 1, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT")
    curve, passes = [], []
    start = [(value0, scaling.gradient(grad0))]     # the first evaluation is at u0
    del grad0                                       # held by `start` until it is used
    last = {"passes": False}

    def fun(u):
        if start:
            return start.pop()
        value, grad = objective.loss_grad(scaling.theta(u))
        last["passes"] = _gradient_test(grad, options.tol)
        return value, scaling.gradient(grad)

    def callback(u, value):
        curve.append(float(value))
        if options.verbose:
            print(f"lbfgs iteration {len(curve)}: objective {curve[-1]:.10g}")
        passes.append(last["passes"])     # the accepted point is the last one evaluated
        if passes[-2:] == [True, True]:
            raise StopIteration

    res = minimize_lbfgs(fun, u0, maxiter=options.max_iter, callback=callback, maxls=50,
                         ftol=_FTOL)
    status, message = res.status, res.message
    if passes and passes[-1] and status != 2:
        status, message = 0, "the gradient is below tol"
    return SolverResult(scaling.theta(res.x), res.nit, curve, status, message)


def solve_gd(objective, theta0, options):
    """Full-batch gradient descent u <- u - t grad f(u) in the coordinates of FeatureScaling
    (those of lbfgs), the step t from a backtracking (Armijo) line search: each iteration
    tries twice the last accepted step, halving it until f decreases by at least
    1e-4 t ||grad||^2. Stops when the largest component of the gradient with respect to W and
    b is <= tol (lbfgs's test, _gradient_test), or when the objective stops decreasing (relative
    decrease <= 64 eps, or no step decreases it: the rounding floor; not a failure)."""
    scaling = FeatureScaling.of(objective)
    u = scaling.u(theta0)
    f, grad = objective.loss_grad(scaling.theta(u))
    step, curve, n_iter = 1.0, [], 0
    status, message = 1, "the maximum number of iterations was reached"
    with Progress(options.verbose, "gd", options.max_iter, "iteration") as progress:
        while True:
            if _gradient_test(grad, options.tol):
                status, message = 0, "the gradient is below tol"
                break
            if n_iter >= options.max_iter:
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
                status, message = 0, "no step decreases the objective"
                break
            decrease = (f - f_new) / max(abs(f), abs(f_new), 1.0)
            u, f, grad = u_new, f_new, grad_new
            n_iter += 1
            curve.append(float(f))
            progress.update(n_iter, f)
            if decrease <= _FTOL:
                status, message = 0, "the objective stopped decreasing"
                break
    return SolverResult(scaling.theta(u) if n_iter else theta0, n_iter, curve, status, message)


def auto_learning_rate(objective, scaling, batch, momentum):
    """The step of SGD for learning_rate_init "auto", from the data, in the coordinates of
    `scaling` (rows z: the standardised features, and a 1 for the intercept):

        min(1 / L,  (1 - momentum) batch / E)

    (1 / L for a batch of all the rows of a data set; a chunk of partial_fit's stream is a
    sample, as a minibatch):

    - L bounds the curvature of the objective: the largest eigenvalue of E[z z^T] / 2 (the
      softmax cross-entropy's Hessian is at most 1/2) plus the penalty's diagonal
      alpha / (S s_j^2), by power iteration on evenly spaced rows. Full-batch steps below 1 / L
      are stable, with momentum too.
    - E = E[||z||^2] (the features' standardised second moments summed, plus 1 for the
      intercept) sets the noise of a minibatch's gradient: at a constant step, SGD's excess
      objective is about lr / (1 - momentum) * E / batch * r / 4, r = E||p - y||^2 <= 2, so
      the bound keeps it below 1/2 per row whatever the number of features, under the
      all-zero model's log K.
    Both are the same for weights as for repeated rows.
    """
    moments = objective.moments()
    offset = moments.mean - scaling.mean                     # 0 with an intercept
    expected = (float(np.sum((moments.var + offset * offset) / scaling.scale ** 2))
                + (1.0 if scaling.fit_intercept else 0.0))
    d = scaling.d
    dense_rows = 2048 if objective.sparse else max(batch, (1 << 21) // (d + 1))
    rows = np.unique(np.linspace(0, objective.n - 1, min(objective.n, 2048, dense_rows))
                     .astype(np.int64))
    penalty = objective.alpha / objective.S / scaling.scale ** 2
    if scaling.fit_intercept:
        penalty = np.append(penalty, 0.0)
    if objective.sparse:            # z = (X[rows] - mu) / s never formed: products with it
        xs = objective.X[rows].astype(np.float64)
        mean, scale, ones = scaling.mean, scaling.scale, scaling.fit_intercept

        def z_times(v):
            vs = v[:d] / scale
            return xs @ vs - mean @ vs + (v[d] if ones else 0.0)

        def z_transpose_times(q):
            g = (xs.T @ q - mean * q.sum()) / scale
            return np.append(g, q.sum()) if ones else g
    else:
        z = (objective.X[rows].astype(np.float64) - scaling.mean) / scaling.scale
        if scaling.fit_intercept:
            z = np.hstack([z, np.ones((len(rows), 1))])
        z_times, z_transpose_times = z.__matmul__, z.T.__matmul__
    w = np.abs(np.asarray(objective.sample_weight, dtype=np.float64)[rows])
    w *= 0.5 / max(float(w.sum()), np.finfo(float).tiny)
    size = d + (1 if scaling.fit_intercept else 0)
    v, curvature = np.full(size, 1.0 / math.sqrt(size)), 0.0
    for _ in range(20):
        v = z_transpose_times(w * z_times(v)) + penalty * v
        curvature = float(np.linalg.norm(v))
        if curvature == 0.0:
            break
        v /= curvature
    step = 1.0 / curvature if curvature > 0 else 1.0
    if batch < objective.n or objective.chunk:
        step = min(step, max(1.0 - momentum, 1e-3) * batch / max(expected, 1.0))
    return step


class SGD:
    """Minibatch SGD with momentum, MLPClassifier's update and schedules, and its state (kept
    across partial_fit calls):

        v <- momentum v - lr g,   u <- u + v   (nesterov: u <- u + momentum v - lr g)

    in the coordinates of a FeatureScaling, g the minibatch gradient (Objective's unbiased
    estimate). The velocity is kept in (W, b) coordinates between epochs, so that partial_fit's
    coordinates may change with the stream's statistics. After each epoch, `end_epoch` applies
    the stopping rule of MLPClassifier to the training objective, or to the validation score:
    no improvement by tol for more than n_iter_no_change epochs stops, or with "adaptive"
    divides the learning rate by 5 (stopping once it is below 1e-6); "invscaling" sets it to
    learning_rate_init / (epochs + 1) ** power_t. The settings are those of a SolverOptions;
    learning_rate_init "auto" is set by auto_learning_rate at the first epoch, from its data.
    """

    def __init__(self, options):
        self.batch_size, self.schedule = options.batch_size, options.learning_rate
        auto = isinstance(options.learning_rate_init, str)
        self.lr0 = self.lr = None if auto else options.learning_rate_init
        self.power_t, self.momentum = options.power_t, options.momentum
        self.nesterov = options.nesterov
        self.n_iter_no_change, self.tol = options.n_iter_no_change, options.tol
        self.rng = options.random_state
        self.velocity = None            # (W, b) coordinates, float64
        self.epochs = 0
        self.no_improvement = 0
        self.best = None                # best loss (lowest) or validation score (highest)

    def epoch(self, objective, theta, scaling):
        """One pass over objective's rows in a new random order, in batches; the new theta."""
        batch = min(objective.n, 200 if self.batch_size == "auto" else self.batch_size)
        if self.lr0 is None:
            self.lr0 = self.lr = auto_learning_rate(self._rate_sample(objective, batch), scaling,
                                                    batch, self.momentum)
        return self._steps(objective, theta, scaling, self._batches(objective, batch))

    def _rate_sample(self, objective, batch):
        """The objective auto_learning_rate estimates the step from."""
        return objective

    def _batches(self, objective, batch):
        """The epoch's batches: [None] for the whole data (no copy), else each batch's rows
        (sorted) in a new random order."""
        n = objective.n
        if batch >= n:
            return [None]
        order = self.rng.permutation(n)
        return (np.sort(order[start:start + batch]) for start in range(0, n, batch))

    def _steps(self, objective, theta, scaling, batches):
        """One (momentum) step per batch of `batches` (None: the whole data); the new theta."""
        u = scaling.u(theta)
        v = np.zeros_like(u) if self.velocity is None else scaling.u(self.velocity)
        u = u.copy() if u is theta else u               # stepped in place below
        v = v.copy() if v is self.velocity else v
        try:
            with np.errstate(over="raise", invalid="raise"):
                for rows in batches:
                    if rows is None:
                        grad = objective.loss_grad(scaling.theta(u))[1]
                    else:
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


def solve_sgd(objective, theta0, options):
    """Epochs of a new SGD in the coordinates of FeatureScaling, up to max_iter. The objective
    is evaluated (in full) after each epoch: loss_curve and the stopping test. With
    options.validation (held out for early stopping) the test is on its accuracy, and the
    parameters of the best epoch are returned. Returning parameters whose objective is above
    that of the start is a failure (status 2: the learning rate is too large). The SGD run is
    options.optimizer when given (an SGD subclass's, for Dask data), else a new one."""
    optimizer = SGD(options) if options.optimizer is None else options.optimizer
    validation = options.validation
    scaling = FeatureScaling.of(objective)
    start = objective.value(theta0)
    theta, curve, scores = theta0, [], []
    best_theta, best_score, best_loss = theta0, -np.inf, start
    status, message = 1, "the maximum number of epochs was reached"
    with Progress(options.verbose, "sgd", options.max_iter) as progress:
        for epoch in range(1, options.max_iter + 1):
            theta = optimizer.epoch(objective, theta, scaling)
            curve.append(objective.value(theta))
            score = None
            if validation is not None:
                score = _accuracy(objective, theta, *validation)
                scores.append(score)
                if score > best_score:
                    best_theta, best_score, best_loss = theta, score, curve[-1]
            progress.update(epoch, curve[-1], score)
            if optimizer.end_epoch(curve[-1], score):
                status = 0
                message = (f"the {'validation score' if validation else 'training objective'}"
                           f" did not improve by tol for {optimizer.n_iter_no_change} epochs")
                break
    if validation is not None:
        theta = best_theta
    final = best_loss if validation is not None else (curve[-1] if curve else start)
    if final > start:
        status = 2
        message = (f"the objective ({final:.6g}) ended above its starting value ({start:.6g}): "
                   f"the learning rate ({optimizer.lr0:g}) is too large for this data; lower "
                   f"learning_rate_init")
    return SolverResult(theta, len(curve), curve, status, message,
                        scores if validation is not None else None,
                        best_score if validation is not None else None, optimizer)


def sgd_epoch(objective, theta, optimizer):
    """partial_fit's step: one epoch of `optimizer` (an SGD) from theta, in the coordinates of
    the objective's moments (a stream's), then its end-of-epoch rule on the objective ("adaptive"
    lowers the learning rate, as MLPClassifier's partial_fit). Returns (theta, objective)."""
    theta = optimizer.epoch(objective, theta, FeatureScaling.of(objective))
    loss = objective.value(theta)
    optimizer.end_epoch(loss)
    return theta, loss


SOLVERS = {"lbfgs": solve_lbfgs, "gd": solve_gd, "sgd": solve_sgd}
