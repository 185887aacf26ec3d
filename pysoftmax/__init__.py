"""Fast and accurate softmax, log_softmax, logsumexp and cross-entropy on the CPU.

The functions follow NumPy conventions (any array-like, any axis or tuple of axes, any layout)
and are computed by a C++ core with per-instruction-set kernels chosen at import.
``pysoftmax.reference`` holds the same functions in plain NumPy; ``use_backend("reference")``
switches the top-level functions to it. ``pysoftmax.special`` holds scipy.special's softmax,
log_softmax and logsumexp (axis=None by default, ``b=``, ``return_sign=``) on the same kernels.
"""

from __future__ import annotations

import contextlib
import contextvars
import operator
import sys
from typing import TYPE_CHECKING

from . import _core, _dask, _native, _threadpool, reference, special
from ._common import one_hot
from ._plot import plot_loss_curve, plot_templates
from ._version import __version__

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType
    from typing import Any, Literal, SupportsIndex

    from numpy.typing import ArrayLike

    from ._common import Axis, FloatArray, LinearResult, Loss, Reduced, Reduction

__all__ = [
    "softmax",
    "log_softmax",
    "logsumexp",
    "cross_entropy",
    "cross_entropy_with_grad",
    "one_hot",
    "entropy",
    "linear_cross_entropy",
    "plot_templates",
    "plot_loss_curve",
    "reference",
    "special",
    "use_backend",
    "show_config",
    "set_num_threads",
    "get_num_threads",
    "max_num_threads",
    "threads",
    "__version__",
]


# SoftmaxRegression needs scikit-learn and SciPy (optional dependencies): it is imported on
# first use, and left out of __all__ so that `from pysoftmax import *` works without them.
def __getattr__(name):
    if name == "SoftmaxRegression":
        from ._regression import SoftmaxRegression

        return SoftmaxRegression
    raise AttributeError(f"module 'pysoftmax' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"SoftmaxRegression"})


_core.get_isa()  # the instruction set, chosen now: PYSOFTMAX_ISA if set (RuntimeError if invalid)
_threadpool.register_controller()  # threadpoolctl lists and limits pysoftmax's threads

_BACKENDS = {"native": _native, "reference": reference}
_backend = contextvars.ContextVar("pysoftmax_backend", default="native")


@contextlib.contextmanager
def use_backend(name: Literal["native", "reference"]) -> Iterator[ModuleType]:
    """Run the top-level functions on another backend inside a ``with`` block.

    The backend is a context variable: it applies to the current thread (or asyncio task) until
    the block ends, also when the block raises.

    Parameters
    ----------
    name : {"native", "reference"}
        "native": the C++ kernels (the default outside any block); "reference": the same
        functions in plain NumPy (:mod:`pysoftmax.reference`).

    Yields
    ------
    module
        The backend's module (:mod:`pysoftmax.reference` for "reference").

    Raises
    ------
    ValueError
        If `name` is not "native" or "reference".

    See Also
    --------
    pysoftmax.reference : The functions in plain NumPy.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> with ps.use_backend("reference"):
    ...     p_ref = ps.softmax(x)      # computed by NumPy
    >>> np.allclose(p_ref, ps.softmax(x))
    True
    """
    if name not in _BACKENDS:
        raise ValueError(f"name: unknown backend {name!r}; expected 'native' or 'reference'")
    token = _backend.set(name)
    try:
        yield _BACKENDS[name]
    finally:
        _backend.reset(token)


def _impl(*arrays: Any) -> Any:
    """The active backend's functions, or their Dask versions when one of `arrays` is a Dask
    collection (Dask is never imported here: without it in sys.modules no input can be one)."""
    name = _backend.get()
    if "dask" in sys.modules and any(map(_dask.is_dask_collection, arrays)):
        return _dask.functions(name)
    return _BACKENDS[name]


def softmax(x: ArrayLike, axis: Axis = -1, *, temperature: float = 1.0,
            where: ArrayLike | None = None, out: FloatArray | None = None) -> FloatArray:
    """Softmax of ``x / temperature`` along `axis`.

    Computes ``exp(z) / sum(exp(z))`` with ``z = x / temperature`` for each slice along `axis`,
    without overflow (the slice's maximum is subtracted first). A Dask array gives a lazy Dask
    array, computed block by block.

    Parameters
    ----------
    x : array_like
        The logits, of any shape and memory layout. float32 and float64 are computed and
        returned as such; float16 is computed in float32 and returned as float16; bool and
        integers are promoted to float64.
    axis : int, tuple of ints or None, default=-1
        The axis (axes) whose elements form one distribution; None: all of them.
    temperature : float, default=1.0
        T > 0 and finite; the result is softmax(x / T).
    where : array_like of bool, optional
        Broadcast to x's shape; False entries are left out of the distribution and get 0. A
        slice with no True entry gives 0 everywhere.
    out : ndarray, optional
        Receives the result: x's shape and the result's dtype, writeable; it may be x itself.

    Returns
    -------
    ndarray
        The probabilities, of x's shape; each slice sums to 1. `out` when given.

    Raises
    ------
    TypeError
        If x's dtype is not real (complex, object, string) or is long double, or `where` is not
        boolean, or `out` is not an ndarray.
    ValueError
        If `temperature` is not a positive finite number, a slice is empty (a reduced axis of
        length 0), `where` does not broadcast to x, or `out` has another shape or dtype or is
        read-only.
    numpy.exceptions.AxisError
        If an axis is out of range.
    KeyboardInterrupt
        On Ctrl-C (SIGINT) in the main thread during the call, raised between blocks of rows
        (within about 0.1 s); `out` is then partly written.

    See Also
    --------
    log_softmax : Its logarithm, computed from the logits.
    logsumexp : The logarithm of the normaliser.
    pysoftmax.special.softmax : The same with scipy.special's signature (axis=None).

    Notes
    -----
    Non-finite inputs (without a mask) behave as in scipy.special.softmax: a slice holding NaN or
    +inf, or made only of -inf, is NaN; -inf entries elsewhere get probability 0. Masked-out
    entries are ignored even when they are NaN or infinite.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> print(np.round(ps.softmax([1.0, 2.0, 3.0]), 4))
    [0.09   0.2447 0.6652]
    >>> print(np.round(ps.softmax([1.0, 2.0, 3.0], temperature=2.0), 4))
    [0.1863 0.3072 0.5065]
    >>> print(ps.softmax([1.0, 2.0, 3.0], where=np.array([True, True, False])).round(4))
    [0.2689 0.7311 0.    ]
    >>> ps.softmax(np.zeros((2, 4), dtype=np.float32), axis=0).dtype
    dtype('float32')
    """
    return _impl(x, where).softmax(x, axis, temperature=temperature, where=where, out=out)


def log_softmax(x: ArrayLike, axis: Axis = -1, *, temperature: float = 1.0,
                where: ArrayLike | None = None, out: FloatArray | None = None) -> FloatArray:
    """Logarithm of the softmax of ``x / temperature`` along `axis`, computed from the logits.

    Computes ``z - max(z) - log(sum(exp(z - max(z))))`` with ``z = x / temperature``: accurate
    where ``log(softmax(x))`` would give -inf for tiny probabilities. A Dask array gives a lazy
    Dask array.

    Parameters
    ----------
    x : array_like
        The logits; dtypes as in :func:`softmax` (float32 and float64 kept, float16 computed in
        float32, bool and integers promoted to float64).
    axis : int, tuple of ints or None, default=-1
        The axis (axes) whose elements form one distribution; None: all of them.
    temperature : float, default=1.0
        T > 0 and finite; the result is log_softmax(x / T).
    where : array_like of bool, optional
        Broadcast to x's shape; False entries are left out of the distribution and get -inf. A
        slice with no True entry gives -inf everywhere.
    out : ndarray, optional
        Receives the result: x's shape and the result's dtype, writeable; it may be x itself.

    Returns
    -------
    ndarray
        The log-probabilities, of x's shape. `out` when given.

    Raises
    ------
    TypeError
        If x's dtype is not real or is long double, `where` is not boolean, or `out` is not an
        ndarray.
    ValueError
        If `temperature` is not a positive finite number, a slice is empty, `where` does not
        broadcast to x, or `out` has another shape or dtype or is read-only.
    numpy.exceptions.AxisError
        If an axis is out of range.
    KeyboardInterrupt
        On Ctrl-C (SIGINT) in the main thread during the call, raised between blocks of rows
        (within about 0.1 s); `out` is then partly written.

    See Also
    --------
    softmax : The probabilities.
    logsumexp : The log-normaliser subtracted here.
    pysoftmax.special.log_softmax : The same with scipy.special's signature (axis=None).

    Notes
    -----
    A slice holding NaN or +inf, or made only of -inf, is NaN; -inf entries elsewhere get -inf.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> print(np.round(ps.log_softmax([1.0, 2.0, 3.0]), 4))
    [-2.4076 -1.4076 -0.4076]
    >>> float(ps.log_softmax([0.0, 1000.0])[0])     # log(softmax) would be -inf
    -1000.0
    """
    return _impl(x, where).log_softmax(x, axis, temperature=temperature, where=where, out=out)


def logsumexp(x: ArrayLike, axis: Axis = -1, *, where: ArrayLike | None = None,
              keepdims: bool = False) -> Reduced:
    """Logarithm of the sum of the exponentials of `x` along `axis`, without overflow.

    Computes ``log(sum(exp(x)))``, the log-partition function of softmax, as
    ``max(x) + log(sum(exp(x - max(x))))``. A Dask array gives a lazy Dask array.

    Parameters
    ----------
    x : array_like
        The input; dtypes as in :func:`softmax` (float32 and float64 kept, float16 computed in
        float32, bool and integers promoted to float64).
    axis : int, tuple of ints or None, default=-1
        The axis (axes) summed over; None: all of them.
    where : array_like of bool, optional
        Broadcast to x's shape; only the True entries are summed.
    keepdims : bool, default=False
        Keep the reduced axes as dimensions of size 1.

    Returns
    -------
    ndarray or numpy.floating
        One value per slice: x's shape without the reduced axes (with them as size 1 if
        `keepdims`); a NumPy scalar for a full reduction.

    Raises
    ------
    TypeError
        If x's dtype is not real or is long double, or `where` is not boolean.
    ValueError
        If a slice is empty (a reduced axis of length 0) or `where` does not broadcast to x.
    numpy.exceptions.AxisError
        If an axis is out of range.

    See Also
    --------
    log_softmax : ``x - logsumexp(x, keepdims=True)``, computed in one call.
    pysoftmax.special.logsumexp : The same with scipy.special's signature (weights, signs).

    Notes
    -----
    A slice holding NaN gives NaN, one holding +inf gives +inf, one made only of -inf (or with no
    True entry in `where`) gives -inf.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> round(float(ps.logsumexp([1000.0, 1000.0])), 6)      # no overflow
    1000.693147
    >>> print(np.round(ps.logsumexp(np.zeros((2, 3)), axis=1), 4))
    [1.0986 1.0986]
    >>> ps.logsumexp(np.zeros((2, 3)), axis=1, keepdims=True).shape
    (2, 1)
    """
    return _impl(x, where).logsumexp(x, axis, where=where, keepdims=keepdims)


def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                  weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                  reduction: Reduction = "mean", label_smoothing: float = 0.0,
                  where: ArrayLike | None = None) -> Loss:
    """Cross-entropy between softmax(logits) and `target`, computed from the logits.

    The loss of example i is ``logsumexp(z_i) - z_i[y_i]`` for a class index y_i, or
    ``-sum_k t_ik log_softmax(z_i)_k`` for class probabilities t_i. Semantics follow
    ``torch.nn.functional.cross_entropy``, except that a loss over no example (an empty batch,
    every target ignored, every entry masked) is 0, not NaN. Dask arrays give lazy Dask results.

    Parameters
    ----------
    logits : array_like
        Scores with the classes along `axis` (float32 and float64 kept, float16 computed in
        float32, bool and integers promoted to float64).
    target : array_like
        Class indices (any integer dtype; the logits' shape without the class axis) or class
        probabilities (floating; the logits' shape).
    axis : int, default=-1
        The class axis of `logits`.
    weight : array_like, optional
        One weight per class (K,), as torch's `weight`.
    ignore_index : int, default=-100
        Class-index targets equal to it contribute nothing (and are not counted by "mean"). With
        probability targets it must be negative.
    reduction : {"mean", "sum", "none"}, default="mean"
        "mean": the sum of w[y_i] * loss_i over the non-ignored examples divided by the sum of
        their w[y_i] (by the number of examples for probability targets); "sum": the sum;
        "none": the per-example losses. When the counted examples' weights sum to 0, "mean"
        is NaN, as torch's (0 / 0), and so is their gradient.
    label_smoothing : float, default=0.0
        In [0, 1]: mixes the target with the uniform distribution over the classes, as torch.
    where : array_like of bool, optional
        Broadcast to the logits' shape; masked-out classes leave the normaliser and the target.
        A class-index target must not be masked out unless its whole row is, which then counts
        as no example.

    Returns
    -------
    float or ndarray
        A Python float (summed in float64) for "mean" and "sum"; for "none" an array of the
        per-example losses, of the logits' shape without the class axis and dtype.

    Raises
    ------
    IndexError
        If a class index is out of range (and not `ignore_index`); the message names the first
        such position.
    ValueError
        If a shape does not match (target, weight, where), `reduction` or `label_smoothing` is
        invalid, the class axis has length 0, `ignore_index` >= 0 with probability targets, or
        a class-index target is masked out by `where`.
    TypeError
        If a dtype is not supported (for example a boolean or complex target, or sparse input).

    See Also
    --------
    cross_entropy_with_grad : The loss and its gradient with respect to the logits, in one pass.
    linear_cross_entropy : The loss of the logits ``X @ W.T + b`` without forming them.
    one_hot : Class indices as one-hot probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    >>> y = np.array([0, 2])
    >>> round(ps.cross_entropy(logits, y), 6)
    0.167234
    >>> print(np.round(ps.cross_entropy(logits, y, reduction="none"), 4))
    [0.2395 0.0949]
    >>> round(ps.cross_entropy(logits, ps.one_hot(y, 3, dtype=np.float64)), 6)
    0.167234
    >>> round(ps.cross_entropy(logits, np.array([0, -100])), 6)     # the second one ignored
    0.239545
    """
    impl = _impl(logits, target, where)
    return impl.cross_entropy(logits, target, axis=axis, weight=weight, ignore_index=ignore_index,
                              reduction=reduction, label_smoothing=label_smoothing, where=where)


def cross_entropy_with_grad(logits: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                            weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                            reduction: Reduction = "mean", label_smoothing: float = 0.0,
                            where: ArrayLike | None = None, out: FloatArray | None = None
                            ) -> tuple[Loss, FloatArray]:
    """The cross-entropy of :func:`cross_entropy` and its gradient with respect to the logits.

    Computed in one pass over each row (one exp per element). When `out` is `logits` itself the
    gradient overwrites the logits and no other array of their size is allocated.

    Parameters
    ----------
    logits : array_like
        Scores with the classes along `axis`, as in :func:`cross_entropy`.
    target : array_like
        Class indices (integer; the logits' shape without the class axis) or class probabilities
        (floating; the logits' shape).
    axis : int, default=-1
        The class axis of `logits`.
    weight : array_like, optional
        One weight per class (K,).
    ignore_index : int, default=-100
        Class-index targets equal to it contribute nothing (and get a zero gradient).
    reduction : {"mean", "sum", "none"}, default="mean"
        As in :func:`cross_entropy`; for "none" the gradient is that of the sum of the
        per-example losses.
    label_smoothing : float, default=0.0
        In [0, 1], as in :func:`cross_entropy`.
    where : array_like of bool, optional
        Masked-out classes, as in :func:`cross_entropy`; their gradient is 0.
    out : ndarray, optional
        Receives the gradient: the logits' shape and result dtype, writeable; it may be `logits`.

    Returns
    -------
    loss : float or ndarray
        As returned by :func:`cross_entropy`.
    grad : ndarray
        The gradient of `loss` with respect to the logits, of their shape; `out` when given.

    Raises
    ------
    IndexError
        If a class index is out of range (and not `ignore_index`).
    ValueError
        For the arguments :func:`cross_entropy` rejects, and an `out` of another shape or dtype
        or read-only.
    TypeError
        If a dtype is not supported or `out` is not an ndarray.
    KeyboardInterrupt
        On Ctrl-C (SIGINT) in the main thread during the call, raised between blocks of rows
        (within about 0.1 s); `out` is then partly written.

    See Also
    --------
    cross_entropy : The loss alone.
    linear_cross_entropy : The loss and the gradients of a linear layer's weights.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    >>> y = np.array([0, 2])
    >>> loss, grad = ps.cross_entropy_with_grad(logits, y)
    >>> np.allclose(grad, (ps.softmax(logits) - ps.one_hot(y, 3)) / 2)
    True
    >>> loss2, g = ps.cross_entropy_with_grad(logits, y, out=logits)   # in place
    >>> g is logits and bool(np.isclose(loss2, loss))
    True
    """
    impl = _impl(logits, target, where)
    return impl.cross_entropy_with_grad(logits, target, axis=axis, weight=weight,
                                        ignore_index=ignore_index, reduction=reduction,
                                        label_smoothing=label_smoothing, where=where, out=out)


def linear_cross_entropy(X: ArrayLike, W: ArrayLike, b: ArrayLike | None, target: ArrayLike, *,
                         weight: ArrayLike | None = None, sample_weight: ArrayLike | None = None,
                         reduction: Reduction = "mean", ignore_index: SupportsIndex = -100,
                         label_smoothing: float = 0.0, return_grad: bool = True) -> LinearResult:
    """Cross-entropy of the logits ``X @ W.T + b`` and its gradients, without forming the logits.

    Rows are processed a few at a time: their logits, the loss and gradient in place, and
    ``dW += G.T @ X`` while those rows are still in cache. No (N, K) array is allocated: the extra
    memory depends on K, d and the dtype, not on N. Multithreaded (GIL released); the result does
    not depend on the thread count.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix, shape (N, d)
        One example per row. A scipy.sparse matrix or array of any format is read without
        densifying it (CSR as it is, other formats converted to CSR once); its stored values
        must be finite.
    W : array_like, shape (K, d)
        One row of weights per class.
    b : array_like, shape (K,), or None
        One bias per class; None: no bias (and no `db`).
    target : array_like
        Class indices (N,) or class probabilities (N, K), as in :func:`cross_entropy`.
    weight : array_like, shape (K,), optional
        One weight per class, as in :func:`cross_entropy`.
    sample_weight : array_like, shape (N,), optional
        Multiplies each example's loss and gradient; "mean" divides by the sum, over the counted
        examples, of sample_weight[i] times the class weight of their label (NaN when that sum
        is 0, as in :func:`cross_entropy`).
    reduction : {"mean", "sum", "none"}, default="mean"
        As in :func:`cross_entropy` ("none": per-example losses, gradients of their sum).
    ignore_index : int, default=-100
        As in :func:`cross_entropy`.
    label_smoothing : float, default=0.0
        As in :func:`cross_entropy`.
    return_grad : bool, default=True
        False: return the loss only (no gradient pass).

    Returns
    -------
    loss : float or ndarray
        A float for "mean" and "sum" (summed in float64), the per-example losses (N,) for
        "none". Returned alone when `return_grad` is False.
    dW : ndarray, shape (K, d)
        The gradient with respect to W (only when `return_grad`).
    db : ndarray, shape (K,), or None
        The gradient with respect to b; None when `b` is None (only when `return_grad`).

    Raises
    ------
    ValueError
        If the shapes do not match (X 2-D, W (K, d), b (K,), sample_weight (N,), target), for the
        arguments :func:`cross_entropy` rejects, or for a sparse X with non-finite values or
        index arrays out of range.
    IndexError
        If a class index is out of range (and not `ignore_index`).
    TypeError
        If a dtype is not supported, or an argument other than X is sparse.
    KeyboardInterrupt
        On Ctrl-C (SIGINT) in the main thread during the call, raised within about 0.1 s (the
        threads stop between stripes of rows).

    See Also
    --------
    cross_entropy_with_grad : The same on logits already computed.
    SoftmaxRegression : An estimator trained through this function.

    Notes
    -----
    Everything is computed in the common dtype of X, W and b (float32 stays float32; float16 in
    float32), and returned in it.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> rng = np.random.default_rng(0)
    >>> X, W, b = rng.standard_normal((6, 4)), rng.standard_normal((3, 4)), np.zeros(3)
    >>> y = np.array([0, 1, 2, 0, 1, 2])
    >>> loss, dW, db = ps.linear_cross_entropy(X, W, b, y)
    >>> bool(np.isclose(loss, ps.cross_entropy(X @ W.T + b, y)))
    True
    >>> dW.shape, db.shape
    ((3, 4), (3,))
    >>> from scipy import sparse
    >>> Xs = sparse.csr_matrix(X * (np.abs(X) > 1))          # sparse X, never densified
    >>> bool(np.isclose(ps.linear_cross_entropy(Xs, W, None, y, return_grad=False),
    ...                 ps.cross_entropy(Xs.toarray() @ W.T, y)))
    True
    """
    return _impl().linear_cross_entropy(X, W, b, target, weight=weight,
                                        sample_weight=sample_weight, reduction=reduction,
                                        ignore_index=ignore_index,
                                        label_smoothing=label_smoothing, return_grad=return_grad)


def entropy(logits: ArrayLike, axis: Axis = -1, base: float | None = None) -> Reduced:
    """Entropy of softmax(logits) along `axis`.

    Computes ``-sum(p * log(p))`` with ``p = softmax(logits)`` and ``0 * log(0) = 0``, in nats or
    in units of `base`.

    Parameters
    ----------
    logits : array_like
        The logits; dtypes as in :func:`softmax`.
    axis : int, tuple of ints or None, default=-1
        The axis (axes) of one distribution; None: all of them.
    base : float, optional
        The logarithm's base (2: bits); None: natural logarithm (nats).

    Returns
    -------
    ndarray or numpy.floating
        One value per slice; a NumPy scalar for a full reduction.

    Raises
    ------
    ValueError
        If `base` is not a positive number other than 1, or for the arguments :func:`softmax`
        rejects.

    See Also
    --------
    softmax : The distribution whose entropy this is.
    log_softmax : Its logarithm.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> round(float(ps.entropy(np.zeros(4), base=2)), 6)    # uniform over 4 classes: 2 bits
    2.0
    >>> print(np.round(ps.entropy([[0.0, 0.0], [10.0, -10.0]]), 6))
    [0.693147 0.      ]
    """
    return _impl(logits).entropy(logits, axis, base)


def max_num_threads() -> int:
    """The largest thread count :func:`set_num_threads` accepts.

    Returns
    -------
    int
        4 per CPU, or OpenMP's thread limit if smaller.

    See Also
    --------
    set_num_threads : Set the count.
    get_num_threads : The current count.

    Examples
    --------
    >>> import pysoftmax as ps
    >>> ps.max_num_threads() >= 1
    True
    """
    return _core.max_num_threads()


def set_num_threads(n: SupportsIndex) -> None:
    """Set the number of threads the native kernels may use.

    Small inputs run on one thread whatever the count, and a call uses at most one thread per
    block of rows it has. In the child of a fork the kernels run on the calling thread. Results
    do not depend on the thread count. threadpoolctl's ``threadpool_limits(n)`` sets the count
    too, for its block (pysoftmax's pool is listed by ``threadpool_info()``).

    Parameters
    ----------
    n : int
        From 1 to :func:`max_num_threads` (4 per CPU, or OpenMP's thread limit if smaller).

    Raises
    ------
    ValueError
        If `n` is not an integer from 1 to ``max_num_threads()``.

    See Also
    --------
    threads : The same for one ``with`` block.
    get_num_threads : The current count.
    max_num_threads : The largest count accepted.

    Examples
    --------
    >>> import pysoftmax as ps
    >>> previous = ps.get_num_threads()
    >>> ps.set_num_threads(1)
    >>> ps.get_num_threads()
    1
    >>> ps.set_num_threads(previous)
    """
    top = _core.max_num_threads()
    try:
        count = operator.index(n)
    except TypeError:
        count = None
    if count is None or not 1 <= count <= top:
        raise ValueError(f"n: the number of threads must be an integer from 1 to {top}, got {n!r}")
    _core.set_num_threads(count)


@contextlib.contextmanager
def threads(n: SupportsIndex) -> Iterator[int]:
    """Run a ``with`` block with `n` threads for the native kernels.

    Sets the count as :func:`set_num_threads`, then restores the previous count after the block,
    also when it raises. The count is the process's: blocks entered by several threads at once
    restore each other's counts in the order they leave.

    Parameters
    ----------
    n : int
        From 1 to :func:`max_num_threads`.

    Yields
    ------
    int
        The thread count inside the block.

    Raises
    ------
    ValueError
        If `n` is not an integer from 1 to ``max_num_threads()``.

    See Also
    --------
    set_num_threads : Set the count outside a block.
    get_num_threads : The current count.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> with ps.threads(1) as n:
    ...     p = ps.softmax(np.zeros((2, 3)))
    >>> n
    1
    >>> np.allclose(p, 1 / 3)
    True
    """
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield get_num_threads()
    finally:
        set_num_threads(previous)


def get_num_threads() -> int:
    """The number of threads the native kernels may use.

    Returns
    -------
    int
        The count set by :func:`set_num_threads`, :func:`threads` or threadpoolctl's
        ``threadpool_limits``; by default OpenMP's default thread count (``OMP_NUM_THREADS`` or
        the number of CPUs), or the number of CPUs in a build without OpenMP.

    See Also
    --------
    set_num_threads : Set the count.
    threads : Set the count for one ``with`` block.
    max_num_threads : The largest count accepted.

    Examples
    --------
    >>> import pysoftmax as ps
    >>> 1 <= ps.get_num_threads() <= ps.max_num_threads()
    True
    """
    return _core.get_num_threads()


def _config() -> dict[str, Any]:
    import numpy

    return {
        "pysoftmax": __version__,
        "numpy": numpy.__version__,
        "isa": _core.get_isa(),
        "available isas": ", ".join(_core.available_isas()),
        "compiled isas": ", ".join(_core.compiled_isas()),
        "testing isas": ", ".join(f"{name} (as {real})" for name, real in _core.testing_isas())
        or "(none)",
        "cpu features": ", ".join(sorted(_core.cpu_features())) or "(none detected)",
        "threads": _core.get_num_threads(),
        "openmp": _core.openmp,
        "backend": _backend.get(),
    }


def show_config() -> None:
    """Print pysoftmax's configuration.

    Prints one line per item: the versions of pysoftmax and NumPy, the instruction set in use
    and those available and compiled, the CPU features detected, the thread count, whether
    OpenMP is used, and the active backend. ``python -m pysoftmax config`` prints the same.

    See Also
    --------
    use_backend : Switch the backend.
    set_num_threads : Set the thread count.

    Examples
    --------
    >>> import pysoftmax as ps
    >>> ps.show_config()     # doctest: +ELLIPSIS
          pysoftmax: ...
              numpy: ...
                isa: ...
    """
    for key, value in _config().items():
        print(f"{key:>15}: {value}")
