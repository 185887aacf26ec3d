"""Training SoftmaxRegression against its peers (see pysoftmax/bench/train.py), one benchmark
entry per trainer, each trained on the same problem.

PYSOFTMAX_BENCH_TRAIN_ROWS sets the rows (default 30000).
The timed call is the training alone, ROUNDS times after one untimed warm-up training (the
report's statistics are over the rounds); extra_info holds the trainer, its version, the final
objective (float64, sum_i CE_i + ||W||^2 / (2C)), iterations, evaluations and threads. The time
to reach scikit-learn's objective needs all three runs: `python -m pysoftmax bench --train`
reports it.
"""

import functools
import os

import pytest

from pysoftmax.bench import train


def _rows():
    value = os.environ.get("PYSOFTMAX_BENCH_TRAIN_ROWS", "30000").strip()
    if not value.isdigit() or int(value) < 2:
        raise pytest.UsageError(f"PYSOFTMAX_BENCH_TRAIN_ROWS: expected a number of rows >= 2, "
                                f"got {value!r}")
    return int(value)


ROUNDS = 3


@functools.lru_cache(maxsize=1)
def _problem(rows):
    return train.make_problem(rows, **train.FULL)


@pytest.mark.parametrize("trainer", train.TRAINERS)
def test_train(benchmark, threads, trainer):
    pytest.importorskip(train.MODULES[trainer])
    pytest.importorskip("sklearn.datasets")
    p = _problem(_rows())
    n, d = p.shape
    benchmark.group = f"train {n}x{d} {p.k} classes float32"
    result = benchmark.pedantic(train.TRAIN[trainer], args=(p, threads), rounds=ROUNDS,
                                warmup_rounds=1, iterations=1)
    benchmark.extra_info.update(trainer=trainer, version=result.version, shape=[n, d],
                                classes=p.k, C=p.C, max_iter=p.max_iter, tol=p.tol,
                                threads=threads, rounds=ROUNDS,
                                seconds_per_evaluation=None if not result.n_evals
                                else result.seconds / result.n_evals,
                                objective=train.objective(p, *result.params),
                                n_iter=result.n_iter, n_evals=result.n_evals)
