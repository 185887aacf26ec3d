"""Floors: what the machine running the benchmark needs, in the same run, on the same thread
count and instruction set, to do the least an operation must do: read the logits once (and
write as many bytes), and compute one exp per logit. They are compiled code of the extension
(pysoftmax._core.floor_*), timed with the kernels, so an operation's time over its floor says how
far it is from what that machine can do; no figure from another machine enters.

A floor is an entry of FLOORS: a name (its key in the record and its column in the tables), what
it is, the operations it bounds, and a builder of the callable to time. kernels.measure times the
floors that bound a row's operation in turns with the row's libraries; the report prints every
floor a row holds and the operation's time over its limit: the larger of its memory floor and
its exp floor (limit_ns).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from pysoftmax import _core

WRITING_OPS = ("softmax", "log_softmax", "cross_entropy_with_grad")
READING_OPS = ("logsumexp", "cross_entropy")
# The exp floors' buffer: per thread this many bytes of the logits (L1-resident), as many
# times over as the row has elements.
L1_PART_BYTES = 8 << 10


@dataclasses.dataclass(frozen=True)
class Floor:
    name: str
    label: str                    # a few words: the plot's legend
    description: str              # what it does: printed under the tables, saved in the record
    build: Callable               # build(logits, threads) -> zero-argument callable to time,
                                  # which runs on `threads` (it sets pysoftmax's count)
    ops: tuple | None = None      # the operations it bounds; None: every operation
    kind: str = "memory"          # "memory" or "exp": which part of an operation's limit

    def bounds(self, op):
        return self.ops is None or op in self.ops


def _stream_copy(x, threads):
    _core.set_num_threads(threads)
    out = np.empty_like(x)
    x = np.ascontiguousarray(x)
    return lambda: _core.floor_stream_copy(x, out)


def _read(x, threads):
    _core.set_num_threads(threads)
    x = np.ascontiguousarray(x)
    return lambda: _core.floor_read_max(x)


def l1_part(x, threads):
    """The exp floors' input: the first L1_PART_BYTES per thread of x (a multiple of 64
    elements, at most x's size rounded up to 64 by repeating it), and how many passes over it
    cover x's elements."""
    flat = np.ascontiguousarray(x).reshape(-1)
    per_thread = max(64, L1_PART_BYTES // flat.itemsize // 64 * 64)
    size = min(per_thread * threads, max(64, math.ceil(flat.size / 64) * 64))
    part = np.resize(flat, size)
    return part, max(1, round(flat.size / size))


def _exp_sum(x, threads):
    _core.set_num_threads(threads)
    part, repeat = l1_part(x, threads)
    shift = float(part.max())
    return lambda: _core.floor_exp_sum(part, shift, repeat)


def _exp_store(x, threads):
    _core.set_num_threads(threads)
    part, repeat = l1_part(x, threads)
    shift, out = float(part.max()), np.empty_like(part)
    return lambda: _core.floor_exp_store(part, shift, out, repeat)


FLOORS = (
    Floor("copy", "streamed copy",
          "the logits copied into a preallocated array of their shape with the kernels' "
          "non-temporal stores: each byte read and written once (the least an operation "
          "returning an array of that shape does)",
          _stream_copy, ops=WRITING_OPS),
    Floor("read", "read",
          "the maximum of the logits: each byte read once, nothing written",
          _read, ops=READING_OPS),
    Floor("exp", "exp + sum in L1",
          "the kernels' own exp of each logit minus the maximum, summed, on an L1-resident "
          f"part ({L1_PART_BYTES >> 10} KB per thread) passed over as often as the row has "
          "elements: the least compute of any of the operations",
          _exp_sum, kind="exp"),
    Floor("exp_bare", "exp stored, in L1",
          "as exp, the exp values stored instead of summed (beside it: what the sum costs)",
          _exp_store, ops=(), kind="exp"),
)


def bounding(op):
    """The floors that bound `op`."""
    return [f for f in FLOORS if f.bounds(op)]


def describe(names):
    """One line per floor of `names` (in FLOORS' order): its name and what it is."""
    return [f"{f.name}: {f.description}" for f in FLOORS if f.name in names]


def limit_ns(op, floor_ns):
    """An operation's limit per element: the largest of its memory and exp floors that were
    measured (floor_ns: {floor name: ns/element}); None without any."""
    kinds = {f.name: f.kind for f in FLOORS if f.bounds(op)}
    values = [ns for name, ns in floor_ns.items() if name in kinds]
    return max(values) if values else None
