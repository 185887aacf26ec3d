"""Argument checks and conversions shared by the native and the reference backends.

Both backends call these, so they accept and reject exactly the same inputs and their
error messages name the same arguments.
"""

from __future__ import annotations

import math
import operator

import numpy as np

try:  # NumPy >= 2.0
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index

__all__ = [
    "as_input",
    "normalize_axes",
    "reduced_shape",
    "check_temperature",
    "broadcast_where",
    "check_out",
]

_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))


def as_input(x, name="x"):
    """Return ``(array, result_dtype)``: `x` as an array of a dtype the kernels compute in.

    float32 and float64 are kept; float16 is computed in float32 and returned as float16;
    bool and integer arrays are promoted to float64; everything else raises TypeError.
    """
    a = np.asarray(x)
    dt = a.dtype
    if dt in _NATIVE:
        return a, dt
    if dt == np.float16:
        return a.astype(np.float32), dt
    if dt.kind in "biu":
        return a.astype(np.float64), np.dtype(np.float64)
    if dt.kind == "f":
        raise TypeError(f"{name}: dtype {dt} (extended precision) is not supported; "
                        f"convert it to float64 first")
    raise TypeError(f"{name}: dtype {dt} is not supported; expected a real array "
                    f"(floating, integer or bool)")


def normalize_axes(axis, ndim, name="axis"):
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


def reduced_shape(shape, axes, keepdims=False):
    """Shape of a reduction of `shape` over `axes` (after checking the slices are not empty)."""
    k = math.prod(shape[a] for a in axes)
    if k == 0:
        raise ValueError(f"x: the reduction over axis {axes if len(axes) != 1 else axes[0]} "
                         f"of an array of shape {shape} has length 0")
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def check_temperature(temperature):
    """Return `temperature` as a float; it must be a real number, positive and finite."""
    ok = (not isinstance(temperature, (bool, np.bool_))
          and np.ndim(temperature) == 0
          and np.asarray(temperature).dtype.kind in "iuf")
    t = float(temperature) if ok else math.nan
    if not (math.isfinite(t) and t > 0.0):
        raise ValueError(f"temperature: must be a positive finite number, got {temperature!r}")
    return t


def broadcast_where(where, shape):
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


def check_out(out, shape, dtype):
    """Check that `out` can receive a result of `shape` and `dtype`."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out: expected a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"out: shape {out.shape} does not match the result's shape {tuple(shape)}")
    if out.dtype != dtype:
        raise ValueError(f"out: dtype {out.dtype} does not match the result's dtype {dtype}")
    if not out.flags.writeable:
        raise ValueError(f"out: the array of shape {out.shape} is read-only")
