"""Progress reporting of SoftmaxRegression's solvers and partial_fit (verbose > 0)."""

from __future__ import annotations

__all__ = ["Progress"]


class Progress:
    """verbose > 0: a tqdm progress bar over `total` epochs (or iterations) showing the
    objective (and the validation score), or one printed line per epoch without tqdm or without
    a total; verbose 0: no output."""

    def __init__(self, verbose, name, total=None, unit="epoch"):
        self.verbose, self.name, self.unit, self.bar = verbose, name, unit, None
        if verbose and total:
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self.bar = tqdm(total=total, desc=name, unit=unit, dynamic_ncols=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()

    def update(self, count, loss, score=None):
        if not self.verbose:
            return
        if self.bar is not None:
            postfix = {"objective": f"{loss:.6g}"}
            if score is not None:
                postfix["validation score"] = f"{score:.4f}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update()
        else:
            print(f"{self.name} {self.unit} {count}: objective {loss:.10g}"
                  + ("" if score is None else f", validation score {score:.6f}"))
