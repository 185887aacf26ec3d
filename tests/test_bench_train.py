"""The training benchmark (python -m pysoftmax bench --train) on a tiny problem, so that it
cannot rot: every installed trainer runs and the table comes out."""

import json

import pytest

pytest.importorskip("scipy.optimize")
pytest.importorskip("sklearn")

from pysoftmax.__main__ import main  # noqa: E402
from pysoftmax.bench import train  # noqa: E402


def test_train_quick(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(train.QUICK, "n", 600)
    monkeypatch.setitem(train.QUICK, "max_iter", 15)
    path = tmp_path / "train.json"
    assert main(["bench", "--train", "--quick", "--threads", "1", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "training: make_classification 600 x 64, 10 classes, float32" in out
    assert "target" not in out.lower() and "MISS" not in out
    for trainer in ("sklearn", "pysoftmax"):
        assert f"\n{trainer} " in out
    assert "preconditioning: pysoftmax's L-BFGS runs in standardised coordinates" in out
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("trainer "))
    header, rows = lines[at], {line.split()[0]: line for line in lines[at + 1:] if line.strip()}
    assert "iterations  s/iteration  evaluations  s/evaluation" in header
    record = json.loads(path.read_text())
    results = record[0]["results"]
    assert set(results) >= {"sklearn", "pysoftmax"} and record[0]["threads"] == 1
    assert record[0]["preconditioning"] == train.PRECONDITIONING["dense"]
    ours = results["pysoftmax"]
    assert ours["n_iter"] <= 15 and ours["objective"] > 0 and "time_to_target" in ours
    assert ours["seconds_per_evaluation"] == pytest.approx(ours["seconds"] / ours["n_evals"])
    assert ours["seconds_per_iteration"] == pytest.approx(ours["seconds"] / ours["n_iter"])
    assert results["sklearn"]["seconds_per_evaluation"] is None     # it does not count them
    assert f"{ours['seconds_per_evaluation']:.4f}" in rows["pysoftmax"]
    assert f"{results['sklearn']['seconds_per_iteration']:.4f}" in rows["sklearn"]


def test_time_to_target_uses_float64_objective():
    p = train.make_problem(200, d=8, k=3)
    zero = train.objective(p, [[0.0] * 8] * 3, [0.0] * 3)
    r = train.Result("x", "0", 1.0, (None, None), 1, 2,
                            trace=[(0.5, zero * 0.5, [[0.0] * 8] * 3, [0.0] * 3)])
    assert train.find_time_to_target(p, r, zero * 0.9) is None    # the record lied
    assert train.find_time_to_target(p, r, zero) == 0.5


def test_train_rows_must_be_at_least_two():
    with pytest.raises(SystemExit, match="--rows"):
        main(["bench", "--train", "--rows", "1"])


def test_train_dask_small(capsys):
    pytest.importorskip("distributed")
    assert main(["bench", "--train", "--dask", "--quick", "--rows", "20000"]) == 0
    out = capsys.readouterr().out
    assert "training on Dask: 20000 x 100 float32, 10 classes" in out
    for name in ("dask, 1 worker ", "dask, 2 workers", "in memory"):
        assert f"\n{name}" in out
    assert "dask-ml" in out
