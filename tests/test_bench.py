"""The kernel benchmark command (python -m pysoftmax bench) on tiny shapes: it runs, prints
every table, and its --json and --plot outputs hold what the tables say; the floors it measures;
the layers of pysoftmax.bench; bench/check_targets.py on a small record."""

import importlib.util
import json
import pathlib
import statistics

import numpy as np
import pytest

import pysoftmax.reference
from pysoftmax.__main__ import main
from pysoftmax.bench import contention, floors, kernels, peers, timing

from helpers import find_cycle, import_graph

ROOT = pathlib.Path(__file__).resolve().parents[1]
WRITE_OPS = ("softmax", "log_softmax", "cross_entropy_with_grad")   # the copy floor's ops


@pytest.fixture
def tiny(monkeypatch):
    # a small "L3": the machine floors' arrays (and --quick has no out-of-cache rows)
    monkeypatch.setattr(peers, "cache_sizes", lambda: {"L2": 512 << 10, "L3": 64 << 10})
    monkeypatch.setattr(kernels, "SHAPES", ((64, 10), (8, 300)))
    monkeypatch.setattr(kernels, "SWEEP_KS", (10, 100))
    monkeypatch.setattr(kernels, "SWEEP_ELEMENTS", 2000)
    monkeypatch.setattr(kernels, "IN_CACHE_SHAPE", (4, 500))


def _check_floors(r, ours_s):
    """The row's floors: those that bound its op, and pysoftmax's time over each."""
    want = {"copy", "exp"} if r["op"] in WRITE_OPS else {"read", "exp"}
    assert set(r["floor_median_s"]) == set(r["floor_ratio"]) == want
    elements = r["shape"][0] * r["shape"][1]
    for name, s in r["floor_median_s"].items():
        assert r["floor_ns_per_element"][name] == pytest.approx(s * 1e9 / elements)
        assert r["floor_ratio"][name] == pytest.approx(ours_s / s)
    limit = max(r["floor_ns_per_element"].values())
    assert r["limit_ns_per_element"] == limit
    assert r["limit_ratio"] == pytest.approx(ours_s * 1e9 / elements / limit)


def test_bench_quick_json(tiny, capsys, tmp_path):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--threads", "1,2", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    for heading in ("ns/element (median)", "floors measured with it on the same inputs",
                    "pysoftmax scaling, 1 -> 2", "in-cache rows"):
        assert heading in out
    assert "copy: the logits copied" in out and "read: the maximum of the logits" in out
    assert "exp: the kernels' own exp" in out and "this machine's floors" in out
    assert "target" not in out.lower() and "MISS" not in out
    # like for like: every library allocates; the 1-thread peers named so in a 2-thread table
    assert out.count("every library allocates its outputs in each call (no out=)") == 2
    assert "reference (1 thread)" in out and "vs reference (1 thread)" in out
    record = json.loads(path.read_text())
    assert record["threads"] == [1, 2] and record["quick"] is True
    assert record["library_threads"]["pysoftmax"] == [1, 2]
    assert record["library_threads"]["reference"] == [1]
    assert record["outputs"]["comparisons"] == "allocated in each call by every library"
    assert set(record["floors"]) == {"copy", "read", "exp", "exp_bare"}
    assert record["out_of_cache"] == []                 # --quick
    machine = record["machine_floors"]
    assert {(m["dtype"], m["threads"]) for m in machine} == {
        (d, t) for d in ("float32", "float64") for t in (1, 2)}
    for m in machine:
        assert set(m["ns_per_element"]) == {"copy", "read", "exp", "exp_bare"}
        assert all(v > 0 for v in m["ns_per_element"].values())
    assert isinstance(record["caches"], dict)
    rows = record["rows"]
    # --quick: the first two shapes, float32, four ops, each thread count
    assert {(r["op"], tuple(r["shape"]), r["threads"]) for r in rows} == {
        (op, shape, t) for op in ("softmax", "log_softmax", "logsumexp", "cross_entropy_with_grad")
        for shape in ((64, 10), (8, 300)) for t in (1, 2)}
    for r in rows:
        assert {"pysoftmax", "reference"} <= set(r["median_s"]) and "targets" not in r
        assert r["library_threads"] == {lib: 1 if lib in peers.SINGLE_THREADED else r["threads"]
                                        for lib in r["median_s"]}
        ours = r["median_s"]["pysoftmax"]
        for peer, speedup in r["speedup"].items():
            assert speedup == pytest.approx(r["median_s"][peer] / ours)
        _check_floors(r, ours)
    assert {r["isa"] for r in rows} == {record["isa"]}
    cache = record["in_cache"]
    assert [(r["op"], r["threads"]) for r in cache] == [
        (op, t) for t in (1, 2) for op in kernels.IN_CACHE_OPS]
    for r in cache:
        assert r["shape"] == [4, 500] and r["ns_per_element"] > 0
        assert r["ns_per_element"] == pytest.approx(r["median_s"] * 1e9 / 2000)
        _check_floors(r, r["median_s"])


def test_bench_rounds_report_the_median_of_the_rounds(tiny, capsys, tmp_path):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--threads", "1", "--rounds", "3", "--json", str(path)]) == 0
    assert "3 rounds" in capsys.readouterr().out
    record = json.loads(path.read_text())
    assert record["rounds"] == 3
    for r in record["rows"]:
        for lib, times in r["round_medians_s"].items():
            assert len(times) == 3 and r["median_s"][lib] == statistics.median(times)
        for name, times in r["round_floor_medians_s"].items():
            assert len(times) == 3 and r["floor_median_s"][name] == statistics.median(times)
        ours = r["median_s"]["pysoftmax"]
        for peer, speedup in r["speedup"].items():
            assert speedup == pytest.approx(r["median_s"][peer] / ours)
        _check_floors(r, ours)
    for r in record["in_cache"]:
        assert r["ns_per_element"] == pytest.approx(statistics.median(r["round_ns_per_element"]))
        _check_floors(r, r["median_s"])
    with pytest.raises(SystemExit):
        main(["bench", "--rounds", "0"])


def test_a_new_floor_shows_in_the_tables_and_the_record(tiny, monkeypatch, capsys, tmp_path):
    """A floor is one entry of floors.FLOORS: measured, printed and saved with no other change;
    one that runs on the run's threads is timed at each thread count."""
    calls = []

    def build(x, threads):
        out = np.empty_like(x)
        calls.append(threads)
        return lambda: np.copyto(out, x)

    extra = floors.Floor("again", "a copy again", "np.copyto once more, on the run's threads",
                         build, ops=("logsumexp",))
    monkeypatch.setattr(floors, "FLOORS", floors.FLOORS + (extra,))
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--threads", "1,2", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "again: np.copyto once more" in out and "/ again" in out
    record = json.loads(path.read_text())
    assert record["floors"]["again"] == extra.description
    for r in record["rows"] + record["in_cache"]:
        assert ("again" in r["floor_ratio"]) == (r["op"] == "logsumexp")
    assert set(calls) == {1, 2}


def test_libraries_and_thread_counts_are_timed_in_turns():
    """interleaved_medians times its callables in turns: each turn starts with an untimed call,
    and the turns alternate until every callable has its repeats and its time."""
    events = []

    def builder(key):
        def build():
            events.append(("build", key))
            return lambda: events.append(("call", key))
        return build

    medians = timing.interleaved_medians({"a": builder("a"), "b": builder("b")}, min_repeats=5,
                                         min_time=0.0, turn_s=0.0)
    assert set(medians) == {"a", "b"} and all(m >= 0 for m in medians.values())
    turns = [key for what, key in events if what == "build"]
    assert turns[:4] == ["a", "b", "a", "b"]                 # in turns, not one after the other
    assert turns.count("a") == turns.count("b") == 3         # 2 timed calls a turn, 5 asked
    calls = [key for what, key in events if what == "call"]
    assert calls.count("a") == 3 * 3                         # each turn: 1 untimed + 2 timed


def test_measure_times_single_threaded_libraries_once(tiny, monkeypatch):
    built = []
    real = peers.kernel

    def spy(op, library, data, threads):
        built.append((library, threads))
        return real(op, library, data, threads)

    monkeypatch.setattr(peers, "kernel", spy)
    results = kernels.measure([("softmax", 64, 10, "float32")], ["pysoftmax", "reference"],
                              [1, 2], min_repeats=2, min_time=0.0)
    assert [r["threads"] for r in results] == [1, 2]
    assert {t for lib, t in built if lib == "reference"} == {1}
    assert {t for lib, t in built if lib == "pysoftmax"} == {1, 2}
    assert results[0]["median_s"]["reference"] == results[1]["median_s"]["reference"]
    # the floors run on the row's thread count: timed at each
    assert results[0]["floor_median_s"] != results[1]["floor_median_s"]


@pytest.mark.parametrize("op", peers.OPS)
def test_every_library_allocates_its_outputs_in_each_call(op):
    """The comparison rows are like for like: no library writes into a preallocated output
    (two calls return distinct arrays, none sharing memory with the logits)."""
    data = kernels.make_inputs(64, 10, "float32")
    for library in peers.LIBRARIES:
        if op not in peers.SUPPORTED[library] or importlib.util.find_spec(
                peers.MODULES[library].split(".")[0]) is None:
            continue
        call = peers.kernel(op, library, data, 1)
        arrays = []
        for result in (call(), call()):
            parts = result if isinstance(result, tuple) else (result,)
            arrays.append([np.asarray(a.detach() if hasattr(a, "detach") else a)
                           for a in parts if np.ndim(a) > 0])
        for first, second in zip(*arrays):
            assert not np.shares_memory(first, second), (library, op)
            assert not np.shares_memory(first, data.logits), (library, op)


def test_single_threaded_peers_are_labelled_in_runs_on_more_threads():
    assert peers.label("reference", 2) == "reference (1 thread)"
    assert peers.label("scipy", 2) == "scipy (1 thread)"
    assert peers.label("reference", 1) == "reference" and peers.label("torch", 2) == "torch"
    assert [peers.threads_of(lib, 2) for lib in peers.LIBRARIES] == [
        1 if lib in peers.SINGLE_THREADED else 2 for lib in peers.LIBRARIES]


def test_in_cache_calls_write_into_one_output(tiny):
    data = kernels.make_inputs(4, 500, "float32")
    for op in kernels.IN_CACHE_OPS:
        call = kernels.in_cache_call(op, data, 1)
        first, second = call(), call()
        if op == "cross_entropy_with_grad":
            want = pysoftmax.reference.cross_entropy_with_grad(data.logits, data.target)
            assert first[0] == pytest.approx(want[0], rel=1e-6)
            np.testing.assert_allclose(first[1], want[1], rtol=1e-5, atol=1e-7)
            assert first[1] is second[1]                     # the same preallocated out=
            continue
        want = getattr(pysoftmax.reference, op)(data.logits)
        np.testing.assert_allclose(first, want, rtol=1e-5, atol=1e-6)
        if op != "logsumexp":
            assert first is second                           # the same preallocated out=


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_floors_compute_what_they_say(isa, threads, dtype):
    """The native floors on every instruction set and thread count: the copy copies (odd sizes
    and offsets: the unaligned head and the tail), the read finds the maximum, the exp floors
    compute exp(x - shift) over each thread's part."""
    x = kernels.make_inputs(37, 29, dtype).logits
    for lo, hi in ((0, x.size), (1, x.size - 3), (5, 6)):
        part = x.reshape(-1)[lo:hi]
        out = np.full_like(part, np.nan)
        pysoftmax._core.floor_stream_copy(part, out)
        np.testing.assert_array_equal(out, part)
        assert pysoftmax._core.floor_read_max(part) == part.max()
    small, repeat = floors.l1_part(x, threads)
    assert small.size % 64 == 0 and small.size * repeat >= x.size * 0.9
    shift = float(small.max())
    want = np.exp(small.astype(np.float64) - shift)
    tol = 1e-6 if dtype == "float32" else 1e-14
    got = pysoftmax._core.floor_exp_sum(small, shift, 3)
    assert got == pytest.approx(3 * want.sum(), rel=tol)
    out = np.empty_like(small)
    pysoftmax._core.floor_exp_store(small, shift, out, 2)
    np.testing.assert_allclose(out, want, rtol=4 * tol)
    with pytest.raises(ValueError, match="x: expected a multiple of 64 elements"):
        pysoftmax._core.floor_exp_sum(x.reshape(-1)[:65], 0.0, 1)
    with pytest.raises(ValueError, match="out: expected"):
        pysoftmax._core.floor_stream_copy(x, np.empty(3, x.dtype))
    with pytest.raises(TypeError, match="x: expected float32 or float64"):
        pysoftmax._core.floor_read_max(np.zeros(4, np.int32))


def test_floors_bound_their_ops():
    x = kernels.make_inputs(8, 30, "float32").logits
    by_name = {f.name: f for f in floors.FLOORS}
    assert by_name["read"].build(x, 1)() == x.max()
    by_name["copy"].build(x, 1)()
    assert [f.name for f in floors.bounding("logsumexp")] == ["read", "exp"]
    assert [f.name for f in floors.bounding("softmax")] == ["copy", "exp"]
    assert floors.limit_ns("softmax", {"copy": 0.2, "exp": 0.3}) == 0.3
    assert floors.limit_ns("logsumexp", {"read": 0.5, "exp": 0.3}) == 0.5
    assert floors.limit_ns("softmax", {}) is None


def test_bench_isa_all_times_every_set_in_turns(tiny, capsys, tmp_path):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--threads", "1", "--isa", "all", "--json",
                 str(path)]) == 0
    record = json.loads(path.read_text())
    sets = pysoftmax._core.available_isas()
    assert record["isas"] == sorted(sets)
    for key in ("rows", "in_cache"):
        by_row = {}
        for r in record[key]:
            by_row.setdefault((r["op"], tuple(r["shape"])), set()).add(r["isa"])
        assert all(found == set(sets) for found in by_row.values())
    assert {m["isa"] for m in record["machine_floors"]} == set(sets)
    out = capsys.readouterr().out
    assert f"instruction sets: {', '.join(sets)}" in out
    assert pysoftmax._core.get_isa() == record["isa"]       # the set in use before, restored
    with pytest.raises(SystemExit, match="--isa: nosuchset not run by this CPU"):
        main(["bench", "--quick", "--isa", "nosuchset"])


def test_bench_plot(tiny, capsys, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "k.png"
    assert main(["bench", "--quick", "--threads", "1", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "20x100" in out and "200x10" in out   # the K sweep's rows (N = 2000 / K)


def test_cache_sizes_reads_sysfs(tmp_path):
    for index, (level, kind, size) in enumerate([("1", "Data", "32K"), ("1", "Instruction", "64K"),
                                                 ("2", "Unified", "512K"), ("3", "Unified", "8M")]):
        d = tmp_path / f"index{index}"
        d.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size)):
            (d / name).write_text(value + "\n")
    assert peers.cache_sizes(str(tmp_path)) == {"L1d": 32 << 10, "L1i": 64 << 10,
                                                "L2": 512 << 10, "L3": 8 << 20}
    assert peers.cache_sizes(str(tmp_path / "absent")) == {}


# ---------------------------------------------------------------------------------------------
# --contention: 1 and 2 threads, as found and with one core kept busy


def test_bench_contention_quick_json(capsys, tmp_path):
    path = tmp_path / "contention.json"
    threads = pysoftmax.get_num_threads()
    assert main(["bench", "--contention", "--quick", "--json", str(path)]) == 0
    assert pysoftmax.get_num_threads() == threads                       # restored
    out = capsys.readouterr().out
    assert "one core busy: 2 threads take at most" in out and "target: at most 1.5x" in out
    record = json.loads(path.read_text())
    rows = record["rows"]
    assert [(r["name"], r["busy"]) for r in rows] == [
        (name, busy) for busy in (False, True) for name, _ in contention.QUICK_CASES]
    for r in rows:
        assert set(r["median_s"]) == {"1", "2"} and all(v > 0 for v in r["median_s"].values())
        assert r["ratio"] == pytest.approx(r["median_s"]["2"] / r["median_s"]["1"])
        assert f"{r['ratio']:.2f}" in out
    assert record["target_ratio"] == 1.5


# ---------------------------------------------------------------------------------------------
# The layers of pysoftmax.bench: each module imports only modules of the layers before it.

LAYERS = (("timing",), ("peers", "floors"), ("kernels", "train", "contention"), ("report",),
          ("cli",))
# Outside the subpackage, the modules that use it (importing them would go upwards).
ABOVE = ("pysoftmax.__main__", "pysoftmax._demo")


def test_bench_imports_only_downwards_and_has_no_cycle():
    graph = {m: imported for m, imported in import_graph().items()
             if m == "pysoftmax.bench" or m.startswith("pysoftmax.bench.")}
    layer = {f"pysoftmax.bench.{m}": i for i, names in enumerate(LAYERS) for m in names}
    modules = set(graph) - {"pysoftmax.bench"}
    assert modules == set(layer), "every module of pysoftmax.bench is in one layer of LAYERS"
    assert graph["pysoftmax.bench"] == set(), "pysoftmax/bench/__init__.py imports nothing"
    upward = []
    for module, imported in graph.items():
        for name in imported:
            target = next((m for m in layer if name == m or name.startswith(m + ".")), None)
            if name.startswith(ABOVE) or (target is not None and module in layer
                                          and layer[target] >= layer[module]):
                upward.append(f"{module} imports {name}")
    assert not upward, upward
    inside = {m: {next(t for t in layer if n == t or n.startswith(t + ".")) for n in imported
                  if any(n == t or n.startswith(t + ".") for t in layer)}
              for m, imported in graph.items()}
    assert find_cycle(inside) is None


# ---------------------------------------------------------------------------------------------
# bench/check_targets.py, on a small record


def _checker():
    spec = importlib.util.spec_from_file_location("check_targets",
                                                  ROOT / "bench" / "check_targets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(op, shape, dtype, threads, median_s, isa="avx2", floor_s=None):
    ours = median_s["pysoftmax"]
    elements = shape[0] * shape[1]
    floor_s = floor_s or {}
    floor_ns = {f: s * 1e9 / elements for f, s in floor_s.items()}
    limit = max(floor_ns.values()) if floor_ns else None
    return {"op": op, "shape": list(shape), "dtype": dtype, "threads": threads, "isa": isa,
            "elements": elements, "median_s": median_s,
            "speedup": {lib: t / ours for lib, t in median_s.items() if lib != "pysoftmax"},
            "floor_median_s": floor_s, "floor_ns_per_element": floor_ns,
            "limit_ratio": None if limit is None else ours * 1e9 / elements / limit}


def _line(out, *parts):
    found = [line for line in out if all(p in line for p in parts)]
    assert len(found) == 1, (parts, found)
    return found[0]


def test_check_targets_on_a_small_record(tmp_path, capsys):
    check = _checker()
    big = 4096 * 1000
    rows = [
        # 3x torch, 12x the reference: both need 1x
        _row("softmax", (4096, 1000), "float32", 1,
             {"pysoftmax": 1.0, "torch": 3.0, "reference": 12.0}),
        # cross_entropy_with_grad needs 3x torch: 2x misses
        _row("cross_entropy_with_grad", (65536, 10), "float32", 1,
             {"pysoftmax": 1.0, "torch": 2.0},
             floor_s={"copy": 2e-4 * 1e-9 * 655360 * 1e4, "exp": 1e-4}),
        # softmax at K <= 32 needs 3x torch; float64 at K >= 1000 1.5x
        _row("softmax", (65536, 10), "float32", 1, {"pysoftmax": 1.0, "torch": 2.5}),
        _row("softmax", (4096, 1000), "float64", 1, {"pysoftmax": 1.0, "torch": 1.4}),
        # 2 threads, exp-bound: 2x scaling meets 1.8x
        _row("softmax", (4096, 1000), "float32", 2,
             {"pysoftmax": 0.5, "torch": 1.5, "reference": 12.0},
             floor_s={"copy": 0.1 * big * 1e-9, "exp": 0.2 * big * 1e-9}),
        # 2 threads, memory-bound: the copy floor scales 2.0 / 1.25 = 1.6x, so 0.9 x 1.6 = 1.44x
        # is needed and 1.25x misses
        _row("cross_entropy_with_grad", (65536, 10), "float32", 2,
             {"pysoftmax": 0.8, "torch": 3.0},
             floor_s={"copy": 1.25, "exp": 1e-4}),
        # another instruction set: no speed-up targets, but the isa target
        _row("softmax", (4096, 1000), "float32", 1, {"pysoftmax": 1.1, "torch": 3.0},
             isa="avx512"),
    ]
    rows[1]["floor_median_s"]["copy"] = 2.0
    out_of_cache = [
        _row("softmax", (32768, 1000), "float32", 1, {"pysoftmax": 1.2},
             floor_s={"copy": 1.0, "exp": 0.5}),                      # 1.2x: <= 1.25x, met
        _row("logsumexp", (32768, 1000), "float32", 1, {"pysoftmax": 1.2},
             floor_s={"read": 1.0, "exp": 0.5}),                      # 1.2x: > 1.15x, missed
    ]
    in_cache = [{"op": "softmax", "shape": [64, 4000], "dtype": "float32", "threads": 1,
                 "isa": "avx2", "ns_per_element": 0.6, "median_s": 0.6e-9 * 256000,
                 "floor_ns_per_element": {"exp": 0.5, "copy": 0.1}},
                {"op": "logsumexp", "shape": [64, 4000], "dtype": "float32", "threads": 1,
                 "isa": "avx2", "ns_per_element": 0.6, "median_s": 0.6e-9 * 256000,
                 "floor_ns_per_element": {"read": 0.1}}]
    path = tmp_path / "kernels.json"
    path.write_text(json.dumps({"isa": "avx2", "threads": [1, 2], "rows": rows,
                                "out_of_cache": out_of_cache, "in_cache": in_cache}))
    assert check.main([str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert _line(out, "softmax 4096x1000 float32, avx2, 1 thread(s) vs torch").startswith("met")
    line = _line(out, "cross_entropy_with_grad 65536x10 float32, avx2, 1 thread(s) vs torch")
    assert line.startswith("MISSED") and "2.00x" in line and ">= 3x" in line
    line = _line(out, "softmax 65536x10 float32, avx2, 1 thread(s) vs torch")
    assert line.startswith("MISSED") and ">= 3x" in line
    line = _line(out, "softmax 4096x1000 float64, avx2, 1 thread(s) vs torch")
    assert line.startswith("MISSED") and ">= 1.5x" in line
    assert not [line for line in out if "avx512, 1 thread(s) vs" in line]
    line = _line(out, "isa", "avx512 vs avx2")
    assert line.startswith("MISSED") and "0.91x" in line and ">= 0.97x" in line
    line = _line(out, "softmax 4096x1000 float32 (exp-bound), 1 -> 2 threads")
    assert line.startswith("met") and "2.00x" in line and ">= 1.8x" in line
    line = _line(out, "cross_entropy_with_grad 65536x10 float32 (memory-bound), 1 -> 2 threads")
    assert line.startswith("MISSED") and "1.25x" in line and ">= 1.44x" in line
    assert _line(out, "near the limit", "softmax 32768x1000").startswith("met")
    assert _line(out, "near the limit", "logsumexp 32768x1000").startswith("MISSED")
    line = _line(out, "in cache", "softmax 64x4000")
    assert line.startswith("met") and "1.20x" in line and "<= 1.5x" in line
    assert "not checked: in cache: 1 row(s) without the exp floor (the record holds: read)" in out
    assert "not checked: speed-up vs sklearn: 2 row(s), sklearn is not in the record" in out
    assert out[-1] == ("near the limit 1 of 2 met; in cache 1 of 1 met; speed-up 5 of 8 met; "
                       "isa 0 of 1 met; scaling 1 of 2 met; missed 6 of 14")

    training = [{"threads": 2, "shape": [30000, 784], "quick": False,
                 "results": {"sklearn": {"time_to_target": 10.0},
                             "pysoftmax": {"time_to_target": 1.0},
                             "torch": {"time_to_target": None}},
                 "speedups": {"sklearn": 10.0, "torch": 4.0}},
                {"threads": 1, "shape": [2000, 64], "quick": True, "results": {},
                 "speedups": {}}]
    path.write_text(json.dumps(training))
    assert check.main([str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("met") and "vs sklearn" in out[1] and "10.00x" in out[1]
    assert out[2].startswith("met") and ">4.00x" in out[2]          # torch never reached it
    assert out[3].startswith("not checked: training 2000 x 64, 1 thread(s): a --quick run")
    assert out[-1] == "training 2 of 2 met; all met"
