"""Mutation testing: deliberate bugs, one at a time, and whether the tests catch them.

Each mutation replaces one exact snippet of one file by a wrong version. The tool copies the
repository (its tracked and untracked, not ignored, files as they are now) into a scratch
directory, never touching the tree it runs from; builds the extension there once unmutated and
runs every mutation's test selection on that build (a selection that fails unmutated cannot
tell anything: the tool stops); then, for each mutation, applies it, rebuilds (C++ files; a
Python file needs no build), runs its selection (stopping at the first failure) and restores
the file. A snippet that no longer occurs exactly once in its file stops the tool before any
build: the list must follow the code.

Each selection is the few tests that should catch its bug, restricted to the instruction set
the mutation lives in (scalar, avx2, or emulated512, which runs the AVX-512 templates and
wrappers' logic on AVX2 with AVX-512's results bit for bit: the mutations of AVX-512's code
paths are the templates' 512-bit branches, `V::W * sizeof(T) == 64`, which avx512 and
emulated512 share). tests/test_golden.py is never selected: its digests change with any
output, and are regenerated with intended changes.

    python tests/mutate.py                 # every mutation (about a minute each)
    python tests/mutate.py --only NAME...  # some of them
    python tests/mutate.py --list          # the mutations, without running anything

Prints a table: mutation, file, tests run (up to the first failure), caught (by which test)
or survived, time (build and tests). Exits 1
if a mutation survives or a build fails. `make mutate` (ONLY=name) runs it; not part of
`make test`.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

# 512-bit vectors: the avx512 and emulated512 wrappers (float: 16 lanes, double: 8).
WIDE512 = "V::W * sizeof(T) == 64"


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    original: str
    replacement: str
    description: str
    tests: tuple  # pytest arguments: test files, then -k expressions

    @property
    def native(self):
        return not self.file.endswith(".py")


M = Mutation
MUTATIONS = [
    # ---- cross-entropy ----
    M("ce_block_label_grad_sign", "csrc/simd/short_rows.h",
      "gy[u] = lsub(widen(V::set1(T(0))), lmul(cs, other[u])).narrow();",
      "gy[u] = lmul(cs, other[u]).narrow();",
      "short-row cross-entropy blocks: the label's gradient -c (s - q_y) / s with its sign flipped",
      ("tests/test_cross_entropy.py", "-k", "labels_all_sizes and avx2")),
    M("smoothing_uniform_term_avx512", "csrc/simd/cross_entropy_rows.h",
      "loss = a * (1.0 - e) * wy * nll + a * e / double(kin) * (r.wsum * ls - r.wtx);",
      f"loss = a * (1.0 - e) * wy * nll +\n"
      f"                   ({WIDE512} ? 0.0 : a * e / double(kin) * (r.wsum * ls - r.wtx));",
      "label smoothing's uniform term e / K' sum_j w_j (log s - t_j) left out of the loss, "
      "512-bit vectors only",
      ("tests/test_cross_entropy.py", "-k", "emulated512 and (every_keyword or targets_with)")),
    M("target_sums_twosum_dropped", "csrc/simd/cross_entropy_rows.h",
      "const vec qv = (wide || n < W) ? exp_lo<V, true>(hi, lo) : exp_lo<V, false>(hi, lo);",
      "const vec qv = (wide || n < W) ? exp_lo<V, true>(hi, zero) : exp_lo<V, false>(hi, zero);",
      "cross-entropy target sums (probabilities, smoothing): exp of x - max without the "
      "subtraction's rounding error (TwoSum's low part)",
      ("tests/test_cross_entropy.py", "tests/test_accuracy.py", "-k", "avx2")),
    M("ce_rows_no_dominant_label", "csrc/simd/cross_entropy_rows.h",
      "if (!(qy > 0.5 * s)) return false;",
      "if (!(qy > 0.5 * s) || true) return false;",
      "cross-entropy rows: a label holding most of the mass no longer sums the others apart "
      "(log s - t_y cancels)",
      ("tests/test_cross_entropy.py", "-k", "confident and avx2")),
    M("masked_targets_count_every_class", "csrc/simd/cross_entropy_rows.h",
      "kin = 0;\n            for (size_t j = 0; j < k; ++j) kin += m[j] != 0;",
      "kin = k;",
      "masked cross-entropy with targets: K' counts the masked classes too",
      ("tests/test_cross_entropy.py", "-k", "targets_with_masks and avx2")),
    M("scalar_ce_f32_no_max_shift", "csrc/scalar.cpp",
      "two_diff(x[j], m, hi, lo);\n        const double q = exp_hi_lo(hi, lo);",
      "two_diff(x[j], sizeof(T) == 4 ? 0.0 : m, hi, lo);\n"
      "        const double q = exp_hi_lo(hi, lo);",
      "scalar cross-entropy, float32: exp(x_j) without subtracting the row's maximum",
      ("tests/test_cross_entropy.py", "-k", "scalar")),
    M("mean_counts_ignored_rows", "pysoftmax/_common.py",
      "self.count = int(np.count_nonzero(self.counted))",
      "self.count = int(self.counted.size)",
      "reduction='mean' divides by every row, ignored and fully masked ones included "
      "(shared by both backends)",
      ("tests/test_mutation_guards.py", "tests/test_cross_entropy.py", "-k",
       "not scalar and not emulated512")),
    # ---- softmax, log_softmax, logsumexp rows ----
    M("masked_tail_max_off_by_one", "csrc/simd/row_passes.h",
      "x0 = V::select(V::load_mask_tail(m + i, k - i), x0, V::set1(-kInf));",
      "x0 = V::select(V::load_mask_tail(m + i, k - i - 1), x0, V::set1(-kInf));",
      "row maximum of masked rows: the tail's mask leaves out the row's last element",
      ("tests/test_mutation_guards.py", "tests/test_softmax.py", "-k", "mask and avx2")),
    M("softmax_reciprocal_low_part", "csrc/simd/row_passes.h",
      "return V::fmadd(q, ih, V::mul(q, il));",
      "return V::mul(q, ih);",
      "softmax's normalisation q / s as q times 1/s rounded (the reciprocal's low part dropped)",
      ("tests/test_mutation_guards.py", "tests/test_accuracy.py", "tests/test_softmax.py", "-k",
       "avx2")),
    M("log_softmax_offset_rounded", "csrc/simd/row_passes.h",
      "b = T((hi - double(a)) + lo);",
      "b = T(hi - double(a));",
      "log_softmax rows: max + log s formed without TwoSum's rounding error",
      ("tests/test_accuracy.py", "tests/test_softmax.py", "-k", "avx2")),
    M("logsumexp_log_of_rounded_sum", "csrc/simd/row_passes.h",
      "return T(double(mx) + s.log());",
      "return T(double(mx) + std::log(s.s));",
      "logsumexp rows: log s from the rounded sum, not log1p(s - 1)",
      ("tests/test_accuracy.py", "tests/test_softmax.py", "-k", "avx2")),
    M("f32_row_sums_in_float_avx512", "csrc/simd/accumulators.h",
      "constexpr size_t kChunk = sizeof(typename V::T) == 4 ? 16 * V::W : ~size_t(0);",
      "constexpr size_t kChunk =\n"
      "    sizeof(typename V::T) == 4 && V::W != 16 ? 16 * V::W : ~size_t(0);",
      "float32 row sums kept in float32 over the whole row (never summed on in double), "
      "512-bit vectors only",
      ("tests/test_accuracy.py", "tests/test_softmax.py", "-k", "emulated512")),
    M("f64_sum_uncompensated", "csrc/simd/accumulators.h",
      "c = V::add(c, V::add(V::sub(s, V::sub(t, bp)), V::sub(f, bp)));",
      "c = V::add(c, V::set1(T(0)));",
      "float64 vector sums lose their TwoSum compensation (log s = log1p(s - 1) near 0)",
      ("tests/test_accuracy.py", "tests/test_softmax.py", "-k", "avx2")),
    M("scalar_ties_leave_out_every_maximum", "csrc/scalar.cpp",
      "if (!seen && xj == m)",
      "if (xj == m)",
      "scalar spec: s - 1 leaves out every element equal to the maximum, not one",
      ("tests/test_softmax.py", "tests/test_accuracy.py", "tests/test_cross_entropy.py", "-k",
       "scalar")),
    # ---- instruction-set wrappers ----
    M("avx2_hmax_low_half", "csrc/simd/avx2.h",
      "__m128 a = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));",
      "__m128 a = _mm256_castps256_ps128(v);",
      "AVX2 float maximum: the upper 128 bits left out of the horizontal reduction",
      ("tests/test_mutation_guards.py", "tests/test_softmax.py", "-k",
       "avx2 and (long_rows or far)")),
    M("avx2_f64_mask_tail_short", "csrc/simd/avx2.h",
      "int b = 0;\n        std::memcpy(&b, p, n);",
      "int b = 0;\n        std::memcpy(&b, p, n - 1);",
      "AVX2 float64 mask tail: the last mask byte of a row is read as 0",
      ("tests/test_softmax.py", "-k", "mask and avx2")),
    # ---- short rows ----
    M("short_log_softmax_offset_rounded", "csrc/simd/short_rows.h",
      "b[u].set(j, V::sub(V::sub(b[u].col(j), c_hi[u]), c_lo[u]));",
      "b[u].set(j, V::sub(b[u].col(j), c_hi[u]));",
      "short-row log_softmax blocks: c = m + log s rounded to T (its low part c_lo dropped)",
      ("tests/test_accuracy.py", "tests/test_softmax.py", "-k", "avx2")),
    # ---- linear ----
    M("linear_logits_tail_short", "csrc/linear_kernels.h",
      "for (size_t t = j; t < d; ++t) s = V::fma1(x[r * ldx + t], w[c * ldw + t], s);",
      "for (size_t t = j; t + 1 < d; ++t) s = V::fma1(x[r * ldx + t], w[c * ldw + t], s);",
      "linear logits: the last feature of the columns past the full vectors left out (AVX2)",
      ("tests/test_linear.py", "-k", "every_keyword and avx2")),
    M("linear_grad_w_three_class_remainder", "csrc/linear_kernels.h",
      "        default:\n            grad_w_tile<V, 3, NV>(rows, g + c, ldg, x, ldx, "
      "dw + c * lddw, lddw);",
      "        default:\n            grad_w_tile<V, 2, NV>(rows, g + c, ldg, x, ldx, "
      "dw + c * lddw, lddw);",
      "linear dW: a remainder of 3 classes after the 4-class tiles computes only 2",
      ("tests/test_linear.py", "-k", "every_keyword")),
    # ---- sparse ----
    M("sparse_grad_block_start", "csrc/sparse_kernels.h",
      "if (size_t(indices[mid]) < j0)",
      "if (size_t(indices[mid]) <= j0)",
      "sparse dW, sorted rows: the entry in a column block's first column is skipped",
      ("tests/test_sparse.py", "-k", "match_dense or block_size")),
]


def _sh(cmd, cwd, log, env=None):
    """Runs cmd in cwd, its output appended to log; returns (returncode, output)."""
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n{r.stdout}\n")
    return r.returncode, r.stdout


def check_snippets(mutations):
    """Every original snippet occurs exactly once in its file (else exits, naming them)."""
    bad = []
    for m in mutations:
        text = (ROOT / m.file).read_text()
        n = text.count(m.original)
        if n != 1:
            bad.append(f"  {m.name}: {m.file} holds its snippet {n} times (expected once):\n"
                       f"    {m.original!r}")
    if bad:
        sys.exit("mutate: the mutation list no longer matches the code\n" + "\n".join(bad))


def copy_tree(dest):
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, check=True, stdout=subprocess.PIPE).stdout.split(b"\0")
    for name in files:
        if not name:
            continue
        src = ROOT / os.fsdecode(name)
        if not src.is_file():  # deleted but still in the index
            continue
        out = dest / os.fsdecode(name)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out)


def build(scratch, log):
    code, _ = _sh([PYTHON, "setup.py", "-q", "build_ext", "--inplace", "--force"], scratch, log)
    return code == 0


def run_tests(scratch, tests, log, first_failure=True):
    """pytest on a selection; returns (passed, tests run, the first failing test or '')."""
    cmd = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *(["-x"] if first_failure
                                                                        else []), *tests]
    code, out = _sh(cmd, scratch, log)
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|error|errors)", out)}
    run = counts.get("passed", 0) + counts.get("failed", 0)
    failed = re.search(r"^(?:FAILED|ERROR) (\S+)", out, re.M)
    if code == 5:  # nothing selected: the selection is wrong
        return None, 0, "no test selected"
    return code == 0, run, failed.group(1) if failed else ""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run these mutations only")
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args(argv)
    names = [m.name for m in MUTATIONS]
    assert len(set(names)) == len(names), "mutation names must be unique"
    chosen = MUTATIONS
    if args.only:
        unknown = [n for n in args.only if n not in names]
        if unknown:
            sys.exit(f"mutate: no mutation named {', '.join(unknown)} (see --list)")
        chosen = [m for m in MUTATIONS if m.name in args.only]
    check_snippets(chosen)
    if args.list:
        for m in chosen:
            print(f"{m.name:38} {m.file:30} {m.description}")
        return 0

    scratch = Path(tempfile.mkdtemp(prefix="pysoftmax-mutate-"))
    log = scratch / "mutate.log"
    print(f"scratch copy: {scratch} (log: {log})", flush=True)
    try:
        copy_tree(scratch)
        t0 = time.monotonic()
        if not build(scratch, log):
            sys.exit(f"mutate: the unmutated copy does not build (see {log})")
        code, where = _sh([PYTHON, "-c", "import pysoftmax; print(pysoftmax.__file__)"], scratch,
                          log)
        if not where.strip().startswith(str(scratch)):
            sys.exit(f"mutate: the tests would import pysoftmax from {where.strip()}, not from "
                     f"the scratch copy")
        core = next((scratch / "pysoftmax").glob("_core*.so"))
        clean_core = scratch / "clean_core.so"
        shutil.copy2(core, clean_core)
        print(f"unmutated build: {time.monotonic() - t0:.0f} s", flush=True)
        # the selections must pass unmutated
        for tests in dict.fromkeys(m.tests for m in chosen):
            ok, run, first = run_tests(scratch, tests, log, first_failure=False)
            if not ok:
                sys.exit(f"mutate: the selection {' '.join(tests)} does not pass unmutated "
                         f"({first or 'see ' + str(log)})")
        print(f"unmutated selections pass: {time.monotonic() - t0:.0f} s\n", flush=True)

        rows = []
        core_is_clean = True
        # the Python mutations first: they run on the unmutated build
        for m in sorted(chosen, key=lambda m: m.native):
            t = time.monotonic()
            path = scratch / m.file
            text = path.read_text()
            path.write_text(text.replace(m.original, m.replacement))
            try:
                if m.native:
                    core_is_clean = False
                    if not build(scratch, log):
                        rows.append((m, 0, "BUILD FAILED", "", time.monotonic() - t))
                        continue
                elif not core_is_clean:
                    shutil.copy2(clean_core, core)
                    core_is_clean = True
                ok, run, first = run_tests(scratch, m.tests, log)
                result = "survived" if ok else ("caught" if ok is False else "NO TESTS")
                rows.append((m, run, result, first, time.monotonic() - t))
            finally:
                path.write_text(text)
            r = rows[-1]
            print(f"  {m.name}: {r[2]} ({r[1]} tests, {r[4]:.0f} s)", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)

    order = {m.name: i for i, m in enumerate(MUTATIONS)}
    rows.sort(key=lambda r: order[r[0].name])
    print()
    head = f"{'mutation':38} {'file':30} {'tests':>5}  {'result':9} {'time':>5}  caught by"
    print(head)
    print("-" * len(head))
    for m, run, result, first, secs in rows:
        print(f"{m.name:38} {m.file:30} {run:5d}  {result:9} {secs:4.0f}s  {first}")
    caught = sum(r[2] == "caught" for r in rows)
    print(f"\n{caught} of {len(rows)} mutations caught")
    return 0 if caught == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
