"""scipy.sparse input: linear_cross_entropy against the dense call on X.toarray() for every
format, dtype, index dtype and keyword; non-canonical forms; the thread count; bad input; and
SoftmaxRegression on sparse X (every solver, partial_fit, the predictions, weights, warm
start, parity with LogisticRegression) within its memory bound."""

import tracemalloc
import warnings

import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse")
pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

import pysoftmax  # noqa: E402
from pysoftmax import SoftmaxRegression, _linear  # noqa: E402
from pysoftmax._regression_objective import FeatureScaling, Moments  # noqa: E402

from helpers import objective, using_threads  # noqa: E402

FORMATS = ["csr", "csc", "coo"]
CONTAINERS = {"matrix": {"csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix},
              "array": {"csr": sp.csr_array, "csc": sp.csc_array, "coo": sp.coo_array}}


def random_csr(rng, n, d, density, dtype=np.float64, empty_rows=()):
    X = sp.random(n, d, density=density, format="csr", dtype=np.float64,
                  random_state=np.random.RandomState(int(rng.integers(2**31))))
    X.data = rng.standard_normal(X.nnz)
    X = X.tolil()
    for i in empty_rows:
        X[i, :] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    return X.astype(dtype)


def weights(rng, k, d, dtype):
    return ((rng.standard_normal((k, d)) * 0.5).astype(dtype),
            rng.standard_normal(k).astype(dtype))


def tolerance(dtype):
    return {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-13}


def assert_result_close(got, want, dtype):
    tol = tolerance(dtype)
    if isinstance(want, tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            if w is None:
                assert g is None
            else:
                assert np.asarray(g).dtype == np.asarray(w).dtype
                np.testing.assert_allclose(g, w, **tol)
    else:
        np.testing.assert_allclose(got, want, **tol)


def with_index_dtype(X, index_dtype):
    """X (csr, csc or coo) with its index arrays in index_dtype."""
    X = X.copy()
    if X.format == "coo":
        X.row, X.col = X.row.astype(index_dtype), X.col.astype(index_dtype)
    else:
        X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    return X


# ---- linear_cross_entropy against the dense call -------------------------------------------

@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("container", sorted(CONTAINERS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_formats_match_dense(rng, fmt, container, dtype, index_dtype):
    n, d, k = 300, 80, 7
    X = random_csr(rng, n, d, 0.1, dtype, empty_rows=(0, 17))
    Xs = with_index_dtype(CONTAINERS[container][fmt](X), index_dtype)
    W, b = weights(rng, k, d, dtype)
    y = rng.integers(0, k, n)
    got = pysoftmax.linear_cross_entropy(Xs, W, b, y)
    assert_result_close(got, pysoftmax.linear_cross_entropy(X.toarray(), W, b, y), dtype)
    np.testing.assert_allclose(got[0], pysoftmax.reference.linear_cross_entropy(
        X.toarray(), W, b, y)[0], **tolerance(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["weight", "sample_weight", "sum", "none", "ignore_index",
                                  "label_smoothing", "probs", "no_bias", "no_grad", "all"])
def test_keywords_match_dense(rng, case, dtype):
    n, d, k = 200, 60, 5
    X = random_csr(rng, n, d, 0.15, dtype)
    W, b = weights(rng, k, d, dtype)
    y = rng.integers(0, k, n)
    kw = {}
    if case in ("weight", "all"):
        kw["weight"] = rng.uniform(0.5, 2.0, k)
    if case in ("sample_weight", "all"):
        kw["sample_weight"] = rng.uniform(0.0, 3.0, n)
    if case in ("sum", "none"):
        kw["reduction"] = case
    if case in ("ignore_index", "all"):
        y[::7] = -1
        kw["ignore_index"] = -1
    if case in ("label_smoothing", "all"):
        kw["label_smoothing"] = 0.2
    if case == "probs":
        y = rng.dirichlet(np.ones(k), n).astype(dtype)
    if case == "no_bias":
        b = None
    if case == "no_grad":
        kw["return_grad"] = False
    got = pysoftmax.linear_cross_entropy(X, W, b, y, **kw)
    want = pysoftmax.linear_cross_entropy(X.toarray(), W, b, y, **kw)
    assert_result_close(got, want, dtype)


def test_integer_and_bool_data_are_computed_like_dense(rng):
    X = random_csr(rng, 50, 20, 0.2)
    W, b = weights(rng, 3, 20, np.float64)
    y = rng.integers(0, 3, 50)
    for data_dtype in (np.int64, np.bool_):    # (scipy.sparse has no float16)
        Xs = X.astype(data_dtype)
        got = pysoftmax.linear_cross_entropy(Xs, W, b, y)
        assert_result_close(got, pysoftmax.linear_cross_entropy(Xs.toarray(), W, b, y),
                            np.float64)


def non_canonical(X, rng):
    """X with each row's entries shuffled, some split in two (duplicates) and explicit zeros
    added (a column of the row's own, so that the structure still describes X)."""
    rows, cols, vals = [], [], []
    for i in range(X.shape[0]):
        lo, hi = X.indptr[i], X.indptr[i + 1]
        for j, v in zip(X.indices[lo:hi], X.data[lo:hi]):
            if rng.uniform() < 0.3:
                rows += [i, i]
                cols += [j, j]
                vals += [v * 0.25, v * 0.75]
            else:
                rows.append(i)
                cols.append(j)
                vals.append(v)
        if hi > lo and rng.uniform() < 0.3:
            rows.append(i)
            cols.append(int(rng.integers(X.shape[1])))
            vals.append(0.0)
    indptr = np.zeros(X.shape[0] + 1, dtype=np.int32)
    np.add.at(indptr, np.asarray(rows) + 1, 1)
    indptr = np.cumsum(indptr).astype(np.int32)
    order = np.lexsort((rng.uniform(size=len(rows)), rows))  # rows in order, entries shuffled
    Y = sp.csr_matrix((np.asarray(vals, X.dtype)[order], np.asarray(cols, np.int32)[order],
                       indptr), shape=X.shape)
    assert not Y.has_canonical_format
    return Y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_canonical_forms_give_the_canonical_result(rng, dtype):
    n, d, k = 400, 90, 6
    X = random_csr(rng, n, d, 0.1, dtype, empty_rows=(3, 4, 399))
    Y = non_canonical(X, rng)
    np.testing.assert_allclose(Y.toarray(), X.toarray(), rtol=1e-6)
    W, b = weights(rng, k, d, dtype)
    y = rng.integers(0, k, n)
    sw = rng.uniform(size=n)
    want = pysoftmax.linear_cross_entropy(X, W, b, y, sample_weight=sw)
    got = pysoftmax.linear_cross_entropy(Y, W, b, y, sample_weight=sw)
    assert_result_close(got, want, dtype)
    with using_threads(2):     # the unsorted rows' column split
        assert_result_close(pysoftmax.linear_cross_entropy(Y, W, b, y, sample_weight=sw),
                            want, dtype)


def test_empty_matrix_and_empty_rows(rng):
    W, b = weights(rng, 3, 10, np.float64)
    X = sp.csr_matrix((5, 10))
    loss, dw, db = pysoftmax.linear_cross_entropy(X, W, b, np.zeros(5, np.int64),
                                                  reduction="sum")
    want = pysoftmax.linear_cross_entropy(np.zeros((5, 10)), W, b, np.zeros(5, np.int64),
                                          reduction="sum")
    assert_result_close((loss, dw, db), want, np.float64)
    none = pysoftmax.linear_cross_entropy(sp.csr_matrix((0, 10)), W, b, np.zeros(0, np.int64))
    assert none[0] == 0.0 and not np.any(none[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_result_on_any_thread_count_and_block_size(rng, dtype, monkeypatch):
    n, d, k = 3000, 700, 9                 # large enough for the threads and several blocks
    X = random_csr(rng, n, d, 0.05, dtype)
    W, b = weights(rng, k, d, dtype)
    y = rng.integers(0, k, n)
    with using_threads(1):
        want = pysoftmax.linear_cross_entropy(X, W, b, y)
    for threads in (2, 3, 4):
        with using_threads(threads):
            got = pysoftmax.linear_cross_entropy(X, W, b, y)
        assert got[0] == want[0]
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[2], want[2])
    monkeypatch.setattr(_linear, "_SPARSE_BLOCK_BYTES", 64 * k * np.dtype(dtype).itemsize)
    with using_threads(2):
        got = pysoftmax.linear_cross_entropy(X, W, b, y)
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])


def test_every_instruction_set_matches_dense(rng, isa):
    X = random_csr(rng, 500, 300, 0.05, np.float32)
    W, b = weights(rng, 11, 300, np.float32)
    y = rng.integers(0, 11, 500)
    assert_result_close(pysoftmax.linear_cross_entropy(X, W, b, y),
                        pysoftmax.linear_cross_entropy(X.toarray(), W, b, y), np.float32)


# ---- bad input -----------------------------------------------------------------------------

def small_problem(rng):
    X = random_csr(rng, 20, 8, 0.4)
    W, b = weights(rng, 3, 8, np.float64)
    return X, W, b, rng.integers(0, 3, 20)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("fmt", FORMATS)
def test_non_finite_values_raise(rng, value, fmt):
    X, W, b, y = small_problem(rng)
    X.data[5] = value
    with pytest.raises(ValueError, match="not finite"):
        pysoftmax.linear_cross_entropy(X.asformat(fmt), W, b, y)
    with pytest.raises(ValueError):
        SoftmaxRegression().fit(X.asformat(fmt), y)


def test_sparse_target_and_weights_raise_naming_them(rng):
    X, W, b, y = small_problem(rng)
    with pytest.raises(TypeError, match="^target: .*sparse"):
        pysoftmax.linear_cross_entropy(X, W, b, sp.csr_matrix(y[:, None]))
    with pytest.raises(TypeError, match="^W: .*sparse"):
        pysoftmax.linear_cross_entropy(X, sp.csr_matrix(W), b, y)
    with pytest.raises(TypeError, match="^sample_weight: .*sparse"):
        pysoftmax.linear_cross_entropy(X, W, b, y, sample_weight=sp.csr_matrix(np.ones((20, 1))))
    with pytest.raises(TypeError, match="^logits: .*sparse"):
        pysoftmax.cross_entropy(sp.csr_matrix(np.ones((2, 3))), [0, 1])


def test_mismatched_shapes_name_both(rng):
    X, W, b, y = small_problem(rng)
    with pytest.raises(ValueError, match=r"W: .*\(20, 8\).*\(3, 9\)"):
        pysoftmax.linear_cross_entropy(X, np.zeros((3, 9)), b, y)
    with pytest.raises(ValueError, match=r"target: .*\(20,\).*\(19,\)"):
        pysoftmax.linear_cross_entropy(X, W, b, y[:19])
    with pytest.raises(ValueError, match=r"sample_weight: .*\(20,\).*\(20, 8\).*\(21,\)"):
        pysoftmax.linear_cross_entropy(X, W, b, y, sample_weight=np.ones(21))


def corrupt(X, how):
    """A CSR or CSC matrix whose index arrays lie about its shape (scipy does not check them
    when given the arrays)."""
    X = X.copy()
    if how == "index too large":
        X.indices[3] = X.shape[1 if X.format == "csr" else 0] + 5
    elif how == "negative index":
        X.indices[3] = -1
    elif how == "indptr decreasing":
        X.indptr[4] = X.indptr[5] + 1
    elif how == "indptr past the end":
        X.indptr[-1] = len(X.indices) + 3
    return X


@pytest.mark.parametrize("how", ["index too large", "negative index", "indptr decreasing",
                                 "indptr past the end"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_out_of_range_index_arrays_raise(rng, how, fmt):
    X, W, b, y = small_problem(rng)
    bad = corrupt(X.asformat(fmt), how)
    with pytest.raises(ValueError, match="^X: "):
        pysoftmax.linear_cross_entropy(bad, W, b, y)
    with pytest.raises(ValueError, match="^X: "):
        SoftmaxRegression().fit(bad, y)
    model = SoftmaxRegression().fit(X, y)
    with pytest.raises(ValueError, match="^X: "):
        model.predict(bad)


def test_out_of_range_coo_raises(rng):
    X, W, b, y = small_problem(rng)
    bad = X.tocoo()
    bad.col[2] = 8
    with pytest.raises(ValueError, match="^X: .*col"):
        pysoftmax.linear_cross_entropy(bad, W, b, y)


def test_the_kernel_checks_column_indices_itself(rng):
    # The native entry point does not rely on the Python checks: an index out of range raises.
    X, W, b, y = small_problem(rng)
    X.indices[0] = 100
    k, d = W.shape
    with pytest.raises(ValueError, match="out of range"):
        pysoftmax._core.sparse_linear_cross_entropy_rows(
            X.indptr, X.indices, X.data, 20, d, True, None, W, b, y, None, None, None, None,
            np.empty((k, d)), np.empty(k), np.empty((d, k)), np.empty((d, k)), -100, 0.0, 1.0,
            16)


def test_other_bad_sparse_input(rng):
    X, W, b, y = small_problem(rng)
    with pytest.raises(TypeError, match="^X: .*complex"):
        pysoftmax.linear_cross_entropy(X.astype(np.complex128), W, b, y)
    with pytest.raises(ValueError, match="^X: .*2-D"):
        pysoftmax.linear_cross_entropy(sp.coo_array(np.ones(8)), W, b, y[:1])


# ---- SoftmaxRegression ---------------------------------------------------------------------

def text_like(rng, n=400, d=300, k=4, density=0.05):
    X = sp.random(n, d, density=density, format="csr",
                  random_state=np.random.RandomState(int(rng.integers(2**31))))
    X.data = rng.exponential(size=X.nnz)
    truth = rng.standard_normal((k, d)) * 2
    y = np.argmax(X @ truth.T + rng.gumbel(size=(n, k)), axis=1)
    return X, y


def test_moments_from_the_stored_entries(rng):
    X = non_canonical(random_csr(rng, 300, 40, 0.2), rng)
    sw = rng.uniform(size=300)
    got, want = Moments.of(X, sw, chunk=64), Moments.of(X.toarray(), sw, chunk=64)
    np.testing.assert_allclose(got.mean, want.mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got.var, want.var, rtol=1e-10, atol=1e-14)
    scaling = FeatureScaling(got, 3, True, 0.0, centre=False)    # sparse X's: the identity
    assert not np.any(scaling.mean) and np.all(scaling.scale == 1.0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", ["lbfgs", "gd", "sgd"])
def test_every_solver_on_sparse(rng, solver):
    X, y = text_like(rng)
    kw = {"max_iter": 300, "tol": 1e-6} if solver != "sgd" else {"max_iter": 60,
                                                                  "random_state": 0}
    ref = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(X, y)
    model = SoftmaxRegression(solver=solver, **kw).fit(X, y)
    slack = 1e-6 if solver == "lbfgs" else (1e-4 if solver == "gd" else 5e-2)
    assert objective(model, X.toarray(), y, 1.0) <= objective(ref, X.toarray(), y, 1.0) * (
        1 + slack)
    if solver != "sgd":      # sgd is a stochastic estimate; the others are deterministic
        dense = SoftmaxRegression(solver=solver, **kw).fit(X.toarray(), y)
        np.testing.assert_allclose(model.predict_proba(X), dense.predict_proba(X), atol=1e-3)
    Xd = X.toarray()
    np.testing.assert_allclose(model.predict_proba(X), model.predict_proba(Xd), rtol=1e-10)
    np.testing.assert_allclose(model.predict_log_proba(X), model.predict_log_proba(Xd),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.decision_function(X), model.decision_function(Xd),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(model.predict(X), model.predict(Xd))
    assert model.score(X, y) == model.score(Xd, y)


@pytest.mark.parametrize("C", [1.0, 10.0])
def test_parity_with_logistic_regression_on_sparse(rng, C):
    X, y = text_like(rng, n=600, d=400, k=5)
    sk = LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X, y)
    ours = SoftmaxRegression(C=C, tol=1e-8, max_iter=10000).fit(X, y)
    Xd = X.toarray()
    assert objective(ours, Xd, y, C) <= objective(sk, Xd, y, C) * (1 + 1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=1e-3)


@pytest.mark.parametrize("fmt", FORMATS)
def test_fit_on_any_format_and_dtype(rng, fmt):
    X, y = text_like(rng, n=200, d=100, k=3)
    want = SoftmaxRegression().fit(X, y)
    for dtype in (np.float32, np.float64):
        got = SoftmaxRegression().fit(X.astype(dtype).asformat(fmt), y)
        assert got.coef_.dtype == dtype
        np.testing.assert_allclose(got.predict_proba(X), want.predict_proba(X), atol=1e-4)


def test_dense_training_then_sparse_prediction(rng):
    X, y = text_like(rng, n=200, d=100, k=3)
    model = SoftmaxRegression().fit(X.toarray(), y)
    np.testing.assert_allclose(model.predict_proba(X.tocsc()), model.predict_proba(X.toarray()),
                               rtol=1e-10)


def test_weights_and_warm_start_on_sparse(rng):
    X, y = text_like(rng, n=300, d=120, k=3)
    sw = rng.uniform(0.2, 2.0, 300)
    for kw in ({"class_weight": "balanced"}, {"class_weight": {0: 2.0, 1: 1.0, 2: 0.5}}, {}):
        got = SoftmaxRegression(tol=1e-8, max_iter=1000, **kw).fit(X, y, sample_weight=sw)
        want = SoftmaxRegression(tol=1e-8, max_iter=1000, **kw).fit(X.toarray(), y,
                                                                    sample_weight=sw)
        np.testing.assert_allclose(got.predict_proba(X), want.predict_proba(X), atol=1e-5)
    model = SoftmaxRegression(tol=1e-8, max_iter=1000, warm_start=True).fit(X, y)
    model.fit(X, y)
    assert model.n_iter_[0] <= 2


def test_partial_fit_on_sparse(rng):
    X, y = text_like(rng, n=600, d=150, k=3)
    sparse_model = SoftmaxRegression(random_state=0)
    dense_model = SoftmaxRegression(random_state=0)
    for s in range(0, 600, 200):
        sparse_model.partial_fit(X[s:s + 200], y[s:s + 200], classes=[0, 1, 2])
        dense_model.partial_fit(X[s:s + 200].toarray(), y[s:s + 200], classes=[0, 1, 2])
    assert sparse_model.n_iter_[0] == 3
    start = SoftmaxRegression(max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start.fit(X, y)
    Xd = X.toarray()
    assert objective(sparse_model, Xd, y, 1.0) < objective(start, Xd, y, 1.0)
    assert sparse_model.score(X, y) > 0.5


def test_unsorted_training_data_is_not_modified(rng):
    X, y = text_like(rng, n=200, d=100, k=3)
    Y = non_canonical(X, rng)
    before = (Y.indices.copy(), Y.data.copy())
    got = SoftmaxRegression(tol=1e-8).fit(Y, y)
    np.testing.assert_array_equal(Y.indices, before[0])
    np.testing.assert_array_equal(Y.data, before[1])
    want = SoftmaxRegression(tol=1e-8).fit(X, y)
    np.testing.assert_allclose(got.predict_proba(X), want.predict_proba(X), atol=1e-5)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fit_same_on_any_thread_count(rng):
    X, y = text_like(rng, n=2000, d=600, k=5)
    with using_threads(1):
        one = SoftmaxRegression(max_iter=30).fit(X, y)
    with using_threads(2):
        two = SoftmaxRegression(max_iter=30).fit(X, y)
    np.testing.assert_array_equal(one.coef_, two.coef_)
    np.testing.assert_array_equal(one.intercept_, two.intercept_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_memory_bound_of_a_hashed_feature_fit():
    # 60,000 x 2^16 float32 with 20 nonzeros per row and 10 classes: 15.7 GB dense. No N x d or
    # N x K array is formed: the extra peak memory of an lbfgs fit stays within 1.25 x (the
    # sparse arrays + (2m + 4) float64 vectors of the P parameters), m = 10 L-BFGS's memory:
    # its (s, y) pairs, the iterate, the gradient and two working vectors.
    n, d, k, per_row, m = 60000, 1 << 16, 10, 20, 10
    gen = np.random.default_rng(0)
    cols = gen.integers(0, d, (n, per_row)).astype(np.int32)
    cols.sort(axis=1)
    X = sp.csr_matrix((gen.uniform(0.1, 1.0, n * per_row).astype(np.float32), cols.ravel(),
                       np.arange(0, n * per_row + 1, per_row, dtype=np.int32)), shape=(n, d))
    y = (cols[:, 0] % k).astype(np.int64)
    P = k * d + k
    data_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    bound = 1.25 * (data_bytes + (2 * m + 4) * P * 8)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        SoftmaxRegression(max_iter=5).fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"extra peak {peak / 2**20:.1f} MiB = sparse arrays + "
          f"{(peak - data_bytes) / (P * 8):.1f} P float64; bound {bound / 2**20:.1f} MiB")
    assert peak <= bound, (peak / 2**20, bound / 2**20)
    assert peak < n * d * 4 / 50          # nothing near the dense size


def test_sparse_training_bench_runs(capsys, tmp_path, monkeypatch):
    import json

    from pysoftmax.__main__ import main
    from pysoftmax.bench import train

    monkeypatch.setitem(train.SPARSE_QUICK, "n", 300)
    monkeypatch.setitem(train.SPARSE_QUICK, "max_iter", 10)
    path = tmp_path / "sparse.json"
    assert main(["bench", "--train", "--sparse", "--quick", "--threads", "1", "--json",
                 str(path)]) == 0
    out = capsys.readouterr().out
    assert "training: TF-IDF text 300 x 4096" in out and "peak memory (MB)" in out
    record = json.loads(path.read_text())[0]
    assert set(record["results"]) >= {"sklearn", "pysoftmax"} and record["nnz"] > 0
    assert record["results"]["pysoftmax"]["peak_mb"] > 0
