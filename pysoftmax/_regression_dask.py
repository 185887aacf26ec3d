"""SoftmaxRegression on Dask collections: fit, partial_fit and the predictions when X is a
dask array chunked by rows (or a Dask DataFrame) and y a matching dask array (or Series).

The data stays where its blocks are (the workers of the current distributed Client, or Dask's
default local scheduler): _dask.DaskLinearProblem persists each block once, and every
evaluation of the objective sends (W, b) and brings back (loss, dW, db), added in a fixed tree.
The solvers run in this process on the objective below, which is Objective's arithmetic with
the loss from the cluster: the same objective, solvers and stopping rules as in memory.

- classes_ (and the counts class_weight="balanced" needs) from one pass over y;
- the features' moments (the solvers' coordinates) from one pass over X's blocks;
- "sgd" and partial_fit: every epoch visits the blocks (or runs of batch_size rows within
  them) in an order drawn from random_state, each step's gradient computed where its block is;
- predict, predict_proba, predict_log_proba, decision_function: lazy dask arrays, block by
  block (map_blocks); score computes.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import _dask
from ._regression_objective import Moments, Objective, Stream
from ._regression_solvers import SGD, SOLVERS, sgd_epoch, solve_sgd

__all__ = ["as_dask_X", "DaskObjective", "DaskSGD", "fit", "fit_arguments", "partial_fit",
           "predict", "score"]


def _dataframe(obj):
    return hasattr(obj, "to_dask_array") and hasattr(obj, "npartitions")


def as_dask_X(X, *, lengths):
    """X as a 2-D dask array of float32 or float64 (other dtypes: float64, as in memory), with
    the feature names of a DataFrame (or None). A DataFrame becomes a dask array of its
    partitions: with lengths=True their lengths are computed (one pass over the partitions,
    where they are), which training needs; predictions need none."""
    names = None
    if _dataframe(X):
        names = np.asarray([str(c) for c in X.columns], dtype=object)
        # lengths=None: chunks of unknown length (dask-expr refuses False)
        X = X.to_dask_array(lengths=True if lengths else None)
    elif not isinstance(X, _dask._da().Array):
        raise TypeError(f"X: expected a dask.array.Array or a Dask DataFrame, got "
                        f"{type(X).__name__}")
    if lengths:
        X = _dask._as_dask(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D array (n_samples, n_features), got shape {X.shape}")
    if X.dtype not in (np.float32, np.float64):
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X: dtype {X.dtype} is not supported; expected real values")
        X = X.astype(np.float64)
    return X, names


def _as_dask_1d(a, name, rows):
    """y or sample_weight as a 1-D dask array with X's row chunks (a Series: its partitions'
    lengths computed; NumPy arrays become dask arrays)."""
    da = _dask._da()
    if _dataframe(a):
        a = a.to_dask_array(lengths=True)
    if not _dask.is_dask_collection(a):
        a = np.asarray(a)
        if a.ndim == 1 and len(a) == sum(rows):
            a = da.from_array(a, chunks=(rows,))
    return _dask._aligned(a, rows, name, (1,))


def _class_weights(codes, cw):
    return cw[codes]


def fit_arguments(X, y, sample_weight, class_weight, classes=None):
    """(X, y codes, s_i or None, classes, feature names) for training on Dask collections: y
    and the sample weights rechunked to X's rows; the classes from one pass over y (with
    their weighted counts for class_weight "balanced") unless given; s_i the sample weights
    times the class weights, lazily."""
    X, names = as_dask_X(X, lengths=True)
    if len(X.chunks[1]) > 1:
        raise ValueError(f"X: chunked along the features (chunks {X.chunks[1]}); each block "
                         f"must hold whole rows: X.rechunk({{1: -1}})")
    rows = X.chunks[0]
    y = _as_dask_1d(y, "y", rows)
    if y.dtype.kind == "f":
        raise ValueError(f"y: expected class labels (integers, strings, bool), got dtype "
                         f"{y.dtype}: continuous targets are not classes")
    sw = None if sample_weight is None else _as_dask_1d(sample_weight, "sample_weight", rows)
    if sw is not None and sw.dtype != X.dtype:
        sw = sw.astype(X.dtype)
    counts = None
    if classes is None:
        classes, counts = _dask.classes(y, sw, return_counts=True)
    codes = _dask.encode_labels(y, classes)
    if class_weight is not None:
        if class_weight == "balanced":
            if counts is None:
                raise ValueError("class_weight 'balanced' is not supported for partial_fit")
            counts = np.asarray(counts, dtype=np.float64)
            cw = np.where(counts > 0, counts.sum() / (len(classes) * np.maximum(counts, 1e-300)),
                          0.0)
        else:
            cw = np.ones(len(classes))
            for label, w in class_weight.items():
                i = np.searchsorted(classes, label)
                if i >= len(classes) or classes[i] != label:
                    raise ValueError(f"The classes, {[label]}, are not in class_weight")
                cw[i] = w
        cw = cw.astype(X.dtype)
        per_row = codes.map_blocks(_class_weights, cw, dtype=X.dtype)
        sw = per_row if sw is None else sw * per_row
    return X, codes, sw, np.asarray(classes), names


class DaskObjective(Objective):
    """Objective (the same value, gradient, packing and stream rules) with the summed loss of
    a DaskLinearProblem: X, the class codes and the s_i are dask arrays kept on the workers.
    batch_loss_grad takes one of the problem's batches instead of row indices."""

    def __init__(self, X, y, sample_weight, C, fit_intercept, n_classes, *, stream=None,
                 stream_size=None, callback=None, scheduler=None):
        self.X, self.y, self.sample_weight, self.dtype = X, y, sample_weight, X.dtype
        self.n, self.k, self.d = X.shape[0], n_classes, X.shape[1]
        self.fit_intercept = fit_intercept
        self.sparse = False
        self.alpha = 0.0 if np.isinf(C) else 1.0 / C
        self.problem = _dask.DaskLinearProblem(X, y, sample_weight, scheduler=scheduler)
        self._problem = self.problem
        self._check_shapes()
        self._moments = Moments(*self.problem.moments())
        # S = sum_i s_i (the moments' weight is that of |s_i|: the same for weights >= 0)
        self.S = (float(self.n) if sample_weight is None
                  else float(self.problem._scheduler.compute(sample_weight.sum(dtype=np.float64))))
        self.data_weight = self.S
        self._stream, self._callback = None, callback
        if stream is not None:
            self._stream = stream.then(self._moments, self.S, self.n)
            mean_weight = self._stream.weight / self._stream.rows
            self.data_weight = self.n * mean_weight
            self.S = self._stream.weight if stream_size is None else stream_size * mean_weight

    def _check_shapes(self):
        w0 = np.zeros((self.k, self.d), dtype=self.dtype)
        self.problem._check(w0, np.zeros(self.k, dtype=self.dtype) if self.fit_intercept
                            else None)

    def moments(self):
        return self._stream.moments if self._stream is not None else self._moments

    def batch_loss_grad(self, theta, batch):
        """The estimate of loss_grad(theta) from one batch of DaskLinearProblem.batches."""
        w, b = self.unpack(theta)
        loss, dw, db = batch(w, b)
        return self._value_grad(theta, loss, dw, db,
                                self.data_weight * batch.n_rows / self.n)

    def sample(self, rows):
        """An in-memory Objective of rows `rows` (sorted indices) of the data, for the
        learning rate's estimate: those rows only reach this process."""
        X = self.X[rows]
        sw = self.sample_weight[rows] if self.sample_weight is not None else None
        compute = self.problem._scheduler.compute
        X, y, sw = compute(X), compute(self.y[rows]), None if sw is None else compute(sw)
        if sw is None:
            sw = np.ones(len(rows), dtype=self.dtype)
        return Objective(np.ascontiguousarray(X), y, sw, np.inf, self.fit_intercept, self.k)


class _Sample:
    """What auto_learning_rate reads of an objective, for a DaskObjective: its moments and
    penalty, the rows of a sample (all of them taken), and whether a batch is a sample."""

    def __init__(self, objective, batch):
        d = objective.d
        m = min(objective.n, 2048, max(batch, (1 << 21) // (d + 1)))
        rows = np.unique(np.linspace(0, objective.n - 1, m).astype(np.int64))
        small = objective.sample(rows)
        self.X, self.sample_weight, self.n = small.X, small.sample_weight, len(rows)
        self.sparse, self.alpha, self.S = False, objective.alpha, objective.S
        self.chunk = batch < objective.n or objective.chunk
        self.moments = objective.moments


class DaskSGD(SGD):
    """SGD whose epochs visit a DaskObjective's batches (DaskLinearProblem.batches: whole
    blocks, or runs of batch_size rows within a block) in an order drawn from its random
    state, each gradient computed where its block lives; the update is SGD's."""

    def _rate_sample(self, objective, batch):
        return _Sample(objective, batch)

    def _batches(self, objective, batch):
        if batch >= objective.n:
            return [None]
        return objective.problem.batches(self.rng, batch)

    @classmethod
    def of(cls, optimizer):
        """A DaskSGD continuing `optimizer` (an SGD: its settings and state)."""
        new = cls.__new__(cls)
        new.__dict__.update(optimizer.__dict__)
        return new


def _start(estimator, objective, k, d):
    if (getattr(estimator, "coef_", None) is not None
            and estimator.coef_.shape == (k, d)):
        coef = estimator.coef_
        return objective.pack(coef.toarray() if hasattr(coef, "toarray") else coef,
                              estimator.intercept_)
    return np.zeros(objective.size)


def _set_features(estimator, d, names):
    estimator.n_features_in_ = d
    if names is not None:
        estimator.feature_names_in_ = names
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_


def fit(estimator, X, y, sample_weight, callback, convergence_warning):
    """SoftmaxRegression.fit on Dask collections (the estimator's parameters validated);
    convergence_warning(solver, result, max_iter) warns of a solve that did not converge."""
    from sklearn.utils import check_random_state

    from . import _native

    if estimator.solver == "sgd" and estimator.early_stopping:
        raise ValueError("early_stopping: not supported for Dask input (it holds out rows in "
                         "this process); pass validation data to score() instead")
    X, codes, sw, classes, names = fit_arguments(X, y, sample_weight, estimator.class_weight)
    if len(classes) < 2:
        raise ValueError(f"This solver needs samples of at least 2 classes in the data, but "
                         f"the data contains only one class: {classes[0].item()!r}")
    objective = DaskObjective(X, codes, sw, estimator.C, estimator.fit_intercept, len(classes),
                              callback=callback)
    theta0 = (_start(estimator, objective, len(classes), X.shape[1]) if estimator.warm_start
              else np.zeros(objective.size))
    rng = check_random_state(estimator.random_state)
    options = estimator._solver_options(rng)
    solve = _solve_sgd if estimator.solver == "sgd" else SOLVERS[estimator.solver]
    with _native.single_threaded_blas():
        result = solve(objective, theta0, options)
        stream = objective.stream
    if not result.converged:
        convergence_warning(estimator.solver, result, estimator.max_iter)
    _set_features(estimator, X.shape[1], names)
    estimator.classes_ = classes
    estimator._set_parameters(objective, result.theta)
    estimator.n_iter_ = np.array([result.n_iter], dtype=np.int32)
    estimator.loss_curve_ = result.loss_curve
    estimator.validation_scores_ = result.validation_scores
    estimator.best_validation_score_ = result.best_validation_score
    estimator._stream, estimator._sgd = stream, result.optimizer
    return estimator


def _solve_sgd(objective, theta0, options):
    """solve_sgd with DaskSGD's epochs."""
    return solve_sgd(objective, theta0, dataclasses.replace(options, optimizer=DaskSGD(options)))


def partial_fit(estimator, X, y, known, first, sample_weight=None):
    """SoftmaxRegression.partial_fit on Dask collections: one epoch of DaskSGD over them (the
    classes `known`, checked by the estimator)."""
    from sklearn.utils import check_random_state

    from . import _native
    from ._regression_progress import Progress

    X, codes, sw, _, names = fit_arguments(X, y, sample_weight, estimator.class_weight,
                                           classes=known)
    if not first and X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
                         f"expecting {estimator.n_features_in_} features as input")
    stream = None if first else getattr(estimator, "_stream", None)
    optimizer = None if first else getattr(estimator, "_sgd", None)
    if optimizer is None:
        optimizer = DaskSGD(estimator._solver_options(check_random_state(estimator.random_state)))
    elif not isinstance(optimizer, DaskSGD):
        optimizer = DaskSGD.of(optimizer)
    with _native.single_threaded_blas():
        objective = DaskObjective(X, codes, sw, estimator.C, estimator.fit_intercept, len(known),
                                  stream=stream or Stream(), stream_size=estimator.stream_size)
        theta = (np.zeros(objective.size) if first
                 else _start(estimator, objective, len(known), X.shape[1]))
        theta, loss = sgd_epoch(objective, theta, optimizer)
    if first:
        _set_features(estimator, X.shape[1], names)
    estimator.classes_ = known
    estimator._set_parameters(objective, theta)
    estimator.n_iter_ = np.array([1 if first else int(estimator.n_iter_[0]) + 1], dtype=np.int32)
    estimator.loss_curve_ = [loss] if first else list(estimator.loss_curve_) + [loss]
    if first:
        estimator.validation_scores_ = estimator.best_validation_score_ = None
    estimator._stream, estimator._sgd = objective.stream, optimizer
    Progress(estimator.verbose, "partial_fit").update(int(estimator.n_iter_[0]), loss)
    return estimator


def _scores_block(x, coef, intercept):
    return np.asarray(x, dtype=coef.dtype) @ coef.T + intercept


def _predict_block(x, coef, intercept, classes, kind):
    z = _scores_block(x, coef, intercept)
    if kind == "decision_function":
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z
    if kind == "predict":
        return classes[np.argmax(z, axis=1)]
    from . import _native

    f = _native.softmax if kind == "predict_proba" else _native.log_softmax
    return f(z, axis=1)


def predict(estimator, X, kind):
    """estimator's `kind` ("predict", "predict_proba", "predict_log_proba",
    "decision_function") of the dask array (or DataFrame) X: a lazy dask array with X's row
    chunks (the features rechunked into one chunk when they span several)."""
    X, _ = as_dask_X(X, lengths=False)
    coef = np.asarray(estimator.coef_.toarray() if hasattr(estimator.coef_, "toarray")
                      else estimator.coef_)
    intercept = np.asarray(estimator.intercept_, dtype=coef.dtype)
    if X.shape[1] != coef.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
                         f"expecting {coef.shape[1]} features as input")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    k = coef.shape[0]
    if kind == "predict":
        classes = estimator.classes_
        return X.map_blocks(_predict_block, coef, intercept, classes, kind, drop_axis=1,
                            dtype=classes.dtype, meta=np.empty((0,), classes.dtype))
    if kind == "decision_function" and k == 2:
        return X.map_blocks(_predict_block, coef, intercept, None, kind, drop_axis=1,
                            dtype=coef.dtype, meta=np.empty((0,), coef.dtype))
    return X.map_blocks(_predict_block, coef, intercept, None, kind, chunks=(X.chunks[0], (k,)),
                        dtype=coef.dtype, meta=np.empty((0, 0), coef.dtype))


def score(estimator, X, y, sample_weight=None):
    """The mean accuracy of predict(X) against y (weighted by sample_weight), computed."""
    import dask

    pred = predict(estimator, X, "predict")
    if _dataframe(y):
        y = y.to_dask_array()
    right = (pred == y).astype(np.float64)
    if sample_weight is None:
        return float(dask.compute(right.mean())[0])
    return float(dask.compute((right * sample_weight).sum() / sample_weight.sum())[0])

