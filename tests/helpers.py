"""What several test modules share: settings restored after a block, result checks, the
regression problem. Imported as ``helpers`` (pytest puts tests/ on sys.path)."""

import contextlib

import numpy as np

import pysoftmax
from pysoftmax import _core, reference


@contextlib.contextmanager
def _setting(get, set_, value):
    previous = get()
    set_(value)
    try:
        yield value
    finally:
        set_(previous)


def using_isa(name):
    """Runs the block on instruction set `name`, then restores the previous one."""
    return _setting(_core.get_isa, _core.set_isa, name)


def using_threads(n):
    """Runs the block with `n` threads for the native kernels, then restores the count."""
    return _setting(pysoftmax.get_num_threads, pysoftmax.set_num_threads, n)


def assert_same(got, want, **tol):
    """`got` is of `want`'s kind (None, a float, or an array of its dtype and shape) and close
    to it within `tol` (rtol, atol)."""
    if want is None:
        assert got is None
        return
    if isinstance(want, float):
        assert isinstance(got, float)
    else:
        assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, **tol)


def objective(model, X, y, C, sample_weight=None):
    """SoftmaxRegression's objective sum_i s_i CE_i + ||W||^2 / (2C) at a fitted model's
    coefficients, in float64 (the intercept is not penalised)."""
    codes = np.searchsorted(model.classes_, y)
    w, b = model.coef_.astype(np.float64), model.intercept_.astype(np.float64)
    ce = reference.linear_cross_entropy(np.asarray(X, dtype=np.float64), w, b, codes,
                                        sample_weight=sample_weight, reduction="sum",
                                        return_grad=False)
    return ce + 0.5 * float(np.sum(w * w)) / C


def scaled_digits():
    """scikit-learn's digits (8x8 images, 10 classes), each feature scaled to mean 0, variance 1."""
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y
