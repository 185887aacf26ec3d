"""`python -m pysoftmax demo` (what `make demo` runs), quickly: its tables and its pictures."""

import re

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from pysoftmax.__main__ import main  # noqa: E402


def test_demo_prints_the_comparison_and_writes_the_pictures(tmp_path, capsys):
    assert main(["demo", "--repeat", "1", "--out", str(tmp_path)]) == 0
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
        assert (tmp_path / picture).stat().st_size > 10_000
