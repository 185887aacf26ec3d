"""Smoke test of pysoftmax installed from its sdist, run by ``make sdist-check`` with the Python
of a fresh virtual environment (outside the source tree, without pytest): the import, the
kernels of every instruction set against the NumPy reference, and SoftmaxRegression on iris.
Exits non-zero (an AssertionError) on any failure."""

import sys
from pathlib import Path

import numpy as np

import pysoftmax
from pysoftmax import _core, reference


def main():
    where = Path(pysoftmax.__file__).resolve()
    assert "site-packages" in where.parts, f"pysoftmax imported from {where}, not installed"
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal((40, 37))).astype(np.float32)
    y = rng.integers(0, 37, size=40)
    previous = _core.get_isa()
    for isa in _core.available_isas():
        _core.set_isa(isa)
        tol = dict(rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(pysoftmax.softmax(x), reference.softmax(x), **tol)
        np.testing.assert_allclose(pysoftmax.log_softmax(x), reference.log_softmax(x), **tol)
        np.testing.assert_allclose(pysoftmax.logsumexp(x), reference.logsumexp(x), **tol)
        loss, grad = pysoftmax.cross_entropy_with_grad(x, y)
        ref_loss, ref_grad = reference.cross_entropy_with_grad(x, y)
        np.testing.assert_allclose(loss, ref_loss, **tol)
        np.testing.assert_allclose(grad, ref_grad, **tol)
    _core.set_isa(previous)

    from sklearn.datasets import load_iris

    from pysoftmax import SoftmaxRegression

    X, labels = load_iris(return_X_y=True)
    model = SoftmaxRegression(max_iter=200).fit(X, labels)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert model.score(X, labels) > 0.95, model.score(X, labels)
    print(f"sdist smoke test ok: pysoftmax {pysoftmax.__version__} from {where.parent}, "
          f"instruction sets {', '.join(_core.available_isas())}, iris accuracy "
          f"{model.score(X, labels):.3f}")


if __name__ == "__main__":
    sys.exit(main())
