"""Limited-memory BFGS for SoftmaxRegression's "lbfgs" solver.

The method is L-BFGS (Nocedal 1980; Nocedal and Wright, Numerical Optimization, 2nd ed.,
algorithms 7.4 and 7.5) with a line search for the strong Wolfe conditions (their
algorithms 3.5 and 3.6, cubic interpolation), the same iteration as SciPy's L-BFGS-B without
bounds: the memory m = 10 of (s, y) pairs, the initial Hessian (s.y / y.y) I of the newest
pair, the first step 1 / ||g||, then 1.

The two-loop recursion runs on dot products, not on vectors ("vector-free" L-BFGS, Chen, Wang,
Zhou and Weinberger, NeurIPS 2014): the direction is a combination of the stored s_i, y_i and
the gradient g, whose coefficients come from the matrix of their dot products. Each iteration
reads the stored pairs twice: once for the dot products of the new s, y and g with them
(`_core.vector_dots`), once to form the direction (`_core.vector_combine`), both on pysoftmax's
threads with results that do not depend on their number. L-BFGS-B's two loops and
Cauchy-point search read them many more times, and its workspace takes about 2m + 5 vectors
plus integer arrays; here the memory is the 2m stored vectors, the iterate, the gradient, the
direction and one trial point.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from . import _core

__all__ = ["LBFGSResult", "minimize_lbfgs"]

_FTOL = 64 * np.finfo(float).eps    # LogisticRegression's ftol


@dataclasses.dataclass
class LBFGSResult:
    """x: the last iterate; fun: f(x); nit: iterations; nfev: evaluations; status: 0 a
    stopping test passed (ftol, or the callback's StopIteration), 1 the iteration or evaluation
    limit, 2 the line search failed (twice, the second time from steepest descent)."""

    x: np.ndarray
    fun: float
    nit: int
    nfev: int
    status: int
    message: str


def _dot(a, b):
    return float(_core.vector_dots([a], [b])[0, 0])


class _Memory:
    """The m newest (s, y) pairs, in the rows of one (2m, P) array (s_i in row 2i, y_i in row
    2i + 1, a ring), and the dot products: gram[a, b] = row_a . row_b, gg[a] = row_a . g."""

    def __init__(self, m, size):
        self.m = m
        self.rows = np.empty((2 * m, size))
        self.gram = np.zeros((2 * m, 2 * m))
        self.gg = np.zeros(2 * m)
        self.order = []                       # the slots in use, oldest first

    def clear(self):
        self.order = []

    def add(self, x_new, x, g_new, g):
        """Stores s = x_new - x and y = g_new - g in the oldest slot (a free one while fewer
        than m are stored) and updates the dot products with the new pair and g_new."""
        slot = (self.order[-1] + 1) % self.m if self.order else 0
        if len(self.order) == self.m:
            self.order.pop(0)
        s, y = self.rows[2 * slot], self.rows[2 * slot + 1]
        _core.vector_combine([x_new, x], [1.0, -1.0], s)
        _core.vector_combine([g_new, g], [1.0, -1.0], y)
        self.order.append(slot)
        used = [r for i in self.order for r in (2 * i, 2 * i + 1)]
        d = _core.vector_dots([self.rows[r] for r in used] + [g_new], [s, y, g_new])
        for j, r in enumerate(used):
            self.gram[2 * slot, r] = self.gram[r, 2 * slot] = d[0, j]
            self.gram[2 * slot + 1, r] = self.gram[r, 2 * slot + 1] = d[1, j]
            self.gg[r] = d[2, j]
        return d[2, -1]                       # g_new . g_new

    def gradient_dots(self, g):
        """Sets gg for a new gradient g, the pairs unchanged; returns g . g."""
        used = [r for i in self.order for r in (2 * i, 2 * i + 1)]
        d = _core.vector_dots([self.rows[r] for r in used] + [g], [g])
        self.gg[used] = d[0, :-1]
        return d[0, -1]

    def direction(self, g, gnorm2, out):
        """out = -H g by the two-loop recursion on the coefficients of the rows and g; returns
        out . g (from the dot products)."""
        if not self.order:
            np.negative(g, out=out)
            return -gnorm2
        s_rows = [2 * i for i in self.order]
        y_rows = [2 * i + 1 for i in self.order]
        n = len(self.order)
        gram, gg = self.gram, self.gg
        rho = np.array([1.0 / gram[s, y] for s, y in zip(s_rows, y_rows)])
        cs, cy, cg = np.zeros(n), np.zeros(n), 1.0    # q = sum cs s + sum cy y + cg g
        alpha = np.zeros(n)
        for i in range(n - 1, -1, -1):
            sq = gram[s_rows[i], y_rows] @ cy + cg * gg[s_rows[i]]
            alpha[i] = rho[i] * sq
            cy[i] -= alpha[i]
        gamma = gram[s_rows[-1], y_rows[-1]] / gram[y_rows[-1], y_rows[-1]]
        cy *= gamma
        cg *= gamma
        for i in range(n):
            yr = (gram[y_rows[i], s_rows] @ cs + gram[y_rows[i], y_rows] @ cy
                  + cg * gg[y_rows[i]])
            cs[i] += alpha[i] - rho[i] * yr
        coef = np.concatenate([-cs, -cy, [-cg]])
        _core.vector_combine([self.rows[r] for r in s_rows + y_rows] + [g], list(coef), out)
        return float(coef[:n] @ gg[s_rows] + coef[n:2 * n] @ gg[y_rows] + coef[-1] * gnorm2)


class _Trials:
    """The objective along x + t d: evaluations into one trial buffer, counted."""

    def __init__(self, fun, x, d, buffer, maxfun):
        self.fun, self.x, self.d, self.buffer = fun, x, d, buffer
        self.nfev, self.maxfun = 0, maxfun
        self.lowest = (0.0, math.inf)     # the step of the lowest f so far, and that f

    def __call__(self, t):
        _core.vector_combine([self.x, self.d], [1.0, t], self.buffer)
        f, g = self.fun(self.buffer)
        f = float(f)
        self.nfev += 1
        if f < self.lowest[1]:
            self.lowest = (t, f)
        return f, g, _dot(g, self.d)


def _cubic_min(a, fa, da, b, fb, db):
    """The minimiser of the cubic through (a, fa, da) and (b, fb, db), or None."""
    d1 = da + db - 3.0 * (fa - fb) / (a - b)
    disc = d1 * d1 - da * db
    if not math.isfinite(disc) or disc < 0.0:
        return None
    d2 = math.copysign(math.sqrt(disc), b - a)
    den = db - da + 2.0 * d2
    if den == 0.0:
        return None
    t = b - (b - a) * (db + d2 - d1) / den
    return t if math.isfinite(t) else None


def _line_search(trials, f0, d0, t, maxls, c1=1e-3, c2=0.9, xtol=0.1):
    """A step along d from f0 (slope d0 < 0): steps growing 4-fold until an interval holds a
    step satisfying the strong Wolfe conditions f(t) <= f0 + c1 t d0 and |f'(t)| <= c2 |d0|,
    then its cubic-interpolation zoom (c1, c2 and xtol those of L-BFGS-B's line search). A
    non-finite f counts as too large. Returns (t, f, g, wolfe), the point in trials.buffer:
    wolfe True for a strong Wolfe step; False for _best's step when the interval has shrunk
    below xtol of its end (what rounding leaves near the optimum) or maxls evaluations have
    passed; None when no step is acceptable."""
    prev = (0.0, f0, d0)
    for i in range(maxls):
        if trials.nfev >= trials.maxfun:
            return _best(trials, prev, f0)
        f, g, dg = trials(t)
        if not math.isfinite(f) or f > f0 + c1 * t * d0 or (i > 0 and f >= prev[1]):
            return _zoom(trials, f0, d0, prev, (t, f, dg), maxls - i - 1, c1, c2, xtol)
        if abs(dg) <= -c2 * d0:
            return t, f, g, True
        if dg >= 0:
            return _zoom(trials, f0, d0, (t, f, dg), prev, maxls - i - 1, c1, c2, xtol)
        prev, t = (t, f, dg), 4.0 * t
    return _best(trials, prev, f0)


def _best(trials, lo, f0):
    """The search ended without a Wolfe step: the step lo of sufficient decrease if there is
    one, else the step of the lowest f if that is no higher than f0 (where rounding hides the
    decrease; L-BFGS-B's line search accepts it too, and the ftol test then ends the run),
    evaluated again into trials.buffer; None when every step raised f."""
    t = lo[0] if lo[0] > 0.0 else (trials.lowest[0] if trials.lowest[1] <= f0 else 0.0)
    if t <= 0.0 or trials.nfev >= trials.maxfun:
        return None
    f, g, _ = trials(t)
    return t, f, g, False


def _zoom(trials, f0, d0, lo, hi, maxls, c1, c2, xtol):
    """Nocedal and Wright's zoom: lo = (t, f, f') the best step so far with sufficient
    decrease, hi the other end of an interval that holds a strong Wolfe step."""
    for _ in range(maxls):
        width = abs(hi[0] - lo[0])
        if trials.nfev >= trials.maxfun or width <= xtol * max(lo[0], hi[0]):
            break
        c = None
        if math.isfinite(hi[1]) and math.isfinite(hi[2]):
            c = _cubic_min(*lo, *hi)
        left = min(lo[0], hi[0])
        if c is None or not (left + 0.1 * width <= c <= left + 0.9 * width):
            c = 0.5 * (lo[0] + hi[0])
        f, g, dg = trials(c)
        if not math.isfinite(f) or f > f0 + c1 * c * d0 or f >= lo[1]:
            hi = (c, f, dg)
            continue
        if abs(dg) <= -c2 * d0:
            return c, f, g, True
        if dg * (hi[0] - lo[0]) >= 0:
            hi = lo
        lo = (c, f, dg)
    return _best(trials, lo, f0)


def minimize_lbfgs(fun, x0, *, maxiter, callback=None, m=10, ftol=_FTOL, maxls=50,
                   maxfun=15000):
    """Minimises fun (x -> (f, gradient), float64 vectors) from x0 by L-BFGS (the module's).

    callback(x, f) runs after each iteration; raising StopIteration in it ends the run with
    status 0. Stops when the objective's relative decrease (f_k - f_k+1) / max(|f_k|, |f_k+1|,
    1) is <= ftol, after maxiter iterations or maxfun evaluations, or when the line search
    fails from steepest descent."""
    size = len(x0)
    x = np.array(x0, dtype=np.float64)
    trial, d = np.empty(size), np.empty(size)
    memory = _Memory(m, size)
    f, g = fun(x)
    f = float(f)
    gnorm2 = _dot(g, g)
    nfev, nit = 1, 0
    status, message = 1, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT"
    while nit < maxiter:
        d0 = memory.direction(g, gnorm2, d)
        if not (d0 < 0.0):                        # rounding: no descent along -H g
            memory.clear()
            d0 = memory.direction(g, gnorm2, d)
        if d0 == 0.0:
            status, message = 0, "CONVERGENCE: NORM_OF_PROJECTED_GRADIENT_<=_PGTOL"
            break
        t0 = 1.0 if memory.order else min(1.0 / math.sqrt(gnorm2), 1e10)
        trials = _Trials(fun, x, d, trial, maxfun - nfev)
        found = _line_search(trials, f, d0, t0, maxls)
        nfev += trials.nfev
        if found is None and memory.order:        # once more from steepest descent
            memory.clear()
            d0 = memory.direction(g, gnorm2, d)
            trials = _Trials(fun, x, d, trial, maxfun - nfev)
            found = _line_search(trials, f, d0, min(1.0 / math.sqrt(gnorm2), 1e10), maxls)
            nfev += trials.nfev
        if found is None:
            if nfev >= maxfun:
                status, message = 1, "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT"
            else:
                status, message = 2, "ABNORMAL_TERMINATION_IN_LNSRCH"
            break
        _, f_new, g_new, wolfe = found
        # A step short of the Wolfe conditions may break s . y > 0: its pair is not stored.
        gnorm2 = memory.add(trial, x, g_new, g) if wolfe else memory.gradient_dots(g_new)
        x, trial = trial, x
        f_old, f, g = f, f_new, g_new
        nit += 1
        if callback is not None:
            try:
                callback(x, f)
            except StopIteration:
                status, message = 0, "the callback's stopping test passed"
                break
        if (f_old - f) / max(abs(f_old), abs(f), 1.0) <= ftol:
            status, message = 0, "CONVERGENCE: REL_REDUCTION_OF_F_<=_FACTR*EPSMCH"
            break
        if nfev >= maxfun:
            status, message = 1, "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT"
            break
    return LBFGSResult(x, f, nit, nfev, status, message)
