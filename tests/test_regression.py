"""SoftmaxRegression: scikit-learn's objective and API (check_estimator), parity with
LogisticRegression on digits and iris, the binary case against binary logistic regression,
dtypes, weights, warm start, determinism, pickling and errors."""

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
    assert model.n_features_in_ == 64 and model.n_iter_ == 30 and len(model.loss_curve_) == 30


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
    assert len(curve) == model.n_iter_ and np.all(np.diff(curve) <= 1e-12)
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
    assert ours.n_iter_ < 150
    assert objective(ours, X, y, 1.0) <= objective(sk, X, y, 1.0) * (1 + 1e-6)


def test_convergence_warning_when_max_iter_is_reached():
    X, y = scaled_digits()
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge after 3 iteration"):
        model = SoftmaxRegression(max_iter=3).fit(X, y)
    assert model.n_iter_ == 3


def test_warm_start_continues():
    X, y = scaled_digits()
    first = SoftmaxRegression(tol=1e-6, max_iter=1000).fit(X, y)
    model = SoftmaxRegression(tol=1e-6, max_iter=1000, warm_start=True).fit(X, y)
    coef = model.coef_.copy()
    model.fit(X, y)
    assert model.n_iter_ < first.n_iter_ / 3
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
