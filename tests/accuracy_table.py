"""Prints the worst error of every op, instruction set, dtype and row length as Markdown tables:
worst ULP / worst relative error against the exact values of tests/test_accuracy.py (its
samples, oracles and measures; the bound column is what the tests assert, in ULP).

    python tests/accuracy_table.py            # every ISA this CPU runs, and the emulated ones

ULP are of the result's dtype at the exact value; gradient entries are measured at the size of
the terms they are the difference of, and logsumexp at max(|lse|, |max x|), as in the tests.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import test_accuracy as acc  # noqa: E402

from pysoftmax import _core  # noqa: E402

from helpers import using_isa  # noqa: E402


def main() -> None:
    isas = _core.available_isas() + [name for name, _ in _core.testing_isas()]
    skipped = [name for name in _core.compiled_isas() if name not in isas]
    print(f"CPU: {_cpu()}; instruction sets: {', '.join(isas)}"
          + (f" (not run on this CPU: {', '.join(skipped)})" if skipped else ""))
    for dtype in (np.float32, np.float64):
        if dtype == np.float64 and not acc.WIDE:
            print("\nfloat64: skipped, long double is not wider than double here")
            continue
        results = {}
        for isa in isas:
            with using_isa(isa):
                for k in acc.SIZES:
                    for op, value in acc.measure(dtype, k).items():
                        results[op, isa, k] = value
        print(f"\n{dtype.__name__}: worst ULP / worst relative error "
              f"({', '.join(f'k={k}: {acc.ROWS[k]} rows' for k in acc.SIZES)})\n")
        print("| op | ISA | bound | " + " | ".join(f"k={k}" for k in acc.SIZES) + " |")
        print("|---|---|---|" + "---|" * len(acc.SIZES))
        for op in acc.OPS:
            for isa in isas:
                cells = [f"{u:.2f} / {r:.2g}" for u, r in (results[op, isa, k] for k in acc.SIZES)]
                print(f"| {op} | {isa} | {acc.bound(op, dtype):g} | " + " | ".join(cells) + " |")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
