"""The package's import graph has no cycle: module-level and function-level imports alike,
read from the sources (ast), so that a module can be read and tested below the ones that use
it."""

import ast
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pysoftmax

ROOT = Path(pysoftmax.__file__).parent
PACKAGE = "pysoftmax"


def _modules():
    """{module name: path} of every module of the package (compiled ones too, as a leaf)."""
    out = {}
    for path in ROOT.rglob("*"):
        suffix = next((s for s in (".py", *EXTENSION_SUFFIXES) if path.name.endswith(s)), None)
        if suffix is None:
            continue
        parts = list(path.relative_to(ROOT.parent).parts)
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
                if alias.name.split(".")[0] == PACKAGE:
                    add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = ".".join(base[:len(base) - node.level + 1])
                module = f"{parent}.{node.module}" if node.module else parent
            elif (node.module or "").split(".")[0] == PACKAGE:
                module = node.module
            else:
                continue
            for alias in node.names:
                # `from . import x` names a module; `from .m import f` names m.
                full = f"{module}.{alias.name}"
                add(full if full in modules else module)
    return found


def _cycle(graph):
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


def test_the_package_has_no_import_cycle():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert "pysoftmax._native" in graph["pysoftmax"]      # the graph is read at all
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
