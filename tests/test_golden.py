"""Every public function's output, bit for bit, against digests recorded by an earlier build
(tests/data/golden.json, written by tests/data/make_golden.py): a change meant to preserve
behaviour must leave every digest as it was, on every instruction set."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from pysoftmax import _core

from helpers import using_isa

DATA = Path(__file__).parent / "data"
GOLDEN = json.loads((DATA / "golden.json").read_text())

spec = importlib.util.spec_from_file_location("make_golden", DATA / "make_golden.py")
make_golden = importlib.util.module_from_spec(spec)
sys.modules["make_golden"] = make_golden
spec.loader.exec_module(make_golden)

CASES = dict(make_golden.all_cases())


# A testing set (emulated512) must reproduce the digests of the set it emulates (avx512), which
# a CPU with AVX-512 recorded: so the 16-lane kernels are checked bit for bit on any AVX2 CPU.
EMULATES = dict(_core.testing_isas())


@pytest.mark.parametrize("isa_name", _core.compiled_isas() + sorted(EMULATES))
@pytest.mark.parametrize("case", sorted(CASES))
def test_output_matches_the_recorded_build(isa_name, case):
    if isa_name not in _core.available_isas() and isa_name not in EMULATES:
        pytest.skip(f"this CPU cannot run {isa_name}")
    recorded = GOLDEN["isas"].get(EMULATES.get(isa_name, isa_name))
    if recorded is None:
        pytest.skip(f"no digests recorded for {isa_name} (tests/data/make_golden.py on a CPU "
                    "that runs it adds them)")
    if case not in recorded:
        pytest.skip(f"{case}: not recorded at {GOLDEN['commit']}")
    with using_isa(isa_name):
        got = make_golden._digest(*CASES[case]())
    assert got == recorded[case], f"{case} on {isa_name} differs from the build {GOLDEN['commit']}"
