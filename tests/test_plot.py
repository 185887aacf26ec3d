"""plot_templates and plot_loss_curve: figures built without pyplot, their checks, and the
message when matplotlib is missing."""

import sys
import types

import numpy as np
import pytest

import pysoftmax

matplotlib = pytest.importorskip("matplotlib")


class Fitted:
    """What the functions read of a fitted model."""

    def __init__(self, coef, classes=None, curve=None, scores=None, solver=None):
        self.coef_ = coef
        if classes is not None:
            self.classes_ = classes
        if curve is not None:
            self.loss_curve_ = curve
        if scores is not None:
            self.validation_scores_ = scores
        if solver is not None:
            self.solver = solver

    def fit(self, X, y):  # pragma: no cover - only its presence matters
        return self


def _image(fig, i):
    return fig.axes[i].get_images()[0].get_array()


def test_templates_show_each_row_as_an_image(rng):
    coef = rng.standard_normal((10, 64))
    fig = pysoftmax.plot_templates(coef, (8, 8))
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 10
    for i in range(10):
        np.testing.assert_array_equal(_image(fig, i), coef[i].reshape(8, 8))
        lo, hi = fig.axes[i].get_images()[0].get_clim()
        assert lo == -hi == -np.abs(coef[i]).max()     # symmetric around 0, per template
    assert [ax.get_title() for ax in fig.axes] == [str(i) for i in range(10)]


def test_templates_from_a_model_use_its_classes(rng, tmp_path):
    model = Fitted(rng.standard_normal((3, 12)).astype(np.float32),
                   classes=np.array(["a", "b", "c"]))
    fig = pysoftmax.plot_templates(model, (3, 4), ncols=2)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["a", "b", "c"]
    assert len(fig.axes) == 4                                   # a 2x2 grid, one hidden
    fig.savefig(tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 0
    named = pysoftmax.plot_templates(model, (3, 4), class_names=["x", "y", "z"])
    assert [ax.get_title() for ax in named.axes[:3]] == ["x", "y", "z"]


def test_templates_rgb(rng):
    coef = rng.standard_normal((2, 4 * 5 * 3))
    fig = pysoftmax.plot_templates(coef, (4, 5, 3))
    img = np.asarray(_image(fig, 0))
    assert img.shape == (4, 5, 3) and img.min() == 0 and img.max() == 1


@pytest.mark.parametrize("args, error, match", [
    ((np.ones((2, 10)), (3, 3)), ValueError,
     r"image_shape: \(3, 3\) holds 9 values but each template has 10"),
    ((np.ones((2, 9)), (3, 3, 2)), ValueError, "image_shape: expected"),
    ((np.ones((2, 9)), "3x3"), TypeError, "image_shape: expected a tuple"),
    ((np.ones(9), (3, 3)), ValueError, r"model_or_coef: expected a \(K, d\) array .* shape \(9,\)"),
    ((np.ones((2, 9), dtype=complex), (3, 3)), ValueError, "model_or_coef"),
])
def test_templates_errors(args, error, match):
    with pytest.raises(error, match=match):
        pysoftmax.plot_templates(*args)


def test_templates_errors_of_models_and_names(rng):
    class Unfitted:
        def fit(self, X, y):  # pragma: no cover
            return self

    with pytest.raises(ValueError, match="not fitted"):
        pysoftmax.plot_templates(Unfitted(), (2, 2))
    with pytest.raises(ValueError, match="class_names: expected 2 names"):
        pysoftmax.plot_templates(np.ones((2, 4)), (2, 2), class_names=["a"])
    with pytest.raises(ValueError, match="ncols"):
        pysoftmax.plot_templates(np.ones((2, 4)), (2, 2), ncols=0)


def test_loss_curve(rng):
    curve = np.exp(-np.arange(20) / 5.0) + 0.1
    fig = pysoftmax.plot_loss_curve(Fitted(np.ones((2, 2)), curve=curve, solver="lbfgs"))
    (line,) = fig.axes[0].get_lines()
    np.testing.assert_array_equal(line.get_ydata(), curve)
    assert fig.axes[0].get_yscale() == "log" and fig.axes[0].get_xlabel() == "iteration"
    with_scores = pysoftmax.plot_loss_curve(
        Fitted(np.ones((2, 2)), curve=curve, scores=np.linspace(0.5, 0.9, 20), solver="sgd"))
    assert len(with_scores.axes) == 2 and with_scores.axes[0].get_xlabel() == "epoch"
    with pytest.raises(ValueError, match="no loss_curve_"):
        pysoftmax.plot_loss_curve(Fitted(np.ones((2, 2))))


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    blocked = types.ModuleType("matplotlib")           # a module without .figure
    blocked.__path__ = []
    monkeypatch.setitem(sys.modules, "matplotlib", blocked)
    with pytest.raises(ImportError, match=r"pip install 'pysoftmax\[plot\]'"):
        pysoftmax.plot_templates(np.ones((2, 4)), (2, 2))


def test_templates_of_a_sparsified_model():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    model = pysoftmax.SoftmaxRegression(C=0.01).fit(X[:300], y[:300]).sparsify()
    fig = pysoftmax.plot_templates(model, (8, 8))
    dense = pysoftmax.plot_templates(model.densify(), (8, 8))
    got = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    want = [ax.images[0].get_array() for ax in dense.axes if ax.images]
    assert len(got) == 10 and all(np.array_equal(a, b) for a, b in zip(got, want))
