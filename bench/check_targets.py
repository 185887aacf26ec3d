"""Checks a benchmark record against the speed targets of bench/targets.json.

    python bench/check_targets.py RECORD.json [--targets bench/targets.json]

RECORD.json is what `python -m pysoftmax bench --json RECORD.json` saves (the kernels: near the
limit out of cache, in cache, speed-ups over the peers, one instruction set over another,
scaling over threads) or `python -m pysoftmax bench --train --json RECORD.json` (training).
Prints each target the record can be checked against, met or missed, with the measured and the
required numbers; then those it cannot check and why (a peer or a floor the record lacks, a
--quick training run); then a summary line. Exits with 1 when a target is missed, else 0.
"""

import argparse
import collections
import json
import os
import sys

TARGETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "targets.json")

Check = collections.namedtuple("Check", "group what measured required met")


def _row(r):
    return (f"{r['op']} {'x'.join(map(str, r['shape']))} {r['dtype']}, {r.get('isa', '?')}, "
            f"{r['threads']} thread(s)")


def _default_rows(record, key="rows"):
    """The rows of `key` on the record's default instruction set (all rows of a record that
    does not say)."""
    isa = record.get("isa")
    return [r for r in record.get(key, []) if isa is None or r.get("isa", isa) == isa]


def speedup_rules(rules, op, k, dtype, peer):
    """The rules of `rules` that hold for this row and peer."""
    return [rule for rule in rules
            if op in rule["ops"] and rule.get("dtype", dtype) == dtype and rule["peer"] == peer
            and rule.get("k_min", 0) <= k <= rule.get("k_max", float("inf"))]


def check_speedups(record, targets):
    checks, absent = [], collections.Counter()
    rules = targets["rules"]
    for r in _default_rows(record):
        for peer in dict.fromkeys(rule["peer"] for rule in rules):
            found = speedup_rules(rules, r["op"], r["shape"][1], r["dtype"], peer)
            if not found:
                continue
            if peer not in r["speedup"]:
                absent[peer] += 1
                continue
            need = max(rule["min"] for rule in found)
            speedup = r["speedup"][peer]
            checks.append(Check("speed-up", f"{_row(r)} vs {peer}", f"{speedup:.2f}x",
                                f">= {need:g}x", speedup >= need))
    unchecked = [f"speed-up vs {peer}: {n} row(s), {peer} is not in the record"
                 for peer, n in absent.items()]
    return checks, unchecked


def check_near_limit(record, targets):
    rows = [r for r in _default_rows(record, "out_of_cache") if r["shape"][1] >= targets["k_min"]]
    checks = []
    for r in rows:
        bound = targets["max_ratio"].get(r["op"])
        if bound is None or r.get("limit_ratio") is None:
            continue
        checks.append(Check("near the limit", f"{_row(r)} / limit", f"{r['limit_ratio']:.2f}x",
                            f"<= {bound:g}x", r["limit_ratio"] <= bound))
    if not checks:
        return [], ["near the limit: the record has no out-of-cache rows with floors (a --quick "
                    "run, or one from before they were measured)"]
    return checks, []


def check_in_cache(record, targets):
    checks, missing = [], []
    name = targets["floor"]
    for r in _default_rows(record, "in_cache"):
        bound = targets["max_ratio"].get(r["op"])
        floors = r.get("floor_ns_per_element", {})
        if bound is None:
            continue
        if name not in floors:
            missing.append(r)
            continue
        ratio = r["ns_per_element"] / floors[name]
        checks.append(Check("in cache", f"{_row(r)} / {name} floor", f"{ratio:.2f}x",
                            f"<= {bound:g}x", ratio <= bound))
    unchecked = []
    if missing:
        held = sorted({f for r in missing for f in r.get("floor_ns_per_element", {})})
        unchecked.append(f"in cache: {len(missing)} row(s) without the {name} floor (the record "
                         f"holds: {', '.join(held) or 'none'})")
    return checks, unchecked


def check_isa(record, targets):
    best, base = targets["best"], targets["baseline"]
    rows = record.get("rows", []) + record.get("out_of_cache", []) + record.get("in_cache", [])

    def key(r):
        return (r["op"], tuple(r["shape"]), r["dtype"], r["threads"])

    def seconds(r):
        m = r["median_s"]
        return m["pysoftmax"] if isinstance(m, dict) else m

    on = {isa: {key(r): seconds(r) for r in rows if r.get("isa") == isa} for isa in (best, base)}
    shared = [k for k in on[best] if k in on[base]]
    if not shared:
        return [], [f"isa: the record has no rows timed on both {best} and {base} (--isa all on "
                    f"a CPU that runs both)"]
    checks = []
    for k in shared:
        ratio = on[base][k] / on[best][k]
        what = f"{k[0]} {'x'.join(map(str, k[1]))} {k[2]}, {k[3]} thread(s): {best} vs {base}"
        checks.append(Check("isa", what, f"{ratio:.2f}x", f">= {targets['min']:g}x",
                            ratio >= targets["min"]))
    return checks, []


def _scaling_rows(record):
    """(row at the fewest threads, the same at the most, the kind of its limit) for every row of
    the default set measured at both."""
    threads = record["threads"] if isinstance(record["threads"], list) else [record["threads"]]
    few, many = min(threads), max(threads)
    out = []
    for key in ("rows", "out_of_cache", "in_cache"):
        rows = _default_rows(record, key)
        at = {(r["op"], tuple(r["shape"]), r["dtype"], r["threads"]): r for r in rows}
        for r in rows:
            other = at.get((r["op"], tuple(r["shape"]), r["dtype"], many))
            if r["threads"] != few or other is None:
                continue
            floors = other.get("floor_ns_per_element", {})
            memory = {n: v for n, v in floors.items() if n in ("copy", "read")}
            kind = "in cache" if key == "in_cache" else (
                "memory" if memory and max(memory.values()) >= floors.get("exp", 0.0) else "exp")
            out.append((r, other, kind, max(memory, key=memory.get) if memory else None))
    return few, many, out


def check_scaling(record, targets):
    few, many, rows = _scaling_rows(record)
    if few != targets["from_threads"] or many == few:
        return [], [f"scaling: the record's thread counts do not go from "
                    f"{targets['from_threads']} to more"]

    def seconds(r):
        m = r["median_s"]
        return m["pysoftmax"] if isinstance(m, dict) else m

    checks, unchecked = [], []
    for r, other, kind, memory in rows:
        speedup = seconds(r) / seconds(other)
        what = f"{r['op']} {'x'.join(map(str, r['shape']))} {r['dtype']} ({kind}-bound)" \
            if kind != "in cache" else f"{r['op']} {'x'.join(map(str, r['shape']))} (in cache)"
        what += f", {few} -> {many} threads"
        if kind == "memory":
            floor_up = r["floor_median_s"][memory] / other["floor_median_s"][memory]
            need = targets["memory_bound_fraction"] * floor_up
            checks.append(Check("scaling", what, f"{speedup:.2f}x",
                                f">= {need:.2f}x ({targets['memory_bound_fraction']:g} x the "
                                f"{memory} floor's {floor_up:.2f}x)", speedup >= need))
        else:
            need = targets["exp_bound_min"]
            checks.append(Check("scaling", what, f"{speedup:.2f}x", f">= {need:g}x",
                                speedup >= need))
    if not checks:
        unchecked.append("scaling: no row measured at both thread counts")
    return checks, unchecked


def check_training(record, targets):
    checks, unchecked = [], []
    for entry in record:
        where = f"{entry['shape'][0]} x {entry['shape'][1]}, {entry['threads']} thread(s)"
        if entry.get("quick"):
            unchecked.append(f"training {where}: a --quick run (the targets are for the full "
                             f"problem)")
            continue
        results = entry["results"]
        ours = results.get("pysoftmax")
        for peer, bound in targets["min_speedup"].items():
            what = f"{where} vs {peer}"
            if peer not in results:
                unchecked.append(f"training {what}: not in the record")
            elif ours is None or ours["time_to_target"] is None:
                checks.append(Check("training", what, "never reached sklearn's objective",
                                    f">= {bound:g}x", False))
            else:
                value = entry["speedups"][peer]
                lower = ">" if results[peer]["time_to_target"] is None else ""
                checks.append(Check("training", what, f"{lower}{value:.2f}x", f">= {bound:g}x",
                                    value >= bound))
    return checks, unchecked


def check(record, targets):
    """(checks, unchecked): the record's targets, and what it cannot be checked against."""
    if isinstance(record, list):
        return check_training(record, targets["training"])
    checks, unchecked = [], []
    for fn, key in ((check_near_limit, "near_limit"), (check_in_cache, "in_cache"),
                    (check_speedups, "speed_ups"), (check_isa, "isa"),
                    (check_scaling, "scaling")):
        c, u = fn(record, targets[key])
        checks += c
        unchecked += u
    return checks, unchecked


def report(checks, unchecked):
    """The lines to print: one per check, the unchecked, the summary line."""
    lines = []
    if checks:
        cells = [("", "target", "", "measured", "required")]
        cells += [("met" if c.met else "MISSED", c.group, c.what, c.measured, c.required)
                  for c in checks]
        widths = [max(len(row[i]) for row in cells) for i in range(5)]
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                  for row in cells]
    lines += [f"not checked: {u}" for u in unchecked]
    groups = list(dict.fromkeys(c.group for c in checks))
    counts = [f"{g} {sum(c.met for c in checks if c.group == g)} of "
              f"{sum(c.group == g for c in checks)} met" for g in groups]
    missed = sum(not c.met for c in checks)
    if not checks:
        lines.append("no target could be checked against this record")
    else:
        lines.append("; ".join(counts) + (f"; missed {missed} of {len(checks)}" if missed
                                          else "; all met"))
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("record", help="a JSON record saved by `python -m pysoftmax bench --json`")
    parser.add_argument("--targets", default=TARGETS, help="the targets (default: %(default)s)")
    args = parser.parse_args(argv)
    with open(args.record) as f:
        record = json.load(f)
    with open(args.targets) as f:
        targets = json.load(f)
    checks, unchecked = check(record, targets)
    print("\n".join(report(checks, unchecked)))
    return 1 if any(not c.met for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
