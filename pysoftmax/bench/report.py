"""What the bench command reports: its tables, its JSON record and its plot."""

from __future__ import annotations

import dataclasses

import numpy as np

from . import floors, kernels, peers, train


def table(lines_of_cells, left=3):
    """The first `left` columns left-aligned, the others (numbers) right-aligned, columns as
    wide as their widest cell."""
    widths = [max(len(row[i]) for row in lines_of_cells) for i in range(len(lines_of_cells[0]))]
    return ["  ".join(c.ljust(w) if i < left else c.rjust(w)
                      for i, (c, w) in enumerate(zip(row, widths))).rstrip()
            for row in lines_of_cells]


def _row_name(result):
    return [result["op"], "x".join(map(str, result["shape"])), result["dtype"]]


def _bytes(n):
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"


def format_results(results, libraries):
    """The timing table: ns/element of each library, then pysoftmax's speed-up over each peer;
    pysoftmax's instruction set in its own column (a row per set with --isa)."""
    others = [lib for lib in libraries if lib != "pysoftmax"]
    most = max((r["threads"] for r in results), default=1)
    names = {lib: peers.label(lib, most) for lib in libraries}
    head = ["op", "shape", "dtype", "isa", "threads"]
    cells = [head + [names[lib] for lib in libraries] + [f"vs {names[p]}" for p in others]]
    for r in results:
        key = _row_name(r) + [r["isa"], str(r["threads"])]
        ns = [f"{r['ns_per_element'][lib]:.3f}" if lib in r["ns_per_element"] else "-"
              for lib in libraries]
        up = [f"{r['speedup'][p]:.2f}x" if p in r["speedup"] else "-" for p in others]
        cells.append(key + ns + up)
    lines = ["ns/element (median) of each library, then the speed-up of pysoftmax against each "
             "peer (peer time / pysoftmax time); " + peers.OUTPUTS + ":"]
    single = [names[lib] for lib in libraries if names[lib] != lib]
    if single:
        lines.append(f"{' and '.join(single)}: single-threaded (NumPy), timed once per row and "
                     f"shown at every thread count")
    return lines + table(cells, left=4)


def _floors_table(rows, ours_ns):
    """A row per row of `rows`: pysoftmax's ns/element (ours_ns), each floor's, the limit (the
    larger of the memory and exp floors), and pysoftmax's time over each floor and over the
    limit; then what each floor is."""
    names = [f.name for f in floors.FLOORS
             if any(f.name in r["floor_ns_per_element"] for r in rows)]
    cells = [["op", "shape", "dtype", "isa", "threads", "pysoftmax"] + names
             + ["limit"] + [f"/ {name}" for name in names] + ["/ limit"]]
    for r, ns in zip(rows, ours_ns):
        floor_ns, ratio = r["floor_ns_per_element"], r["floor_ratio"]
        limit, over = r.get("limit_ns_per_element"), r.get("limit_ratio")
        cells.append(_row_name(r) + [r["isa"], str(r["threads"]), f"{ns:.3f}"]
                     + [f"{floor_ns[n]:.3f}" if n in floor_ns else "-" for n in names]
                     + ["-" if limit is None else f"{limit:.3f}"]
                     + [f"{ratio[n]:.2f}x" if n in ratio else "-" for n in names]
                     + ["-" if over is None else f"{over:.2f}x"])
    return table(cells, left=4) + [f"  {line}" for line in floors.describe(names)]


def format_floors(results):
    """pysoftmax against the floors measured on each row's inputs in the same run."""
    lines = ["ns/element of pysoftmax and of the floors measured with it on the same inputs "
             "(on its instruction set and thread count), then pysoftmax's time / the floor's:"]
    return lines + _floors_table(results, [r["ns_per_element"]["pysoftmax"] for r in results])


def format_out_of_cache(rows, l3_bytes):
    """The rows of at least OUT_OF_CACHE_L3S x the L3, pysoftmax alone with out=."""
    l3 = "" if l3_bytes is None else f" (L3 {_bytes(l3_bytes)})"
    lines = [f"out of cache: arrays of at least {kernels.OUT_OF_CACHE_L3S}x the L3{l3}, the "
             "output preallocated (out=); ns/element of pysoftmax and of its floors on the same "
             "inputs, then pysoftmax's time / the floor's:"]
    return lines + _floors_table(rows, [r["ns_per_element"]["pysoftmax"] for r in rows])


def format_machine_floors(rows):
    """The machine's floors (kernels.measure_floors): one line per set, dtype and threads."""
    names = [f.name for f in floors.FLOORS]
    cells = [["isa", "dtype", "threads"] + [f"{n} ns/el" for n in names]
             + ["copy GB/s", "read GB/s"]]
    for r in rows:
        cells.append([r["isa"], r["dtype"], str(r["threads"])]
                     + [f"{r['ns_per_element'][n]:.3f}" for n in names]
                     + [f"{r['gb_per_s'][n]:.1f}" for n in ("copy", "read")])
    size = _bytes(rows[0]["bytes"]) if rows else ""
    return ([f"this machine's floors: copy and read of {size} arrays, the exp floors "
             f"L1-resident (what each is: under the floors table)"] + table(cells, left=2))


def _machine_scaling(machine, isa, dtype, few, many):
    """The streamed copy's own speed-up from `few` to `many` threads, or None."""
    ns = {r["threads"]: r["ns_per_element"]["copy"] for r in machine
          if r["isa"] == isa and r["dtype"] == dtype}
    return ns[few] / ns[many] if few in ns and many in ns else None


def format_scaling(results, few, many, l2_bytes=None, machine=()):
    """pysoftmax's speed-up from `few` to `many` threads on each row measured with both; each
    row's input is said to be in L2 or beyond it when the L2 size (`l2_bytes`) is known; beside
    it, the streamed copy's own scaling (the memory-bound rows' limit)."""
    times = {(r["op"], tuple(r["shape"]), r["dtype"], r["isa"], r["threads"]): r
             for r in results}
    cells = [["op", "shape", "dtype", "isa", f"{few} thread(s)", f"{many} threads", "speed-up",
              "copy's", "input"]]
    for r in results:
        if r["threads"] != few:
            continue
        other = times.get((r["op"], tuple(r["shape"]), r["dtype"], r["isa"], many))
        if other is None:
            continue
        a, b = r["median_s"]["pysoftmax"], other["median_s"]["pysoftmax"]
        nbytes = r["elements"] * np.dtype(r["dtype"]).itemsize
        where = "" if l2_bytes is None else (" > L2" if nbytes > l2_bytes else " in L2")
        copy = _machine_scaling(machine, r["isa"], r["dtype"], few, many)
        cells.append(_row_name(r) + [r["isa"], f"{a * 1e3:.3f} ms", f"{b * 1e3:.3f} ms",
                                     f"{a / b:.2f}x", "-" if copy is None else f"{copy:.2f}x",
                                     _bytes(nbytes) + where])
    l2 = "" if l2_bytes is None else f"; L2 {_bytes(l2_bytes)}"
    return ([f"pysoftmax scaling, {few} -> {many} threads (median times{l2}; copy's: the "
             f"streamed copy's own):"] + table(cells, left=4))


def format_in_cache(rows):
    lines = ["in-cache rows (the output in a preallocated out=), ns/element of pysoftmax and of "
             "the floors measured with it on the same inputs, then pysoftmax's time / the "
             "floor's:"]
    return lines + _floors_table(rows, [r["ns_per_element"] for r in rows])


def record(setup, results, in_cache, out_of_cache=(), machine=()):
    """The JSON record of a kernel run: `setup` (versions, machine, options), every row, and
    what each floor of the rows is."""
    names = {n for r in [*results, *in_cache, *out_of_cache] for n in r["floor_ns_per_element"]}
    names |= {n for r in machine for n in r["ns_per_element"]}
    return {**setup, "floors": {f.name: f.description for f in floors.FLOORS if f.name in names},
            "rows": results, "in_cache": in_cache, "out_of_cache": list(out_of_cache),
            "machine_floors": list(machine)}


def plot(results, path, title):
    """ns/element against K (log-log), softmax and cross_entropy_with_grad, float32: a line per
    peer and per instruction set of pysoftmax, and the floors measured on the same rows (on
    each set) as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = {tuple(s) for s in kernels.sweep_shapes()}
    isas = list(dict.fromkeys(r["isa"] for r in results))
    markers = dict(zip(isas, "os^vD"))
    peer_colors = dict(zip(peers.LIBRARIES[1:], ("C1", "C2", "C3", "C4")))
    isa_colors = dict(zip(isas, ("C0", "C5", "C6", "C7", "C8")))
    greys = ("grey", "black", "silver", "dimgrey")
    fig, axes = plt.subplots(1, len(kernels.SWEEP_OPS), figsize=(12, 6), sharey=True)
    for ax, op in zip(axes, kernels.SWEEP_OPS):
        rows = sorted((r for r in results if r["op"] == op and r["dtype"] == "float32"
                       and tuple(r["shape"]) in sweep), key=lambda r: r["shape"][1])
        for isa in isas:
            points = [(r["shape"][1], r["ns_per_element"]["pysoftmax"]) for r in rows
                      if r["isa"] == isa]
            if points:
                ax.plot(*zip(*points), marker="o", color=isa_colors[isa],
                        label=f"pysoftmax {isa}")
        first = [r for r in rows if r["isa"] == isas[0]]    # the peers: the same in every set
        for lib in peers.LIBRARIES[1:]:
            points = [(r["shape"][1], r["ns_per_element"][lib]) for r in first
                      if lib in r["ns_per_element"]]
            if points:
                ax.plot(*zip(*points), marker="o", color=peer_colors[lib], label=lib)
        names = [f for f in floors.FLOORS if any(f.name in r["floor_ns_per_element"] for r in rows)]
        for f, color in zip(names, greys):
            for isa in isas:
                points = [(r["shape"][1], r["floor_ns_per_element"][f.name]) for r in rows
                          if r["isa"] == isa and f.name in r["floor_ns_per_element"]]
                if points:
                    ax.plot(*zip(*points), linestyle="--", color=color, linewidth=1,
                            marker=markers[isa], markersize=3,
                            label=f"{f.name} floor ({f.label}), {isa}")
        ax.set(xscale="log", yscale="log",
               xlabel=f"K (classes per row), N·K ≈ {kernels.SWEEP_ELEMENTS / 1e6:.2g}M",
               title=f"{op}, float32")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ns / element (median)")
    legend = {}
    for ax in axes:
        legend.update(zip(*reversed(ax.get_legend_handles_labels())))
    # libraries first
    entries = sorted(legend.items(), key=lambda item: "floor" in item[0])
    fig.legend([h for _, h in entries], [label for label, _ in entries], loc="lower center",
               ncol=3, fontsize="small")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.18, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def format_training(p, threads, results):
    """The training table: each trainer's times, iterations, final objective, the time it took
    to reach scikit-learn's final objective and pysoftmax's speed-up over it."""
    n, d = p.shape
    lines = [f"training: make_classification {n} x {d}, {p.k} classes, float32; C={p.C:g}, "
             f"max_iter={p.max_iter}, tol={p.tol:g}; {threads} thread(s)",
             f"to reach: scikit-learn's final objective {results['sklearn'].objective:.6f} "
             f"(sum_i CE_i + ||W||^2 / (2C), float64)",
             f"preconditioning: {train.PRECONDITIONING['dense']}"]
    lines += table(train.result_cells(results), left=2)
    lines += [f"  {name}: {r.note}" for name, r in results.items() if r.note]
    return lines


def training_record(p, threads, results, quick):
    """The JSON record of one thread count of a training run."""
    sparse = not isinstance(p.X, np.ndarray)
    return {"threads": threads, "shape": list(p.shape), "classes": p.k, "C": p.C,
            "max_iter": p.max_iter, "tol": p.tol, "quick": quick,
            "preconditioning": train.PRECONDITIONING["sparse" if sparse else "dense"],
            "results": {name: {**{f.name: getattr(r, f.name) for f in dataclasses.fields(r)
                                  if f.name not in ("trace", "params")},
                               "seconds_per_iteration": train.per_call(r.seconds, r.n_iter),
                               "seconds_per_evaluation": train.per_call(r.seconds, r.n_evals)}
                        for name, r in results.items()},
            "speedups": {name: v for name, (v, _) in train.speedups(results).items()}}
