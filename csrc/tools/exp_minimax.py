"""The exp() polynomial coefficients of csrc/simd/vector_math.h (ExpConsts): their provenance.

p(r) = 1 + r + c2 r^2 + ... + cn r^n, minimax for the relative error |p(r) e^-r - 1| on
[-ln2/2, ln2/2], by the Remez exchange algorithm in 60-digit arithmetic (mpmath), then each
coefficient rounded to the target precision. The error printed is the polynomial's before that
rounding; csrc/tools/vector_math_error.cc measures the vector exp as it runs.

    python csrc/tools/exp_minimax.py      # prints the float32 (n=6) and float64 (n=11) sets
"""
import mpmath as mp

mp.mp.dps = 60


def remez(n, iters=30):
    a, b = -mp.log(2) / 2, mp.log(2) / 2
    m = n - 1                                   # unknown coefficients c2..cn, plus the error E
    pts = [a + (b - a) * (1 - mp.cos(mp.pi * i / m)) / 2 for i in range(m + 1)]
    for _ in range(iters):
        rows = [[x ** j for j in range(2, n + 1)] + [(-1) ** i * mp.exp(x)]
                for i, x in enumerate(pts)]
        rhs = [mp.exp(x) - 1 - x for x in pts]
        sol = mp.lu_solve(mp.matrix(rows), mp.matrix(rhs))
        c = [sol[j] for j in range(m)]

        def err(x, c=c):
            return (1 + x + sum(cj * x ** (j + 2) for j, cj in enumerate(c))) * mp.exp(-x) - 1

        # locate the m+1 alternating extrema of the error on a fine grid, then refine each
        grid = [a + (b - a) * i / 4000 for i in range(4001)]
        vals = [err(x) for x in grid]
        ext = [0]
        for i in range(1, len(grid) - 1):
            if (vals[i] - vals[i - 1]) * (vals[i + 1] - vals[i]) <= 0:
                ext.append(i)
        ext.append(len(grid) - 1)
        new = []
        for i in ext:
            x = grid[i]
            if 0 < i < len(grid) - 1:
                x = mp.findroot(lambda t, err=err: mp.diff(err, t), x)
            new.append(x)
        if len(new) != m + 1:
            break
        pts = sorted(new)
    return c, max(abs(err(a + (b - a) * i / 20000)) for i in range(20001))


def show(n, bits, name):
    c, e = remez(n)
    ctype = "float" if bits == 24 else "double"
    print(f"// {name}: degree {n}, minimax relative error {mp.nstr(e, 3)} before rounding")
    for j, cj in enumerate(c, start=2):
        v = float(cj)
        if bits == 24:
            import numpy as np
            v = float(np.float32(v))
        print(f"  c{j} = {v.hex()}  ({ctype}; {mp.nstr(cj, 20)})")


if __name__ == "__main__":
    show(6, 24, "float32")
    show(11, 53, "float64")
