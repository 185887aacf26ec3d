"""The "lbfgs" solver's own parts: the native vector arithmetic (_core.vector_dots,
_core.vector_combine) on every instruction set, and the L-BFGS iteration (_lbfgs) against known
minima and SciPy's L-BFGS-B."""

import math

import numpy as np
import pytest

from pysoftmax import _core, _lbfgs

from helpers import using_threads

# Lengths around the kernels' blocks (2048) and parts (32768) and the vector widths.
LENGTHS = [1, 3, 8, 17, 2047, 2049, 32768 + 5, 100003]


@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("c", [1, 2, 3, 4])
def test_vector_dots_against_float64_sums(isa, rng, n, c):
    rows = [rng.standard_normal(n) for _ in range(5)]
    vecs = [rng.standard_normal(n) for _ in range(c)]
    got = _core.vector_dots(rows, vecs)
    assert got.shape == (c, 5) and got.dtype == np.float64
    want = np.array([[math.fsum(v * r) for r in rows] for v in vecs])
    scale = np.array([[np.sum(np.abs(v * r)) for r in rows] for v in vecs])
    assert np.all(np.abs(got - want) <= 1e-14 * scale + 1e-300), np.max(np.abs(got - want) / scale)


@pytest.mark.parametrize("n", LENGTHS)
def test_vector_combine_against_float64(isa, rng, n):
    rows = [rng.standard_normal(n) for _ in range(7)]
    coef = list(rng.standard_normal(7))
    out = np.full(n, np.nan)
    _core.vector_combine(rows, coef, out)
    terms = np.array(coef)[:, None] * np.array(rows)
    want = np.array([math.fsum(col) for col in terms.T])
    scale = np.sum(np.abs(terms), axis=0)
    assert np.all(np.abs(out - want) <= 4 * np.finfo(float).eps * scale)


def test_vector_combine_may_write_into_one_of_its_rows(isa, rng):
    x, d = rng.standard_normal(5000), rng.standard_normal(5000)
    want = np.empty(5000)
    _core.vector_combine([x, d], [1.0, 0.25], want)
    _core.vector_combine([x, d], [1.0, 0.25], x)
    np.testing.assert_array_equal(x, want)


def test_vector_ops_same_on_any_thread_count(isa, rng):
    n = 5 * 32768 + 77
    rows = [rng.standard_normal(n) for _ in range(6)]
    vecs = rows[:2] + [rng.standard_normal(n)]
    coef = list(rng.standard_normal(6))
    results = []
    for t in (1, 2, 3, 7):
        with using_threads(t):
            out = np.empty(n)
            _core.vector_combine(rows, coef, out)
            results.append((_core.vector_dots(rows, vecs), out))
    for dots, out in results[1:]:
        np.testing.assert_array_equal(dots, results[0][0])
        np.testing.assert_array_equal(out, results[0][1])


def test_vector_ops_bad_input_names_the_argument():
    a, b = np.zeros(10), np.zeros(10)
    with pytest.raises(TypeError, match=r"rows\[1\]: expected a 1-D C-contiguous float64"):
        _core.vector_dots([a, np.zeros(10, np.float32)], [b])
    with pytest.raises(TypeError, match=r"vecs\[0\]"):
        _core.vector_dots([a], [np.zeros(20)[::2]])
    with pytest.raises(ValueError, match=r"rows\[0\]: expected length 10, got \(11,\)"):
        _core.vector_dots([np.zeros(11)], [b])
    with pytest.raises(ValueError, match="vecs: expected 1 to 4 vectors, got 5"):
        _core.vector_dots([a], [b] * 5)
    with pytest.raises(ValueError, match=r"coef: expected one coefficient per row \(2\), got 1"):
        _core.vector_combine([a, b], [1.0], np.zeros(10))
    with pytest.raises(ValueError, match=r"out: expected a writeable array"):
        out = np.zeros(10)
        out.flags.writeable = False
        _core.vector_combine([a], [1.0], out)


def rosenbrock(x):
    a, b = x[:-1], x[1:]
    f = float(np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2))
    g = np.zeros_like(x)
    g[:-1] = -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    g[1:] += 200.0 * (b - a * a)
    return f, g


@pytest.mark.parametrize("n", [2, 10, 50])
def test_lbfgs_finds_the_minimum_of_rosenbrock(n):
    from scipy.optimize import minimize

    x0 = np.where(np.arange(n) % 2 == 0, -1.2, 1.0)
    res = _lbfgs.minimize_lbfgs(rosenbrock, x0, maxiter=2000)
    assert res.status == 0, res.message
    np.testing.assert_allclose(res.x, np.ones(n), atol=1e-5)
    ref = minimize(rosenbrock, x0, jac=True, method="L-BFGS-B",
                   options={"maxiter": 2000, "gtol": 0.0, "ftol": 64 * np.finfo(float).eps})
    # The same method as L-BFGS-B's (without bounds): about as many iterations.
    assert res.nit <= 1.5 * ref.nit + 5, (res.nit, ref.nit)
    assert res.nfev <= 1.5 * ref.nfev + 5, (res.nfev, ref.nfev)


def test_lbfgs_on_an_ill_conditioned_quadratic(rng):
    Q, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    A = Q @ np.diag(np.logspace(0, 4, 40)) @ Q.T
    b = rng.standard_normal(40)
    res = _lbfgs.minimize_lbfgs(lambda x: (0.5 * x @ A @ x - b @ x, A @ x - b), np.zeros(40),
                                maxiter=5000)
    assert res.status == 0
    x = np.linalg.solve(A, b)
    f_min = 0.5 * x @ A @ x - b @ x
    # It stops when f stops decreasing (ftol 64 eps): f within rounding of the minimum.
    assert res.fun - f_min <= 1e-10 * abs(f_min)
    np.testing.assert_allclose(res.x, x, rtol=1e-4, atol=1e-5)


def test_lbfgs_stops_at_maxiter_and_at_the_callback():
    x0 = np.array([-1.2, 1.0])
    res = _lbfgs.minimize_lbfgs(rosenbrock, x0, maxiter=5)
    assert (res.status, res.nit) == (1, 5)
    seen = []

    def callback(x, f):
        seen.append(f)
        if len(seen) == 3:
            raise StopIteration

    res = _lbfgs.minimize_lbfgs(rosenbrock, x0, maxiter=100, callback=callback)
    assert (res.status, res.nit) == (0, 3)
    assert seen == sorted(seen, reverse=True)     # each iteration decreases f
    assert res.fun == seen[-1]


def test_lbfgs_line_search_steps_back_from_non_finite_values():
    # f is inf beyond |x| > 2: the first steps overshoot and the search must shorten them.
    def f(x):
        if np.max(np.abs(x)) > 2.0:
            return math.inf, np.full_like(x, np.nan)
        return float(np.sum((x - 1.5) ** 2)), 2.0 * (x - 1.5)

    res = _lbfgs.minimize_lbfgs(f, np.array([-1.9, 0.0]), maxiter=100)
    assert res.status == 0
    np.testing.assert_allclose(res.x, [1.5, 1.5], atol=1e-6)


def test_lbfgs_evaluation_limit():
    res = _lbfgs.minimize_lbfgs(rosenbrock, np.array([-1.2, 1.0]), maxiter=1000, maxfun=10)
    assert res.status == 1 and res.nfev <= 10
