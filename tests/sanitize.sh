#!/usr/bin/env bash
# make sanitize: pysoftmax._core built with AddressSanitizer + UndefinedBehaviorSanitizer in a
# scratch copy of the tree (build/sanitize/; the in-place module stays as it is), then the tests
# run in that copy once per instruction set this CPU runs, each forced by PYSOFTMAX_ISA (tests
# that take the `isa` fixture cover every set in each run; the others run on the forced one).
#   tests/sanitize.sh PYTHON [PYTEST ARGS...]    default arguments: tests (the whole suite)
# SANITIZE_ISAS="scalar avx2" picks the sets. Python is not instrumented: libasan is preloaded,
# leak checks are off (the interpreter keeps its memory), and the first ASan report or
# undefined behaviour ends the run with a non-zero status, as a failing test does.
# Reports go to build/sanitize/report.* (pytest captures stderr, and a process that ASan ends
# never shows it); the script prints them. SANITIZE_KEEP=1 reuses an existing sanitized build.
set -euo pipefail
py=${1:?usage: tests/sanitize.sh PYTHON [PYTEST ARGS...]}
shift
[ $# -gt 0 ] || set -- tests
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/build/sanitize
if [ "${SANITIZE_KEEP:-0}" != 1 ] || ! ls "$dir"/pysoftmax/_core*.so >/dev/null 2>&1; then
    rm -rf "$dir"
    mkdir -p "$dir"
    tar -C "$root" --exclude='*.so' --exclude=__pycache__ --exclude=build \
        -cf - setup.py pyproject.toml README.md LICENSE csrc pysoftmax tests | tar -C "$dir" -xf -
    flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
    start=$(date +%s)
    # CXXFLAGS: setuptools compiles C++ with them (CFLAGS only for C)
    (cd "$dir" && CFLAGS="$flags" CXXFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" \
        "$py" setup.py -q build_ext --inplace)
    echo "sanitize: built in $(($(date +%s) - start)) s"
    # the build is instrumented: the module calls ASan's checks (grep reads all of nm's
    # output: with -q it would stop at the first match, and nm's SIGPIPE fail the pipeline)
    nm -D --undefined-only "$dir"/pysoftmax/_core*.so | grep __asan_report >/dev/null ||
        { echo "sanitize: the module is not instrumented (compiler flags not applied)"; exit 1; }
fi
rm -f "$dir"/report.*
# libstdc++ too: ASan intercepts __cxa_throw and must find the real one when it starts (the
# interpreter does not link libstdc++; torch's exceptions would end the run otherwise)
export LD_PRELOAD="$(${CXX:-g++} -print-file-name=libasan.so) $(${CXX:-g++} -print-file-name=libstdc++.so)"
# allocator_may_return_null: an allocation too large for the machine returns NULL, as without
# ASan (the tests of MemoryError need it)
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:allocator_may_return_null=1:log_path=$dir/report
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$dir/report
cd "$dir"
# the sets this CPU runs (the emulated ones are covered in each run by the `isa` fixture;
# forcing one as the active set would fail the dispatch tests, which expect a detected set)
isas=${SANITIZE_ISAS:-$("$py" -c 'from pysoftmax import _core
print(" ".join(_core.available_isas()))')}
for isa in $isas; do
    t=$(date +%s)
    status=0
    PYSOFTMAX_ISA=$isa "$py" -m pytest -x -q -p no:cacheprovider "$@" || status=$?
    if ls "$dir"/report.* >/dev/null 2>&1; then
        cat "$dir"/report.*
        echo "sanitize: $isa: the sanitizers reported (above)"
        exit 1
    fi
    [ "$status" = 0 ] || { echo "sanitize: $isa: tests failed (status $status)"; exit "$status"; }
    echo "sanitize: $isa clean in $(($(date +%s) - t)) s"
done
