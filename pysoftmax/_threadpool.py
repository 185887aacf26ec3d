"""pysoftmax's thread pool under threadpoolctl: a controller (threadpoolctl's LibController) for
the compiled module, registered when pysoftmax is imported (register_controller), so that
``threadpool_info()`` lists the pool and ``threadpool_limits(n)`` limits it, as it does the
OpenMP and BLAS pools.

The pool is listed with ``user_api="openmp"`` and ``internal_api="pysoftmax"``: like an OpenMP
runtime it takes its default size from ``OMP_NUM_THREADS``, and ``threadpool_limits(n)`` as well
as ``threadpool_limits(n, user_api="openmp")`` limit it (``user_api="blas"`` does not). The
controller reads and sets the count through two C functions of the module (csrc/runtime.h),
called with ctypes; a limit above ``max_num_threads()`` sets the maximum.
"""

from __future__ import annotations

import ctypes

from . import _core
from ._version import __version__

_SYMBOLS = ("pysoftmax_get_num_threads", "pysoftmax_set_num_threads")

try:
    from threadpoolctl import LibController, register
except ImportError:  # pragma: no cover - threadpoolctl is a dependency; older ones lack these
    LibController = register = None

_registered = False


def register_controller():
    """Registers PysoftmaxController with threadpoolctl, once (no scan of the libraries)."""
    global _registered
    if register is not None and not _registered:
        register(PysoftmaxController)
        _registered = True


if LibController is not None:

    class PysoftmaxController(LibController):
        """threadpoolctl's view of pysoftmax's thread pool (pysoftmax.get_num_threads)."""

        user_api = "openmp"
        internal_api = "pysoftmax"
        filename_prefixes = ("_core",)     # the module's file: _core.cpython-*.so
        check_symbols = _SYMBOLS           # another library named _core* has not these

        def _function(self, name):
            f = getattr(self.dynlib, name, None)
            if f is not None:
                f.restype = ctypes.c_int
            return f

        def get_num_threads(self):
            f = self._function("pysoftmax_get_num_threads")
            return None if f is None else f()

        def set_num_threads(self, num_threads):
            f = self._function("pysoftmax_set_num_threads")
            if f is None:
                return None
            n = min(max(int(num_threads), 1), _core.max_num_threads())
            return f(ctypes.c_int(n))

        def get_version(self):
            return __version__ if self._function(_SYMBOLS[0]) is not None else None
