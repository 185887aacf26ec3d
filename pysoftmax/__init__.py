"""pysoftmax: fast and accurate softmax, log_softmax and logsumexp on the CPU.

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

from . import _core, _dask, _native, reference, special
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

_BACKENDS = {"native": _native, "reference": reference}
_backend = contextvars.ContextVar("pysoftmax_backend", default="native")


@contextlib.contextmanager
def use_backend(name: Literal["native", "reference"]) -> Iterator[ModuleType]:
    """Run the top-level functions on backend `name` ("native" or "reference") in this block.

    >>> with pysoftmax.use_backend("reference"):
    ...     p = pysoftmax.softmax(x)      # plain NumPy
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
    """Softmax of `x / temperature` along `axis`: exp(z) / sum(exp(z)).

    Parameters
    ----------
    x : array_like
        float32 and float64 are computed and returned as such; float16 is computed in
        float32 and returned as float16; bool and integers are promoted to float64.
    axis : int, tuple of ints or None
        The axis (axes) whose elements form one distribution; None: all of them.
    temperature : float
        T > 0 and finite; the result is softmax(x / T).
    where : array_like of bool, optional
        Broadcast to x; False entries are left out of the distribution and get 0. A slice
        with no True entry gives 0 everywhere.
    out : ndarray, optional
        Receives the result: x's shape and the result dtype, writeable; may be x itself.

    Non-finite inputs (without a mask) behave like scipy.special.softmax: a slice holding NaN
    or +inf, or made only of -inf, is NaN; -inf entries elsewhere get probability 0.
    """
    return _impl(x, where).softmax(x, axis, temperature=temperature, where=where, out=out)


def log_softmax(x: ArrayLike, axis: Axis = -1, *, temperature: float = 1.0,
                where: ArrayLike | None = None, out: FloatArray | None = None) -> FloatArray:
    """Logarithm of softmax, computed from the logits: z - max(z) - log(sum(exp(z - max(z)))).

    Same arguments as :func:`softmax`; masked entries and empty slices get -inf.
    """
    return _impl(x, where).log_softmax(x, axis, temperature=temperature, where=where, out=out)


def logsumexp(x: ArrayLike, axis: Axis = -1, *, where: ArrayLike | None = None,
              keepdims: bool = False) -> Reduced:
    """log(sum(exp(x))) along `axis`, without overflow (the log-partition function).

    A slice holding NaN gives NaN, one holding +inf gives +inf, one of all -inf (or with no
    True entry in `where`) gives -inf. Returns a NumPy scalar for a full reduction.
    """
    return _impl(x, where).logsumexp(x, axis, where=where, keepdims=keepdims)


def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                  weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                  reduction: Reduction = "mean", label_smoothing: float = 0.0,
                  where: ArrayLike | None = None) -> Loss:
    """Cross-entropy between softmax(logits) and `target`, computed from the logits.

    Parameters
    ----------
    logits : array_like
        Scores with the classes along `axis` (float32/float64 kept, as in softmax).
    target : array_like
        Class indices (any integer dtype; the logits' shape without the class axis) or class
        probabilities (floating; the logits' shape).
    weight : array_like, optional
        One weight per class, as torch's `weight`.
    ignore_index : int
        Class-index targets equal to it contribute nothing (and are not counted by "mean").
    reduction : "mean", "sum" or "none"
        "mean": sum of w[y_i] * loss_i over the non-ignored examples divided by the sum of their
        w[y_i] (by the number of examples for probability targets); "none": per-example losses.
    label_smoothing : float in [0, 1]
        Mixes the target with the uniform distribution, as torch.
    where : array_like of bool, optional
        Masked-out classes leave the normaliser and the target; a class-index target must not
        be masked out (ValueError) unless its whole row is, which then counts as no example.

    Semantics follow torch.nn.functional.cross_entropy, except that a loss over no example (an
    empty batch, every target ignored, every entry masked) is 0, not NaN. Returns a float for
    "mean" and "sum", an array for "none".
    """
    impl = _impl(logits, target, where)
    return impl.cross_entropy(logits, target, axis=axis, weight=weight, ignore_index=ignore_index,
                              reduction=reduction, label_smoothing=label_smoothing, where=where)


def cross_entropy_with_grad(logits: ArrayLike, target: ArrayLike, *, axis: SupportsIndex = -1,
                            weight: ArrayLike | None = None, ignore_index: SupportsIndex = -100,
                            reduction: Reduction = "mean", label_smoothing: float = 0.0,
                            where: ArrayLike | None = None, out: FloatArray | None = None
                            ) -> tuple[Loss, FloatArray]:
    """``(loss, grad)``: :func:`cross_entropy` and its gradient with respect to the logits.

    Computed in one pass over each row (one exp per element). For "none", grad is the gradient
    of the sum of the per-example losses. `out` receives the gradient and may be `logits`
    itself, in which case no (N, K) memory is allocated.
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

    Parameters
    ----------
    X : array_like, (N, d)
        One example per row.
    W : array_like, (K, d)
        One row of weights per class (the class "templates").
    b : array_like, (K,), or None
        One bias per class; None: no bias (and no db).
    target, weight, ignore_index, label_smoothing
        As in :func:`cross_entropy` on (N, K) logits: class indices (N,) or probabilities (N, K).
    sample_weight : array_like, (N,), optional
        Multiplies each example's loss and gradient; "mean" divides by the sum, over the
        counted examples, of sample_weight[i] times the class weight of their label.
    reduction : "mean", "sum" or "none"
        As in cross_entropy ("none": per-example losses, gradients of their sum).
    return_grad : bool
        False: return the loss only (no gradient pass).

    Returns ``loss`` or ``(loss, dW, db)``: dW (K, d), db (K,) or None when `b` is None. All
    are computed in the common dtype of X, W and b (float32 stays float32).

    Rows are processed a few at a time: their logits, the loss and gradient in place, and
    dW += G^T X while those rows are still in cache. No (N, K) array is allocated: the extra
    memory depends on K, d and the dtype, not on N. Multithreaded (GIL released), and the
    result does not depend on the thread count.
    """
    return _impl().linear_cross_entropy(X, W, b, target, weight=weight,
                                        sample_weight=sample_weight, reduction=reduction,
                                        ignore_index=ignore_index,
                                        label_smoothing=label_smoothing, return_grad=return_grad)


def entropy(logits: ArrayLike, axis: Axis = -1, base: float | None = None) -> Reduced:
    """Entropy of softmax(logits) along `axis` in nats (base=None) or in base `base` (2: bits)."""
    return _impl(logits).entropy(logits, axis, base)


def max_num_threads() -> int:
    """The most threads set_num_threads accepts: 4 per CPU, or OpenMP's thread limit if
    smaller."""
    return _core.max_num_threads()


def set_num_threads(n: SupportsIndex) -> None:
    """Set the number of threads the native kernels may use (small inputs use one), an integer
    from 1 to max_num_threads(); anything else raises ValueError. In the child of a fork the
    kernels run on the calling thread."""
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
    """Run the block with `n` threads for the native kernels (as set_num_threads), then restore
    the previous count, also when the block raises. Yields the count.

    Example
    -------
    >>> import numpy as np, pysoftmax
    >>> with pysoftmax.threads(1):
    ...     p = pysoftmax.softmax(np.zeros((2, 3)))
    >>> p[0].tolist() == [1 / 3] * 3
    True
    """
    previous = get_num_threads()
    set_num_threads(n)
    try:
        yield get_num_threads()
    finally:
        set_num_threads(previous)


def get_num_threads() -> int:
    """The number of threads the native kernels may use."""
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
    """Print the version, the chosen instruction set, the available ones and the thread count."""
    for key, value in _config().items():
        print(f"{key:>15}: {value}")
