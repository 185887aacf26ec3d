#!/usr/bin/env bash
# make sanitize: pysoftmax._core built with AddressSanitizer + UndefinedBehaviorSanitizer in a
# scratch copy of the tree (build/sanitize/; the in-place module stays as it is), then the tests
# run in that copy once per instruction set this CPU runs, each forced by PYSOFTMAX_ISA (tests
# that take the `isa` fixture cover every set in each run; the others run on the forced one).
#   tests/sanitize.sh PYTHON [PYTEST ARGS...]    default arguments: tests (the whole suite)
# SANITIZE_ISAS="scalar avx2" picks the sets. Python is not instrumented: libasan is preloaded,
# leak checks are off (the interpreter keeps its memory), and the first ASan report or
# undefined behaviour ends the run with a non-zero status, as a failing test does.
set -euo pipefail
py=${1:?usage: tests/sanitize.sh PYTHON [PYTEST ARGS...]}
shift
[ $# -gt 0 ] || set -- tests
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/build/sanitize
rm -rf "$dir"
mkdir -p "$dir"
tar -C "$root" --exclude='*.so' --exclude=__pycache__ --exclude=build \
    -cf - setup.py pyproject.toml README.md LICENSE csrc pysoftmax tests | tar -C "$dir" -xf -
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
start=$(date +%s)
(cd "$dir" && CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" \
    "$py" setup.py -q build_ext --inplace)
echo "sanitize: built in $(($(date +%s) - start)) s"
export LD_PRELOAD=$(${CXX:-g++} -print-file-name=libasan.so)
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cd "$dir"
isas=${SANITIZE_ISAS:-$("$py" -c 'from pysoftmax import _core
print(" ".join(_core.available_isas() + [name for name, _ in _core.testing_isas()]))')}
for isa in $isas; do
    t=$(date +%s)
    PYSOFTMAX_ISA=$isa "$py" -m pytest -x -q -p no:cacheprovider "$@"
    echo "sanitize: $isa clean in $(($(date +%s) - t)) s"
done
