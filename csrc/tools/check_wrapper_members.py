"""Checks that the wrapper concept (csrc/simd/wrapper.h) lists every wrapper member the kernel
templates name, so that its static_asserts cover them all.

The templates name a wrapper as V (and its double lanes as D = V::Wide) in csrc/simd/*.h, and as
V in csrc/linear_kernels.h, whose V is LinearLanes<wrapper> (csrc/simd/linear_table.h): its hsum
is the wrapper's hsum_t. Exits 1 and names the members missing from the list, or from the checks.

    python csrc/tools/check_wrapper_members.py
"""
import re
import sys
from pathlib import Path

CSRC = Path(__file__).resolve().parents[1]
WRAPPER = CSRC / "simd" / "wrapper.h"


def used(path, rename=None):
    names = set(re.findall(r"\b[VD]::(?:template\s+)?(\w+)", path.read_text()))
    return {(rename or {}).get(n, n) for n in names}


def main():
    text = "\n".join(line for line in WRAPPER.read_text().splitlines()
                     if not line.startswith("#define"))
    listed = set(re.findall(r"PYSOFTMAX_WRAPPER_(?:TYPE|MEMBER)\((\w+)", text))
    required = set(re.findall(r"PYSOFTMAX_REQUIRE\((\w+)\);", text))
    names = set()
    for header in sorted((CSRC / "simd").glob("*.h")):
        if header != WRAPPER:
            names |= used(header)
    names |= used(CSRC / "linear_kernels.h", {"hsum": "hsum_t"})
    problems = [f"not listed in simd/wrapper.h: {n}" for n in sorted(names - listed)]
    problems += [f"listed but never checked (PYSOFTMAX_REQUIRE): {n}"
                 for n in sorted(listed - required)]
    for p in problems:
        print(p)
    print(f"{len(names)} members used, {len(listed)} listed, {len(required)} checked")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
