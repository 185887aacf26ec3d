"""The exp() polynomial coefficients of csrc/simd/vector_math.h (ExpConsts): their provenance.

p(r) = 1 + r + c2 r^2 + ... + cn r^n, minimax for the relative error |p(r) e^-r - 1| on
[-ln2/(2N), ln2/(2N)], by the Remez exchange algorithm in 60-digit arithmetic (mpmath), then each
coefficient rounded to the target precision. N = 1 is the plain reduction t = n ln2 + r; N = 16
the table-driven one, t = (n / 16) ln2 + r, whose 2^(j/16) come from a table (ExpTable). The
error printed is the polynomial's before that rounding; csrc/tools/vector_math_error.cc measures
the vector exp as it runs.

    python csrc/tools/exp_minimax.py   # the float32 (n=6), float64 (n=11) and float64 table
                                       # (N=16, n=6) sets, and that table
"""
import mpmath as mp

mp.mp.dps = 60


def remez(n, N=1, iters=30):
    a, b = -mp.log(2) / (2 * N), mp.log(2) / (2 * N)
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


def show(n, bits, name, N=1):
    c, e = remez(n, N)
    ctype = "float" if bits == 24 else "double"
    print(f"// {name}: degree {n}, minimax relative error {mp.nstr(e, 3)} before rounding")
    for j, cj in enumerate(c, start=2):
        v = float(cj)
        if bits == 24:
            import numpy as np
            v = float(np.float32(v))
        print(f"  c{j} = {v.hex()}  ({ctype}; {mp.nstr(cj, 20)})")


def table(N, bits_of_index):
    """ExpTable's two tables: hi_j = 2^(j/N) rounded to double, stored as its bits minus the
    biased exponent 1023 << 52 and minus j << (52 - bits_of_index) (the exp adds z's bits
    shifted by that much, which hold 1023 + k above j); rel_j = (2^(j/N) - hi_j) / hi_j."""
    import struct
    for j in range(N):
        exact = mp.power(2, mp.mpf(j) / N)
        hi = float(exact)
        rel = float((exact - hi) / hi)
        bits = struct.unpack("<Q", struct.pack("<d", hi))[0]
        stored = (bits - (1023 << 52) - (j << (52 - bits_of_index))) % (1 << 64)
        rel_bits = struct.unpack("<Q", struct.pack("<d", rel))[0]
        print(f"  j = {j:2d}: hi 0x{stored:016x}  rel 0x{rel_bits:016x}  ({hi.hex()}, {rel!r})")


if __name__ == "__main__":
    show(6, 24, "float32")
    show(11, 53, "float64")
    show(6, 53, "float64, table of 16", N=16)
    table(16, 4)
