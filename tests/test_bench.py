"""The kernel benchmark command (python -m pysoftmax bench) on tiny shapes: it runs, prints
every table, and its --json and --plot outputs hold what the tables say."""

import json
import statistics

import numpy as np
import pytest

import pysoftmax.reference
from pysoftmax.bench import kernels as _bench
from pysoftmax.__main__ import main


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(_bench, "SHAPES", ((64, 10), (8, 300)))
    monkeypatch.setattr(_bench, "SWEEP_KS", (10, 100))
    monkeypatch.setattr(_bench, "SWEEP_ELEMENTS", 2000)
    monkeypatch.setattr(_bench, "IN_CACHE_SHAPE", (4, 500))


def test_bench_quick_json(tiny, capsys, tmp_path):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--threads", "1,2", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    for heading in ("ns/element (median)", "targets (required speed-up", "pysoftmax scaling, 1 -> 2",
                    "in-cache rows"):
        assert heading in out
    record = json.loads(path.read_text())
    assert record["threads"] == [1, 2] and record["quick"] is True
    rows = record["rows"]
    # --quick: the first two shapes, float32, four ops, each thread count
    assert {(r["op"], tuple(r["shape"]), r["threads"]) for r in rows} == {
        (op, shape, t) for op in ("softmax", "log_softmax", "logsumexp", "cross_entropy_with_grad")
        for shape in ((64, 10), (8, 300)) for t in (1, 2)}
    for r in rows:
        assert {"pysoftmax", "reference"} <= set(r["median_s"])
        ours = r["median_s"]["pysoftmax"]
        for peer, speedup in r["speedup"].items():
            assert speedup == pytest.approx(r["median_s"][peer] / ours)
        for peer, t in r["targets"].items():
            assert t["required"] == _bench.target_ratio(r["op"], r["shape"][1], r["dtype"], peer)
            assert t["met"] == (t["speedup"] >= t["required"])
        if r["op"] == "cross_entropy_with_grad" and "sklearn" in r["median_s"]:
            assert r["targets"]["sklearn"]["required"] == 8.0
    cache = record["in_cache"]
    assert [(r["op"], r["threads"]) for r in cache] == [
        (op, t) for t in (1, 2) for op in _bench.IN_CACHE_OPS]
    for r in cache:
        assert r["shape"] == [4, 500] and r["ns_per_element"] > 0
        assert r["ratio"] == pytest.approx(r["ns_per_element"] / _bench.MACHINE_FLOORS_NS[r["threads"]]["exp"])


def test_bench_rounds_report_the_median_of_the_rounds(tiny, capsys, tmp_path):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--threads", "1", "--rounds", "3", "--json", str(path)]) == 0
    assert "3 rounds" in capsys.readouterr().out
    record = json.loads(path.read_text())
    assert record["rounds"] == 3
    for r in record["rows"]:
        for lib, times in r["round_medians_s"].items():
            assert len(times) == 3 and r["median_s"][lib] == statistics.median(times)
        ours = r["median_s"]["pysoftmax"]
        for peer, speedup in r["speedup"].items():
            assert speedup == pytest.approx(r["median_s"][peer] / ours)
    for r in record["in_cache"]:
        assert r["ns_per_element"] == statistics.median(r["round_ns_per_element"])
        assert r["ratio"] == pytest.approx(r["ns_per_element"] / _bench.MACHINE_FLOORS_NS[1]["exp"])
    with pytest.raises(SystemExit):
        main(["bench", "--rounds", "0"])


def test_libraries_and_thread_counts_are_timed_in_turns():
    """interleaved_medians times its callables in turns: each turn starts with an untimed call,
    and the turns alternate until every callable has its repeats and its time."""
    events = []

    def builder(key):
        def build():
            events.append(("build", key))
            return lambda: events.append(("call", key))
        return build

    medians = _bench.interleaved_medians({"a": builder("a"), "b": builder("b")}, min_repeats=5,
                                         min_time=0.0, turn_s=0.0)
    assert set(medians) == {"a", "b"} and all(m >= 0 for m in medians.values())
    turns = [key for what, key in events if what == "build"]
    assert turns[:4] == ["a", "b", "a", "b"]                 # in turns, not one after the other
    assert turns.count("a") == turns.count("b") == 3         # 2 timed calls a turn, 5 asked
    calls = [key for what, key in events if what == "call"]
    assert calls.count("a") == 3 * 3                         # each turn: 1 untimed + 2 timed


def test_measure_times_single_threaded_libraries_once(tiny, monkeypatch):
    built = []
    real = _bench.kernel

    def spy(op, library, data, threads):
        built.append((library, threads))
        return real(op, library, data, threads)

    monkeypatch.setattr(_bench, "kernel", spy)
    results = _bench.measure([("softmax", 64, 10, "float32")], ["pysoftmax", "reference"], [1, 2],
                             min_repeats=2, min_time=0.0)
    assert [r["threads"] for r in results] == [1, 2]
    assert {t for lib, t in built if lib == "reference"} == {1}
    assert {t for lib, t in built if lib == "pysoftmax"} == {1, 2}
    assert results[0]["median_s"]["reference"] == results[1]["median_s"]["reference"]


def test_in_cache_calls_write_into_one_output(tiny):
    data = _bench.make_inputs(4, 500, "float32")
    for op in _bench.IN_CACHE_OPS:
        call = _bench.in_cache_call(op, data, 1)
        first, second = call(), call()
        want = getattr(pysoftmax.reference, op)(data.logits)
        np.testing.assert_allclose(first, want, rtol=1e-5, atol=1e-6)
        if op != "logsumexp":
            assert first is second                           # the same preallocated out=


def test_bench_plot(tiny, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "k.png"
    assert main(["bench", "--quick", "--threads", "1", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "20x100" in out and "200x10" in out   # the K sweep's rows (N = 2000 / K)


def test_target_ratios():
    """The issue's targets, row by row."""
    assert _bench.target_ratio("softmax", 1000, "float32", "torch") == 2.5
    assert _bench.target_ratio("log_softmax", 10, "float32", "reference") == 10.0
    assert _bench.target_ratio("cross_entropy_with_grad", 10, "float32", "torch") == 8.0
    assert _bench.target_ratio("cross_entropy_with_grad", 1000, "float32", "torch") == 5.0
    assert _bench.target_ratio("cross_entropy_with_grad", 50257, "float32", "sklearn") == 8.0
    assert _bench.target_ratio("softmax", 1000, "float64", "torch") == 2.0
    assert _bench.target_ratio("logsumexp", 1000, "float32", "torch") is None
