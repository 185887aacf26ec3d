"""Pictures of a softmax regression: each class's weights as an image ("templates"), and the
training curve. matplotlib is an optional extra (``pip install pysoftmax[plot]``).

Both functions build a :class:`matplotlib.figure.Figure` without pyplot, so they touch no global
state and need no display: save the figure with ``fig.savefig(path)``, or show it in a notebook.
"""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any, SupportsIndex

    from matplotlib.figure import Figure

__all__ = ["plot_templates", "plot_loss_curve"]


def _figure(function: str, **kwargs: Any) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError(f"{function} needs matplotlib, an optional dependency of pysoftmax: "
                          f"pip install 'pysoftmax[plot]' (or pip install matplotlib)") from e
    return Figure(**kwargs)


def _image_shape(image_shape: Sequence[SupportsIndex], d: int) -> tuple[int, ...]:
    try:
        shape = tuple(operator.index(n) for n in image_shape)
    except TypeError:
        raise TypeError(f"image_shape: expected a tuple of ints such as (8, 8), "
                        f"got {image_shape!r}") from None
    if (len(shape) not in (2, 3) or any(n < 1 for n in shape)
            or (len(shape) == 3 and shape[2] not in (3, 4))):
        raise ValueError(f"image_shape: expected (height, width) or (height, width, 3 or 4) "
                         f"with positive sizes, got {shape}")
    if math.prod(shape) != d:
        raise ValueError(f"image_shape: {shape} holds {math.prod(shape)} values but each "
                         f"template has {d} (coef shape (K, {d}))")
    return shape


def plot_templates(model_or_coef: Any, image_shape: Sequence[SupportsIndex], *,
                   class_names: Iterable[object] | None = None, ncols: SupportsIndex | None = None,
                   cmap: str = "RdBu_r") -> Figure:
    """Draw each class's weights as an image: one panel per row of ``coef`` (K, d).

    Each template has its own colour scale, symmetric around 0: with the default `cmap`, red
    pixels raise the class's score and blue ones lower it. RGB(A) image shapes show the weights
    rescaled to [0, 1]. The figure is built without pyplot (no global state, no display needed).
    Needs matplotlib (``pip install 'pysoftmax[plot]'``).

    Parameters
    ----------
    model_or_coef : estimator or array_like
        A fitted model with ``coef_`` (K, d) (its ``classes_``, when present, name the panels),
        or a (K, d) array of real weights. A sparse ``coef_`` (after ``sparsify()``) is accepted.
    image_shape : tuple of int
        (height, width) or (height, width, 3 or 4), holding d values.
    class_names : iterable, optional
        K panel titles; default: the model's ``classes_``, or 0 to K - 1.
    ncols : int, optional
        Panels per row; default: min(K, 10).
    cmap : str, default="RdBu_r"
        The matplotlib colormap of (height, width) images.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; save it with ``fig.savefig(path)``.

    Raises
    ------
    ValueError
        If the model is not fitted, the weights are not a (K, d) real array, `image_shape` is
        invalid or does not hold d values, `class_names` has not K names, or `ncols` < 1.
    TypeError
        If `image_shape` is not a tuple of integers.
    ImportError
        If matplotlib is not installed.

    See Also
    --------
    plot_loss_curve : The training curve of a fitted model.
    SoftmaxRegression : A model whose ``coef_`` rows are such templates.

    Examples
    --------
    >>> import numpy as np
    >>> import pysoftmax as ps
    >>> coef = np.random.default_rng(0).standard_normal((3, 64))
    >>> fig = ps.plot_templates(coef, (8, 8), class_names=["a", "b", "c"])
    >>> [ax.get_title() for ax in fig.axes]
    ['a', 'b', 'c']
    """
    coef = getattr(model_or_coef, "coef_", model_or_coef)
    if coef is model_or_coef and hasattr(model_or_coef, "fit"):
        raise ValueError("model_or_coef: the model is not fitted (no coef_); call fit first")
    if hasattr(coef, "toarray"):                       # a sparsified model's scipy.sparse coef_
        coef = coef.toarray()
    coef = np.asarray(coef)
    if coef.ndim != 2 or coef.shape[0] < 1 or coef.dtype.kind not in "iuf":
        raise ValueError(f"model_or_coef: expected a (K, d) array of real weights or a fitted "
                         f"model with coef_, got an array of shape {coef.shape} and dtype "
                         f"{coef.dtype}")
    k, d = coef.shape
    shape = _image_shape(image_shape, d)
    if class_names is None:
        class_names = getattr(model_or_coef, "classes_", range(k))
    names = [str(c) for c in class_names]
    if len(names) != k:
        raise ValueError(f"class_names: expected {k} names, one per row of coef (shape "
                         f"{coef.shape}), got {len(names)}")
    ncols = min(k, 10) if ncols is None else operator.index(ncols)
    if ncols < 1:
        raise ValueError(f"ncols: must be >= 1, got {ncols}")
    nrows = math.ceil(k / ncols)
    fig = _figure("plot_templates", figsize=(1.3 * ncols + 0.4, 1.5 * nrows + 0.4),
                  layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, w, name in zip(axes, coef.astype(np.float64), names):
        img = w.reshape(shape)
        if len(shape) == 2:
            lim = float(np.max(np.abs(img))) or 1.0
            ax.imshow(img, cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
        else:
            lo, hi = float(img.min()), float(img.max())
            ax.imshow((img - lo) / ((hi - lo) or 1.0), interpolation="nearest")
        ax.set_title(name, fontsize="small")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[k:]:
        ax.set_visible(False)
    fig.suptitle("class templates (rows of coef_)", fontsize="medium")
    return fig


def plot_loss_curve(model: Any) -> Figure:
    """Plot a fitted model's training objective per iteration or epoch.

    Draws ``loss_curve_`` (log scale when every value is positive) and, when early stopping
    recorded them, the validation scores per epoch (``validation_scores_``) on a second axis. The
    figure is built without pyplot. Needs matplotlib (``pip install 'pysoftmax[plot]'``).

    Parameters
    ----------
    model : estimator
        A fitted model with ``loss_curve_``, such as :class:`SoftmaxRegression`; its ``solver``,
        when present, labels the x axis (epochs for "sgd", iterations otherwise).

    Returns
    -------
    matplotlib.figure.Figure
        The figure; save it with ``fig.savefig(path)``.

    Raises
    ------
    ValueError
        If the model has no ``loss_curve_`` (not fitted) or it is empty or not 1-D.
    ImportError
        If matplotlib is not installed.

    See Also
    --------
    plot_templates : The weights of each class as images.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> import pysoftmax as ps
    >>> X, y = load_iris(return_X_y=True)
    >>> model = ps.SoftmaxRegression(max_iter=200).fit(X, y)
    >>> fig = ps.plot_loss_curve(model)
    >>> fig.axes[0].get_xlabel()
    'iteration'
    """
    curve = getattr(model, "loss_curve_", None)
    if curve is None:
        raise ValueError("model: no loss_curve_; fit the model first")
    curve = np.asarray(curve, dtype=np.float64)
    if curve.ndim != 1 or curve.size == 0:
        raise ValueError(f"model: loss_curve_ must be a non-empty sequence, "
                         f"got shape {curve.shape}")
    fig = _figure("plot_loss_curve", figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    x = np.arange(1, curve.size + 1)
    ax.plot(x, curve, color="C0", label="objective")
    if np.all(curve[np.isfinite(curve)] > 0):
        ax.set_yscale("log")
    solver = getattr(model, "solver", None)
    ax.set(xlabel="epoch" if solver in ("sgd",) else "iteration", ylabel="objective",
           title=f"{type(model).__name__}" + (f" ({solver})" if solver else ""))
    ax.grid(True, alpha=0.3)
    scores = getattr(model, "validation_scores_", None)
    if scores is not None and len(scores):
        ax2 = ax.twinx()
        ax2.plot(np.arange(1, len(scores) + 1), scores, color="C1", label="validation score")
        ax2.set_ylabel("validation score")
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax.legend(handles, [h.get_label() for h in handles], loc="center right")
    return fig
