"""The libraries pysoftmax is timed against, one call of an operation by each, and what the
machine is: the installed versions, the CPU model and its cache sizes."""

from __future__ import annotations

import importlib
import os
import platform
import sys

import pysoftmax
import pysoftmax.reference

OPS = ("softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_with_grad")
LIBRARIES = ("pysoftmax", "reference", "scipy", "torch", "sklearn")
# The module each library needs (what `pytest.importorskip` and the command try to import).
MODULES = {"pysoftmax": "pysoftmax", "reference": "pysoftmax.reference",
           "scipy": "scipy.special", "torch": "torch", "sklearn": "sklearn._loss.loss"}
# NumPy runs them on one thread, whatever the thread count of the run.
SINGLE_THREADED = ("reference", "scipy")
# How kernel() calls get their outputs, the same for every library (the tables' headers say it).
OUTPUTS = "every library allocates its outputs in each call (no out=)"


def threads_of(library, threads):
    """The threads `library` runs on in a run at `threads`."""
    return 1 if library in SINGLE_THREADED else threads


def label(library, threads):
    """The library's name in a table at `threads`: "(1 thread)" after a single-threaded one
    when the run uses more."""
    return f"{library} (1 thread)" if library in SINGLE_THREADED and threads > 1 else library
SUPPORTED = {
    "pysoftmax": OPS,
    "reference": OPS,
    "scipy": ("softmax", "log_softmax", "logsumexp"),
    "torch": OPS,
    "sklearn": ("cross_entropy_with_grad",),   # HalfMultinomialLoss.loss_gradient, labels only
}


def kernel(op, library, data, threads):
    """A zero-argument callable running `op` once with `library` on `data` (logits and target,
    a kernels.Inputs).

    Every library allocates its outputs in each call (OUTPUTS): none is given a preallocated
    output, so that the rows compare like with like. Everything else that is not the call
    itself (conversions of the inputs) is done here, and so is the thread count:
    pysoftmax.set_num_threads and torch.set_num_threads are set to `threads` (process-wide),
    sklearn gets it as n_threads; the reference and scipy run on one thread. Raises
    ImportError if the library is not installed, ValueError if it does not offer `op` (or soft
    targets, for sklearn).
    """
    if op not in OPS:
        raise ValueError(f"op: unknown operation {op!r}; expected one of {', '.join(OPS)}")
    if library not in LIBRARIES:
        raise ValueError(f"library: unknown library {library!r}; expected one of "
                         f"{', '.join(LIBRARIES)}")
    if op not in SUPPORTED[library]:
        raise ValueError(f"library: {library} has no {op}")
    if threads < 1:
        raise ValueError(f"threads: must be >= 1, got {threads}")
    return _BUILDERS[library](op, data, threads)


def _numpy_api(module):
    """pysoftmax and its reference have the same API."""
    def build(op, data, threads):
        if module is pysoftmax:
            pysoftmax.set_num_threads(threads)
        x, t = data.logits, data.target
        if op == "softmax":
            return lambda: module.softmax(x)
        if op == "log_softmax":
            return lambda: module.log_softmax(x)
        if op == "logsumexp":
            return lambda: module.logsumexp(x)
        if op == "cross_entropy":
            return lambda: module.cross_entropy(x, t)
        return lambda: module.cross_entropy_with_grad(x, t)
    return build


def _scipy(op, data, threads):
    import scipy.special

    fn, x = getattr(scipy.special, op), data.logits
    return lambda: fn(x, axis=-1)


def _torch(op, data, threads):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    x, t = torch.from_numpy(data.logits), torch.from_numpy(data.target)
    if op == "softmax":
        return lambda: torch.softmax(x, dim=-1)
    if op == "log_softmax":
        return lambda: torch.log_softmax(x, dim=-1)
    if op == "logsumexp":
        return lambda: torch.logsumexp(x, dim=-1)
    if op == "cross_entropy":
        return lambda: F.cross_entropy(x, t)
    leaf = torch.from_numpy(data.logits).requires_grad_()

    def forward_backward():
        leaf.grad = None
        loss = F.cross_entropy(leaf, t)
        loss.backward()
        return loss, leaf.grad
    return forward_backward


def _sklearn(op, data, threads):
    from sklearn._loss.loss import HalfMultinomialLoss

    if data.soft:
        raise ValueError("data: sklearn's HalfMultinomialLoss takes class labels, "
                         "not probabilities")
    x = data.logits
    loss = HalfMultinomialLoss(n_classes=x.shape[1])
    labels = data.target.astype(x.dtype)
    # loss_out and gradient_out left to None: it allocates them in each call, as the others
    return lambda: loss.loss_gradient(y_true=labels, raw_prediction=x, n_threads=threads)


_BUILDERS = {"pysoftmax": _numpy_api(pysoftmax), "reference": _numpy_api(pysoftmax.reference),
             "scipy": _scipy, "torch": _torch, "sklearn": _sklearn}


def installed_libraries():
    """{library: version} for each library that imports, and the list of those that do not."""
    versions, missing = {}, []
    for library in LIBRARIES:
        try:
            importlib.import_module(MODULES[library])
        except ImportError:
            missing.append(library)
            continue
        top = "pysoftmax" if library == "reference" else library
        versions[library] = sys.modules[top].__version__
    return versions, missing


def cpu_model():
    """The model name in /proc/cpuinfo with its family and model numbers, else what platform
    says."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if not key.strip():
                    break                              # the end of the first processor
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    if "model name" not in fields:
        return platform.processor() or platform.machine() or "unknown CPU"
    if "cpu family" in fields and "model" in fields:
        return f"{fields['model name']} (family {fields['cpu family']} model {fields['model']})"
    return fields["model name"]


_CACHE_DIR = "/sys/devices/system/cpu/cpu0/cache"
_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def cache_sizes(root=_CACHE_DIR):
    """{"L1d": bytes, "L1i": ..., "L2": ..., "L3": ...}: the caches of the first CPU as Linux
    reports them (sysfs), or {} where it does not."""
    sizes = {}
    try:
        entries = sorted(e for e in os.listdir(root) if e.startswith("index"))
    except OSError:
        return sizes
    for entry in entries:
        try:
            fields = {}
            for name in ("level", "type", "size"):
                with open(os.path.join(root, entry, name)) as f:
                    fields[name] = f.read().strip()
            size = fields["size"]
            nbytes = int(size[:-1]) * _UNITS[size[-1]] if size[-1] in _UNITS else int(size)
        except (OSError, ValueError, KeyError, IndexError):
            continue
        kind = {"Data": "d", "Instruction": "i"}.get(fields["type"], "")
        sizes[f"L{fields['level']}{kind}"] = nbytes
    return sizes
