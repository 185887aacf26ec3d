"""A SoftmaxRegression fit on a Dask array larger than the driver's memory limit.

    python bench/dask_driver_memory.py [--rows 12000000] [--limit-gb 3] [--workers 2]

A scheduler and worker processes are started first (each worker one thread, no memory limit
of their own). Then this process, the driver, lowers its own address-space limit
(RLIMIT_AS) to --limit-gb, connects a Client, generates X (rows x 100 float32) and labels on
the workers, and fits. It prints X's size against the limit, the driver's peak resident
memory, the fit's iterations and accuracy, and then shows that gathering X into the driver
(X.compute()) fails under the same limit.
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
import warnings


def _start(cmd):
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=12_000_000)
    ap.add_argument("--limit-gb", type=float, default=3.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-iter", type=int, default=10)
    args = ap.parse_args()

    dask_cli = shutil.which("dask", path=os.path.dirname(sys.executable)) or "dask"
    port = 8786 + os.getpid() % 1000
    address = f"tcp://127.0.0.1:{port}"
    procs = [_start([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                     "--dashboard-address", ":0"])]
    time.sleep(3)
    procs += [_start([dask_cli, "worker", address, "--nthreads", "1", "--memory-limit", "0",
                      "--no-dashboard"]) for _ in range(args.workers)]
    try:
        limit = int(args.limit_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        import distributed
        from sklearn.exceptions import ConvergenceWarning

        from pysoftmax import SoftmaxRegression
        from pysoftmax.bench.train import _dask_problem

        with distributed.Client(address) as client:
            client.wait_for_workers(args.workers, timeout=60)
            X, y = _dask_problem(args.rows, 100, 10, 500_000)
            X, y = X.persist(), y.persist()
            distributed.wait([X, y])
            print(f"X: {X.shape[0]} x {X.shape[1]} {X.dtype}, {X.nbytes / 2**30:.2f} GiB on "
                  f"{args.workers} workers; driver's address-space limit "
                  f"{args.limit_gb:.2f} GiB")
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = SoftmaxRegression(max_iter=args.max_iter).fit(X, y)
            fit = time.perf_counter() - start
            accuracy = float(model.score(X, y))
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            print(f"fit: {int(model.n_iter_[0])} iterations in {fit:.1f} s, training accuracy "
                  f"{accuracy:.4f}, coef_ {model.coef_.shape}")
            print(f"driver's peak resident memory: {peak:.2f} GiB")
            try:
                X.compute()
                print("X.compute(): gathered (the limit was not reached)")
            except MemoryError:
                print("X.compute(): MemoryError: the driver cannot hold X")
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs:
            p.wait(30)


if __name__ == "__main__":
    main()
