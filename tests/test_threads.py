"""Threads: calls in a forked child (os.fork, multiprocessing, joblib) after the parent used
several threads, the bounds of set_num_threads, the threads() context manager, results on any
thread count and from concurrent callers, threadpoolctl's view and limits, the BLAS path's
limit under concurrent callers, and long calls stopped by a signal."""

import contextlib
import hashlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import pysoftmax
from pysoftmax import _core, _linear

TIMEOUT = 120  # seconds a child may take before the test kills it and fails


def _digest(seed):
    """SHA-256 of softmax (4096 x 1000, float32) and linear_cross_entropy on seeded inputs."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4096, 1000), dtype=np.float32)
    X = rng.standard_normal((2048, 64))
    W = rng.standard_normal((100, 64))
    b = rng.standard_normal(100)
    y = rng.integers(0, 100, 2048)
    loss, dW, db = pysoftmax.linear_cross_entropy(X, W, b, y)
    h = hashlib.sha256(pysoftmax.softmax(x).tobytes())
    for a in (np.float64(loss), dW, db):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


@pytest.fixture
def two_threads():
    """Two threads, used once in this process before the test forks."""
    with pysoftmax.threads(2):
        yield _digest(0)


def _wait(pid, timeout):
    """The exit status of child `pid`, or None after killing it once `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_computes_the_parents_results(two_threads):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read)
            os.write(write, _digest(0).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    status = _wait(pid, TIMEOUT)
    with os.fdopen(read) as f:
        got = f.read()
    assert status is not None, f"the forked child did not finish within {TIMEOUT} s"
    assert os.waitstatus_to_exitcode(status) == 0
    assert got == two_threads


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_multiprocessing_fork_pool(two_threads):
    with multiprocessing.get_context("fork").Pool(2) as pool:
        got = pool.map_async(_digest, [0, 0]).get(timeout=TIMEOUT)
    assert got == [two_threads, two_threads]


def test_joblib_multiprocessing_backend(two_threads):
    joblib = pytest.importorskip("joblib")
    with joblib.parallel_backend("multiprocessing", n_jobs=2):
        got = joblib.Parallel(timeout=TIMEOUT)(joblib.delayed(_digest)(0) for _ in range(2))
    assert got == [two_threads, two_threads]


def test_set_num_threads_accepts_its_whole_range():
    top = pysoftmax.max_num_threads()
    assert top >= 1
    for n in (1, top):
        with pysoftmax.threads(n):
            assert pysoftmax.get_num_threads() == n


@pytest.mark.parametrize("n", [0, -1, "max+1", 2**31, 2**64, 1.5, "2", None])
def test_set_num_threads_rejects_what_is_out_of_range(n):
    if n == "max+1":
        n = pysoftmax.max_num_threads() + 1
    previous = pysoftmax.get_num_threads()
    with pytest.raises(ValueError, match=rf"^n: .* from 1 to {pysoftmax.max_num_threads()}"):
        pysoftmax.set_num_threads(n)
    assert pysoftmax.get_num_threads() == previous


def test_core_rejects_what_is_out_of_range():
    with pytest.raises(ValueError, match="n: "):
        _core.set_num_threads(_core.max_num_threads() + 1)


def test_threads_sets_and_restores():
    previous = pysoftmax.get_num_threads()
    with pysoftmax.threads(1):
        assert pysoftmax.get_num_threads() == 1
        with pysoftmax.threads(3):
            assert pysoftmax.get_num_threads() == 3
        assert pysoftmax.get_num_threads() == 1
    assert pysoftmax.get_num_threads() == previous
    with pytest.raises(RuntimeError), pysoftmax.threads(2):
        raise RuntimeError
    assert pysoftmax.get_num_threads() == previous
    with pytest.raises(ValueError, match="^n: "), pysoftmax.threads(0):
        pass
    assert pysoftmax.get_num_threads() == previous
    assert "threads" in pysoftmax.__all__


@pytest.mark.parametrize("n", [1, 15, 16, 17, 33, 100])
def test_few_rows_on_the_most_threads(n):
    # Rows go to threads in blocks of 16, at most one thread per block: the results are those
    # of one thread.
    x = np.random.default_rng(1).standard_normal((n, 4096))
    want = pysoftmax.softmax(x)
    with pysoftmax.threads(pysoftmax.max_num_threads()):
        assert np.array_equal(pysoftmax.softmax(x), want)


def test_the_default_count_is_in_range():
    code = "import pysoftmax; print(pysoftmax.get_num_threads(), pysoftmax.max_num_threads())"
    env = {**os.environ, "OMP_NUM_THREADS": "100000"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=TIMEOUT, check=True).stdout.split()
    assert out[0] == out[1]


# ---- scheduling: fixed blocks, any thread count, concurrent callers ---------------------------

# (shape, dtype): short rows, rows of 16-row blocks, a few rows, long rows whose output is
# beyond the caches (2 MB blocks), and inputs below the one-thread threshold
_ROW_CASES = [((5000, 10), np.float32), ((3000, 70), np.float64), ((33, 4096), np.float64),
              ((1100, 1000), np.float32), ((40, 20), np.float32)]


def _row_results(x, y):
    loss, grad = pysoftmax.cross_entropy_with_grad(x, y, reduction="none")
    return [pysoftmax.softmax(x), pysoftmax.log_softmax(x), pysoftmax.logsumexp(x), loss, grad]


@pytest.mark.parametrize("shape, dtype", _ROW_CASES)
def test_row_kernels_give_the_same_bits_on_every_thread_count(shape, dtype):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    y = rng.integers(0, shape[1], shape[0])
    with pysoftmax.threads(1):
        want = _row_results(x, y)
    for n in sorted({2, 3, pysoftmax.max_num_threads()}):
        with pysoftmax.threads(n):
            for got, w in zip(_row_results(x, y), want):
                assert got.dtype == w.dtype and np.array_equal(got, w)


def test_concurrent_callers_get_the_same_bits():
    # 8 Python threads share the pool (one call holds it, the others run on their own thread)
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((2000, 100)).astype(np.float32) for _ in range(4)]
    want = [pysoftmax.softmax(x) for x in xs]
    errors = []

    def call(i):
        try:
            for r in range(5):
                j = (i + r) % len(xs)
                if not np.array_equal(pysoftmax.softmax(xs[j]), want[j]):
                    errors.append(f"thread {i}, round {r}")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    with pysoftmax.threads(2):
        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


_THREAD_COUNT = """
import os, numpy as np, pysoftmax
def tasks():
    return len(os.listdir("/proc/self/task"))
pysoftmax.set_num_threads(pysoftmax.max_num_threads())
x = np.ones((48, 4096))                 # 3 blocks of 16 rows, parallel (196,608 elements)
before = tasks()
pysoftmax.softmax(x)
after_three_blocks = tasks()
pysoftmax.softmax(np.ones((4096, 1000)))
print(before, after_three_blocks, tasks())
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc/self/task")
def test_a_call_uses_no_more_threads_than_it_has_blocks():
    out = subprocess.run([sys.executable, "-c", _THREAD_COUNT], capture_output=True, text=True,
                         timeout=TIMEOUT, check=True).stdout.split()
    before, three, many = map(int, out)
    assert three - before <= 2                      # two workers beside the calling thread
    assert many - before <= pysoftmax.max_num_threads() - 1


_EXIT = """
import sys, threading, time, numpy as np, pysoftmax
pysoftmax.set_num_threads(2)
pysoftmax.softmax(np.ones((4096, 1000)))            # the workers exist
if sys.argv[1] == "daemon":                          # a call still running at exit
    x = np.broadcast_to(np.ones((1, 512), np.float32), (4_000_000, 512))
    w = np.ones((64, 512), np.float32)
    y = np.zeros(len(x), np.int64)
    threading.Thread(target=lambda: pysoftmax.linear_cross_entropy(x, w, None, y),
                     daemon=True).start()
    time.sleep(0.3)
print("exiting")
"""


@pytest.mark.parametrize("case", ["idle", "daemon"])
def test_the_process_exits_cleanly(case):
    # idle workers are joined at exit; with a call still running (a daemon thread) they are
    # left to the end of the process: either way it ends at once, with status 0
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-c", _EXIT, case], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "exiting" and time.monotonic() - start < 30


def test_core_rejects_huge_counts_with_a_value_error():
    for n in (2**31, -(2**31) - 1, 2**64):
        with pytest.raises(ValueError, match=r"^n: .* from 1 to"):
            pysoftmax.set_num_threads(n)


# ---- threadpoolctl ------------------------------------------------------------------------------

threadpoolctl = pytest.importorskip("threadpoolctl")


def _pysoftmax_info():
    found = [i for i in threadpoolctl.threadpool_info() if i["internal_api"] == "pysoftmax"]
    assert len(found) == 1, threadpoolctl.threadpool_info()
    return found[0]


def test_threadpool_info_lists_the_pool():
    with pysoftmax.threads(1):
        info = _pysoftmax_info()
        assert info["num_threads"] == 1 and info["user_api"] == "openmp"
        assert info["filepath"] == os.path.realpath(_core.__file__)
        assert info["version"] == pysoftmax.__version__


def test_threadpool_limits_limits_the_pool():
    top = pysoftmax.max_num_threads()
    with pysoftmax.threads(min(2, top)) as before:
        with threadpoolctl.threadpool_limits(1):
            assert pysoftmax.get_num_threads() == 1 and _pysoftmax_info()["num_threads"] == 1
        assert pysoftmax.get_num_threads() == before
        with threadpoolctl.threadpool_limits(1, user_api="openmp"):
            assert pysoftmax.get_num_threads() == 1
        with threadpoolctl.threadpool_limits(1, user_api="blas"):    # not pysoftmax's pool
            assert pysoftmax.get_num_threads() == before
        with threadpoolctl.threadpool_limits(top + 100):              # beyond it: the maximum
            assert pysoftmax.get_num_threads() == top
        assert pysoftmax.get_num_threads() == before


def test_threadpool_limits_keeps_the_results():
    x = np.random.default_rng(5).standard_normal((3000, 300))
    want = pysoftmax.log_softmax(x)
    with threadpoolctl.threadpool_limits(1):
        assert np.array_equal(pysoftmax.log_softmax(x), want)


def _blas_threads():
    return {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas"}


@pytest.mark.parametrize("blas_limit", [None, 2])
def test_the_blas_path_from_8_threads(monkeypatch, blas_limit):
    # The BLAS path (K > 128) limits BLAS to one thread while any caller is inside: concurrent
    # callers get the single caller's bits, on any pysoftmax and BLAS thread count, and leave
    # BLAS's thread counts as they found them.
    monkeypatch.setattr(_linear, "_CHUNK_BYTES", 128 * 200 * 8)      # several chunks
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((700, 96)), rng.standard_normal((200, 96))
    b, y = rng.standard_normal(200), rng.integers(0, 200, 700)
    assert _linear._linear_plan(700, 96, 200, 8)[0] == "blas"
    want = pysoftmax.linear_cross_entropy(x, w, b, y)
    limits = (threadpoolctl.threadpool_limits(blas_limit, user_api="blas") if blas_limit
              else contextlib.nullcontext())
    # the callers change the process's thread count as they go: restored after them
    with pysoftmax.threads(pysoftmax.get_num_threads()), limits:
        before = _blas_threads()
        results, errors = [], []

        def call(i):
            try:
                with pysoftmax.threads(1 + i % 2):
                    for _ in range(3):
                        results.append(pysoftmax.linear_cross_entropy(x, w, b, y))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and len(results) == 24
        assert _blas_threads() == before
    for loss, dw, db in results:
        assert loss == want[0] and np.array_equal(dw, want[1]) and np.array_equal(db, want[2])


# ---- interrupts -------------------------------------------------------------------------------

_INTERRUPTED = """
import json, os, signal, sys, threading, time
import numpy as np
import pysoftmax
from scipy import sparse

pysoftmax.set_num_threads({threads})
rng = np.random.default_rng(0)
isa = pysoftmax._core.get_isa()

def long_call(which):
    # calls of several seconds on little memory (rows repeated by a stride of 0)
    if which == "dense":
        x = np.broadcast_to(rng.standard_normal((1, 512), dtype=np.float32), (4_000_000, 512))
        w = rng.standard_normal((64, 512), dtype=np.float32)
        return lambda: pysoftmax.linear_cross_entropy(x, w, None, np.zeros(len(x), np.int64))
    if which == "sparse":
        n, per = 400_000, 32
        indptr = np.arange(0, n * per + 1, per, dtype=np.int32)
        indices = np.tile(np.arange(per, dtype=np.int32) * 31, n)
        x = sparse.csr_matrix((np.ones(n * per, np.float32), indices, indptr), shape=(n, 1000))
        w = rng.standard_normal((1024, 1000), dtype=np.float32)
        return lambda: pysoftmax.linear_cross_entropy(x, w, None, np.zeros(n, np.int64))
    x = np.broadcast_to(rng.standard_normal((1, 4000), dtype=np.float32), (6000, 4000))
    out = np.full(x.shape, np.nan, np.float32)
    def rows():
        pysoftmax._core.set_isa("scalar")           # the slowest set: a longer call
        pysoftmax.log_softmax(x, out=out)
    rows.out = out
    return rows

report = {{}}
for which in {cases}:
    call = long_call(which)
    sent = []
    def interrupt():
        time.sleep({delay})
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=interrupt).start()
    start = time.perf_counter()
    try:
        call()
        report[which] = {{"finished": time.perf_counter() - start}}
    except KeyboardInterrupt:
        now = time.perf_counter()
        report[which] = {{"latency": now - sent[0], "elapsed": now - start}}
        if hasattr(call, "out"):
            done = ~np.isnan(call.out[:, 0])
            report[which]["rows_done"] = int(done.sum())
    time.sleep({delay} + 0.1)                     # the signal has come, whatever happened
    pysoftmax._core.set_isa(isa)
# a later call works
x = rng.standard_normal((3000, 70))
report["later"] = bool(np.allclose(pysoftmax.softmax(x), pysoftmax.reference.softmax(x)))
print(json.dumps(report))
"""


def _interrupted(cases, threads, delay=0.15):
    code = _INTERRUPTED.format(cases=list(cases), threads=threads, delay=delay)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or sys.platform == "win32",
                    reason="needs os.kill with SIGINT")
@pytest.mark.parametrize("threads", [1, 2])
def test_ctrl_c_stops_long_calls(threads):
    pytest.importorskip("scipy")
    report = _interrupted(["dense", "sparse", "rows"], threads)
    for which in ("dense", "sparse", "rows"):
        r = report[which]
        assert "latency" in r, f"{which}: the call ran to its end ({r}) before SIGINT"
        # about 0.1 s is expected; 1 s allows for a loaded machine
        assert r["latency"] < 1.0, (which, r)
    assert 0 < report["rows"]["rows_done"] < 6000            # out= is partly written
    assert report["later"] is True
