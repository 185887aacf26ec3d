"""SoftmaxRegression: multinomial logistic regression with scikit-learn's API and objective,
trained through the fused linear + cross-entropy path (pysoftmax.linear_cross_entropy).

The model: scores Z = X W^T + b, row k of W is class k's template; probabilities
softmax(Z); prediction argmax Z. Training minimises scikit-learn's multinomial objective

    sum_i s_i CE_i + ||W||^2 / (2C)        (s_i: sample weight times class weight; b free)

as scikit-learn's solvers do, divided by S = sum_i s_i (same minimiser; the gradient tolerance
`tol` then means what it means for LogisticRegression).

In layers, as scikit-learn keeps LogisticRegression's:

- the loss: the fused kernels (_native.LinearProblem: summed cross-entropy, dW, db);
- the objective (_regression_objective): the flat parameters theta and their layout, value and
  gradient, minibatch estimates, the features' moments and the standardised coordinates;
- the solvers (_regression_solvers): "lbfgs", "gd", "sgd", one signature
  solve(objective, theta0, options) -> SolverResult; progress reporting (_regression_progress);
- the estimator (this module): parameters, validation, fit, partial_fit, predictions.

Needs scikit-learn (>= 1.6) and SciPy: ``pip install 'pysoftmax[sklearn]'``.
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings
from typing import Callable

import numpy as np
from numpy.typing import ArrayLike

try:
    from scipy import sparse
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model._base import SparseCoefMixin
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils._param_validation import Interval, StrOptions
    from sklearn.utils.class_weight import compute_class_weight
    from sklearn.utils.extmath import safe_sparse_dot
    from sklearn.utils.multiclass import check_classification_targets, unique_labels
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError("pysoftmax.SoftmaxRegression needs scikit-learn >= 1.6 and SciPy, optional "
                      "dependencies of pysoftmax: pip install 'pysoftmax[sklearn]'") from e

from . import _dask, _native, _sparse
from ._regression_objective import Objective, Stream
from ._regression_progress import Progress
from ._regression_solvers import SGD, SOLVERS, SolverOptions, sgd_epoch

__all__ = ["SoftmaxRegression"]

_CLASS_WEIGHT_TAKES_SAMPLE_WEIGHT = (
    "sample_weight" in inspect.signature(compute_class_weight).parameters)


def _convergence_warning(solver, result, max_iter):
    """The ConvergenceWarning of a solve that did not converge, in the words of scikit-learn's
    (sklearn.utils.optimize._check_optimize_result, LogisticRegression's lbfgs)."""
    unit = "epoch(s)" if solver == "sgd" else "iteration(s)"
    message = (f"{solver} failed to converge after {result.n_iter} {unit} "
               f"(status={result.status}):\n{result.message}\n")
    if result.n_iter == max_iter:
        message += (f"\nIncrease the number of iterations to improve the convergence "
                    f"(max_iter={max_iter}).")
    message += ("\nYou might also want to scale the data as shown in:\n"
                "    https://scikit-learn.org/stable/modules/preprocessing.html"
                "\nPlease also refer to the documentation for alternative solver options:\n"
                "    help(pysoftmax.SoftmaxRegression) (solver: 'lbfgs', 'gd' or 'sgd')")
    warnings.warn(message, ConvergenceWarning, stacklevel=4)


def _dense(coef):
    """coef_ as an ndarray, also after sparsify()."""
    return coef.toarray() if sparse.issparse(coef) else coef


class SoftmaxRegression(ClassifierMixin, SparseCoefMixin, BaseEstimator):
    """Multinomial logistic (softmax) regression with scikit-learn's estimator API.

    A drop-in for scikit-learn's ``LogisticRegression`` (multinomial, L2 penalty), trained by
    the fused linear + cross-entropy kernels of pysoftmax (:func:`linear_cross_entropy`). X may
    be dense or a scipy.sparse matrix of any format (used as CSR, never densified) for fit,
    partial_fit and the predictions. Needs scikit-learn and SciPy
    (``pip install 'pysoftmax[sklearn]'``).

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
        (ConvergenceWarning). 0: no iteration, the start is returned, with that warning
        ("lbfgs" and "gd": unless the start passes the gradient test), as LogisticRegression.
    tol : float, default=1e-4
        Stopping tolerance. "lbfgs" and "gd" stop when the largest component of the gradient
        of the objective divided by S, with respect to W and b (the original coordinates,
        not the solver's), is <= tol: LogisticRegression's test (SciPy's pgtol), checked at the
        start and after each iteration ("lbfgs": at two consecutive iterations, as its
        gradient is not monotone; also on SciPy's ftol 64 eps, as LogisticRegression; "gd":
        also when the objective stops decreasing, relative decrease <= 64 eps). "sgd", as
        MLPClassifier: when for more than n_iter_no_change consecutive epochs the objective
        divided by S has not decreased by tol (with early_stopping: the validation accuracy
        has not increased by tol).
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
        "lbfgs": L-BFGS (SciPy's L-BFGS-B iteration, without bounds, on native vector
        arithmetic) on the fused loss and gradient. "gd": full-batch gradient
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
    learning_rate_init : float or "auto", default="auto"
        The initial step size, in the standardised coordinates (so it suits any feature
        scales). "auto": from the data at the first epoch, min(1 / L, (1 - momentum) batch
        / E): L bounds the objective's curvature (half the largest eigenvalue of the
        standardised rows' second moment, plus the penalty's), E is the mean squared norm of
        a standardised row (about the number of features): the minibatch gradient's noise
        then leaves the objective below the all-zero model's however many features there
        are (1 / L alone for a batch of all the rows).
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
        Used by partial_fit only: the number of samples of the data set the calls stream
        through; the penalty ||W||^2 / (2C) is spread over that many (times the mean sample
        weight), so that passes over a data set in chunks minimise the objective fit would.
        None: the samples seen so far (by fit and partial_fit): the objective of all the data
        seen.

    Attributes
    ----------
    classes_ : ndarray (K,)
        The class labels (any labels: integers, strings), sorted.
    coef_ : ndarray (K, d)
        One row of weights per class, in the training dtype (float32 data: float32). Unlike
        LogisticRegression, a binary problem keeps both rows (K = 2).
    intercept_ : ndarray (K,)
        One bias per class (0 without fit_intercept).
    n_features_in_ : int
        The number of features seen by fit.
    feature_names_in_ : ndarray of str
        The names of the features seen by fit; defined only when X has feature names that
        are all strings (a pandas DataFrame, for example).
    n_iter_ : ndarray of shape (1,), int32
        Iterations ("lbfgs", "gd") or epochs ("sgd"), at most max_iter, as LogisticRegression's;
        each partial_fit call adds one.
    loss_curve_ : list of float
        The objective divided by S after each iteration or epoch (with early stopping: on the
        training part; partial_fit appends its chunk's estimate of it).
    validation_scores_ : list of float or None
        "sgd" with early_stopping: the validation accuracy after each epoch; else None.
    best_validation_score_ : float or None
        Its best value (the returned parameters'); else None.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The estimator this one replaces.
    linear_cross_entropy : The loss and gradients every solver evaluates.
    plot_templates : The rows of coef_ as images.
    plot_loss_curve : The training curve (loss_curve_) as a figure.

    Notes
    -----
    ``sparsify()`` and ``densify()`` convert coef_ to a scipy.sparse CSR matrix and back, as
    scikit-learn's linear models (predictions work on either; fit and partial_fit densify).

    Training runs on pysoftmax's threads (``pysoftmax.set_num_threads``); the result does not
    depend on their number. For a binary problem decision_function returns the log-odds of
    classes_[1] (one column), as LogisticRegression.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from pysoftmax import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> model = SoftmaxRegression(C=1.0, max_iter=200).fit(X, y)
    >>> model.coef_.shape, model.intercept_.shape
    ((3, 4), (3,))
    >>> model.predict(X[:3]).tolist()
    [0, 0, 0]
    >>> bool(model.score(X, y) > 0.95)
    True
    """

    _parameter_constraints = {
        "C": [Interval(numbers.Real, 0, None, closed="right")],   # (0, inf] as LogisticRegression
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(numbers.Integral, 0, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "solver": [StrOptions(set(SOLVERS))],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither"),
                               StrOptions({"auto"})],
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
                 batch_size="auto", learning_rate="constant", learning_rate_init="auto",
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

    def fit(self, X: ArrayLike, y: ArrayLike,
            sample_weight: ArrayLike | None = None) -> SoftmaxRegression:
        """Fit the model to the training data X, y.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_features)
            Training data, float64 or float32 (float32 data trains in float32 and gives a float32
            coef_); other dtypes are converted to float64. A scipy.sparse matrix of any format is
            used as CSR without densifying it; its values must be finite.
        y : array_like, shape (n_samples,)
            Class labels (at least two classes; any labels: integers, strings).
        sample_weight : array_like, shape (n_samples,), optional
            Weight of each sample (multiplied by the class weight of its label).

        Returns
        -------
        SoftmaxRegression
            The fitted estimator (self).

        Raises
        ------
        ValueError
            If y holds fewer than two classes, X holds NaN or inf, the lengths of X, y and
            sample_weight differ, or a parameter is invalid (scikit-learn's messages).

        Warns
        -----
        sklearn.exceptions.ConvergenceWarning
            When the solver stops at max_iter (or otherwise fails to converge).

        See Also
        --------
        partial_fit : One epoch of SGD on a chunk of a stream.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from pysoftmax import SoftmaxRegression
        >>> X, y = load_iris(return_X_y=True)
        >>> model = SoftmaxRegression(max_iter=200).fit(X, y)
        >>> model.classes_.tolist(), int(model.n_iter_[0]) <= 200
        ([0, 1, 2], True)
        """
        return self._fit(X, y, sample_weight)

    def _fit(self, X, y, sample_weight=None, *,
             callback: Callable[[float, np.ndarray, np.ndarray | None], None] | None = None):
        """fit, with callback(value, coef, intercept) after every evaluation of the whole
        objective by the solver: value = sum_i s_i CE_i + ||W||^2 / (2C) (not divided by S),
        coef (K, d) and intercept (K,) in the features' coordinates and the training dtype
        (intercept None without fit_intercept). The arrays are the callback's to keep."""
        self._validate_params()
        if _dask.is_dask_collection(X):
            from . import _regression_dask

            return _regression_dask.fit(self, X, y, sample_weight, callback,
                                        _convergence_warning)
        X, y = self._validate_X(X, y, reset=True)
        check_classification_targets(y)
        classes, y_codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"This solver needs samples of at least 2 classes in the data, but "
                             f"the data contains only one class: {classes[0].item()!r}")
        sw = self._weights(sample_weight, X, y, classes, y_codes, self.class_weight)
        y_codes = y_codes.astype(np.int64)
        rng = check_random_state(self.random_state)
        validation = None
        if self.solver == "sgd" and self.early_stopping:
            train, held = self._validation_split(y_codes, len(classes), rng)
            user_sw = (None if sample_weight is None else
                       _check_sample_weight(sample_weight, X, dtype=X.dtype)[held])
            validation = (X[held], y_codes[held], user_sw)
            X, y_codes, sw = X[train], y_codes[train], sw[train]
        objective = Objective(X, y_codes, sw, self.C, self.fit_intercept, len(classes),
                              callback=callback)
        theta0 = np.zeros(objective.size)
        if (self.warm_start and getattr(self, "coef_", None) is not None
                and self.coef_.shape == (len(classes), X.shape[1])):
            theta0 = objective.pack(_dense(self.coef_), self.intercept_)
        # The solvers' own BLAS calls are tiny (vectors of K * d), and the fused kernels run on
        # pysoftmax's threads: BLAS threads would only spin and take the cores from them
        # (a digits fit is about 30x slower with them on 2 cores).
        with _native.single_threaded_blas():
            result = SOLVERS[self.solver](objective, theta0, self._solver_options(rng, validation))
            stream = objective.stream
        if not result.converged:
            _convergence_warning(self.solver, result, self.max_iter)
        self.classes_ = classes
        self._set_parameters(objective, result.theta)
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        self.loss_curve_ = result.loss_curve
        self.validation_scores_ = result.validation_scores
        self.best_validation_score_ = result.best_validation_score
        self._stream, self._sgd = stream, result.optimizer
        return self

    def partial_fit(self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None,
                    sample_weight: ArrayLike | None = None) -> SoftmaxRegression:
        """Run one epoch of minibatch SGD with momentum over X, y: a step of training on a stream.

        Unlike SGDClassifier's (one-vs-rest), the update is that of the multinomial objective. The
        optimizer's state (velocity, learning rate, random state) is kept between calls; after fit
        (any solver) it continues from coef_ and intercept_ (and from the velocity of an "sgd" fit).
        The coordinates are standardised by the running moments of the data seen so far; the penalty
        is spread over stream_size samples (None: those seen so far). Uses batch_size,
        learning_rate, learning_rate_init, power_t, momentum, nesterov, tol and n_iter_no_change
        (for "adaptive"), whatever `solver` is; early_stopping is ignored.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_features)
            A chunk of the training data, dense or scipy.sparse (any format, used as CSR).
        y : array_like, shape (n_samples,)
            Its labels, all in `classes`; a chunk may lack some classes.
        classes : array_like, optional
            All the labels the stream holds: required on the first call, optional later (and then
            the same as before).
        sample_weight : array_like, shape (n_samples,), optional
            Weight of each sample of the chunk.

        Returns
        -------
        SoftmaxRegression
            The updated estimator (self).

        Raises
        ------
        ValueError
            If `classes` is missing on the first call or differs from the first call's, holds fewer
            than two classes, y holds a label outside it, or class_weight is "balanced" (it needs
            the counts of the whole stream; pass a dict).

        See Also
        --------
        fit : Training on the whole data at once.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from pysoftmax import SoftmaxRegression
        >>> X, y = load_iris(return_X_y=True)
        >>> model = SoftmaxRegression(random_state=0, stream_size=len(X))
        >>> for chunk in np.array_split(np.random.default_rng(0).permutation(len(X)), 5):
        ...     model = model.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2])
        >>> int(model.n_iter_[0]), len(model.loss_curve_)
        (5, 5)
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
        if _dask.is_dask_collection(X):
            from . import _regression_dask

            return _regression_dask.partial_fit(self, X, y, known, first, sample_weight)
        X, y = self._validate_X(X, y, reset=first)
        check_classification_targets(y)
        inside = np.isin(y, known)
        if not np.all(inside):
            raise ValueError(f"y contains labels not in classes {known.tolist()!r}: "
                             f"{np.unique(y[~inside]).tolist()[:10]!r}")
        y_codes = np.searchsorted(known, y)
        sw = self._weights(sample_weight, X, y, known, y_codes, self.class_weight)
        stream = None if first else getattr(self, "_stream", None)
        if stream is None:
            stream = Stream()
        optimizer = None if first else getattr(self, "_sgd", None)
        if optimizer is None:
            optimizer = SGD(self._solver_options(check_random_state(self.random_state)))
        with _native.single_threaded_blas():
            objective = Objective(X, y_codes.astype(np.int64), sw, self.C, self.fit_intercept,
                                  len(known), stream=stream, stream_size=self.stream_size)
            theta = (np.zeros(objective.size) if first
                     else objective.pack(_dense(self.coef_), self.intercept_))
            theta, loss = sgd_epoch(objective, theta, optimizer)
        self.classes_ = known
        self._set_parameters(objective, theta)
        self.n_iter_ = np.array([1 if first else int(self.n_iter_[0]) + 1], dtype=np.int32)
        self.loss_curve_ = [loss] if first else list(self.loss_curve_) + [loss]
        if first:
            self.validation_scores_ = self.best_validation_score_ = None
        self._stream, self._sgd = objective.stream, optimizer
        Progress(self.verbose, "partial_fit").update(int(self.n_iter_[0]), loss)
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

    def _solver_options(self, rng, validation=None):
        return SolverOptions(max_iter=self.max_iter, tol=self.tol, verbose=self.verbose,
                             random_state=rng, batch_size=self.batch_size,
                             learning_rate=self.learning_rate,
                             learning_rate_init=self.learning_rate_init, power_t=self.power_t,
                             momentum=self.momentum, nesterov=self.nesterov,
                             n_iter_no_change=self.n_iter_no_change, validation=validation)

    def _validate_X(self, X, y="no_validation", *, reset):
        """validate_data for dense or sparse X (any scipy.sparse format, as CSR: CSC and COO
        converted here, once per call; sorted column indices for training). A sparse X's
        index arrays are checked before anything reads them."""
        if _sparse.issparse(X):
            _sparse.check_structure(X)
        kw = {"dtype": [np.float64, np.float32], "order": "C", "accept_sparse": "csr",
              "reset": reset}
        if isinstance(y, str) and y == "no_validation":
            return validate_data(self, X, **kw)
        X, y = validate_data(self, X, y, **kw)
        if sparse.issparse(X) and not X.has_sorted_indices:
            X = X.sorted_indices()        # a copy: the threads then split the columns fast
        return X, y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _set_parameters(self, objective, theta):
        w, b = objective.unpack(theta)
        self.coef_ = w
        self.intercept_ = b if b is not None else np.zeros(objective.k, dtype=objective.dtype)

    def _scores(self, X):
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return safe_sparse_dot(X, self.coef_.T, dense_output=True) + self.intercept_

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Compute the scores ``X @ coef_.T + intercept_`` of each class.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_features)
            The samples, dense or scipy.sparse.

        Returns
        -------
        ndarray, shape (n_samples, K) or (n_samples,)
            The scores; for two classes the log-odds of ``classes_[1]`` (one value per sample),
            as LogisticRegression.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        ValueError
            If X has another number of features than the training data.

        See Also
        --------
        predict_proba : The softmax of these scores.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from pysoftmax import SoftmaxRegression
        >>> X, y = load_iris(return_X_y=True)
        >>> model = SoftmaxRegression(max_iter=200).fit(X, y)
        >>> model.decision_function(X[:2]).shape
        (2, 3)
        """
        if _dask.is_dask_collection(X):
            return self._dask_predictions(X, "decision_function")
        z = self._scores(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predict the class of each sample: the class of the largest score.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_features)
            The samples, dense or scipy.sparse.

        Returns
        -------
        ndarray, shape (n_samples,)
            The predicted labels, taken from ``classes_``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        ValueError
            If X has another number of features than the training data.

        See Also
        --------
        predict_proba : The probability of each class.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from pysoftmax import SoftmaxRegression
        >>> X, y = load_iris(return_X_y=True)
        >>> model = SoftmaxRegression(max_iter=200).fit(X, y)
        >>> model.predict(X[[0, 50, 100]]).tolist()
        [0, 1, 2]
        """
        if _dask.is_dask_collection(X):
            return self._dask_predictions(X, "predict")
        scores = self._scores(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Estimate the probability of each class: the softmax of the scores.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_features)
            The samples, dense or scipy.sparse.

        Returns
        -------
        ndarray, shape (n_samples, K)
            The probabilities of the classes, in the order of ``classes_``; each row sums to 1.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        ValueError
            If X has another number of features than the training data.

        See Also
        --------
        predict_log_proba : Their logarithms, computed from the scores.
        decision_function : The scores.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from pysoftmax import SoftmaxRegression
        >>> X, y = load_iris(return_X_y=True)
        >>> model = SoftmaxRegression(max_iter=200).fit(X, y)
        >>> p = model.predict_proba(X[:2])
        >>> p.shape, bool(np.allclose(p.sum(axis=1), 1))
        ((2, 3), True)
        """
        if _dask.is_dask_collection(X):
            return self._dask_predictions(X, "predict_proba")
        return _native.softmax(self._scores(X), axis=1)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Estimate the log-probability of each class: the log_softmax of the scores.

        Computed from the scores, so that tiny probabilities keep their logarithm (instead of -inf).

        Parameters
        ----------
        X : array_like or scipy.sparse matrix, shape (n_samples, n_features)
            The samples, dense or scipy.sparse.

        Returns
        -------
        ndarray, shape (n_samples, K)
            The log-probabilities of the classes, in the order of ``classes_``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        ValueError
            If X has another number of features than the training data.

        See Also
        --------
        predict_proba : The probabilities.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from pysoftmax import SoftmaxRegression
        >>> X, y = load_iris(return_X_y=True)
        >>> model = SoftmaxRegression(max_iter=200).fit(X, y)
        >>> bool(np.allclose(np.exp(model.predict_log_proba(X[:2])), model.predict_proba(X[:2])))
        True
        """
        if _dask.is_dask_collection(X):
            return self._dask_predictions(X, "predict_log_proba")
        return _native.log_softmax(self._scores(X), axis=1)

    def _dask_predictions(self, X, kind):
        """`kind` of a dask array or DataFrame X: a lazy dask array, block by block."""
        check_is_fitted(self)
        from . import _regression_dask

        return _regression_dask.predict(self, X, kind)

    def score(self, X, y, sample_weight=None):
        """Return the mean accuracy of ``predict(X)`` against ``y``.

        As ClassifierMixin.score; on Dask collections it is computed where the data lives.

        Parameters
        ----------
        X : array_like, scipy.sparse matrix or dask array, shape (n_samples, n_features)
            The samples.
        y : array_like or dask array, shape (n_samples,)
            The true labels.
        sample_weight : array_like, shape (n_samples,), optional
            Weights of the samples.

        Returns
        -------
        float
            The (weighted) fraction of samples whose predicted label is ``y``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.

        See Also
        --------
        predict : The labels compared with ``y``.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from pysoftmax import SoftmaxRegression
        >>> X, y = load_iris(return_X_y=True)
        >>> model = SoftmaxRegression(max_iter=200).fit(X, y)
        >>> model.score(X, y) > 0.9
        True
        """
        if _dask.is_dask_collection(X):
            check_is_fitted(self)
            from . import _regression_dask

            return _regression_dask.score(self, X, y, sample_weight)
        return super().score(X, y, sample_weight)
