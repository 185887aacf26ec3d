"""Floors: what the machine running the benchmark needs, in the same run and on the same inputs,
to do the least an operation must do with the logits (read them, or read them and write as many
bytes). An operation's time over its floor says how far it is from what that machine can do.

A floor is an entry of FLOORS: a name (its key in the record and its column in the tables), what
it is, the operations it bounds, and a builder of the callable to time. kernels.measure times the
floors that bound a row's operation with the row's libraries, in turns; the report prints every
floor a row holds. So a floor added here (a native copy with non-temporal stores, the kernels'
own exp) appears in the tables, the JSON record and the plot without other changes.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class Floor:
    name: str
    label: str                    # a few words: the plot's legend
    description: str              # what it does: printed under the tables, saved in the record
    build: Callable               # build(logits, threads) -> zero-argument callable to time
    ops: tuple | None = None   # the operations it bounds; None: every operation
    single_threaded: bool = True  # runs on one thread whatever the run's thread count

    def bounds(self, op):
        return self.ops is None or op in self.ops


def _numpy_copy(x, threads):
    out = np.empty_like(x)
    return lambda: np.copyto(out, x)


def _numpy_read(x, threads):
    return lambda: np.max(x)


FLOORS = (
    Floor("copy", "NumPy copyto, 1 thread",
          "NumPy's np.copyto of the logits into a preallocated array of their shape, one "
          "thread: each byte read and written once (the least an operation returning an array "
          "of that shape does)",
          _numpy_copy, ops=("softmax", "log_softmax", "cross_entropy_with_grad")),
    Floor("read", "NumPy max, 1 thread",
          "NumPy's max over the logits, one thread: each byte read once, nothing written",
          _numpy_read),
)


def bounding(op):
    """The floors that bound `op`."""
    return [f for f in FLOORS if f.bounds(op)]


def describe(names):
    """One line per floor of `names` (in FLOORS' order): its name and what it is."""
    return [f"{f.name}: {f.description}" for f in FLOORS if f.name in names]
