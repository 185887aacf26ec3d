"""What several test modules share: settings restored after a block, result checks, the
regression problem. Imported as ``helpers`` (pytest puts tests/ on sys.path)."""

import ast
import contextlib
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import numpy as np

import pysoftmax
from pysoftmax import _core, reference


@contextlib.contextmanager
def _setting(get, set_, value):
    previous = get()
    set_(value)
    try:
        yield value
    finally:
        set_(previous)


def using_isa(name):
    """Runs the block on instruction set `name`, then restores the previous one."""
    return _setting(_core.get_isa, _core.set_isa, name)


def using_threads(n):
    """Runs the block with `n` threads for the native kernels, then restores the count."""
    return pysoftmax.threads(n)


def assert_same(got, want, **tol):
    """`got` is of `want`'s kind (None, a float, or an array of its dtype and shape) and close
    to it within `tol` (rtol, atol)."""
    if want is None:
        assert got is None
        return
    if isinstance(want, float):
        assert isinstance(got, float)
    else:
        assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, **tol)


def objective(model, X, y, C, sample_weight=None):
    """SoftmaxRegression's objective sum_i s_i CE_i + ||W||^2 / (2C) at a fitted model's
    coefficients, in float64 (the intercept is not penalised)."""
    codes = np.searchsorted(model.classes_, y)
    w, b = model.coef_.astype(np.float64), model.intercept_.astype(np.float64)
    ce = reference.linear_cross_entropy(np.asarray(X, dtype=np.float64), w, b, codes,
                                        sample_weight=sample_weight, reduction="sum",
                                        return_grad=False)
    return ce + 0.5 * float(np.sum(w * w)) / C


def scaled_digits():
    """scikit-learn's digits (8x8 images, 10 classes), each feature scaled to mean 0, variance 1."""
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


# ---- the package's import graph ------------------------------------------------------------

_ROOT = Path(pysoftmax.__file__).parent
_PACKAGE = "pysoftmax"


def _modules():
    """{module name: path} of every module of the package (compiled ones too, as a leaf)."""
    out = {}
    for path in _ROOT.rglob("*"):
        suffix = next((s for s in (".py", *EXTENSION_SUFFIXES) if path.name.endswith(s)), None)
        if suffix is None:
            continue
        parts = list(path.relative_to(_ROOT.parent).parts)
        parts[-1] = parts[-1][:-len(suffix)]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name, path, modules):
    """The package's modules that `name` imports anywhere in its source."""
    if path.suffix != ".py":
        return set()
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    found = set()

    def add(target):
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == _PACKAGE:
                    add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = ".".join(base[:len(base) - node.level + 1])
                module = f"{parent}.{node.module}" if node.module else parent
            elif (node.module or "").split(".")[0] == _PACKAGE:
                module = node.module
            else:
                continue
            for alias in node.names:
                # `from . import x` names a module; `from .m import f` names m.
                full = f"{module}.{alias.name}"
                add(full if full in modules else module)
    return found


def find_cycle(graph):
    """A list of modules forming a cycle, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def import_graph():
    """{module of pysoftmax: the modules of pysoftmax it imports}, module-level and function-level
    imports alike, read from the sources (ast)."""
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}
