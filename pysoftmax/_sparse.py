"""scipy.sparse input: recognising it, checking it, and the CSR arrays the native sparse path
(csrc/sparse.cpp) reads.

Every format is taken: CSR as it is, the others converted to CSR once (CSC and COO by SciPy's
conversion, one pass over the entries and one copy of them). The structure of CSR and CSC input
is checked before anything reads it (scipy.sparse checks little when a matrix is built from its
arrays): indptr, column indices in range, and the stored values finite. Unsorted or repeated
column indices and explicit zeros are accepted as they are (repeats add up).
"""

from __future__ import annotations

import sys

import numpy as np

from . import _core

__all__ = ["issparse", "as_sparse_input", "check_structure", "refuse_sparse", "SparseRows"]

_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))


def computing_dtypes(dt: np.dtype):
    """(the dtype the kernels compute an input of dtype `dt` in, the result's dtype), or None
    when `dt` is not supported: float32 and float64 kept; float16 computed in float32 and
    returned as float16; bool and integers in float64 (dense and sparse inputs alike)."""
    if dt in _NATIVE:
        return dt, dt
    if dt == np.float16:
        return np.dtype(np.float32), dt
    if dt.kind in "biu":
        return np.dtype(np.float64), np.dtype(np.float64)
    return None
_CHUNK = 1 << 20                  # entries per step of the finiteness check


def issparse(x) -> bool:
    """Whether x is a scipy.sparse matrix or array (without importing SciPy: a sparse input
    has imported it)."""
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and sp.issparse(x)


def refuse_sparse(x, name: str) -> None:
    """TypeError naming `name` for a sparse x where only dense arrays are taken."""
    if issparse(x):
        raise TypeError(f"{name}: a scipy.sparse {x.format} of shape {x.shape} is not supported "
                        f"here; pass a dense array (X of linear_cross_entropy and of "
                        f"SoftmaxRegression may be sparse)")


def _index_arrays(indptr, indices):
    """indptr and indices of one dtype, int32 or int64."""
    dt = np.result_type(indptr.dtype, indices.dtype)
    if dt not in (np.int32, np.int64):
        dt = np.dtype(np.int64)
    return tuple(_aligned(np.ascontiguousarray(a, dtype=dt)) for a in (indptr, indices))


def _aligned(a):
    """`a`, or an aligned copy of it (the kernels read elements at their natural alignment)."""
    return a if a.flags.aligned else a.copy()


def check_structure(X) -> None:
    """ValueError when X's index arrays do not describe a matrix of its shape (CSR, CSC:
    indptr and the indices; COO: the coordinates), before SciPy's conversions read them."""
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D sparse matrix (N, d), got shape {X.shape}")
    fmt = X.format
    if fmt in ("csr", "csc"):
        major, minor = X.shape if fmt == "csr" else X.shape[::-1]
        indptr, indices = _index_arrays(X.indptr, X.indices)
        what = "column" if fmt == "csr" else "row"
        try:
            _core.inspect_csr(indptr, indices, major, minor, np.empty(minor + 1, np.int64))
        except ValueError as e:
            message = str(e) if fmt == "csr" else str(e).replace("column index", "row index")
            raise ValueError(f"{message} (a {fmt} of shape {X.shape}; {what} indices must be "
                             f"in [0, {minor}))") from None
    elif fmt == "coo":
        for axis, (name, coords) in enumerate((("row", X.row), ("col", X.col))):
            if coords.size and (coords.min() < 0 or coords.max() >= X.shape[axis]):
                raise ValueError(f"X: a {name} index of the coo matrix is out of range for its "
                                 f"shape {X.shape}")


def as_sparse_input(X, name: str = "X"):
    """(X as CSR in a computing dtype, the result dtype), as as_input for dense arrays: float32
    and float64 kept, float16 computed in float32, bool and integers in float64."""
    if X.format != "csr":            # CSR itself is checked by SparseRows, once
        check_structure(X)
        X = X.tocsr()
    elif X.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D sparse matrix (N, d), got shape {X.shape}")
    dt = X.dtype
    if (dts := computing_dtypes(dt)) is not None:
        return (X if dts[0] == dt else X.astype(dts[0])), dts[1]
    raise TypeError(f"{name}: sparse data of dtype {dt} is not supported; expected real values "
                    f"(float32, float64, integer or bool)")


class SparseRows:
    """The CSR arrays of X (N, d) for the native sparse path, checked once: indptr and indices
    of one dtype (int32 or int64), data contiguous, the values finite (ValueError naming the
    first entry that is not), whether every row's columns are sorted, and the prefix sums of
    the entries per column (the split of the gradient's columns across threads).

    subset(rows): the SparseRows of those rows, without checking them again.
    """

    def __init__(self, X, *, _checked=None):
        self.shape = X.shape
        self.dtype = X.dtype
        self.indptr, self.indices = _index_arrays(X.indptr, X.indices)
        self.data = _aligned(np.ascontiguousarray(X.data))
        self.nnz = int(self.indptr[-1])
        if _checked is not None:
            self.sorted, self.column_offsets = _checked, None
            return
        n, d = X.shape
        self.column_offsets = np.empty(d + 1, dtype=np.int64)
        self.sorted = _core.inspect_csr(self.indptr, self.indices, n, d, self.column_offsets)
        self._check_finite()

    def _check_finite(self):
        data = self.data
        for s in range(0, self.nnz, _CHUNK):
            part = data[s:min(self.nnz, s + _CHUNK)]
            if not np.isfinite(part).all():
                p = s + int(np.argmin(np.isfinite(part)))
                row = int(np.searchsorted(self.indptr, p, side="right")) - 1
                raise ValueError(f"X: the stored value {data[p]} at row {row}, column "
                                 f"{int(self.indices[p])} is not finite (NaN and infinity are "
                                 f"not supported)")

    def subset(self, X_rows):
        """The SparseRows of X_rows, a selection of this matrix's rows (CSR)."""
        return SparseRows(X_rows, _checked=self.sorted)
