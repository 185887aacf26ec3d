"""The package's import graph has no cycle: module-level and function-level imports alike,
read from the sources (ast), so that a module can be read and tested below the ones that use
it."""

from helpers import find_cycle, import_graph


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert "pysoftmax._native" in graph["pysoftmax"]      # the graph is read at all
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
