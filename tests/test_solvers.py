"""SoftmaxRegression's solvers "gd" and "sgd" and partial_fit: convergence to within 5% of the lbfgs
optimum on digits, stopping rules and warnings, the step of learning_rate_init="auto"
(many features, digits' test accuracy, the rule), determinism and thread counts, float32,
partial_fit's semantics (classes, unseen labels, missing classes, state across calls), early
stopping, verbose output, the layers' contracts (fit's callback, the solvers' one signature,
partial_fit's stream given to the Objective's constructor), warm start across solvers, pickling,
and the pictures of such models."""

import pickle
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("scipy.optimize")
pytest.importorskip("sklearn")

from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402

import pysoftmax  # noqa: E402
from pysoftmax import SoftmaxRegression  # noqa: E402

from helpers import objective, scaled_digits, using_threads  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    return scaled_digits()


@pytest.fixture(scope="module")
def optimum(digits):
    """The lbfgs optimum of the objective (float64, sum form) on standardised digits, per C."""
    X, y = digits
    return {C: objective(SoftmaxRegression(C=C, tol=1e-8, max_iter=5000).fit(X, y), X, y, C)
            for C in (0.1, 1.0)}


def _stream(model, X, y, chunks=10, passes=30):
    parts = np.array_split(np.arange(len(y)), chunks)
    for _ in range(passes):
        for rows in parts:
            model.partial_fit(X[rows], y[rows], classes=np.unique(y))
    return model


def _quiet_fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


# ---- convergence: within 5% of the optimum ---------------------------------------------------

# Default settings but max_iter = 300; a ConvergenceWarning would fail the test (warnings are
# errors): each solver stops by its own rule before max_iter.
@pytest.mark.parametrize("C", [0.1, 1.0])
@pytest.mark.parametrize("solver", ["gd", "sgd"])
def test_within_5_percent_of_lbfgs(digits, optimum, solver, C):
    X, y = digits
    model = SoftmaxRegression(solver=solver, C=C, max_iter=300, random_state=0).fit(X, y)
    assert model.n_iter_[0] < 300
    assert objective(model, X, y, C) <= 1.05 * optimum[C]
    np.testing.assert_allclose(model.loss_curve_[-1] * len(y), objective(model, X, y, C),
                               rtol=1e-9)


@pytest.mark.parametrize("C", [0.1, 1.0])
def test_partial_fit_10_chunks_30_passes_within_5_percent(digits, optimum, C):
    X, y = digits
    model = _stream(SoftmaxRegression(C=C, random_state=0, stream_size=len(y)), X, y)
    assert model.n_iter_[0] == 300 and len(model.loss_curve_) == 300
    assert objective(model, X, y, C) <= 1.05 * optimum[C]


def test_partial_fit_penalty_is_spread_over_stream_size(digits, optimum):
    # stream_size=None spreads the penalty over the samples seen so far: 30 passes count each
    # row 30 times, the objective of C = 30 on digits, not that of C = 0.1.
    X, y = digits
    model = _stream(SoftmaxRegression(C=0.1, random_state=0), X, y)
    assert model._stream.rows == 30 * len(y)
    assert objective(model, X, y, 0.1) > 1.5 * optimum[0.1]
    assert np.abs(model.coef_).max() > 1.5 * np.abs(
        _stream(SoftmaxRegression(C=0.1, random_state=0, stream_size=len(y)), X, y).coef_).max()


def test_gd_reaches_the_optimum_with_a_small_tol(digits, optimum):
    X, y = digits
    model = SoftmaxRegression(solver="gd", C=0.1, tol=1e-7, max_iter=5000).fit(X, y)
    lbfgs = SoftmaxRegression(C=0.1, tol=1e-8, max_iter=5000).fit(X, y)
    assert objective(model, X, y, 0.1) <= optimum[0.1] * (1 + 1e-9)
    np.testing.assert_allclose(model.predict_proba(X), lbfgs.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
def test_schedules_converge(digits, optimum, learning_rate):
    X, y = digits
    model = SoftmaxRegression(solver="sgd", C=0.1, max_iter=300, random_state=0,
                              learning_rate=learning_rate).fit(X, y)
    constant = SoftmaxRegression(solver="sgd", C=0.1, max_iter=300, random_state=0).fit(X, y)
    assert objective(model, X, y, 0.1) <= 1.05 * optimum[0.1]
    assert not np.array_equal(model.coef_, constant.coef_)


def test_sgd_with_sample_weights(digits):
    X, y = digits
    sw = np.random.default_rng(0).integers(1, 4, size=len(y)).astype(float)
    best = objective(SoftmaxRegression(C=0.1, tol=1e-8, max_iter=5000).fit(X, y, sw), X, y, 0.1,
                     sw)
    model = SoftmaxRegression(solver="sgd", C=0.1, max_iter=300, random_state=0).fit(X, y, sw)
    assert objective(model, X, y, 0.1, sw) <= 1.05 * best


# ---- stopping rules and warnings -----------------------------------------------------------

def test_gd_stops_on_the_gradient_test(digits):
    from pysoftmax._regression_objective import Objective

    X, y = digits
    model = SoftmaxRegression(solver="gd", C=0.1, tol=1e-3, max_iter=1000).fit(X, y)
    assert 0 < model.n_iter_[0] < 1000
    assert np.all(np.diff(model.loss_curve_) < 0)              # Armijo: every step decreases
    problem = Objective(X, y.astype(np.int64), np.ones(len(y)), 0.1, True, 10)
    grad = problem.loss_grad(problem.pack(model.coef_, model.intercept_))[1]
    assert 1e-4 < np.max(np.abs(grad)) <= 1e-3                 # stopped at tol, not far below


def test_gd_stops_when_the_objective_stops_decreasing(digits):
    # float32 data and tol 0: no gradient test can pass; gd stops at the rounding floor
    # (no step decreases the objective any more), without a warning.
    X, y = digits
    X, y = X[y < 3].astype(np.float32), y[y < 3]
    model = SoftmaxRegression(solver="gd", C=0.1, tol=0.0, max_iter=20000).fit(X, y)
    assert model.n_iter_[0] < 20000 and model.coef_.dtype == np.float32


@pytest.mark.parametrize("solver, unit, reason", [
    ("gd", "iteration", "the maximum number of iterations was reached"),
    ("sgd", "epoch", "the maximum number of epochs was reached")])
def test_convergence_warning_when_max_iter_is_reached(digits, solver, unit, reason):
    # the words of LogisticRegression's lbfgs warning (test_regression checks them for lbfgs)
    X, y = digits
    with pytest.warns(ConvergenceWarning) as record:
        model = SoftmaxRegression(solver=solver, max_iter=2, random_state=0).fit(X, y)
    assert model.n_iter_[0] == 2 and len(model.loss_curve_) == 2
    assert str(record[0].message) == (
        f"{solver} failed to converge after 2 {unit}(s) (status=1):\n{reason}\n\n"
        f"Increase the number of iterations to improve the convergence (max_iter=2).\n"
        f"You might also want to scale the data as shown in:\n"
        f"    https://scikit-learn.org/stable/modules/preprocessing.html\n"
        f"Please also refer to the documentation for alternative solver options:\n"
        f"    help(pysoftmax.SoftmaxRegression) (solver: 'lbfgs', 'gd' or 'sgd')")


def test_sgd_learning_rate_too_large(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match=r"\(status=2\):\nthe objective \([\d.]+\) ended "
                                                r"above its starting value.*too large"):
        SoftmaxRegression(solver="sgd", learning_rate_init=100.0, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="sgd diverged.*lower learning_rate_init"):
        SoftmaxRegression(solver="sgd", learning_rate_init=1e8, random_state=0).fit(X, y)


def test_sgd_warns_whenever_it_ends_above_the_start(digits, optimum):
    # From the optimum any noise is a loss: the objective ends above the start, a failure.
    X, y = digits
    model = SoftmaxRegression(C=0.1, tol=1e-8, max_iter=5000).fit(X, y)
    model.set_params(solver="sgd", warm_start=True, max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning, match="ended above its starting value"):
        model.fit(X, y)
    assert objective(model, X, y, 0.1) > optimum[0.1]


# ---- learning_rate_init="auto" -------------------------------------------------------------

@pytest.fixture(scope="module")
def many_features():
    return make_classification(20000, 200, n_informative=50, n_classes=5, random_state=0)


def test_auto_learning_rate_on_many_features(many_features):
    # 200 features: the step tuned on digits' 64 (0.3) ends above the all-zero model's
    # objective log 5 (with a warning); "auto" scales the step down with the number of features.
    X, y = many_features
    model = SoftmaxRegression(solver="sgd", random_state=0).fit(X, y)    # no warning
    lbfgs = SoftmaxRegression().fit(X, y)
    assert model.loss_curve_[-1] < 1.3 < np.log(5)
    assert model.loss_curve_[-1] < 1.15 * lbfgs.loss_curve_[-1]
    with pytest.warns(ConvergenceWarning, match="ended above its starting value"):
        fixed = SoftmaxRegression(solver="sgd", learning_rate_init=0.3, random_state=0).fit(X, y)
    assert fixed.loss_curve_[-1] > np.log(5)


def test_auto_learning_rate_on_digits_keeps_the_test_accuracy():
    # the demo's split: as accurate on the test images as the step tuned on digits (0.3)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    for C in (0.1, 1.0):
        params = dict(C=C, solver="sgd", max_iter=300, random_state=0)
        auto = SoftmaxRegression(**params).fit(X_train, y_train)
        tuned = SoftmaxRegression(learning_rate_init=0.3, **params).fit(X_train, y_train)
        assert auto.score(X_test, y_test) >= tuned.score(X_test, y_test) >= 0.97


def test_auto_learning_rate_rule(digits):
    # min(1 / L, (1 - momentum) batch / E), against the exact eigenvalue
    from pysoftmax._regression_objective import FeatureScaling, Objective
    from pysoftmax._regression_solvers import auto_learning_rate

    X, y = digits
    X = X[:1500] * np.linspace(0.5, 20, 64)                     # any scales: the same step
    objective = Objective(X, y[:1500].astype(np.int64), np.ones(1500), 0.1, True, 10)
    scaling = FeatureScaling.of(objective)
    z = np.hstack([(X - scaling.mean) / scaling.scale, np.ones((1500, 1))])
    second = z.T @ z / 1500
    penalty = np.append(10.0 / 1500 / scaling.scale ** 2, 0.0)        # alpha / (S s_j^2)
    curvature = np.linalg.eigvalsh(0.5 * second + np.diag(penalty))[-1]
    expected = np.trace(second)
    for batch, momentum in ((200, 0.9), (1500, 0.9), (50, 0.0), (10, 0.5)):
        rule = 1 / curvature if batch == 1500 else min(1 / curvature,
                                                       (1 - momentum) * batch / expected)
        got = auto_learning_rate(objective, scaling, batch, momentum)
        assert abs(got / rule - 1) < 0.01, (batch, momentum)
    # on 64 features the curvature holds at 200 rows a batch, the noise term at 50
    assert auto_learning_rate(objective, scaling, 200, 0.9) == pytest.approx(1 / curvature,
                                                                             rel=0.01)
    assert auto_learning_rate(objective, scaling, 50, 0.9) < 0.9 / curvature


def test_auto_learning_rate_takes_a_chunk_of_a_stream_as_a_minibatch(many_features):
    # 150 rows in one batch: as a data set, full-batch steps (1 / L); as partial_fit's chunk,
    # a sample of the stream, whose noise on 200 features bounds the step far below that
    from pysoftmax._regression_objective import FeatureScaling, Objective, Stream
    from pysoftmax._regression_solvers import auto_learning_rate

    X, y = many_features
    rows = (X[:150], y[:150].astype(np.int64), np.ones(150), 1.0, True, 5)
    whole, chunk = Objective(*rows), Objective(*rows, stream=Stream())
    full = auto_learning_rate(whole, FeatureScaling.of(whole), 150, 0.9)
    sample = auto_learning_rate(chunk, FeatureScaling.of(chunk), 150, 0.9)
    assert sample == pytest.approx(0.1 * 150 / 201, rel=0.01) and sample < full / 5


def test_sgd_stops_when_the_objective_stops_improving(digits):
    X, y = digits
    loose = SoftmaxRegression(solver="sgd", tol=1e-2, max_iter=300, random_state=0).fit(X, y)
    tight = SoftmaxRegression(solver="sgd", tol=1e-5, max_iter=300, random_state=0).fit(X, y)
    assert loose.n_iter_[0] < tight.n_iter_[0] < 300
    curve = loose.loss_curve_
    # MLPClassifier's rule: stopped after n_iter_no_change + 1 = 11 epochs each failing to
    # decrease the objective by tol below the best before it
    failed = [curve[t] > min(curve[:t]) - 1e-2 for t in range(1, len(curve))]
    assert failed[-11:] == [True] * 11 and not all(failed[-12:])


# ---- determinism, threads, dtypes ----------------------------------------------------------

def test_same_random_state_same_model(digits):
    X, y = digits
    fits = [SoftmaxRegression(solver="sgd", max_iter=20, tol=0.0, random_state=seed)
            for seed in (3, 3, 4)]
    for model in fits:
        _quiet_fit(model, X, y)
    assert np.array_equal(fits[0].coef_, fits[1].coef_)
    assert np.array_equal(fits[0].intercept_, fits[1].intercept_)
    assert not np.array_equal(fits[0].coef_, fits[2].coef_)
    streams = [_stream(SoftmaxRegression(random_state=seed, batch_size=50), X, y, passes=2)
               for seed in (3, 3, 4)]
    assert np.array_equal(streams[0].coef_, streams[1].coef_)
    assert not np.array_equal(streams[0].coef_, streams[2].coef_)
    rng = np.random.RandomState(5)               # a RandomState instance: drawn from, as sklearn
    first = _quiet_fit(SoftmaxRegression(solver="sgd", max_iter=5, random_state=rng), X, y)
    second = _quiet_fit(SoftmaxRegression(solver="sgd", max_iter=5, random_state=rng), X, y)
    assert not np.array_equal(first.coef_, second.coef_)


@pytest.mark.parametrize("how", ["gd", "sgd", "partial_fit"])
def test_same_model_whatever_the_thread_count(how):
    X, y = make_classification(n_samples=3000, n_features=40, n_informative=10, n_classes=5,
                               random_state=1)
    X = X.astype(np.float32)
    models = []
    for threads in (1, 2):
        with using_threads(threads):
            model = SoftmaxRegression(solver="sgd" if how == "partial_fit" else how, max_iter=5,
                                      batch_size=1000, random_state=0)
            if how == "partial_fit":
                for rows in np.array_split(np.arange(3000), 3):
                    model.partial_fit(X[rows], y[rows], classes=np.arange(5))
            else:
                _quiet_fit(model, X, y)
            models.append(model)
    assert np.array_equal(models[0].coef_, models[1].coef_)
    assert np.array_equal(models[0].intercept_, models[1].intercept_)
    assert models[0].loss_curve_ == models[1].loss_curve_


@pytest.mark.parametrize("how", ["gd", "sgd", "partial_fit"])
def test_float32_is_kept(digits, how):
    X, y = digits
    X32 = X.astype(np.float32)
    if how == "partial_fit":
        models = [_stream(SoftmaxRegression(random_state=0, stream_size=len(y)), data, y,
                          passes=3) for data in (X32, X)]
    else:
        models = [_quiet_fit(SoftmaxRegression(solver=how, max_iter=50, random_state=0), data, y)
                  for data in (X32, X)]
    f32, f64 = models
    assert f32.coef_.dtype == np.float32 and f32.intercept_.dtype == np.float32
    assert f64.coef_.dtype == np.float64
    assert f32.predict_proba(X32).dtype == np.float32
    # the same path up to float32 rounding
    assert abs(objective(f32, X, y, 1.0) / objective(f64, X, y, 1.0) - 1) < 1e-3


# ---- partial_fit semantics -----------------------------------------------------------------

def test_partial_fit_needs_classes_on_the_first_call(digits):
    X, y = digits
    model = SoftmaxRegression()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        model.partial_fit(X[y == 0], y[y == 0], classes=[0])
    assert not hasattr(model, "coef_")
    model.partial_fit(X[:100], y[:100], classes=np.arange(10))
    model.partial_fit(X[100:200], y[100:200])                         # later: optional
    model.partial_fit(X[200:300], y[200:300], classes=list(range(10)))  # or the same
    assert model.n_iter_[0] == 3
    with pytest.raises(ValueError, match=r"`classes=\[0, 1\]` is not the same as on the last"):
        model.partial_fit(X[:100], y[:100], classes=[0, 1])


def test_partial_fit_rejects_unseen_labels(digits):
    X, y = digits
    model = SoftmaxRegression().partial_fit(X[y < 5], y[y < 5], classes=np.arange(5))
    coef = model.coef_.copy()
    with pytest.raises(ValueError, match=r"y contains labels not in classes \[0, 1, 2, 3, 4\]: "
                                         r"\[7, 9\]"):
        model.partial_fit(X[(y == 7) | (y == 9) | (y == 0)], y[(y == 7) | (y == 9) | (y == 0)])
    assert np.array_equal(model.coef_, coef) and model.n_iter_[0] == 1     # nothing changed
    with pytest.raises(ValueError, match="X has 63 features, but SoftmaxRegression is "
                                         "expecting 64"):
        model.partial_fit(X[:10, :63], y[:10])


def test_partial_fit_batch_missing_classes(digits):
    X, y = digits
    labels = np.array([f"digit {d}" for d in y])
    model = SoftmaxRegression(random_state=0)
    few = y < 4
    model.partial_fit(X[few], labels[few], classes=np.unique(labels))
    assert list(model.classes_) == [f"digit {d}" for d in range(10)]
    assert model.coef_.shape == (10, 64)
    # the absent classes' rows moved too: their scores were pushed down through the softmax
    assert np.all(np.abs(model.coef_[4:]).max(axis=1) > 0)
    proba = model.predict_proba(X[few]).mean(axis=0)
    assert np.all(proba[4:] < 0.05) and np.all(proba[:4] > 0.15)     # from 0.1 each
    assert set(model.predict(X)) <= {f"digit {d}" for d in range(4)}
    model.partial_fit(X[~few], labels[~few])
    assert len(set(model.predict(X))) > 4


def test_partial_fit_keeps_the_optimizer_state(digits):
    # k calls over the whole data are k epochs of sgd: the velocity, the step count and the
    # random state carry over between calls (a fresh velocity per call would differ a lot).
    X, y = digits
    streamed = SoftmaxRegression(random_state=0, stream_size=len(y))
    for _ in range(5):
        streamed.partial_fit(X, y, classes=np.arange(10))
    fitted = _quiet_fit(SoftmaxRegression(solver="sgd", max_iter=5, tol=0.0, random_state=0),
                        X, y)
    np.testing.assert_allclose(streamed.coef_, fitted.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(streamed.loss_curve_, fitted.loss_curve_, rtol=1e-9)
    forgetful = SoftmaxRegression(random_state=0, stream_size=len(y))
    for _ in range(5):
        forgetful.partial_fit(X, y, classes=np.arange(10))
        forgetful._sgd.velocity = None
    assert np.abs(forgetful.coef_ - fitted.coef_).max() > 0.1


def test_partial_fit_after_fit_continues(digits):
    X, y = digits
    model = SoftmaxRegression(C=0.1, tol=1e-8, max_iter=5000).fit(X, y)
    before, n_iter = objective(model, X, y, 0.1), model.n_iter_[0]
    model.set_params(learning_rate_init=0.01)
    model.partial_fit(X[:200], y[:200])                       # no classes needed
    assert model.n_iter_[0] == n_iter + 1 and len(model.loss_curve_) == n_iter + 1
    assert objective(model, X, y, 0.1) < before * 1.01        # a small step from the optimum
    assert model._stream.rows == len(y) + 200                 # the stream began with fit's data


def test_partial_fit_class_weight(digits):
    X, y = digits
    with pytest.raises(ValueError, match="class_weight 'balanced' is not supported for "
                                         "partial_fit"):
        SoftmaxRegression(class_weight="balanced").partial_fit(X, y, classes=np.arange(10))
    weighted = SoftmaxRegression(class_weight={3: 5.0}, random_state=0)
    plain = SoftmaxRegression(random_state=0)
    for model in (weighted, plain):
        model.partial_fit(X, y, classes=np.arange(10))
    assert np.mean(weighted.predict(X) == 3) > np.mean(plain.predict(X) == 3)


# ---- early stopping ------------------------------------------------------------------------

def test_early_stopping_restores_the_best_epoch():
    # Few rows, many features, no penalty: the training objective keeps falling while the
    # held-out accuracy stops improving.
    X, y = make_classification(n_samples=300, n_features=200, n_informative=10, n_classes=3,
                               random_state=0)
    params = dict(solver="sgd", C=np.inf, early_stopping=True, max_iter=500, random_state=0,
                  learning_rate_init=0.05, n_iter_no_change=5, tol=0.0)
    model = SoftmaxRegression(**params).fit(X, y)
    scores = model.validation_scores_
    n_iter = model.n_iter_[0]
    assert n_iter < 500 and len(scores) == len(model.loss_curve_) == n_iter
    best = int(np.argmax(scores))
    assert model.best_validation_score_ == scores[best] == max(scores)
    assert best + 1 + 5 < n_iter <= best + 1 + 6             # stopped 6 epochs after the best
    assert model.loss_curve_[-1] < model.loss_curve_[best]  # training went on improving
    # the returned parameters are those after epoch best + 1, not the last ones: their
    # training objective is loss_curve_[best], their held-out accuracy the best score
    short = _quiet_fit(SoftmaxRegression(**{**params, "max_iter": best + 1}), X, y)
    assert np.array_equal(model.coef_, short.coef_)
    train, held = model._validation_split(y, 3, check_random_state(0))  # fit's split
    assert len(held) == 30
    np.testing.assert_allclose(objective(model, X[train], y[train], np.inf) / len(train),
                               model.loss_curve_[best], rtol=1e-9)
    assert model.score(X[held], y[held]) == model.best_validation_score_


def test_no_validation_scores_without_early_stopping(digits):
    X, y = digits
    model = _quiet_fit(SoftmaxRegression(solver="sgd", max_iter=3, random_state=0), X, y)
    assert model.validation_scores_ is None and model.best_validation_score_ is None
    model.set_params(early_stopping=True, max_iter=3)
    _quiet_fit(model, X, y)
    assert len(model.validation_scores_) == 3
    model.set_params(solver="lbfgs")
    _quiet_fit(model, X, y)
    assert model.validation_scores_ is None


# ---- verbose -------------------------------------------------------------------------------

def test_silent_by_default(digits, capsys):
    X, y = digits
    for solver in ("lbfgs", "gd", "sgd"):
        _quiet_fit(SoftmaxRegression(solver=solver, max_iter=5, early_stopping=True,
                                     random_state=0), X, y)
    SoftmaxRegression().partial_fit(X, y, classes=np.arange(10))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_shows_progress(digits, capsys):
    pytest.importorskip("tqdm")
    X, y = digits
    _quiet_fit(SoftmaxRegression(solver="sgd", max_iter=5, early_stopping=True, verbose=1,
                                 random_state=0), X, y)
    err = capsys.readouterr().err
    assert "sgd" in err and "5/5" in err and "objective=" in err and "validation score=" in err
    _quiet_fit(SoftmaxRegression(solver="gd", max_iter=4, verbose=1), X, y)
    err = capsys.readouterr().err
    assert "gd" in err and "4/4" in err and "iteration" in err
    SoftmaxRegression(verbose=1).partial_fit(X, y, classes=np.arange(10))
    assert "partial_fit epoch 1: objective" in capsys.readouterr().out
    _quiet_fit(SoftmaxRegression(max_iter=2, verbose=1), X, y)     # lbfgs: as before
    assert "lbfgs iteration 2: objective" in capsys.readouterr().out


def test_verbose_without_tqdm_prints_lines(digits, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    X, y = digits
    _quiet_fit(SoftmaxRegression(solver="sgd", max_iter=3, early_stopping=True, verbose=1,
                                 random_state=0), X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[2].startswith("sgd epoch 3: objective ") and "validation score" in lines[2]


# ---- the layers: objective, solvers, estimator ---------------------------------------------

def _counting(monkeypatch, cls, names):
    """Counts the calls of cls's methods `names` (wrapped in place)."""
    counts = dict.fromkeys(names, 0)

    def counting(name, method):
        def counted(self, *args):
            counts[name] += 1
            return method(self, *args)
        return counted

    for name in names:
        monkeypatch.setattr(cls, name, counting(name, getattr(cls, name)))
    return counts


@pytest.mark.parametrize("params", [
    {"solver": "lbfgs"}, {"solver": "gd"}, {"solver": "sgd", "random_state": 0},
    {"solver": "sgd", "random_state": 0, "batch_size": 5000, "early_stopping": True},
    {"solver": "lbfgs", "fit_intercept": False, "C": np.inf}], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_callback_sees_every_evaluation(digits, monkeypatch, params, dtype):
    from pysoftmax._regression_objective import Objective

    X, y = digits
    X = X.astype(dtype)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    reference_fit = _quiet_fit(SoftmaxRegression(max_iter=8, **params), X, y, sw)
    counts = _counting(monkeypatch, Objective, ["loss_grad", "value", "batch_loss_grad"])
    calls = []
    model = SoftmaxRegression(max_iter=8, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model._fit(X, y, sw, callback=lambda *args: calls.append(args))
    # the callback changes nothing, and runs once per evaluation of the whole objective
    assert np.array_equal(model.coef_, reference_fit.coef_)
    assert model.loss_curve_ == reference_fit.loss_curve_
    assert len(calls) == counts["loss_grad"] + counts["value"] > model.n_iter_[0]
    if params.get("early_stopping"):
        train, _ = model._validation_split(y, 10, check_random_state(0))
        X, y, sw = X[train], y[train], sw[train]
    C = params.get("C", 1.0)
    for value, coef, intercept in calls[::3]:
        assert coef.dtype == dtype and coef.shape == (10, 64)
        if params.get("fit_intercept", True):
            assert intercept.dtype == dtype and intercept.shape == (10,)
        else:
            assert intercept is None
            intercept = np.zeros(10)
        ce = pysoftmax.reference.linear_cross_entropy(
            X.astype(np.float64), coef.astype(np.float64), intercept.astype(np.float64), y,
            sample_weight=sw, reduction="sum", return_grad=False)
        w = coef.astype(np.float64)
        np.testing.assert_allclose(value, ce + 0.5 * float(np.sum(w * w)) / C,
                                   rtol=1e-9 if dtype == np.float64 else 1e-5)


def test_solvers_share_one_signature(digits):
    import inspect

    from pysoftmax._regression_objective import Objective
    from pysoftmax._regression_solvers import SOLVERS, SolverOptions, SolverResult

    signatures = {name: inspect.signature(solve) for name, solve in SOLVERS.items()}
    assert set(signatures) == {"lbfgs", "gd", "sgd"}
    assert len(set(signatures.values())) == 1
    assert list(signatures["sgd"].parameters) == ["objective", "theta0", "options"]
    X, y = digits
    options = SolverOptions(max_iter=3, tol=1e-4, random_state=np.random.RandomState(0))
    for name, solve in SOLVERS.items():
        objective = Objective(X, y.astype(np.int64), np.ones(len(y)), 1.0, True, 10)
        result = solve(objective, np.zeros(objective.size), options)
        assert isinstance(result, SolverResult) and result.n_iter == 3, name
        assert result.loss_curve[-1] < np.log(10), name


def test_partial_fit_stream_goes_to_the_objective_constructor(digits, monkeypatch):
    from pysoftmax import _regression
    from pysoftmax._regression_objective import Moments, Objective, Stream

    X, y = digits
    sw = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))
    rows = np.arange(300, 700)
    before = Stream(Moments.of(X[:300], sw[:300]), float(sw[:300].sum()), 300)
    for stream_size in (None, 5000):
        chunk = Objective(X[rows], y[rows].astype(np.int64), sw[rows], 0.5, True, 10,
                          stream=before, stream_size=stream_size)
        assert chunk.stream.rows == 700 and chunk.stream.weight == before.weight + sw[rows].sum()
        mean_weight = chunk.stream.weight / 700
        assert chunk.data_weight == 400 * mean_weight
        assert chunk.S == (chunk.stream.weight if stream_size is None
                           else stream_size * mean_weight)
        whole = Moments.of(X[:700], sw[:700])
        np.testing.assert_allclose(chunk.moments().mean, whole.mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(chunk.moments().var, whole.var, rtol=1e-9, atol=1e-12)
    assert before.rows == 300                           # the stream before is left as it was

    class Sealed(Objective):
        """An Objective whose fields no one sets after its constructor."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._sealed = True

        def __setattr__(self, name, value):
            assert not getattr(self, "_sealed", False), f"{name} set after construction"
            super().__setattr__(name, value)

    def stream(model):
        for i in range(0, len(y), 600):
            model.partial_fit(X[i:i + 600], y[i:i + 600], classes=np.arange(10),
                              sample_weight=sw[i:i + 600])
        return model

    expected = stream(SoftmaxRegression(random_state=0, stream_size=len(y)))
    monkeypatch.setattr(_regression, "Objective", Sealed)
    model = stream(SoftmaxRegression(random_state=0, stream_size=len(y)))
    assert np.array_equal(model.coef_, expected.coef_)
    assert model._stream.rows == len(y) and model._stream.weight == pytest.approx(np.sum(sw))


# ---- warm start, pickling, pictures --------------------------------------------------------

def test_warm_start_across_solvers(digits):
    X, y = digits
    model = SoftmaxRegression(C=1.0, tol=1e-8, max_iter=5000).fit(X, y)
    start = model.loss_curve_[-1]
    model.set_params(solver="sgd", warm_start=True, max_iter=300, random_state=0,
                     learning_rate_init=0.03)
    with pytest.warns(ConvergenceWarning, match="ended above its starting value"):
        model.fit(X, y)                                          # noise: above the optimum
    assert model.loss_curve_[0] < 1.02 * start                   # began at the lbfgs optimum
    cold = _quiet_fit(SoftmaxRegression(solver="sgd", max_iter=1, random_state=0), X, y)
    assert cold.loss_curve_[0] > 2 * start
    model.set_params(solver="gd", tol=1e-3)
    model.fit(X, y)                                              # from the sgd solution
    assert model.n_iter_[0] < 50
    model.set_params(solver="lbfgs", tol=1e-8)
    model.fit(X, y)
    assert model.loss_curve_[-1] <= start * (1 + 1e-9)


def test_pickle_keeps_the_model_and_the_stream(digits):
    X, y = digits
    model = _stream(SoftmaxRegression(random_state=0), X, y, passes=1)
    clone = pickle.loads(pickle.dumps(model))
    assert np.array_equal(clone.predict_proba(X), model.predict_proba(X))
    model.partial_fit(X[:300], y[:300])
    clone.partial_fit(X[:300], y[:300])
    assert np.array_equal(clone.coef_, model.coef_)


def test_pictures_of_the_new_solvers(digits):
    pytest.importorskip("matplotlib")
    X, y = digits
    model = SoftmaxRegression(solver="sgd", early_stopping=True, max_iter=300,
                              random_state=0).fit(X, y)
    fig = pysoftmax.plot_templates(model, (8, 8))
    assert [ax.get_title() for ax in fig.axes] == [str(d) for d in range(10)]
    np.testing.assert_array_equal(fig.axes[3].get_images()[0].get_array(),
                                  model.coef_[3].reshape(8, 8))
    curve = pysoftmax.plot_loss_curve(model)
    assert len(curve.axes) == 2 and curve.axes[0].get_xlabel() == "epoch"
    np.testing.assert_array_equal(curve.axes[1].get_lines()[0].get_ydata(),
                                  model.validation_scores_)
    gd = SoftmaxRegression(solver="gd", max_iter=300).fit(X, y)
    assert pysoftmax.plot_loss_curve(gd).axes[0].get_xlabel() == "iteration"
