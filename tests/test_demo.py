"""`python -m pysoftmax demo` (what `make demo` runs), quickly: its tables and its pictures, its
output directory, its message without the extras; and `python -m pysoftmax --version`."""

import importlib.util
import re
import subprocess
import sys

import pytest

import pysoftmax
from pysoftmax.__main__ import main

EXTRAS = ("sklearn", "scipy", "matplotlib", "tqdm")
needs_extras = pytest.mark.skipif(
    any(importlib.util.find_spec(module) is None for module in ("sklearn", "matplotlib")),
    reason="the digits demo needs scikit-learn and matplotlib")


@needs_extras
def test_demo_prints_the_comparison_and_writes_the_pictures(tmp_path, capsys):
    out_dir = tmp_path / "pictures" / "digits"                  # created, parents included
    assert main(["demo", "--repeat", "1", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    accuracy = {}
    assert "fit time: median of 1)" in out
    for name in ("SoftmaxRegression lbfgs", "SoftmaxRegression gd", "SoftmaxRegression sgd",
                 "partial_fit 10 chunks x 30", "LogisticRegression (lbfgs)"):
        match = re.search(re.escape(name) + r"\s+(0\.\d+)\s+[\d.]+ ms\s+\d+\s+([\d.]+)\n", out)
        assert match, name
        accuracy[name] = float(match.group(1))
    assert min(accuracy.values()) > 0.95
    for name in ("softmax", "log_softmax", "cross_entropy_with_grad"):
        assert len(re.findall(rf"\n{name}\s+\d+x\d+\s+[\d.]+ ms\s+[\d.]+ ms\s+[\d.]+x", out)) == 2
    for picture in ("templates.png", "loss_curve.png"):
        assert (out_dir / picture).stat().st_size > 10_000
    assert "missing" not in out


@needs_extras
def test_demo_refuses_an_output_directory_it_cannot_create(tmp_path, capsys):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    with pytest.raises(SystemExit, match=r"demo: --out .*a file.*: cannot create the directory"):
        main(["demo", "--repeat", "1", "--out", str(blocker / "pictures")])
    assert capsys.readouterr().out == ""                        # before any work
    with pytest.raises(SystemExit, match="cannot create the directory"):
        main(["demo", "--repeat", "1", "--out", str(blocker)])


def test_demo_without_the_extras_names_every_missing_package(tmp_path, capsys, monkeypatch):
    for module in EXTRAS:
        monkeypatch.setitem(sys.modules, module, None)          # import fails
    out_dir = tmp_path / "unused"
    assert main(["demo", "--repeat", "1", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    messages = [line for line in out.splitlines() if "missing" in line]
    assert messages == [("(missing scikit-learn, scipy, matplotlib, tqdm, of the extras: pip "
                         "install 'pysoftmax[sklearn,plot]'; skipping the digits demo)")]
    assert "softmax regression on scikit-learn's digits" not in out
    assert "-- kernels against the NumPy reference" in out      # the rest of the demo runs
    assert not out_dir.exists()                                 # no pictures, no directory


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"pysoftmax {pysoftmax.__version__}\n"
    out = subprocess.run([sys.executable, "-m", "pysoftmax", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert out == f"pysoftmax {pysoftmax.__version__}\n"
