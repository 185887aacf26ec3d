"""SoftmaxRegression(solver="lbfgs") at the default tol stops at least as close to the
optimum as LogisticRegression, in LogisticRegression's parameters (tests/lbfgs_distance.py
measures it; README: the table)."""

import pytest

pytest.importorskip("scipy.optimize")
pytest.importorskip("sklearn")

from sklearn.datasets import load_iris, make_classification  # noqa: E402

from helpers import scaled_digits  # noqa: E402
from lbfgs_distance import measure  # noqa: E402


def _problem(name):
    """(X, y, LogisticRegression's C, fit_intercept)."""
    if name == "sklearn-binary":    # scikit-learn's test_logistic_regression_solvers
        X, y = make_classification(n_samples=200, n_features=10, n_informative=5,
                                   random_state=42)
        return X, y, 0.1, False
    if name == "binary-1000x20":
        X, y = make_classification(n_samples=1000, n_features=20, random_state=0)
        return X, y, 1.0, True
    if name == "iris":
        return (*load_iris(return_X_y=True), 1.0, True)
    return (*scaled_digits(), 0.1, True)


@pytest.mark.parametrize("name", [
    "sklearn-binary", "iris", "digits",
    pytest.param("binary-1000x20", marks=pytest.mark.xfail(
        reason="1.7e-3 from the optimum in coefficients against LogisticRegression's 1.0e-3, "
               "though closer in objective and predicted probabilities (README)")),
])
def test_default_tol_is_as_close_to_the_optimum_as_logistic_regression(name):
    X, y, C, fit_intercept = _problem(name)
    r = measure(X, y, C, fit_intercept)
    ours, theirs = r["SoftmaxRegression"], r["LogisticRegression"]
    assert ours[1] <= theirs[1], (ours, theirs)      # max |coefficient - optimum|
    assert ours[2] <= theirs[2], (ours, theirs)      # relative objective gap
    if name == "sklearn-binary":                     # scikit-learn's bound between solvers
        assert ours[1] <= 1e-3, ours
