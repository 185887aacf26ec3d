"""The public API's docstrings: numpydoc-valid (a one-line summary, Parameters, Returns or
Yields, Raises, Examples, no prose parsed as parameters), and their Examples pass as doctests.

PUBLIC, every public object, is built from pysoftmax.__all__, pysoftmax.special.__all__,
pysoftmax.reference.__all__ and the list of SoftmaxRegression's public methods, which
test_public_lists_every_public_object compares with the methods the class defines: a new
public function or method cannot go undocumented.
"""

import doctest
import importlib
import io

import numpy as np
import pytest

import pysoftmax
from pysoftmax import reference, special

_MODULES = {"reference", "special", "__version__"}    # in pysoftmax.__all__, not functions
_REGRESSION_METHODS = ("fit", "partial_fit", "decision_function", "predict", "predict_proba",
                       "predict_log_proba", "score")

PUBLIC = (
    [f"pysoftmax.{name}" for name in pysoftmax.__all__ if name not in _MODULES]
    + [f"pysoftmax.special.{name}" for name in special.__all__]
    + [f"pysoftmax.reference.{name}" for name in reference.__all__]
    + ["pysoftmax.SoftmaxRegression"]
    + [f"pysoftmax.SoftmaxRegression.{name}" for name in _REGRESSION_METHODS]
)

# The optional packages that an object, or the Examples of its docstring, need.
_NEEDS = {
    "pysoftmax.plot_templates": ("matplotlib",),
    "pysoftmax.plot_loss_curve": ("matplotlib", "sklearn"),
    "pysoftmax.linear_cross_entropy": ("scipy",),
}

# numpydoc's checks that are not required: ES01 (an extended summary, which a short function
# does not need) and SA01 (a See Also section, given where it helps).
_NOT_REQUIRED = {"ES01", "SA01"}

# numpy's default print options, for the printed arrays of the Examples.
_PRINT_DEFAULTS = dict(precision=8, threshold=1000, edgeitems=3, linewidth=75, suppress=False,
                       nanstr="nan", infstr="inf", sign="-", floatmode="maxprec", legacy=False)


def _needs(name):
    needs = _NEEDS.get(name, ())
    if name.startswith("pysoftmax.SoftmaxRegression"):
        needs += ("sklearn", "scipy")
    for package in needs:
        pytest.importorskip(package)


def _resolve(name):
    """The object a name of PUBLIC names."""
    estimator = "pysoftmax.SoftmaxRegression"
    if name.startswith(estimator):
        cls, method = pysoftmax.SoftmaxRegression, name[len(estimator) + 1:]
        return getattr(cls, method) if method else cls
    module_name, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


def test_public_lists_every_public_object():
    pytest.importorskip("sklearn")
    defined = {name for name, value in vars(pysoftmax.SoftmaxRegression).items()
               if callable(value) and not name.startswith("_")}
    assert defined == set(_REGRESSION_METHODS)
    assert len(PUBLIC) == len(set(PUBLIC))
    for name in PUBLIC:
        assert _resolve(name).__doc__, name


@pytest.mark.parametrize("name", PUBLIC)
def test_docstring_is_numpydoc_valid(name):
    validate = pytest.importorskip("numpydoc.validate")
    _needs(name)
    result = validate.validate(name)
    errors = [f"{code}: {message}" for code, message in result["errors"]
              if code not in _NOT_REQUIRED]
    assert not errors, f"{name}:\n" + "\n".join(errors)


@pytest.mark.parametrize("name", PUBLIC)
def test_docstring_examples_pass(name):
    _needs(name)
    obj = _resolve(name)
    tests = [t for t in doctest.DocTestFinder(recurse=False).find(obj, name, globs={})
             if t.examples]
    assert tests, f"{name}: no Examples"
    runner = doctest.DocTestRunner()
    report = io.StringIO()
    with np.printoptions(**_PRINT_DEFAULTS):
        for test in tests:
            runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()


def test_a_failing_example_fails():
    def f():
        """Add.

        >>> 1 + 1
        3
        """

    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder(recurse=False).find(f, "f", globs={}):
        runner.run(test, out=io.StringIO().write)
    assert runner.failures == 1
