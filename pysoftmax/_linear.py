"""linear_cross_entropy of the native backend: its two drivers, chosen by the sizes alone (so
results never depend on the thread count).

- fused (K <= _FUSED_MAX_CLASSES): csrc/linear.cpp computes the logits of a stripe of rows
  with its own register-tiled kernel, the loss and gradient in place, and adds the stripe's
  share of dW while its X rows are in L2; everything on pysoftmax's threads, GIL released.
  For these skinny products it beats a BLAS on the whole (N, K) problem (README, Design).
- BLAS (larger K): chunks of rows whose logits take _CHUNK_BYTES; per chunk one GEMM for the
  logits (NumPy's matmul into a reused buffer), the cross-entropy kernel in place, one GEMM
  for the chunk's share of dW. OpenBLAS's result depends on its own thread count, so the
  GEMMs run with BLAS limited to one thread (threadpoolctl; once for all concurrent callers:
  single_threaded_blas), cut into fixed blocks of classes that pysoftmax's threads share
  (_core.parallel_for; NumPy releases the GIL): the same result on any number of threads, and
  as fast as OpenBLAS's own threads.

- sparse (X a scipy.sparse matrix, converted to CSR once: pysoftmax._sparse): csrc/sparse.cpp
  computes, per block of rows, the logits from the rows' nonzeros, the loss and gradient in
  place, and the block's share of dW from the same nonzeros, on pysoftmax's threads (GIL
  released); its workspaces are W and dW transposed (d, K). Extra memory: the block's logits
  and 3 K x d arrays, never N x K or N x d.

The arguments reach _core as row views (pysoftmax._layout).
"""

from __future__ import annotations

import contextlib
import sys
import threading

import numpy as np

from . import _core
from ._common import LinearCrossEntropyArgs
from ._layout import rows
from ._sparse import SparseRows, issparse

_FUSED_MAX_CLASSES = 128
_FUSED_SLOTS = 16                 # partial gradients: threads beyond 16 add nothing
_PARTIALS_BYTES = 32 << 20        # at most this much for them (slots * K * d * itemsize)
_STRIPE_BYTES = 128 << 10         # the X rows of one stripe, to stay in L2
_CHUNK_BYTES = 16 << 20           # the logits of one chunk of the BLAS path
_CLASS_BLOCKS = 16                # the BLAS path's GEMMs: at most this many blocks of classes,
_MIN_BLOCK_CLASSES = 64           # each at least this wide
_SPARSE_BLOCK_BYTES = 256 << 10  # the logits of one block of rows of the sparse path


def _linear_plan(n, d, k, itemsize):
    """("fused", stripe_rows, slots) or ("blas", chunk_rows, class_blocks), from the sizes."""
    if k <= _FUSED_MAX_CLASSES:
        slots = min(_FUSED_SLOTS, _PARTIALS_BYTES // max(1, k * d * itemsize))
        if slots >= 2:
            stripe = _STRIPE_BYTES // max(1, d * itemsize) // 16 * 16
            return "fused", max(16, min(256, stripe)), slots
    blocks = max(1, min(_CLASS_BLOCKS, k // _MIN_BLOCK_CLASSES))
    return "blas", max(64, _CHUNK_BYTES // (k * itemsize)), blocks


_blas_scan = (None, -1)           # the threadpoolctl controller, len(sys.modules) when made


def rescan_blas_libraries():
    """Makes single_threaded_blas's threadpoolctl controller again: it knows the BLAS libraries
    loaded by then (a scan takes ~3 ms)."""
    global _blas_scan
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError as e:  # pragma: no cover - a dependency of pysoftmax
        raise ImportError("pysoftmax needs threadpoolctl, one of its dependencies: pip install "
                          "threadpoolctl") from e
    controller = ThreadpoolController()
    _blas_scan = (controller, len(sys.modules))
    return controller


# single_threaded_blas's state: how many calls are inside it (in any thread), and the BLAS
# libraries' thread counts from before the first of them, restored when the last one leaves.
_blas_lock = threading.Lock()
_blas_users = 0
_blas_before = []


def _set_blas_threads(lib, n):
    """lib.set_num_threads(n) from any thread: threadpoolctl lets one thread at a time change a
    process-wide OpenBLAS pool and silently ignores the others, so this thread takes that
    control first and gives it back at once."""
    clear = getattr(type(lib), "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)
    lib.set_num_threads(n)
    if clear is not None:
        clear()


@contextlib.contextmanager
def single_threaded_blas():
    """A context in which every BLAS library of the process uses one thread: NumPy's and those
    loaded later (SciPy's), as the libraries are scanned again whenever modules were imported
    since the last scan.

    Safe from several threads at once: the libraries are set to one thread when the first
    caller enters and set back to their counts from before when the last one leaves (unless
    something else changed them meanwhile), so concurrent callers never leave BLAS on one
    thread, and each computes with BLAS on one thread.
    """
    global _blas_users, _blas_before
    with _blas_lock:
        if _blas_users == 0:
            controller, modules = _blas_scan
            if modules != len(sys.modules):
                controller = rescan_blas_libraries()
            libs = [lib for lib in controller.lib_controllers if lib.user_api == "blas"]
            _blas_before = [(lib, lib.get_num_threads()) for lib in libs]
            for lib, n in _blas_before:
                if n != 1:
                    _set_blas_threads(lib, 1)
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                for lib, n in _blas_before:
                    if n is not None and n != 1 and lib.get_num_threads() == 1:
                        _set_blas_threads(lib, n)
                _blas_before = []


class LinearProblem:
    """The checked X and target of a linear_cross_entropy call, for one or many (W, b).

    Built from LinearCrossEntropyArgs; calling it with weights of the shapes and dtype those
    args had returns (loss, dw, db): the loss summed over the rows (a float) or, with
    loss_rows, the per-row losses written there (float64, (N,)); dw (K, d) and db (K,) in the
    computing dtype (db None without bias), or (loss, None, None) with grad=False. The
    estimator calls it once per evaluation of its objective: the fused path reuses its
    buffers, so the returned gradients may be overwritten by the next call.
    """

    def __init__(self, a, sparse_rows=None):
        self.a = a
        ce = a.ce
        self.probs = None if ce.probs is None else rows(ce.probs, 1)
        self._buffers = None
        if issparse(a.x):
            # sparse_rows: the SparseRows of a.x when the caller has them (a subset of checked
            # rows); else a.x is checked here.
            self.x = SparseRows(a.x) if sparse_rows is None else sparse_rows
            block = _SPARSE_BLOCK_BYTES // (a.k * a.dtype.itemsize)
            self.plan = ("sparse", max(64, min(16384, block)))
            return
        self.x = rows(a.x, 1)
        self.plan = _linear_plan(a.n, a.d, a.k, a.dtype.itemsize)

    def _grad_buffers(self, bias):
        if self._buffers is None:
            a, plan = self.a, self.plan
            dw = np.empty((a.k, a.d), dtype=a.dtype)
            db = np.empty(a.k, dtype=a.dtype)
            partials = (np.empty((plan[2], a.k, a.d), dtype=a.dtype) if plan[0] == "fused"
                        else None)
            self._buffers = dw, db, partials
        dw, db, partials = self._buffers
        return dw, db if bias else None, partials

    def _sparse(self, w, b, grad, loss_rows):
        a, ce, x = self.a, self.a.ce, self.x
        if self._buffers is None:     # dW, db and the transposed W and dW, reused by each call
            self._buffers = (np.empty((a.k, a.d), dtype=a.dtype), np.empty(a.k, dtype=a.dtype),
                             np.empty((a.d, a.k), dtype=a.dtype), None)
        dw, db, wt, dwt = self._buffers
        if grad and dwt is None:
            dwt = np.empty((a.d, a.k), dtype=a.dtype)
            self._buffers = dw, db, wt, dwt
        if not grad:
            dw = db = None
        elif b is None:
            db = None
        total = _core.sparse_linear_cross_entropy_rows(
            x.indptr, x.indices, x.data, a.n, a.d, x.sorted, x.column_offsets, rows(w, 1),
            None if b is None else np.ascontiguousarray(b), ce.labels, self.probs, ce.weight,
            a.sample_weight, loss_rows, dw, db, wt, dwt, ce.ignore_index, ce.label_smoothing,
            a.scale(), self.plan[1])
        return total, dw, db

    def __call__(self, w, b, grad=True, loss_rows=None):
        a, ce, plan = self.a, self.a.ce, self.plan
        if plan[0] == "sparse":
            return self._sparse(w, b, grad, loss_rows)
        if plan[0] == "blas":
            with single_threaded_blas():
                total, dw, db = self._blas(plan[1], plan[2], w, b, loss_rows, grad)
            return total, dw, db if b is not None else None
        dw, db, partials = self._grad_buffers(b is not None) if grad else (None, None, None)
        total = _core.linear_cross_entropy_rows(
            self.x, rows(w, 1), None if b is None else np.ascontiguousarray(b),
            ce.labels, self.probs, ce.weight, a.sample_weight, loss_rows, dw, db, partials,
            ce.ignore_index, ce.label_smoothing, a.scale(), plan[1], plan[2])
        return total, dw, db

    def _blas(self, chunk, n_blocks, w, b, loss_rows, grad):
        a, ce, x = self.a, self.a.ce, self.x
        dt, n, k = a.dtype, a.n, a.k
        sw, scale = a.sample_weight, a.scale()
        blocks = [(k * i // n_blocks, k * (i + 1) // n_blocks) for i in range(n_blocks)]
        z = np.empty((min(chunk, n), k), dtype=dt)
        loss_buf = np.empty(min(chunk, n), dtype=np.float64)
        dw = np.zeros((k, a.d), dtype=dt) if grad else None
        db = np.zeros(k, dtype=np.float64) if grad else None
        total = 0.0
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            zc, xc = z[:e - s], x[s:e]
            lc = loss_buf[:e - s] if loss_rows is None else loss_rows[s:e]

            def logits(i, zc=zc, xc=xc):                     # zc[:, block] = xc w[block]^T + b
                c0, c1 = blocks[i]
                np.matmul(xc, w[c0:c1].T, out=zc[:, c0:c1])
                if b is not None:
                    np.add(zc[:, c0:c1], b[c0:c1], out=zc[:, c0:c1])

            _core.parallel_for(n_blocks, logits)
            _core.cross_entropy_rows(zc, None if ce.labels is None else ce.labels[s:e],
                                     None if self.probs is None else self.probs[s:e], ce.weight,
                                     None, lc, zc if grad else None, ce.ignore_index,
                                     ce.label_smoothing, scale)
            if sw is not None:
                lc *= sw[s:e]
                if grad:
                    zc *= sw[s:e, None]
            total += float(lc.sum())
            if not grad:
                continue

            def grad_w(i, zc=zc, xc=xc, first=s == 0):      # dw[block] += zc[:, block]^T xc
                c0, c1 = blocks[i]
                if first:
                    np.matmul(zc[:, c0:c1].T, xc, out=dw[c0:c1])
                else:                   # a temporary of the block's size, freed at once
                    dw[c0:c1] += zc[:, c0:c1].T @ xc

            _core.parallel_for(n_blocks, grad_w)
            db += zc.sum(axis=0, dtype=np.float64)
        return total, dw, None if db is None else db.astype(dt)


def linear_cross_entropy(X, W, b, target, *, weight=None, sample_weight=None, reduction="mean",
                         ignore_index=-100, label_smoothing=0.0, return_grad=True):
    a = LinearCrossEntropyArgs(X, W, b, target, weight, sample_weight, reduction, ignore_index,
                               label_smoothing)
    loss_rows = np.empty(a.n, dtype=np.float64) if reduction == "none" else None
    total, dw, db = LinearProblem(a)(a.w, a.b, return_grad, loss_rows)
    return a.result(total if loss_rows is None else loss_rows, dw, db, return_grad)
