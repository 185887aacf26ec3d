"""Checks a benchmark record against the speed targets of bench/targets.json.

    python bench/check_targets.py RECORD.json [--targets bench/targets.json]

RECORD.json is what `python -m pysoftmax bench --json RECORD.json` saves (the kernels: speed-ups,
scaling, in-cache rows) or `python -m pysoftmax bench --train --json RECORD.json` (training).
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
ITEMSIZE = {"float32": 4, "float64": 8}

Check = collections.namedtuple("Check", "group what measured required met")


def _row(r):
    return f"{r['op']} {'x'.join(map(str, r['shape']))} {r['dtype']}, {r['threads']} thread(s)"


def speedup_rule(rules, op, k, dtype, peer):
    """The rule of `rules` for this row and peer, or None; more than one is an error."""
    found = [rule for rule in rules
             if op in rule["ops"] and rule["dtype"] == dtype and rule["peer"] == peer
             and rule.get("k_min", 0) <= k <= rule.get("k_max", float("inf"))]
    if len(found) > 1:
        raise ValueError(f"targets: {len(found)} speed-up rules for {op} K={k} {dtype} vs "
                         f"{peer}: {found}")
    return found[0] if found else None


def check_speedups(record, targets):
    checks, absent = [], collections.Counter()
    rules = targets["rules"]
    for r in record["rows"]:
        for peer in dict.fromkeys(rule["peer"] for rule in rules):
            rule = speedup_rule(rules, r["op"], r["shape"][1], r["dtype"], peer)
            if rule is None:
                continue
            if peer not in r["speedup"]:
                absent[peer] += 1
                continue
            speedup = r["speedup"][peer]
            checks.append(Check("speed-up", f"{_row(r)} vs {peer}", f"{speedup:.2f}x",
                                f">= {rule['min']:g}x", speedup >= rule["min"]))
    unchecked = [f"speed-up vs {peer}: {n} row(s), {peer} is not in the record"
                 for peer, n in absent.items()]
    return checks, unchecked


def check_scaling(record, targets):
    threads = record["threads"] if isinstance(record["threads"], list) else [record["threads"]]
    few, many = min(threads), max(threads)
    if few != targets["from_threads"] or many == few:
        return [], [f"scaling: the record's thread counts {threads} do not go from "
                    f"{targets['from_threads']} to more"]
    l2 = record.get("caches", {}).get("L2", targets["l2_bytes_if_unrecorded"])
    times = {(r["op"], tuple(r["shape"]), r["dtype"], r["threads"]): r for r in record["rows"]}
    checks = []
    for r in record["rows"]:
        other = times.get((r["op"], tuple(r["shape"]), r["dtype"], many))
        if r["threads"] != few or other is None or r["elements"] * ITEMSIZE[r["dtype"]] <= l2:
            continue
        speedup = r["median_s"]["pysoftmax"] / other["median_s"]["pysoftmax"]
        what = f"{r['op']} {'x'.join(map(str, r['shape']))} {r['dtype']}, {few} -> {many} threads"
        checks.append(Check("scaling", what, f"{speedup:.2f}x", f">= {targets['min']:g}x",
                            speedup >= targets["min"]))
    if not checks:
        return [], [f"scaling: no row's input is larger than the L2 cache ({l2} bytes)"]
    return checks, []


def _in_cache_floors(r):
    """The row's floors in ns/element (a record from before floors were measured holds the
    exp floor as exp_floor_ns)."""
    if "floor_ns_per_element" in r:
        return r["floor_ns_per_element"]
    return {} if r.get("exp_floor_ns") is None else {"exp": r["exp_floor_ns"]}


def check_in_cache(record, targets):
    checks, missing = [], []
    name, bound = targets["floor"], targets["max_ratio"]
    for r in record.get("in_cache", []):
        floors = _in_cache_floors(r)
        if name not in floors:
            missing.append(r)
            continue
        ratio = r["ns_per_element"] / floors[name]
        checks.append(Check("in cache", f"{_row(r)} / {name} floor", f"{ratio:.2f}x",
                            f"<= {bound:g}x", ratio <= bound))
    unchecked = []
    if missing:
        held = sorted({f for r in missing for f in _in_cache_floors(r)})
        unchecked.append(f"in cache: {len(missing)} row(s) without the {name} floor (the record "
                         f"holds: {', '.join(held) or 'none'})")
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
    for fn, key in ((check_speedups, "speed_ups"), (check_scaling, "scaling"),
                    (check_in_cache, "in_cache")):
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
