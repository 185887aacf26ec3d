"""How far SoftmaxRegression(solver="lbfgs") and LogisticRegression stop from the optimum at
the default tol: ``python tests/lbfgs_distance.py`` prints the README's table (about a minute).

For each problem both estimators are fitted at tol=1e-4 (the default) and at tol=1e-12; the
optimum is whichever tight fit has the lower objective sum_i CE_i + ||w||^2 / (2C). Distances
are in LogisticRegression's parameters: for two classes the log-odds coefficients
(SoftmaxRegression's coef_[1] - coef_[0], fitted with C / 2: the same objective), for more the
(K, d) coefficients; intercepts centred (softmax does not see a common shift). Not a test:
tests/test_regression.py holds the bound on well-conditioned problems.
"""

import sys
import warnings

import numpy as np
from scipy.special import logsumexp
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from pysoftmax import SoftmaxRegression


def _params(model, binary):
    """Coefficients then intercepts, flat, in LogisticRegression's parametrisation."""
    w, b = np.asarray(model.coef_, dtype=np.float64), np.asarray(model.intercept_, np.float64)
    if binary and w.shape[0] == 2:
        w, b = w[1:] - w[:1], b[1:] - b[:1]
    elif not binary:
        b = b - b.mean()
    return np.concatenate([w.ravel(), b])


def _objective(p, X, codes, k, C):
    d = X.shape[1]
    if k == 2:
        w, b = p[:d], p[d]
        z = X @ w + b
        return float(np.sum(np.logaddexp(0, z) - codes * z) + w @ w / (2 * C))
    w, b = p[:k * d].reshape(k, d), p[k * d:]
    z = X @ w.T + b
    ce = logsumexp(z, axis=1) - z[np.arange(len(codes)), codes]
    return float(ce.sum() + np.sum(w * w) / (2 * C))


def _proba(p, X, k):
    d = X.shape[1]
    if k == 2:
        z = X @ p[:d] + p[d]
        return 1 / (1 + np.exp(-z))
    z = X @ p[:k * d].reshape(k, d).T + p[k * d:]
    return np.exp(z - logsumexp(z, axis=1, keepdims=True))


def measure(X, y, C, fit_intercept=True):
    """{estimator: (iterations, max |parameter - optimum|, relative objective gap,
    max |predicted probability - optimum's|)} at the default tol."""
    classes, codes = np.unique(y, return_inverse=True)
    k, binary = len(classes), len(classes) == 2
    fits = {
        "LogisticRegression": lambda tol: LogisticRegression(
            C=C, tol=tol, max_iter=100000, fit_intercept=fit_intercept).fit(X, y),
        "SoftmaxRegression": lambda tol: SoftmaxRegression(
            C=C / 2 if binary else C, tol=tol, max_iter=100000,
            fit_intercept=fit_intercept).fit(X, y),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tight = [_params(fit(1e-12), binary) for fit in fits.values()]
        best = min(tight, key=lambda p: _objective(p, X, codes, k, C))
        f_best, p_best = _objective(best, X, codes, k, C), _proba(best, X, k)
        result = {}
        for name, fit in fits.items():
            model = fit(1e-4)
            p = _params(model, binary)
            result[name] = (int(np.ravel(model.n_iter_)[0]), float(np.max(np.abs(p - best))),
                            _objective(p, X, codes, k, C) / f_best - 1,
                            float(np.max(np.abs(_proba(p, X, k) - p_best))))
    return result


def problems():
    """(name, X, y, C, fit_intercept): C is LogisticRegression's."""
    X, y = make_classification(n_samples=200, n_features=10, n_informative=5, random_state=42)
    yield ("scikit-learn's test_logistic_regression_solvers (binary, 200 × 10, seed 42, no "
           "intercept)", X, y, 0.1, False)
    X, y = make_classification(n_samples=1000, n_features=20, random_state=0)
    yield "make_classification, binary, 1000 × 20", X, y, 1.0, True
    X, y = load_iris(return_X_y=True)
    yield "iris", X, y, 1.0, True
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    yield "digits, standardised", X, y, 0.1, True
    yield "digits, standardised", X, y, 1.0, True
    X, y = make_classification(n_samples=500, n_features=20, n_informative=5, n_redundant=10,
                               n_classes=3, random_state=0)
    yield "collinear: 10 of 20 features exact combinations of 5 (3 classes, 500 rows)", X, y, \
        1.0, True
    X, y = load_iris(return_X_y=True)
    noise = 1e-3 * np.random.default_rng(0).standard_normal(len(X))
    yield ("nearly collinear: iris and a copy of petal length + N(0, 10⁻⁶)",
           np.column_stack([X, X[:, 2] + noise]), y, 100.0, True)


def seeds(n=100):
    """The binary problem of scikit-learn's test over seeds 0..n-1: both estimators'
    distances (max |coefficient - optimum|) per seed."""
    out = []
    for seed in range(n):
        X, y = make_classification(n_samples=200, n_features=10, n_informative=5,
                                   random_state=seed)
        r = measure(X, y, 0.1, fit_intercept=False)
        out.append((r["LogisticRegression"][1], r["SoftmaxRegression"][1]))
    return np.array(out)


def main():
    print("| problem | C | LogisticRegression: iterations, max \\|Δ\\|, objective gap | "
          "SoftmaxRegression: iterations, max \\|Δ\\|, objective gap | max \\|Δ proba\\| "
          "(LR / SR) |")
    print("|---|---|---|---|---|")
    for name, X, y, C, fit_intercept in problems():
        r = measure(X, y, C, fit_intercept)
        lr, sr = r["LogisticRegression"], r["SoftmaxRegression"]
        print(f"| {name} | {C:g} | {lr[0]}, {lr[1]:.1e}, {lr[2]:.1e} | {sr[0]}, {sr[1]:.1e}, "
              f"{sr[2]:.1e} | {lr[3]:.0e} / {sr[3]:.0e} |")
        sys.stdout.flush()
    d = seeds()
    for i, name in enumerate(["LogisticRegression", "SoftmaxRegression"]):
        print(f"seeds 0-99, {name}: median {np.median(d[:, i]):.1e}, max {d[:, i].max():.1e}, "
              f"above 1e-3: {int(np.sum(d[:, i] > 1e-3))}")


if __name__ == "__main__":
    main()
