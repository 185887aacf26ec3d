"""Argument checks and conversions shared by the native and the reference backends.

Both backends call these, so they accept and reject exactly the same inputs and their
error messages name the same arguments.
"""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING

import numpy as np

from ._sparse import as_sparse_input, computing_dtypes, issparse, refuse_sparse

try:  # NumPy >= 2.0
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index  # type: ignore[no-redef]

__all__ = [
    "aligned",
    "as_input",
    "normalize_axes",
    "reduced_shape",
    "check_temperature",
    "broadcast_where",
    "check_out",
    "CrossEntropyArgs",
    "LinearCrossEntropyArgs",
    "cross_entropy_functions",
    "check_base",
    "entropy_function",
    "one_hot",
]

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Literal, SupportsIndex, Union

    from numpy.typing import ArrayLike, DTypeLike, NDArray

    # The argument and result types of the public functions (pysoftmax, pysoftmax.reference).
    Axis = Union[SupportsIndex, tuple[SupportsIndex, ...], None]
    Reduction = Literal["mean", "sum", "none"]
    FloatArray = NDArray[np.floating]
    Reduced = Union[FloatArray, np.floating]  # a NumPy scalar for a full reduction
    Loss = Union[float, FloatArray]           # a float for "mean" and "sum", an array for "none"
    LinearResult = Union[Loss, tuple[Loss, FloatArray, Union[FloatArray, None]]]  # loss, dW, db
    Shape = tuple[int, ...]


def as_input(x: ArrayLike, name: str = "x") -> tuple[FloatArray, np.dtype]:
    """Return ``(array, result_dtype)``: `x` as an array of a dtype the kernels compute in.

    float32 and float64 are kept; float16 is computed in float32 and returned as float16;
    bool and integer arrays are promoted to float64; everything else raises TypeError.
    """
    refuse_sparse(x, name)
    a = np.asarray(x)
    dt = a.dtype
    if (dts := computing_dtypes(dt)) is not None:
        return aligned(a if dts[0] == dt else a.astype(dts[0])), dts[1]
    if dt.kind == "f":
        raise TypeError(f"{name}: dtype {dt} (extended precision) is not supported; "
                        f"convert it to float64 first")
    raise TypeError(f"{name}: dtype {dt} is not supported; expected a real array "
                    f"(floating, integer or bool)")


def aligned(a: NDArray[Any]) -> NDArray[Any]:
    """`a`, or a copy of it in its own (aligned) memory when its data is not aligned to its
    itemsize (np.frombuffer at an odd offset, a field of a packed structured array): the
    kernels read every element at its natural alignment."""
    return a if a.flags.aligned else a.copy()


def normalize_axes(axis: Axis, ndim: int, name: str = "axis") -> tuple[int, ...]:
    """Return the reduction axes as a sorted tuple of non-negative ints.

    `axis` is an int, a tuple of ints, or None (all axes), as in NumPy reductions.
    Out-of-range axes raise numpy's AxisError; repeated axes raise ValueError.
    """
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, tuple):
        axes = [normalize_axis_index(operator.index(a), ndim, name) for a in axis]
        if len(set(axes)) != len(axes):
            raise ValueError(f"{name}: repeated axis in {axis!r}")
        return tuple(sorted(axes))
    return (normalize_axis_index(operator.index(axis), ndim, name),)


def reduced_shape(shape: Shape, axes: tuple[int, ...], keepdims: bool = False) -> Shape:
    """Shape of a reduction of `shape` over `axes` (after checking the slices are not empty)."""
    k = math.prod(shape[a] for a in axes)
    if k == 0:
        raise ValueError(f"x: the reduction over axis {axes if len(axes) != 1 else axes[0]} "
                         f"of an array of shape {shape} has length 0")
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def check_temperature(temperature: Any) -> float:
    """Return `temperature` as a float; it must be a real number, positive and finite."""
    if type(temperature) is float and 0.0 < temperature < math.inf:
        return temperature
    ok = (not isinstance(temperature, (bool, np.bool_))
          and np.ndim(temperature) == 0
          and np.asarray(temperature).dtype.kind in "iuf")
    t = float(temperature) if ok else math.nan
    if not (math.isfinite(t) and t > 0.0):
        raise ValueError(f"temperature: must be a positive finite number, got {temperature!r}")
    return t


def broadcast_where(where: ArrayLike | None, shape: Shape) -> NDArray[np.bool_] | None:
    """Return the boolean mask `where` broadcast to `shape` (a read-only view), or None."""
    if where is None:
        return None
    w = np.asarray(where)
    if w.dtype != np.bool_:
        raise TypeError(f"where: expected a boolean mask, got dtype {w.dtype}")
    try:
        return np.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(f"where: a mask of shape {w.shape} cannot be broadcast to "
                         f"x's shape {shape}") from None


def check_out(out: object, shape: Shape, dtype: np.dtype) -> None:
    """Check that `out` can receive a result of `shape` and `dtype`."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out: expected a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"out: shape {out.shape} does not match the result's shape {tuple(shape)}")
    if out.dtype != dtype:
        raise ValueError(f"out: dtype {out.dtype} does not match the result's dtype {dtype}")
    if not out.flags.writeable:
        raise ValueError(f"out: the array of shape {out.shape} is read-only")


# ---------------------------------------------------------------------------------------------
# cross-entropy

def _position(flat_index: SupportsIndex, shape: Shape) -> tuple[int, ...]:
    """The index tuple (of Python ints, for messages) of a flat C-order position in `shape`."""
    return tuple(int(i) for i in np.unravel_index(int(flat_index), shape))


_REDUCTIONS = ("mean", "sum", "none")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_UINT64_MAX = 2**64 - 1


def _mean_scale(reduction: Reduction, count: int, denominator: float) -> float:
    """The factor of every example's loss and gradient: 1 but for "mean", 1 / denominator;
    0 for a mean over no example, NaN for a mean over examples whose weights sum to 0 (torch
    divides 0 by 0 there)."""
    if reduction != "mean":
        return 1.0
    if count == 0:
        return 0.0
    return 1.0 / denominator if denominator else math.nan


def _normal_denominator(w: NDArray[Any], denominator: float, name: str
                        ) -> tuple[NDArray[Any], float]:
    """(w, denominator), both multiplied by one power of two (exactly) when 1 / denominator
    would overflow (a subnormal sum of tiny weights, such as float64 1e-310): the mean's factor
    is then finite and every example's share the same. The largest weight must stay finite."""
    if denominator == 0 or not math.isfinite(denominator) or math.isfinite(1.0 / denominator):
        return w, denominator
    e = -999 - math.frexp(abs(denominator))[1]     # 2**e |denominator| in [2**-1000, 2**-999)
    with np.errstate(over="ignore"):
        scaled = np.ldexp(w, e).astype(w.dtype, copy=False)
    if np.isfinite(w).all() and not np.isfinite(scaled).all():
        raise ValueError(f"{name}: the weights span too wide a range for a mean: the counted "
                         f"examples' weights sum to {denominator!r}, the largest weight is "
                         f"{float(np.max(np.abs(w)))!r}")
    return scaled, math.ldexp(denominator, e)


class CrossEntropyArgs:
    """Checked arguments of a cross-entropy call, with the class axis moved last.

    shape: the logits' shape; x: (..., K) logits (float32/float64); rdt: the dtype of the
    gradient and of per-example losses; labels: (...) int64 class indices, or None; probs:
    (..., K) probabilities in x's dtype, or None; weight: (K,) in x's dtype, or None; mask:
    (..., K) bool view, or None; counted: (...) bool, the examples that enter the loss (not
    ignored, not fully masked); denominator: what "mean" divides by (0 when no example counts).
    """

    def __init__(self, logits: ArrayLike, target: ArrayLike, axis: SupportsIndex,
                 weight: ArrayLike | None, ignore_index: SupportsIndex, reduction: Reduction,
                 label_smoothing: float, where: ArrayLike | None) -> None:
        x, self.rdt = as_input(logits, "logits")
        self.shape = x.shape
        if x.ndim == 0:
            raise ValueError("logits: expected at least one dimension (the classes), got a scalar")
        self.axis = normalize_axis_index(operator.index(axis), x.ndim, "axis")
        self.x = x if self.axis == x.ndim - 1 else np.moveaxis(x, self.axis, -1)
        self.batch_shape = self.x.shape[:-1]
        k = self.k = self.x.shape[-1]
        if k == 0:
            raise ValueError(f"logits: the class axis {self.axis} of shape {x.shape} has length 0")
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction: expected 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction
        # The user's ignore_index (any int), for messages; self.ignore_index is what the
        # kernels compare the int64 labels with (see _labels).
        self.given_ignore_index = self.ignore_index = operator.index(ignore_index)
        if not _INT64_MIN <= self.ignore_index <= _INT64_MAX:
            self.ignore_index = -1    # no label in range is -1: _labels maps the ignored to it
        ok = type(label_smoothing) is float or (
            not isinstance(label_smoothing, (bool, np.bool_)) and np.ndim(label_smoothing) == 0
            and np.asarray(label_smoothing).dtype.kind in "iuf")
        self.label_smoothing = float(label_smoothing) if ok else math.nan
        if not 0.0 <= self.label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing: must be a number in [0, 1], "
                             f"got {label_smoothing!r}")
        mask = broadcast_where(where, x.shape)
        self.mask = (mask if mask is None or self.axis == x.ndim - 1
                     else np.moveaxis(mask, self.axis, -1))
        self.weight = self._weight(weight)
        self.labels = self.probs = None
        refuse_sparse(target, "target")
        t = np.asarray(target)
        if t.dtype.kind in "iu":
            self.labels = self._labels(t)
        elif t.dtype.kind == "f":
            self.probs = self._probs(t, x.shape)
            if self.given_ignore_index >= 0:  # torch: a negative ignore_index is no class
                raise ValueError(f"ignore_index: not supported with class probabilities (a "
                                 f"floating target of the logits' shape), got ignore_index="
                                 f"{self.given_ignore_index}; leave it negative, or give class "
                                 f"indices (an integer target) to ignore some examples")
        else:
            raise TypeError(f"target: expected integer class indices or floating probabilities, "
                            f"got dtype {t.dtype}")
        if self.labels is not None:
            self.counted = self.labels != self.ignore_index
        else:
            self.counted = np.ones(self.batch_shape, dtype=bool)
        if self.mask is not None:
            self.counted &= self.mask.any(axis=-1)
            self._check_labels_not_masked()
        self.count = int(np.count_nonzero(self.counted))
        if self.labels is None or self.weight is None:
            self.denominator = float(self.count)
        else:
            w = self.weight.astype(np.float64)[np.where(self.counted, self.labels, 0)]
            self.denominator = float(np.sum(w, where=self.counted))
            if reduction == "mean":     # "sum" and "none" keep the weights as given
                self.weight, self.denominator = _normal_denominator(
                    self.weight, self.denominator, "weight")

    def _weight(self, weight):
        if weight is None:
            return None
        w = np.asarray(weight)
        if w.dtype.kind not in "iuf" or w.dtype == np.longdouble:
            raise TypeError(f"weight: expected real class weights, got dtype {w.dtype}")
        if w.shape != (self.k,):
            raise ValueError(f"weight: expected shape ({self.k},), one weight per class, "
                             f"got shape {w.shape}")
        return aligned(np.ascontiguousarray(w, dtype=self.x.dtype))

    def _labels(self, t):
        if t.shape != self.batch_shape:
            raise ValueError(f"target: class indices must have the logits' shape without the class "
                             f"axis, {self.batch_shape}; got shape {t.shape} (logits shape "
                             f"{np.moveaxis(self.x, -1, self.axis).shape}, axis={self.axis})")
        given = self.given_ignore_index
        ignored = None      # where labels beyond int64 equal ignore_index (rewritten below)
        if t.dtype == np.uint64 and t.size and t.max() > _INT64_MAX:
            # beyond int64: only labels equal to a large ignore_index may be there
            bad = t >= self.k
            if _INT64_MAX < given <= _UINT64_MAX:
                ignored = t == np.uint64(given)
                bad &= ~ignored
        else:
            t = t.astype(np.int64, copy=False)
            if t.size and 0 <= t.min() and t.max() < self.k:    # the common case: all in range
                return aligned(np.ascontiguousarray(t))
            bad = (t < 0) | (t >= self.k)
            if _INT64_MIN <= given <= _INT64_MAX:
                bad &= t != given
        if bad.any():
            pos = _position(np.argmax(bad), t.shape)
            raise IndexError(f"target: label {t[pos]} at position {pos} is out of range for "
                             f"{self.k} classes (expected 0 <= label < {self.k} or "
                             f"ignore_index={given})")
        labels = aligned(np.ascontiguousarray(t, dtype=np.int64))
        if ignored is not None:                 # a copy, the ignored set to self.ignore_index
            labels = np.where(ignored, np.int64(self.ignore_index), labels)
        return labels

    def _probs(self, t, logits_shape):
        if t.shape != logits_shape:
            hint = (" (floating targets are class probabilities; use an integer dtype for class "
                    "indices)" if t.shape == self.batch_shape else "")
            raise ValueError(f"target: probabilities must have the logits' shape {logits_shape}, "
                             f"got shape {t.shape}{hint}")
        return aligned(np.moveaxis(t, self.axis, -1).astype(self.x.dtype, copy=False))

    def _check_labels_not_masked(self):
        if self.labels is None:
            return
        rows = np.flatnonzero(self.counted.ravel())
        m2 = self.mask.reshape(-1, self.k)
        hit = ~m2[rows, self.labels.ravel()[rows]]
        if hit.any():
            pos = _position(rows[np.argmax(hit)], self.batch_shape)
            raise ValueError(f"target: label {self.labels[pos]} at position {pos} is a class "
                             f"that `where` masks out")

    def scale(self) -> float:
        """The reduction's factor on every example's loss and gradient.

        "mean" divides by the summed class weights of the counted examples (their number
        without class weights or with probability targets). A mean over no example is 0
        (torch gives NaN); a mean over examples whose weights sum to 0 is NaN, as torch's.
        """
        return _mean_scale(self.reduction, self.count, self.denominator)

    def reduce(self, row_loss: FloatArray) -> Loss:
        """The reduced loss from the per-example losses, already scaled by scale()."""
        if self.reduction == "none":
            return row_loss.astype(self.rdt)
        return float(row_loss.sum(dtype=np.float64))


class LinearCrossEntropyArgs:
    """Checked arguments of linear_cross_entropy (logits X @ W.T + b, never formed here).

    x: (N, d), w: (K, d), b: (K,) or None, all in `dtype` (float32 or float64: the common dtype
    of the inputs, float16 computed in float32); x is a scipy.sparse CSR matrix when X is
    sparse (any format; pysoftmax._sparse); rdt: the dtype of the gradients and of
    per-example losses; ce: the CrossEntropyArgs of the target on (N, K) logits (labels, probs,
    weight, counted, ...); sample_weight: (N,) in `dtype`, or None; denominator: what "mean"
    divides by, the sum over the counted examples of sample_weight[i] times the class weight of
    their label (each factor 1 when absent; no class weight for probability targets).
    """

    def __init__(self, X: ArrayLike, W: ArrayLike, b: ArrayLike | None, target: ArrayLike,
                 weight: ArrayLike | None, sample_weight: ArrayLike | None, reduction: Reduction,
                 ignore_index: SupportsIndex, label_smoothing: float) -> None:
        x, xrdt = as_sparse_input(X, "X") if issparse(X) else as_input(X, "X")
        w, wrdt = as_input(W, "W")
        if x.ndim != 2:
            raise ValueError(f"X: expected a 2-D array (N, d), got shape {x.shape}")
        n, d = x.shape
        if w.ndim != 2 or w.shape[1] != d or w.shape[0] == 0:
            raise ValueError(f"W: expected shape (K, {d}) with K >= 1 (one row of weights per "
                             f"class; X has shape {x.shape}), got shape {w.shape}")
        k = w.shape[0]
        dtypes, rdts = [x.dtype, w.dtype], [xrdt, wrdt]
        if b is not None:
            b, brdt = as_input(b, "b")
            if b.shape != (k,):
                raise ValueError(f"b: expected shape ({k},), one bias per row of W (shape "
                                 f"{w.shape}), got shape {b.shape}")
            dtypes.append(b.dtype)
            rdts.append(brdt)
        self.dtype = np.result_type(*dtypes)
        self.rdt = np.result_type(*rdts)
        self.x = x.astype(self.dtype, copy=False)
        if not issparse(self.x):
            self.x = aligned(self.x)
        self.w = aligned(w.astype(self.dtype, copy=False))
        self.b = None if b is None else aligned(b.astype(self.dtype, copy=False))
        self.n, self.d, self.k = n, d, k
        logits = np.broadcast_to(np.zeros((), self.dtype), (n, k))   # shape and dtype only
        self.ce = ce = CrossEntropyArgs(logits, target, -1, weight, ignore_index, reduction,
                                        label_smoothing, None)
        self.reduction = reduction
        self.sample_weight = None
        if sample_weight is not None:
            refuse_sparse(sample_weight, "sample_weight")
            sw = np.asarray(sample_weight)
            if sw.dtype.kind not in "iuf" or sw.dtype == np.longdouble:
                raise TypeError(f"sample_weight: expected real weights, got dtype {sw.dtype}")
            if sw.shape != (n,):
                raise ValueError(f"sample_weight: expected shape ({n},), one weight per row of X "
                                 f"(shape {x.shape}), got shape {sw.shape}")
            self.sample_weight = aligned(np.ascontiguousarray(sw, dtype=self.dtype))
        if self.sample_weight is None:
            self.denominator = ce.denominator
        else:
            f = self.sample_weight.astype(np.float64)
            if ce.labels is not None and ce.weight is not None:
                f = f * ce.weight.astype(np.float64)[np.where(ce.counted, ce.labels, 0)]
            self.denominator = float(np.sum(f, where=ce.counted))
            if reduction == "mean":
                self.sample_weight, self.denominator = _normal_denominator(
                    self.sample_weight, self.denominator, "sample_weight")

    def scale(self) -> float:
        """The reduction's factor on every example's loss and gradient (0 for a mean over no
        example, NaN for one over examples whose weights sum to 0, as cross_entropy)."""
        return _mean_scale(self.reduction, self.ce.count, self.denominator)

    def result(self, row_loss: float | FloatArray, dw: FloatArray,
               db: FloatArray | None, return_grad: bool) -> LinearResult:
        """What linear_cross_entropy returns, from the per-example losses (float64, already
        scaled) or their sum (a float) and the gradients in the computing dtype."""
        if self.reduction == "none":
            loss = row_loss.astype(self.rdt)
        else:
            loss = float(row_loss if np.ndim(row_loss) == 0 else row_loss.sum(dtype=np.float64))
        if not return_grad:
            return loss
        dw = dw.astype(self.rdt, copy=False)
        return loss, dw, None if db is None else db.astype(self.rdt, copy=False)


def one_hot(labels: ArrayLike, num_classes: SupportsIndex,
            dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """One-hot encoding of class indices.

    Parameters
    ----------
    labels : array_like of int
        Class indices, any shape, each in ``[0, num_classes)``.
    num_classes : int
        The number of classes K, >= 1.
    dtype : data-type, default=numpy.float32
        The result's dtype.

    Returns
    -------
    ndarray
        Shape ``labels.shape + (num_classes,)``: 1 at each label's class, 0 elsewhere.

    Raises
    ------
    TypeError
        If `labels` is not of an integer dtype.
    IndexError
        If a label is out of range (the message names the first such position).
    ValueError
        If `num_classes` < 1.

    See Also
    --------
    cross_entropy : Takes class indices or probabilities such as these.

    Examples
    --------
    >>> import pysoftmax as ps
    >>> ps.one_hot([0, 2], 3)
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    num_classes = operator.index(num_classes)
    if num_classes < 1:
        raise ValueError(f"num_classes: must be >= 1, got {num_classes}")
    y = np.asarray(labels)
    if y.dtype.kind not in "iu":
        raise TypeError(f"labels: expected integer class indices, got dtype {y.dtype}")
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        pos = _position(np.argmax(bad), y.shape)
        raise IndexError(f"labels: label {y[pos]} at position {pos} is out of range for "
                         f"{num_classes} classes")
    out = np.zeros(y.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, y[..., None].astype(np.intp), 1, axis=-1)
    return out


def cross_entropy_functions(run: Callable[..., Any]
                            ) -> tuple[Callable[..., Loss], Callable[..., tuple[Loss, FloatArray]]]:
    """The public cross_entropy and cross_entropy_with_grad of a backend whose implementation
    is run(logits, target, axis, weight, ignore_index, reduction, label_smoothing, where, out,
    with_grad)."""

    def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                      weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                      reduction: Reduction = "mean", label_smoothing: float = 0.0,
                      where: ArrayLike | None = None) -> Loss:
        """See pysoftmax.cross_entropy."""
        return run(logits, target, axis, weight, ignore_index, reduction, label_smoothing, where,
                   None, False)

    def cross_entropy_with_grad(logits: ArrayLike, target: ArrayLike, *,
                                axis: SupportsIndex = -1, weight: ArrayLike | None = None,
                                ignore_index: SupportsIndex = -100,
                                reduction: Reduction = "mean", label_smoothing: float = 0.0,
                                where: ArrayLike | None = None, out: FloatArray | None = None
                                ) -> tuple[Loss, FloatArray]:
        """See pysoftmax.cross_entropy_with_grad."""
        return run(logits, target, axis, weight, ignore_index, reduction, label_smoothing, where,
                   out, True)

    return cross_entropy, cross_entropy_with_grad


def check_base(base: Any) -> None:
    """`base` (entropy's logarithm base) is None or a positive real number other than 1."""
    if base is not None and not (np.ndim(base) == 0 and np.asarray(base).dtype.kind in "iuf"
                                 and float(base) > 0 and float(base) != 1):
        raise ValueError(f"base: must be a positive number other than 1, got {base!r}")


def entropy_function(softmax: Callable[..., FloatArray],
                     log_softmax: Callable[..., FloatArray]) -> Callable[..., Reduced]:
    """The public entropy of a backend: -sum p log p along `axis` from its softmax and
    log_softmax (0 log 0 = 0), in nats or in units of `base`. p is the backend's own softmax,
    not NumPy's exp of log p, whose result depends on the CPU NumPy runs on."""

    def entropy(logits: ArrayLike, axis: Axis = -1,
                base: float | None = None) -> Reduced:
        """See pysoftmax.entropy."""
        check_base(base)
        p, lp = softmax(logits, axis), log_softmax(logits, axis)
        with np.errstate(invalid="ignore"):
            h = -np.sum(p * np.where(np.isneginf(lp), 0, lp), axis=axis)
        if base is not None:
            h = h / h.dtype.type(math.log(float(base)))
        return h[()] if h.ndim == 0 else h

    return entropy
