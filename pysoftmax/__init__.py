"""pysoftmax: fast and accurate softmax, log_softmax and logsumexp on the CPU.

The functions follow NumPy conventions (any array-like, any axis or tuple of axes, any layout)
and are computed by a C++ core with per-instruction-set kernels chosen at import.
``pysoftmax.reference`` holds the same functions in plain NumPy; ``use_backend("reference")``
switches the top-level functions to it.
"""

from __future__ import annotations

import contextlib
import contextvars
import operator
import os

from . import _core, _native, reference
from ._version import __version__

__all__ = [
    "softmax",
    "log_softmax",
    "logsumexp",
    "reference",
    "use_backend",
    "show_config",
    "set_num_threads",
    "get_num_threads",
    "__version__",
]

_forced_isa = os.environ.get("PYSOFTMAX_ISA", "").strip().lower()
if _forced_isa not in ("", "auto"):
    try:
        _core.set_isa(_forced_isa)
    except ValueError as e:
        raise RuntimeError(f"PYSOFTMAX_ISA={_forced_isa}: {e}") from None

_BACKENDS = {"native": _native, "reference": reference}
_backend = contextvars.ContextVar("pysoftmax_backend", default="native")


@contextlib.contextmanager
def use_backend(name):
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


def _impl():
    return _BACKENDS[_backend.get()]


def softmax(x, axis=-1, *, temperature=1.0, where=None, out=None):
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
    return _impl().softmax(x, axis, temperature=temperature, where=where, out=out)


def log_softmax(x, axis=-1, *, temperature=1.0, where=None, out=None):
    """Logarithm of softmax, computed from the logits: z - max(z) - log(sum(exp(z - max(z)))).

    Same arguments as :func:`softmax`; masked entries and empty slices get -inf.
    """
    return _impl().log_softmax(x, axis, temperature=temperature, where=where, out=out)


def logsumexp(x, axis=-1, *, where=None, keepdims=False):
    """log(sum(exp(x))) along `axis`, without overflow (the log-partition function).

    A slice holding NaN gives NaN, one holding +inf gives +inf, one of all -inf (or with no
    True entry in `where`) gives -inf. Returns a NumPy scalar for a full reduction.
    """
    return _impl().logsumexp(x, axis, where=where, keepdims=keepdims)


def set_num_threads(n):
    """Set the number of threads the native kernels may use (small inputs use one)."""
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"n: the number of threads must be >= 1, got {n}")
    _core.set_num_threads(n)


def get_num_threads():
    """The number of threads the native kernels may use."""
    return _core.get_num_threads()


def _config():
    import numpy

    return {
        "pysoftmax": __version__,
        "numpy": numpy.__version__,
        "isa": _core.get_isa(),
        "available isas": ", ".join(_core.available_isas()),
        "compiled isas": ", ".join(_core.compiled_isas()),
        "cpu features": ", ".join(sorted(_core.cpu_features())) or "(none detected)",
        "threads": _core.get_num_threads(),
        "openmp": _core.openmp,
        "backend": _backend.get(),
    }


def show_config():
    """Print the version, the chosen instruction set, the available ones and the thread count."""
    for key, value in _config().items():
        print(f"{key:>15}: {value}")
