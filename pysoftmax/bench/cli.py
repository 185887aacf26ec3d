"""The `bench` command: its arguments and its runs (the kernels, or --train)."""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os

import numpy as np

import pysoftmax

from . import contention, kernels, peers, report, train


def _check_output_path(option, path):
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise SystemExit(f"{option}: directory {parent} does not exist")


def _write_json(path, data):
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
    print(f"wrote {path}")


def run(args):
    """The `bench` command (arguments: threads, quick, rounds, isa, json, plot; train, rows;
    contention). The instruction set and the thread count in use before are restored when it
    returns."""
    if args.train:
        return run_train(args)
    if args.contention:
        return run_contention(args)
    isa, threads = pysoftmax._core.get_isa(), pysoftmax._core.get_num_threads()
    try:
        return run_kernels(args)
    finally:
        pysoftmax._core.set_isa(isa)
        pysoftmax._core.set_num_threads(threads)


def run_kernels(args):
    """The kernel benchmark (arguments: threads, quick, rounds, isa, json, plot)."""
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path is not None:
            _check_output_path(option, path)
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise SystemExit("--plot: matplotlib is not installed (`make bench` installs it)")

    versions, missing = peers.installed_libraries()
    libraries = [lib for lib in peers.LIBRARIES if lib in versions]
    cpu, caches = peers.cpu_model(), peers.cache_sizes()
    now = datetime.datetime.now().astimezone()
    default_isa = pysoftmax._core.get_isa()
    print(f"pysoftmax {pysoftmax.__version__}, ISA {default_isa}, {cpu}")
    threads = args.threads
    print(f"{now:%Y-%m-%d %H:%M}, threads {','.join(map(str, threads))}; numpy {np.__version__}"
          + "".join(f", {lib} {versions[lib]}" for lib in ("scipy", "torch", "sklearn")
                    if lib in versions))
    if missing:
        print(f"not installed: {', '.join(missing)} (`make bench` installs them)")
    print("reference and scipy run on one thread (NumPy); the thread count applies to "
          "pysoftmax, torch and sklearn")
    print(f"outputs: {peers.OUTPUTS} in the comparison tables; the out-of-cache and in-cache "
          f"tables time pysoftmax alone, writing into a preallocated out=")

    if args.rounds > 1:
        print(f"{args.rounds} rounds: each time is the median of a library's medians over the "
              f"rounds")

    isas = _isas(args.isa)
    if isas != [None]:
        print(f"instruction sets: {', '.join(isas)} (each row timed on each, in turns)")
    rows = kernels.benchmark_rows(args.quick, sweep=args.plot is not None or not args.quick)
    big = [] if args.quick else kernels.out_of_cache_rows(caches.get("L3"))
    min_repeats, min_time = (3, 0.0) if args.quick else (5, 0.3)
    rounds, cache_rounds, big_rounds = [], [], []
    for _ in range(args.rounds):
        rounds.append(kernels.measure(rows, libraries, threads, min_repeats, min_time, isas))
        big_rounds.append(kernels.measure(big, ["pysoftmax"], threads, min_repeats, min_time,
                                          isas, out=True))
        cache_rounds.append(kernels.measure_in_cache(threads, min_repeats, min_time, isas))
    machine = kernels.measure_floors(threads, min_repeats, min_time, isas, caches.get("L3"))
    results = kernels.combine_rounds(rounds)
    out_of_cache = kernels.combine_rounds(big_rounds)
    in_cache = kernels.combine_in_cache(cache_rounds)
    print()
    print("\n".join(report.format_machine_floors(machine)))
    print()
    print("\n".join(report.format_results(results, libraries)))
    print()
    print("\n".join(report.format_floors(results)))
    if out_of_cache:
        print()
        print("\n".join(report.format_out_of_cache(out_of_cache, caches.get("L3"))))
    if len(threads) > 1:
        print()
        print("\n".join(report.format_scaling(results + out_of_cache, min(threads),
                                              max(threads), caches.get("L2"), machine)))
    print()
    print("\n".join(report.format_in_cache(in_cache)))

    if args.json is not None:
        setup = {"pysoftmax": pysoftmax.__version__, "isa": default_isa,
                 "isas": sorted({r["isa"] for r in results}),
                 "cpu": cpu, "caches": caches, "date": now.isoformat(timespec="seconds"),
                 "threads": threads, "quick": args.quick, "rounds": args.rounds,
                 # each library's thread counts over the run's (the rows: at each)
                 "library_threads": {lib: sorted({peers.threads_of(lib, t) for t in threads})
                                     for lib in libraries},
                 "outputs": {"comparisons": "allocated in each call by every library",
                             "in_cache": "pysoftmax, preallocated out=",
                             "out_of_cache": "pysoftmax, preallocated out="},
                 "repeats": {"min": min_repeats, "min_time_s": min_time},
                 "versions": {"numpy": np.__version__, **versions}, "not_installed": missing}
        _write_json(args.json, report.record(setup, results, in_cache, out_of_cache, machine))
    if args.plot is not None:
        most = max(threads)
        report.plot([r for r in results if r["threads"] == most], args.plot,
                    f"pysoftmax {pysoftmax.__version__} vs peers — {cpu}, {most} threads, "
                    f"{now:%Y-%m-%d}")
        print(f"wrote {args.plot}")
    return 0


def run_contention(args):
    """`python -m pysoftmax bench --contention` (arguments: quick, json)."""
    if args.json is not None:
        _check_output_path("--json", args.json)
    now = datetime.datetime.now().astimezone()
    cpu = peers.cpu_model()
    print(f"pysoftmax {pysoftmax.__version__}, ISA {pysoftmax._core.get_isa()}, {cpu}; "
          f"{now:%Y-%m-%d %H:%M}, {os.cpu_count()} CPUs"
          + (" (--quick: small shapes)" if args.quick else ""))
    print("float32; pysoftmax on 1 and 2 threads, timed in turns; 'one core busy': another "
          "process spins on one core meanwhile")
    if (os.cpu_count() or 1) < 2:
        print("note: fewer than 2 CPUs, so 2 threads share one")
    rows = contention.run(args.quick)
    print("\n".join(contention.format_rows(rows)))
    worst = max(r["ratio"] for r in rows if r["busy"])
    print(f"one core busy: 2 threads take at most {worst:.2f}x the time of 1 thread "
          f"(target: at most {contention.TARGET}x)")
    if args.json is not None:
        _write_json(args.json, {"pysoftmax": pysoftmax.__version__, "cpu": cpu,
                                "cpus": os.cpu_count(), "quick": args.quick,
                                "date": now.isoformat(timespec="seconds"),
                                "target_ratio": contention.TARGET, "rows": rows})
    return 0


def run_train(args):
    """`python -m pysoftmax bench --train` (arguments: rows, quick, threads, json)."""
    for module in ("sklearn", "scipy"):
        if importlib.util.find_spec(module) is None:
            raise SystemExit(f"--train: {module} is not installed (`make bench` installs it)")
    args.rows_given = args.rows is not None
    if args.rows is None:
        args.rows = 30000
    if args.rows < 2:
        raise SystemExit(f"--rows: expected at least 2 rows, got {args.rows}")
    if args.json is not None:
        _check_output_path("--json", args.json)
    print(f"pysoftmax {pysoftmax.__version__}, ISA {pysoftmax._core.get_isa()}; "
          f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M}"
          + (" (--quick: a small problem)" if args.quick else ""))
    if args.dask:
        if importlib.util.find_spec("distributed") is None:
            raise SystemExit("--dask: dask[array,distributed] is not installed")
        rows = args.rows if args.rows_given else train.DASK_FULL["n"]
        train.run_dask(rows, max_iter=5 if args.quick else train.DASK_FULL["max_iter"])
        return 0
    if args.sparse:
        records = []
        for p, threads, results in train.run_sparse(args):
            lines, cells, notes = train.sparse_table(p, threads, results)
            print("\n".join(lines + report.table(cells, left=2) + notes))
            records.append(dict(report.training_record(p, threads, results, args.quick),
                                nnz=int(p.X.nnz)))
        if args.json is not None:
            _write_json(args.json, records)
        return 0
    settings = dict(train.QUICK) if args.quick else dict(train.FULL, n=args.rows)
    n = settings.pop("n")
    p = train.make_problem(n, **settings)
    records = []
    for threads in args.threads:
        results = train.compare(p, threads)
        print("\n".join(report.format_training(p, threads, results)))
        records.append(report.training_record(p, threads, results, args.quick))
    if args.json is not None:
        _write_json(args.json, records)
    return 0


def _isas(text):
    """--isa: None (the active set), "all" (every set this CPU runs, best first) or names."""
    if text is None:
        return [None]
    available = pysoftmax._core.available_isas()
    if text.strip().lower() == "all":
        return available
    names = list(dict.fromkeys(part.strip().lower() for part in text.split(",")))
    unknown = [n for n in names if n not in available]
    if unknown or not names:
        raise SystemExit(f"--isa: {', '.join(unknown) or repr(text)} not run by this CPU; "
                         f"expected 'all' or names among {', '.join(available)}")
    return names


def _count(text):
    """The integer `text` if it is one >= 1, else 0."""
    try:
        n = int(text)
    except ValueError:
        return 0
    return n if n >= 1 else 0


def _thread_counts(text):
    """"2" or "1,2": the thread counts to run, each >= 1, without repeats."""
    counts = [_count(part) for part in text.split(",")]
    if 0 in counts:
        raise argparse.ArgumentTypeError(f"expected thread counts >= 1 such as 2 or 1,2; "
                                         f"got {text!r}")
    return list(dict.fromkeys(counts))


def _positive(text):
    """--rounds: a count >= 1."""
    if not _count(text):
        raise argparse.ArgumentTypeError(f"expected a count >= 1; got {text!r}")
    return int(text)


def add_parser(sub):
    """Registers the `bench` subcommand on an argparse subparsers object."""
    b = sub.add_parser("bench", help="time pysoftmax against NumPy, scipy, torch and sklearn",
                       description="Time pysoftmax against its peers and against floors "
                                   "measured on the same inputs; print ns/element, the "
                                   "speed-ups and the scaling over thread counts.")
    b.add_argument("--threads", type=_thread_counts, default=[os.cpu_count() or 1],
                   metavar="N[,N...]",
                   help="threads for pysoftmax, torch and sklearn (default: all CPUs); several "
                        "counts (1,2) run the table for each and add pysoftmax's scaling")
    b.add_argument("--quick", action="store_true",
                   help="4096x1000 and 65536x10 float32 only, 3 repeats, no K sweep unless --plot")
    b.add_argument("--rounds", type=_positive, default=1, metavar="R",
                   help="measure everything R times, minutes apart, and report each library's "
                        "median over the rounds (steadier on a shared machine; default 1)")
    b.add_argument("--isa", metavar="all|NAME[,NAME...]",
                   help="time pysoftmax on each of these instruction sets (all: every set this "
                        "CPU runs), in turns within each row, with each set's floors; default: "
                        "the active set")
    b.add_argument("--json", metavar="PATH", help="save the rows, raw medians and the setup")
    b.add_argument("--plot", metavar="PATH.png", help="plot ns/element against K (matplotlib)")
    b.add_argument("--train", action="store_true",
                   help="instead of the kernels: train on make_classification (ROWS x 784, 10 "
                        "classes, float32) with SoftmaxRegression, scikit-learn's "
                        "LogisticRegression and a torch L-BFGS loop; --quick: 2000 x 64")
    b.add_argument("--sparse", action="store_true",
                   help="--train on sparse text-like data instead: TF-IDF of Zipf word counts, "
                        "ROWS x 2^17 features (~100 nonzeros per row), 20 classes, float32 CSR, "
                        "at C=1 and C=10, with peak memory; --quick: 2000 x 4096, 5 classes")
    b.add_argument("--dask", action="store_true",
                   help="--train on a Dask LocalCluster instead: ROWS x 100 float32, 10 classes "
                        "generated on the workers (default 4,000,000 rows); seconds per "
                        "objective evaluation and per fit for 1 and 2 worker processes against "
                        "the in-memory fit (and dask-ml's binary LogisticRegression when "
                        "installed); --quick: 5 iterations")
    b.add_argument("--contention", action="store_true",
                   help="instead of the kernels: softmax (65536x10, 4096x1000) and "
                        "linear_cross_entropy (20000x100, 10 classes), float32, on 1 and 2 "
                        "threads, idle and while another process keeps one core busy; prints "
                        "the medians and the 2-thread / 1-thread ratio; --quick: small shapes")
    b.add_argument("--rows", type=int, default=None, metavar="ROWS",
                   help="--train: rows of the problem (default 30000; --dask: 4,000,000)")
    b.set_defaults(func=run)
    return b
