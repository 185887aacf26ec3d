"""``python -m pysoftmax demo``: the API in a few lines, softmax regression on scikit-learn's
digits against LogisticRegression, and a timing of the kernels against the NumPy reference."""

from __future__ import annotations

import importlib
import os
import time

import numpy as np

import pysoftmax
from pysoftmax.bench.timing import median_seconds


def _digits_comparison(out, repeat):
    """SoftmaxRegression's solvers against LogisticRegression on scikit-learn's digits (fit
    times: medians of `repeat` after one untimed fit); writes templates.png and loss_curve.png
    into `out` (a directory)."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from pysoftmax import SoftmaxRegression

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    n, C = len(y_train), 0.1
    print(f"\n-- softmax regression on scikit-learn's digits: {n} training and {len(y_test)} "
          f"test images of 8x8 pixels, standardised, 10 classes, C = {C} --")

    def stream(model):
        chunks = np.array_split(np.arange(n), 10)
        for _ in range(30):
            for rows in chunks:
                model.partial_fit(X_train[rows], y_train[rows], classes=np.arange(10))
        return model

    trainers = [
        ("SoftmaxRegression lbfgs", lambda: SoftmaxRegression(C=C).fit(X_train, y_train)),
        ("SoftmaxRegression gd", lambda: SoftmaxRegression(C=C, solver="gd", max_iter=300)
         .fit(X_train, y_train)),
        ("SoftmaxRegression sgd", lambda: SoftmaxRegression(C=C, solver="sgd", max_iter=300,
                                                            random_state=0).fit(X_train, y_train)),
        ("  partial_fit 10 chunks x 30", lambda: stream(
            SoftmaxRegression(C=C, random_state=0, stream_size=n))),
        ("LogisticRegression (lbfgs)", lambda: LogisticRegression(C=C).fit(X_train, y_train)),
        ("SoftmaxRegression lbfgs C=0.01", lambda: SoftmaxRegression(C=0.01)
         .fit(X_train, y_train)),
    ]
    print(f"{'':<32}{'test accuracy':>14}{'fit time':>11}{'iterations':>12}"
          f"{'objective':>12}")
    models = {}
    for name, fit in trainers:
        fitted = []
        seconds = median_seconds(lambda fit=fit, fitted=fitted: fitted.append(fit()), repeat,
                                 0.0)
        model = models[name] = fitted[-1]
        w, b = model.coef_.astype(np.float64), model.intercept_.astype(np.float64)
        c = 0.01 if name.endswith("C=0.01") else C
        value = (pysoftmax.linear_cross_entropy(X_train, w, b, y_train, reduction="sum",
                                                return_grad=False)
                 + 0.5 * float(np.sum(w * w)) / c)
        print(f"{name:<32}{model.score(X_test, y_test):>14.4f}{seconds * 1e3:>8.1f} ms"
              f"{int(np.max(model.n_iter_)):>12d}{value:>12.4f}")
    print(f"(objective: sum of the training cross-entropies + ||W||^2 / (2C); iterations: "
          f"epochs for sgd, calls for partial_fit; fit time: median of {repeat})")

    templates = pysoftmax.plot_templates(models["SoftmaxRegression lbfgs C=0.01"], (8, 8))
    templates.suptitle("class templates: rows of coef_, SoftmaxRegression(C=0.01) on "
                       "standardised digits (red raises the class's score, blue lowers it)",
                       fontsize="medium")
    curve = pysoftmax.plot_loss_curve(models["SoftmaxRegression sgd"])
    ax = curve.axes[0]
    ax.lines[0].set_label("sgd (epochs)")
    for name, color in (("gd", "C2"), ("lbfgs", "C3")):
        values = models[f"SoftmaxRegression {name}"].loss_curve_
        ax.plot(np.arange(1, len(values) + 1), values, color=color, label=f"{name} (iterations)")
    ax.set(xlabel="epoch or iteration (one pass over the data each; lbfgs's may take more)",
           ylabel="objective / n", title=f"SoftmaxRegression on digits, C = {C}")
    ax.legend()
    paths = [os.path.join(out, name) for name in ("templates.png", "loss_curve.png")]
    templates.savefig(paths[0], dpi=110)
    curve.savefig(paths[1], dpi=110)
    print(f"wrote {paths[0]} (each class's weights as an 8x8 image; C=0.01's penalty draws "
          f"them towards the class's mean image, C=0.1's are sharper but noisier) and "
          f"{paths[1]} (the objective per epoch or iteration of sgd, gd and lbfgs)")


def _kernel_table(shapes, repeat):
    rng = np.random.default_rng(0)
    print(f"\n-- kernels against the NumPy reference: float32, {pysoftmax.get_num_threads()} "
          f"thread(s), median of {repeat} --")
    print(f"{'function':<26}{'shape':>14}{'pysoftmax':>12}{'numpy':>12}{'speed-up':>10}"
          f"{'ns/element':>12}")
    first = None
    for n, k in shapes:
        x = rng.standard_normal((n, k), dtype=np.float32) * 3
        first = x if first is None else first
        labels = rng.integers(0, k, size=n)
        calls = [("softmax", lambda m, x=x: m.softmax(x)),
                 ("log_softmax", lambda m, x=x: m.log_softmax(x)),
                 ("cross_entropy_with_grad",
                  lambda m, x=x, labels=labels: m.cross_entropy_with_grad(x, labels))]
        for name, call in calls:
            ours = median_seconds(lambda call=call: call(pysoftmax), repeat, 0.0)
            ref = median_seconds(lambda call=call: call(pysoftmax.reference), repeat, 0.0)
            print(f"{name:<26}{f'{n}x{k}':>14}{ours * 1e3:>9.3f} ms{ref * 1e3:>9.3f} ms"
                  f"{ref / ours:>9.1f}x{ours * 1e9 / x.size:>12.3f}")
    exact = pysoftmax.reference.softmax(first.astype(np.float64))
    err = np.max(np.abs(pysoftmax.softmax(first) - exact) / np.spacing(exact.astype(np.float32)))
    print(f"worst float32 softmax error against a float64 computation ({shapes[0][0]}x"
          f"{shapes[0][1]}): {err:.2f} ULP")


# The packages of the extras the digits comparison needs ('pysoftmax[sklearn,plot]'), by the
# names pip installs them under; tqdm only draws verbose fits' progress bars.
_EXTRAS = {"scikit-learn": "sklearn", "scipy": "scipy", "matplotlib": "matplotlib", "tqdm": "tqdm"}
_NEEDED = ("scikit-learn", "scipy", "matplotlib")


def _missing_extras():
    """The packages of _EXTRAS that do not import, in its order."""
    missing = []
    for package, module in _EXTRAS.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    return missing


def _output_directory(out):
    """Creates `out` (and its parents) if needed; SystemExit, before any work, if it cannot be
    created or written to."""
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise SystemExit(f"demo: --out {out}: cannot create the directory "
                         f"({e.strerror or e})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise SystemExit(f"demo: --out {out}: the directory is not writable")


def demo(args):
    t_start = time.perf_counter()
    missing = _missing_extras()
    digits = not any(package in missing for package in _NEEDED)
    if digits:
        _output_directory(args.out)
    np.set_printoptions(precision=4, suppress=True)
    print("pysoftmax", pysoftmax.__version__)
    pysoftmax.show_config()

    print("\n-- the softmax family --")
    z = np.array([0.1, 0.2, 0.3])
    print("softmax([0.1, 0.2, 0.3])                =", pysoftmax.softmax(z))
    print("  temperature 0.05 (sharper)            =", pysoftmax.softmax(z, temperature=0.05))
    print("logsumexp([1000, 1000]) (naive: inf)     =", pysoftmax.logsumexp(np.array([1e3, 1e3])))
    masked = pysoftmax.softmax(np.array([2.0, 1.0, 5.0, 0.5]),
                               where=np.array([True, True, False, True]))
    print("softmax with where=[T, T, F, T]          =", masked)
    print("cross_entropy([[2, 1, 0.1]], [0])        =",
          round(pysoftmax.cross_entropy(np.array([[2.0, 1.0, 0.1]]), np.array([0])), 6))

    if missing:
        print(f"\n(missing {', '.join(missing)}, of the extras: pip install "
              f"'pysoftmax[sklearn,plot]'{'' if digits else '; skipping the digits demo'})")
    if digits:
        _digits_comparison(args.out, min(3, args.repeat))

    _kernel_table([(4096, 1000), (65536, 10)], args.repeat)
    print(f"\ndemo finished in {time.perf_counter() - t_start:.1f} s")
    return 0


def add_parser(sub):
    """Registers the `demo` subcommand on an argparse subparsers object."""
    d = sub.add_parser("demo", help="a short showcase: the API, softmax regression on digits "
                                    "against scikit-learn, a timing against NumPy")
    d.add_argument("--repeat", type=int, default=15, help="timings: median of this many runs")
    d.add_argument("--out", default=".", help="directory for templates.png and loss_curve.png "
                                              "(created if needed)")
    d.set_defaults(func=demo)
    return d
