"""SoftmaxRegression: scikit-learn's objective and API (check_estimator, and the cases of
scikit-learn's test_logistic.py that apply: n_iter_, max_iter, sparsify, the warning's words),
parity with LogisticRegression on digits and iris (the default tol: test_lbfgs_distance), the
binary case against binary logistic regression, dtypes, weights, warm start, determinism,
pickling and errors."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("scipy.optimize")
sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import load_iris, make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from pysoftmax import SoftmaxRegression  # noqa: E402

from helpers import objective, scaled_digits, using_threads  # noqa: E402

DATASETS = {"digits": scaled_digits, "iris": lambda: load_iris(return_X_y=True)}


# ---- scikit-learn compatibility ------------------------------------------------------------

# Every check of check_estimator (legacy ones included), for every solver; none is declared
# as an expected failure. Unscaled iris (check_non_transformer_estimators_n_iter) needs more
# than the default 100 iterations, as for LogisticRegression: the ConvergenceWarning is right
# there.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@parametrize_with_checks([SoftmaxRegression(solver=s) for s in ("lbfgs", "gd", "sgd")])
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ---- parity with LogisticRegression --------------------------------------------------------

@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("C", [0.1, 1.0])
def test_parity_with_logistic_regression(dataset, C):
    X, y = DATASETS[dataset]()
    sk = LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X, y)
    ours = SoftmaxRegression(C=C, tol=1e-8, max_iter=10000).fit(X, y)
    assert objective(ours, X, y, C) <= objective(sk, X, y, C) * (1 + 1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=1e-3)
    assert np.mean(ours.predict(X) == sk.predict(X)) > 0.99


def test_binary_is_logistic_regression(rng):
    # The sigmoid is the two-class softmax. With W = [w0, w1] the optimum has
    # w0 = -w1 (the penalty's minimum along w0 + w1), so w = w1 - w0 and
    # ||w0||^2 + ||w1||^2 = ||w||^2 / 2: binary LogisticRegression with C_binary = 2 C.
    X, y = make_classification(n_samples=300, n_features=6, random_state=0)
    C = 0.3
    ours = SoftmaxRegression(C=C, tol=1e-10, max_iter=10000).fit(X, y)
    binary = LogisticRegression(C=2 * C, tol=1e-10, max_iter=10000).fit(X, y)
    assert binary.coef_.shape == (1, 6) and ours.coef_.shape == (2, 6)
    np.testing.assert_allclose(ours.coef_[0], -ours.coef_[1], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.coef_[1] - ours.coef_[0], binary.coef_[0], rtol=1e-5)
    np.testing.assert_allclose(ours.intercept_[1] - ours.intercept_[0], binary.intercept_[0],
                               rtol=1e-5)
    np.testing.assert_allclose(ours.decision_function(X), binary.decision_function(X), rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(ours.predict_proba(X), binary.predict_proba(X), atol=1e-6)


# ---- scikit-learn's own cases (sklearn/linear_model/tests/test_logistic.py), ported --------

SOLVERS = ("lbfgs", "gd", "sgd")
TINY_X, TINY_Y1, TINY_Y2 = [[-1, 0], [0, 1], [1, 1]], [0, 1, 1], [2, 1, 0]


def _check_predictions(clf, X, y):
    n_samples = len(y)
    classes = np.unique(y)
    clf.fit(X, y)
    np.testing.assert_array_equal(clf.classes_, classes)
    assert clf.predict(X).shape == (n_samples,)
    np.testing.assert_array_equal(clf.predict(X), y)
    probabilities = clf.predict_proba(X)
    assert probabilities.shape == (n_samples, len(classes))
    np.testing.assert_allclose(probabilities.sum(axis=1), np.ones(n_samples))
    np.testing.assert_array_equal(probabilities.argmax(axis=1), y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", SOLVERS)
def test_predict_2_and_3_classes(solver):
    params = dict(solver=solver, random_state=0)
    _check_predictions(SoftmaxRegression(**params), TINY_X, TINY_Y1)
    _check_predictions(SoftmaxRegression(C=100, **params), TINY_X, TINY_Y1)
    _check_predictions(SoftmaxRegression(fit_intercept=False, **params), TINY_X, TINY_Y1)
    _check_predictions(SoftmaxRegression(C=10, **params), TINY_X, TINY_Y2)


def test_sparsify():
    # sklearn's test_sparsify, on dense X (fit and predict take dense X only)
    from scipy import sparse

    iris = load_iris()
    X = StandardScaler().fit_transform(iris.data)
    target = iris.target_names[iris.target]
    clf = SoftmaxRegression().fit(X, target)
    pred_d_d = clf.decision_function(X)
    proba = clf.predict_proba(X)
    assert clf.sparsify() is clf
    assert sparse.issparse(clf.coef_) and clf.coef_.format == "csr"
    assert clf.coef_.shape == (3, 4) and clf.coef_.dtype == np.float64
    np.testing.assert_array_almost_equal(clf.decision_function(X), pred_d_d)
    np.testing.assert_allclose(clf.predict_proba(X), proba, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(proba, axis=1)])
    clone = pickle.loads(pickle.dumps(clf))
    assert clf.densify() is clf
    assert isinstance(clf.coef_, np.ndarray)
    np.testing.assert_array_almost_equal(clf.decision_function(X), pred_d_d)
    np.testing.assert_array_almost_equal(clone.decision_function(X), pred_d_d)
    # warm start and partial_fit continue from a sparsified model
    clone.set_params(warm_start=True).fit(X, target)
    assert isinstance(clone.coef_, np.ndarray) and clone.n_iter_[0] < 5
    clone.sparsify().partial_fit(X, target)
    assert isinstance(clone.coef_, np.ndarray)
    with pytest.raises(NotFittedError, match="must be fitted before sparsifying"):
        SoftmaxRegression().sparsify()


def test_write_parameters():
    clf = SoftmaxRegression().fit(TINY_X, TINY_Y1)
    clf.coef_[:] = 0
    clf.intercept_[:] = 0
    np.testing.assert_array_almost_equal(clf.decision_function(TINY_X), 0)


@pytest.mark.parametrize("max_iter", [1, 2, 3, 4])
@pytest.mark.parametrize("solver", SOLVERS)
def test_max_iter(max_iter, solver):
    X, y_bin = load_iris(return_X_y=True)
    y_bin[y_bin == 2] = 0
    model = SoftmaxRegression(max_iter=max_iter, tol=1e-15, random_state=0, solver=solver)
    with pytest.warns(ConvergenceWarning, match=f"{solver} failed to converge"):
        model.fit(X, y_bin)
    assert model.n_iter_[0] == max_iter


@pytest.mark.parametrize("solver", SOLVERS)
def test_n_iter(solver):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y_bin = np.where(y == 2, 0, y)
    model = SoftmaxRegression(tol=1e-2, solver=solver, random_state=42)
    for target in (y_bin, y):
        model.fit(X, target)
        assert model.n_iter_.shape == (1,) and model.n_iter_.dtype == np.int32
        assert 0 < model.n_iter_[0] <= 100
        assert len(model.loss_curve_) == model.n_iter_[0]
    stream = SoftmaxRegression(random_state=0)
    for calls in (1, 2, 3):
        stream.partial_fit(X, y, classes=[0, 1, 2])
        assert stream.n_iter_.shape == (1,) and stream.n_iter_.dtype == np.int32
        assert stream.n_iter_[0] == calls == len(stream.loss_curve_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("warm_start", [True, False])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_warm_start(solver, warm_start, fit_intercept):
    # A 1-iteration second fit on the same data gives almost the same result with warm
    # starting, and quite a different one without.
    X, y = load_iris(return_X_y=True)
    clf = SoftmaxRegression(tol=1e-4, warm_start=warm_start, solver=solver, random_state=0,
                            fit_intercept=fit_intercept)
    clf.fit(X, y)
    coef_1 = clf.coef_
    clf.max_iter = 1
    clf.fit(X, y)
    cum_diff = np.sum(np.abs(coef_1 - clf.coef_))
    assert (cum_diff < 2.0) if warm_start else (cum_diff > 2.0)


@pytest.mark.parametrize("solver", SOLVERS)
def test_zero_max_iter(solver):
    # max_iter=0: the state right after initialisation, no iteration (LogisticRegression's
    # lbfgs takes one step even then; here no solver does), and a ConvergenceWarning.
    X, y = load_iris(return_X_y=True)
    y = y == 2
    with pytest.warns(ConvergenceWarning, match=rf"{solver} failed to converge after 0 "):
        clf = SoftmaxRegression(solver=solver, max_iter=0).fit(X, y)
    assert clf.n_iter_[0] == 0 and clf.loss_curve_ == []
    np.testing.assert_allclose(clf.coef_, np.zeros_like(clf.coef_))
    np.testing.assert_allclose(clf.decision_function(X), np.zeros(X.shape[0]))
    np.testing.assert_allclose(clf.predict_proba(X), np.full((X.shape[0], 2), 0.5))
    assert clf.score(X, y) < 0.7


def test_start_that_passes_the_test_takes_no_iteration():
    # as SciPy's L-BFGS-B in LogisticRegression: the gradient test is checked at the start
    X, y = load_iris(return_X_y=True)
    model = SoftmaxRegression(tol=1e-6, max_iter=1000, warm_start=True).fit(X, y)
    for max_iter in (1000, 0):
        model.set_params(max_iter=max_iter, tol=1e-3)
        coef = model.coef_.copy()
        model.fit(X, y)                                        # no ConvergenceWarning
        assert model.n_iter_[0] == 0 and np.array_equal(model.coef_, coef)


def test_convergence_warning_is_logistic_regressions():
    # the text of LogisticRegression's lbfgs warning, but for its pointer to LogisticRegression's
    # solvers, which points to SoftmaxRegression's instead
    X, y = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning) as ours:
        SoftmaxRegression(max_iter=3).fit(X, y)
    with pytest.warns(ConvergenceWarning) as theirs:
        LogisticRegression(max_iter=3).fit(X, y)
    text = str(theirs[0].message)
    want, got = text.splitlines(), str(ours[0].message).splitlines()
    assert got[:-1] == want[:-1]
    assert got[-1] == "    help(pysoftmax.SoftmaxRegression) (solver: 'lbfgs', 'gd' or 'sgd')"
    assert ours[0].filename == __file__                        # the caller's line


def test_solvers_converge_to_the_same_result():
    # sklearn's test_logistic_regression_solvers, at tol 1e-6 for gd and lbfgs (standardised
    # coordinates take collinear features elsewhere than LogisticRegression's at 1e-4: in the
    # data's null space, where the predictions do not see it); the binary LogisticRegression
    # of 2C at its defaults
    for seed in range(3):
        X, y = make_classification(n_samples=200, n_features=10, n_informative=5,
                                   random_state=seed)
        params = dict(C=0.1, fit_intercept=False, random_state=seed)
        lbfgs = SoftmaxRegression(tol=1e-6, **params).fit(X, y).coef_
        gd = SoftmaxRegression(solver="gd", tol=1e-6, max_iter=1000, **params).fit(X, y).coef_
        np.testing.assert_allclose(lbfgs, gd, atol=1e-3, rtol=1e-4)
        binary = LogisticRegression(C=0.2, fit_intercept=False).fit(X, y).coef_[0]
        default = SoftmaxRegression(**params).fit(X, y).coef_
        np.testing.assert_allclose(default[1] - default[0], binary, atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_solvers_converge_to_the_same_result_multiclass(fit_intercept):
    X, y = make_classification(n_samples=20, n_features=20, n_informative=10, n_classes=3,
                               random_state=0)
    params = dict(fit_intercept=fit_intercept, tol=1e-8, random_state=42)
    fits = {"lbfgs": SoftmaxRegression(max_iter=200, **params).fit(X, y),
            "gd": SoftmaxRegression(solver="gd", max_iter=5000, **params).fit(X, y),
            "sklearn": LogisticRegression(max_iter=200, **params).fit(X, y)}
    for a, b, atol in (("lbfgs", "sklearn", 0.0), ("lbfgs", "gd", 1e-5)):    # gd: at 1e-8
        np.testing.assert_allclose(fits[a].coef_, fits[b].coef_, rtol=1e-3, atol=atol,
                                   err_msg=f"{a}, {b}")
        if fit_intercept:
            np.testing.assert_allclose(fits[a].intercept_, fits[b].intercept_, rtol=1e-3,
                                       atol=atol)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_dtype_match(fit_intercept):
    X_32, X_64 = np.array(TINY_X, dtype=np.float32), np.array(TINY_X, dtype=np.float64)
    y_32, y_64 = np.array(TINY_Y1, dtype=np.float32), np.array(TINY_Y1, dtype=np.float64)
    model = SoftmaxRegression(random_state=42, tol=5e-4, fit_intercept=fit_intercept)
    lr_32 = sklearn.base.clone(model).fit(X_32, y_32)
    lr_64 = sklearn.base.clone(model).fit(X_64, y_64)
    assert lr_32.coef_.dtype == np.float32 and lr_64.coef_.dtype == np.float64
    np.testing.assert_allclose(lr_32.coef_, lr_64.coef_.astype(np.float32),
                               atol=2 * 1.72 * 5e-4)


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
@pytest.mark.parametrize("fit_intercept", [False, True])
def test_multinomial_identifiability_on_iris(solver, fit_intercept):
    # the maximum of the L2-penalised likelihood has sum_k coef_k = 0
    iris = load_iris()
    clf = SoftmaxRegression(C=len(iris.data), solver=solver, fit_intercept=fit_intercept,
                            max_iter=1000)
    clf.fit(StandardScaler().fit_transform(iris.data), iris.target_names[iris.target])
    np.testing.assert_allclose(clf.coef_.sum(axis=0), 0, atol=1e-10)
    if fit_intercept:
        assert clf.intercept_.sum(axis=0) == pytest.approx(0, abs=1e-11)


@pytest.mark.parametrize("class_weight", [{0: 1.0, 1: 10.0, 2: 1.0}, "balanced"])
def test_sample_weight_not_modified(class_weight):
    X, y = load_iris(return_X_y=True)
    W = np.ones(len(X))
    W[:len(X) // 2] = 2
    expected = W.copy()
    SoftmaxRegression(class_weight=class_weight, max_iter=200).fit(X, y, sample_weight=W)
    np.testing.assert_allclose(expected, W)


@pytest.mark.parametrize("solver", SOLVERS)
def test_c_inf_no_warning(solver):
    X, y = make_classification(n_samples=100, n_redundant=0, random_state=42)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        SoftmaxRegression(C=np.inf, solver=solver).fit(X, y)


# ---- dtypes, labels, attributes ------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_dtype_is_kept(dtype):
    X, y = scaled_digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SoftmaxRegression(max_iter=30).fit(X.astype(dtype), y)
    assert model.coef_.dtype == dtype and model.intercept_.dtype == dtype
    assert model.predict_proba(X.astype(dtype)).dtype == dtype
    assert model.coef_.shape == (10, 64) and model.intercept_.shape == (10,)
    assert model.n_features_in_ == 64 and model.n_iter_[0] == 30 and len(model.loss_curve_) == 30


def test_float32_reaches_the_float64_optimum():
    X, y = scaled_digits()
    f64 = SoftmaxRegression(tol=1e-8, max_iter=5000).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # float32 noise ends the search
        f32 = SoftmaxRegression(tol=1e-8, max_iter=5000).fit(X.astype(np.float32), y)
    assert objective(f32, X, y, 1.0) <= objective(f64, X, y, 1.0) * (1 + 1e-5)


def test_any_labels_and_loss_curve():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = SoftmaxRegression(max_iter=500).fit(X, names)
    assert list(model.classes_) == ["setosa", "versicolor", "virginica"]
    assert model.predict(X).dtype == names.dtype and model.score(X, names) > 0.95
    curve = np.array(model.loss_curve_)
    assert len(curve) == model.n_iter_[0] and np.all(np.diff(curve) <= 1e-12)
    np.testing.assert_allclose(curve[-1] * len(y), objective(model, X, names, 1.0), rtol=1e-9)
    np.testing.assert_allclose(model.predict_log_proba(X), np.log(model.predict_proba(X)),
                               rtol=1e-6, atol=1e-9)


def test_no_intercept():
    X, y = load_iris(return_X_y=True)
    model = SoftmaxRegression(fit_intercept=False, max_iter=500).fit(X, y)
    assert model.intercept_.shape == (3,) and not model.intercept_.any()
    assert model.score(X, y) > 0.9


def test_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = load_iris(return_X_y=True)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = SoftmaxRegression(max_iter=500).fit(frame, y)
    assert list(model.feature_names_in_) == ["a", "b", "c", "d"]


def test_c_inf_is_unpenalised():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # separable classes: no optimum
        loose = SoftmaxRegression(C=np.inf, max_iter=50).fit(X, y)
    tight = SoftmaxRegression(C=1e-3, max_iter=500).fit(X, y)
    assert np.abs(loose.coef_).max() > 10 * np.abs(tight.coef_).max()


# ---- weights ---------------------------------------------------------------------------------

def test_sample_weight_is_repetition(rng):
    X, y = load_iris(return_X_y=True)
    counts = rng.integers(0, 3, size=len(y))
    weighted = SoftmaxRegression(tol=1e-10, max_iter=5000).fit(X, y, sample_weight=counts)
    repeated = SoftmaxRegression(tol=1e-10, max_iter=5000).fit(np.repeat(X, counts, axis=0),
                                                                np.repeat(y, counts))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=1e-6)


def test_class_weight_matches_logistic_regression():
    X, y = scaled_digits()
    X, y = X[y < 4], y[y < 4]
    for cw in [{0: 2.0, 1: 0.5, 2: 1.0, 3: 3.0}, "balanced"]:
        sw = np.linspace(0.5, 2, len(y))
        sk = LogisticRegression(C=0.5, class_weight=cw, tol=1e-10, max_iter=10000).fit(
            X, y, sample_weight=sw)
        ours = SoftmaxRegression(C=0.5, class_weight=cw, tol=1e-10, max_iter=10000).fit(
            X, y, sample_weight=sw)
        np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=1e-4)


# ---- solver behaviour ------------------------------------------------------------------------

def test_feature_scaling_is_a_change_of_coordinates(rng):
    from pysoftmax._regression_objective import FeatureScaling, Objective

    X = rng.standard_normal((50, 4)) * [1.0, 30.0, 0.01, 1.0] + [0.0, 5.0, -2.0, 0.0]
    X[:, 3] = 7.0                                               # a constant feature
    y, sw = rng.integers(0, 3, size=50), rng.random(50) + 0.5
    objective = Objective(X, y, sw, 0.7, True, 3)
    scaling = FeatureScaling.of(objective)
    theta = rng.standard_normal(objective.size)
    u = scaling.u(theta)
    np.testing.assert_allclose(scaling.theta(u), theta, rtol=1e-12, atol=1e-12)
    grad_u = scaling.gradient(objective.loss_grad(theta)[1])
    h = 1e-5
    for i in range(objective.size):
        e = np.zeros_like(u)
        e[i] = h
        fd = (objective.loss_grad(scaling.theta(u + e))[0]
              - objective.loss_grad(scaling.theta(u - e))[0]) / (2 * h)
        np.testing.assert_allclose(grad_u[i], fd, rtol=1e-5, atol=1e-9)


def test_badly_scaled_features_converge_fast():
    # iris with features scaled by 1000 and 0.001: LogisticRegression needs ~1500 iterations,
    # the standardised coordinates of the lbfgs solver some 70 (same objective, same optimum).
    X, y = load_iris(return_X_y=True)
    X = X * [1.0, 1000.0, 0.001, 3.0]
    ours = SoftmaxRegression(tol=1e-6, max_iter=5000).fit(X, y)
    sk = LogisticRegression(tol=1e-10, max_iter=10000).fit(X, y)
    assert ours.n_iter_[0] < 150
    assert objective(ours, X, y, 1.0) <= objective(sk, X, y, 1.0) * (1 + 1e-6)


def test_convergence_warning_when_max_iter_is_reached():
    X, y = scaled_digits()
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge after 3 iteration"):
        model = SoftmaxRegression(max_iter=3).fit(X, y)
    assert model.n_iter_[0] == 3


def test_warm_start_continues():
    X, y = scaled_digits()
    first = SoftmaxRegression(tol=1e-6, max_iter=1000).fit(X, y)
    model = SoftmaxRegression(tol=1e-6, max_iter=1000, warm_start=True).fit(X, y)
    coef = model.coef_.copy()
    model.fit(X, y)
    assert model.n_iter_[0] < first.n_iter_[0] / 3
    np.testing.assert_allclose(model.coef_, coef, atol=1e-3)


def test_same_model_whatever_the_thread_count():
    X, y = make_classification(n_samples=3000, n_features=40, n_informative=10, n_classes=5,
                               random_state=1)
    fits = []
    for threads in (1, 2, 3):
        with using_threads(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits.append(SoftmaxRegression(max_iter=40).fit(X.astype(np.float32), y))
    for other in fits[1:]:
        assert np.array_equal(other.coef_, fits[0].coef_)
        assert np.array_equal(other.intercept_, fits[0].intercept_)


def test_pickle_keeps_predictions_bit_identical():
    X, y = scaled_digits()
    model = SoftmaxRegression(max_iter=500).fit(X.astype(np.float32), y)
    clone = pickle.loads(pickle.dumps(model))
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        assert np.array_equal(getattr(clone, method)(X), getattr(model, method)(X))


# ---- errors ----------------------------------------------------------------------------------

def test_errors_are_scikit_learns():
    X, y = load_iris(return_X_y=True)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        SoftmaxRegression().fit(bad, y)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        SoftmaxRegression().fit(bad, y)
    with pytest.raises(ValueError, match="only one class: 0"):
        SoftmaxRegression().fit(X[:10], y[:10])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        SoftmaxRegression().fit(X, y[:-1])
    with pytest.raises(ValueError, match="The 'C' parameter of SoftmaxRegression must be"):
        SoftmaxRegression(C=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="The 'solver' parameter of SoftmaxRegression must be"):
        SoftmaxRegression(solver="newton-cg").fit(X, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        SoftmaxRegression().fit(X, X[:, 0])
    with pytest.raises(NotFittedError):
        SoftmaxRegression().predict(X)
    model = SoftmaxRegression(max_iter=500).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but SoftmaxRegression is expecting 4"):
        model.predict_proba(X[:, :3])
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\), expected \(150,\)"):
        SoftmaxRegression().fit(X, y, sample_weight=np.ones(3))


def test_import_without_scikit_learn():
    code = ("import sys; sys.modules['sklearn'] = None; sys.modules['scipy'] = None\n"
            "import numpy as np, pysoftmax\n"
            "from pysoftmax import *\n"
            "print(pysoftmax.linear_cross_entropy(np.ones((2, 3)), np.ones((4, 3)), None,"
            " np.array([0, 1]), return_grad=False))\n"
            "try:\n    pysoftmax.SoftmaxRegression\n"
            "except ImportError as e:\n    print('ImportError:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "1.386294" in out.stdout                      # log(4)
    assert "pip install 'pysoftmax[sklearn]'" in out.stdout


def test_import_does_no_blas_work():
    # Importing the estimator makes no threadpoolctl controller (a scan of the loaded
    # libraries); the first fit does, and the second does not make another.
    code = ("import threadpoolctl\n"
            "made = []\n"
            "init = threadpoolctl.ThreadpoolController.__init__\n"
            "def counted(self, *a, **k):\n"
            "    made.append(1)\n"
            "    init(self, *a, **k)\n"
            "threadpoolctl.ThreadpoolController.__init__ = counted\n"
            "import numpy as np\n"
            "import pysoftmax._regression\n"
            "from pysoftmax import SoftmaxRegression\n"
            "print(len(made))\n"
            "X, y = np.eye(4), np.array([0, 1, 0, 1])\n"
            "SoftmaxRegression().fit(X, y)\n"
            "first = len(made)\n"
            "SoftmaxRegression(solver='sgd').fit(X, y)\n"
            "SoftmaxRegression().partial_fit(X, y, classes=[0, 1])\n"
            "print(first, len(made))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    at_import, after_fit, after_more = map(int, out.stdout.split())
    assert at_import == 0 and after_fit >= 1 and after_more == after_fit
