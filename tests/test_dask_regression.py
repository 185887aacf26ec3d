"""SoftmaxRegression on Dask collections (pysoftmax._regression_dask) on a LocalCluster of two
worker processes: fits against the in-memory fit of the same data, reproducible bit for bit;
sgd and partial_fit; lazy predictions; the driver's memory; a worker killed during a fit; bad
input."""

import logging
import os
import signal
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from pysoftmax import SoftmaxRegression  # noqa: E402

CLUSTER = {"threads_per_worker": 1, "memory_limit": "1GiB", "dashboard_address": "127.0.0.1:0",
           "worker_dashboard_address": None, "silence_logs": logging.ERROR}


@pytest.fixture(scope="module")
def client():
    """Two worker processes of one thread each, and their Client (the default one)."""
    with distributed.LocalCluster(n_workers=2, processes=True, host="127.0.0.1", scheduler_port=0,
                                  **CLUSTER) as cluster:
        with distributed.Client(cluster) as c:
            yield c


def _data(rng, n=4000, d=12, k=4, dtype=np.float64):
    """Features of scales 0.5 to 20 about 3, labels from a noisy linear model of them."""
    scales = np.linspace(0.5, 20, d)
    Z = rng.standard_normal((n, d))
    X = (Z * scales + 3).astype(dtype)
    y = np.argmax(Z @ rng.standard_normal((k, d)).T * 0.5 + rng.standard_normal((n, k)), axis=1)
    sw = rng.random(n) + 0.5
    return X, y, sw


def _objective(model, X, y, sw, C=1.0):
    """sum_i s_i CE_i + ||W||^2 / (2C) in float64 (the objective both fits minimise)."""
    z = X.astype(np.float64) @ model.coef_.T.astype(np.float64) + model.intercept_
    z -= z.max(axis=1, keepdims=True)
    ce = np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), np.searchsorted(model.classes_, y)]
    return float(sw @ ce + 0.5 / C * np.sum(model.coef_.astype(np.float64) ** 2))


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_import_pysoftmax_does_not_import_dask():
    code = ("import sys, numpy as np\n"
            "from pysoftmax import SoftmaxRegression\n"
            "X = np.random.default_rng(0).standard_normal((50, 3))\n"
            "m = SoftmaxRegression().fit(X, X[:, 0] > 0)\n"
            "m.predict_proba(X); m.score(X, X[:, 0] > 0)\n"
            "assert not [m for m in sys.modules if m.startswith(('dask', 'distributed'))]\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("dtype, solver", [(np.float64, "lbfgs"), (np.float32, "lbfgs")])
def test_fit_as_in_memory(client, rng, dtype, solver):
    X, y, sw = _data(rng, n=2000, dtype=dtype)
    labels = np.array(["ant", "bee", "cat", "dog"])[y]
    assert len(np.unique(labels)) == 4
    kw = {"solver": solver, "tol": 1e-6, "max_iter": 100, "class_weight": {"bee": 2.0},
          "C": 0.1}
    values, dask_values = [], []
    want = SoftmaxRegression(**kw)._fit(X, labels, sw, callback=lambda v, w, b: values.append(v))
    dX = da.from_array(X, chunks=(512, X.shape[1]))
    dy, dsw = da.from_array(labels, chunks=700), da.from_array(sw, chunks=1000)   # rechunked
    got = SoftmaxRegression(**kw)._fit(dX, dy, dsw,
                                       callback=lambda v, w, b: dask_values.append(v))
    # the same objective: the first evaluations (the same points) agree to 1e-6 relative
    np.testing.assert_allclose(dask_values[:3], values[:3], rtol=1e-6)
    assert got.classes_.tolist() == ["ant", "bee", "cat", "dog"]
    assert got.coef_.dtype == dtype and got.n_features_in_ == X.shape[1]
    s = sw * np.where(labels == "bee", 2.0, 1.0)
    assert abs(int(got.n_iter_[0]) - int(want.n_iter_[0])) <= (0 if dtype == np.float64 else 3)
    f_want, f_got = _objective(want, X, labels, s, 0.1), _objective(got, X, labels, s, 0.1)
    rtol = 1e-6 if dtype == np.float64 else 1e-5       # float32 fits stop at float32 rounding
    assert abs(f_got - f_want) <= rtol * f_want
    if dtype == np.float64:
        scale = np.abs(want.coef_).max()
        np.testing.assert_allclose(got.coef_, want.coef_, rtol=0, atol=1e-3 * scale)
    # two fits agree bit for bit, whatever the scheduling
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one, two = (SoftmaxRegression(**dict(kw, max_iter=8)).fit(dX, dy, dsw) for _ in range(2))
    assert _same_bits(one.coef_, two.coef_) and _same_bits(one.intercept_, two.intercept_)


def test_balanced_class_weight_and_warm_start(client, rng):
    X, y, sw = _data(rng, n=2000, k=3)
    y[:1200] = 0                                       # unbalanced
    kw = {"class_weight": "balanced", "tol": 1e-6, "C": 0.1}
    want = SoftmaxRegression(**kw).fit(X, y)
    dX, dy = da.from_array(X, chunks=(1000, X.shape[1])), da.from_array(y, chunks=1000)
    got = SoftmaxRegression(**kw).fit(dX, dy)
    counts = np.bincount(y)
    s = (len(y) / (3 * counts))[y]
    f_want = _objective(want, X, y, s, 0.1)
    assert abs(_objective(got, X, y, s, 0.1) - f_want) <= 1e-6 * f_want
    warm = SoftmaxRegression(**kw, warm_start=True)
    warm.coef_, warm.intercept_ = got.coef_.copy(), got.intercept_.copy()
    warm.fit(dX, dy)
    assert warm.n_iter_[0] <= 3


def test_sgd_and_partial_fit_are_seeded(client, rng):
    X, y, sw = _data(rng, n=3000, k=3)
    dX, dy = da.from_array(X, chunks=(500, X.shape[1])), da.from_array(y, chunks=500)
    kw = {"solver": "sgd", "max_iter": 6, "random_state": 3, "batch_size": 128}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = SoftmaxRegression(**kw).fit(dX, dy)
        b = SoftmaxRegression(**kw).fit(dX, dy)
        c = SoftmaxRegression(**dict(kw, random_state=4)).fit(dX, dy)
    assert _same_bits(a.coef_, b.coef_) and not _same_bits(a.coef_, c.coef_)
    assert a.loss_curve_[-1] < np.log(3) * 0.9 and len(a.loss_curve_) == 6
    best = SoftmaxRegression(tol=1e-8, max_iter=500).fit(X, y)
    assert a.loss_curve_[-1] < best.loss_curve_[-1] * 1.1     # near the optimum
    p = SoftmaxRegression(random_state=0, batch_size=200)
    for _ in range(3):
        p.partial_fit(dX, dy, classes=[0, 1, 2])
    assert p.n_iter_[0] == 3 and p.loss_curve_[-1] < p.loss_curve_[0]
    assert p.loss_curve_[-1] < np.log(3) * 0.7
    q = SoftmaxRegression(random_state=0, batch_size=200)
    for _ in range(3):
        q.partial_fit(dX, dy, classes=[0, 1, 2])
    assert _same_bits(p.coef_, q.coef_)
    with pytest.raises(ValueError, match="early_stopping: not supported for Dask input"):
        SoftmaxRegression(solver="sgd", early_stopping=True).fit(dX, dy)


def test_predictions_are_lazy(client, rng):
    X, y, sw = _data(rng, n=1000, k=3)
    model = SoftmaxRegression().fit(X, y)
    dX = da.from_array(X, chunks=(300, 5))                # features rechunked into one chunk
    for kind in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        got = getattr(model, kind)(dX)
        want = getattr(model, kind)(X)
        assert isinstance(got, da.Array) and got.dtype == want.dtype and got.shape == want.shape
        assert got.chunks[0] == dX.chunks[0] and got.chunks[1:] == tuple((n,) for n in
                                                                          want.shape[1:])
        np.testing.assert_allclose(got.compute(), want, rtol=1e-12, atol=1e-12)
    binary = SoftmaxRegression().fit(X, y > 0)
    assert binary.decision_function(dX).chunks == (dX.chunks[0],)
    dy = da.from_array(y, chunks=300)
    assert model.score(dX, dy) == pytest.approx(model.score(X, y), abs=1e-12)
    assert model.score(dX, dy, da.from_array(sw, chunks=300)) == pytest.approx(
        model.score(X, y, sw), abs=1e-12)
    with pytest.raises(ValueError, match="X has 4 features, but SoftmaxRegression is expecting "
                                         "12 features"):
        model.predict(dX[:, :4])


def test_bad_input(client, rng):
    X, y, sw = _data(rng, n=1000, k=3)
    dX = da.from_array(X, chunks=(250, 12))
    with pytest.raises(ValueError, match=r"y: expected shape \(1000,\), one row per row of X, "
                                         r"got shape \(999,\)"):
        SoftmaxRegression().fit(dX, da.from_array(y[:999], chunks=250))
    with pytest.raises(ValueError, match=r"X: chunked along the features \(chunks \(6, 6\)\); "
                                         r"each block must hold whole rows"):
        SoftmaxRegression().fit(da.from_array(X, chunks=(250, 6)), y)
    with pytest.raises(ValueError, match=r"X: the dask array of shape \(nan, 12\) has unknown "
                                         r"chunk sizes; call X.compute_chunk_sizes\(\) first"):
        SoftmaxRegression().fit(dX[dX[:, 0] > 0], y)
    with pytest.raises(ValueError, match=r"sample_weight: expected shape \(1000,\), one row per "
                                         r"row of X, got shape \(10,\)"):
        SoftmaxRegression().fit(dX, y, np.ones(10))
    with pytest.raises(ValueError, match="y: expected class labels"):
        SoftmaxRegression().fit(dX, da.from_array(X[:, 0], chunks=250))
    with pytest.raises(ValueError, match="at least 2 classes"):
        SoftmaxRegression().fit(dX, da.zeros(1000, dtype=int, chunks=250))
    # y chunked differently from X (NumPy or dask): rechunked to X's rows, the same fit
    want = SoftmaxRegression().fit(dX, da.from_array(y, chunks=250))
    for other in (y, da.from_array(y, chunks=333)):
        assert _same_bits(SoftmaxRegression().fit(dX, other).coef_, want.coef_)


def test_dataframe_input(client, rng):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y, sw = _data(rng, n=1000, k=3)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    ddf = dd.from_pandas(frame, npartitions=4)          # partitions of unknown lengths
    dy = dd.from_pandas(pd.Series(y), npartitions=4)
    got = SoftmaxRegression().fit(ddf, dy)
    want = SoftmaxRegression().fit(frame, y)
    assert got.feature_names_in_.tolist() == want.feature_names_in_.tolist()
    np.testing.assert_allclose(got.coef_, want.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(got.predict(ddf).compute(), want.predict(frame))


def test_the_driver_never_holds_x(client):
    """A fit whose X (96 MB, float64) is generated on the workers: this process' memory (RSS,
    sampled every millisecond) grows by far less than X."""
    psutil = pytest.importorskip("psutil")
    n, d = 600_000, 20
    X = da.random.default_rng(1).standard_normal((n, d), chunks=(75_000, d))
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        SoftmaxRegression(max_iter=1).fit(X[:2000].rechunk((1000, d)), y[:2000])   # warm-up
    process, peak, done = psutil.Process(), [0], threading.Event()

    def sample():
        while not done.wait(0.001):
            peak[0] = max(peak[0], process.memory_info().rss)

    base = process.memory_info().rss
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = SoftmaxRegression(max_iter=5).fit(X, y)
        proba = model.predict_proba(X)
        total = float(proba[:, 0].sum().compute())
    finally:
        done.set()
        sampler.join()
    assert model.coef_.shape == (3, d) and 0 < total < n
    assert peak[0] - base < n * d * 8 // 4, (peak[0] - base) / 1e6


def test_a_worker_killed_during_a_fit(client, rng):
    """Killing a worker process in the middle of a fit: its blocks are recomputed from their
    graph on the restarted or remaining worker, and the fit ends with the coefficients of an
    undisturbed fit, bit for bit (or raises; never returns other coefficients)."""
    X, y, sw = _data(rng, n=4000, k=3)
    dX, dy = da.from_array(X, chunks=(500, X.shape[1])), da.from_array(y, chunks=500)
    want = SoftmaxRegression(tol=1e-8).fit(dX, dy)
    pids = list(client.run(os.getpid).values())
    calls = []

    def kill(value, coef, intercept):
        calls.append(value)
        if len(calls) == 3:
            os.kill(pids[0], signal.SIGKILL)

    try:
        got = SoftmaxRegression(tol=1e-8)._fit(dX, dy, callback=kill)
    except Exception as e:      # a clear error is acceptable, a wrong model is not
        assert "worker" in str(e).lower() or isinstance(e, distributed.client.FutureCancelledError)
    else:
        assert len(calls) > 3
        assert _same_bits(got.coef_, want.coef_) and _same_bits(got.intercept_, want.intercept_)
    client.wait_for_workers(2, timeout=30)
