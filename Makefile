# make test / make demo / make bench: each creates .venv, installs pysoftmax into it (editable,
# so the compiled module sits next to the sources) and runs. The three share one install, which
# is redone only when a source changes. make bench BENCH_ARGS="--quick --plot k.png": options
# of `python -m pysoftmax bench`.
# make lint / make format: check / fix the Python (ruff) and C++ (clang-format) style; they
# install the pinned tools into .venv without building pysoftmax.
# make mutate: deliberate bugs, one at a time, each built in a scratch copy of the tree, and
# whether its tests catch each (tests/mutate.py); ONLY=name runs one. Not part of make test.
# make sanitize: the extension built with ASan + UBSan in a scratch copy (build/sanitize/; the
# in-place module is untouched) and SANITIZE_TESTS run there on every instruction set the CPU
# runs, one pytest run per set (tests/sanitize.sh). The default is the kernels' tests;
# SANITIZE_TESTS=tests runs the whole suite, SANITIZE_ISAS="scalar avx2" picks the sets.
# .ci/run runs it with the default tests after make test.
# make sdist-check: builds the sdist, installs it (with the sklearn extra) into a fresh venv in
# build/sdist-check/ (compiled anew: no wheel cache) and runs tests/sdist_smoke.py there,
# outside the source tree.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q
CXX_SOURCES := $(sort $(shell find csrc -name '*.cpp' -o -name '*.h'))
SOURCES := setup.py pyproject.toml $(CXX_SOURCES)
# The style checkers' versions: pinned here only.
LINT_TOOLS := ruff==0.17.6 clang-format==23.1.5
# torch is a peer of the benchmark, not a dependency of the bench extra (it is large).
BENCH_PEERS := torch==2.13.0
BENCH_ARGS ?=

.PHONY: demo test bench mutate lint format sdist-check sanitize clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The test extra holds the demo's (sklearn: scikit-learn, SciPy, tqdm; plot: matplotlib).
$(VENV)/.installed: $(BIN)/python $(SOURCES)
	$(PIP) -e ".[test]"
	touch $@

# The bench extra on top of the installed pysoftmax: pip finds pysoftmax itself already
# installed and adds only the extra's missing packages, so nothing is rebuilt.
$(VENV)/.installed-bench: $(VENV)/.installed
	$(PIP) "pysoftmax[bench]" $(BENCH_PEERS)
	touch $@

$(VENV)/.installed-lint: $(BIN)/python Makefile
	$(PIP) $(LINT_TOOLS)
	touch $@

$(VENV)/.installed-build: $(BIN)/python Makefile
	$(PIP) build
	touch $@

demo: $(VENV)/.installed
	$(BIN)/python -m pysoftmax demo

test: $(VENV)/.installed
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-bench
	$(BIN)/python -m pysoftmax bench $(BENCH_ARGS)

mutate: $(VENV)/.installed
	$(BIN)/python tests/mutate.py $(if $(ONLY),--only $(ONLY))

# Both checks run, whatever the first one finds.
lint: $(VENV)/.installed-lint
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/clang-format --dry-run --Werror $(CXX_SOURCES) || status=1; \
	exit $$status

format: $(VENV)/.installed-lint
	$(BIN)/ruff check --fix .
	$(BIN)/clang-format -i $(CXX_SOURCES)

# The sanitized build compiles setup.py directly: pybind11 and setuptools (the build
# requirements, which pip's isolated builds bring only for their own time) go into the venv.
$(VENV)/.installed-sanitize: $(VENV)/.installed
	$(PIP) "pybind11>=2.12" "setuptools>=77"
	touch $@

SANITIZE_TESTS ?= tests/test_softmax.py tests/test_cross_entropy.py tests/test_linear.py \
	tests/test_sparse.py tests/test_special.py tests/test_golden.py tests/test_extremes.py \
	tests/test_validation.py tests/test_dispatch.py

sanitize: $(VENV)/.installed-sanitize
	bash tests/sanitize.sh $(CURDIR)/$(BIN)/python $(SANITIZE_TESTS)

SDIST_DIR := build/sdist-check

sdist-check: $(VENV)/.installed-build
	rm -rf $(SDIST_DIR)
	$(BIN)/python -m build --sdist --outdir $(SDIST_DIR) .
	$(PYTHON) -m venv $(SDIST_DIR)/venv
	sdist=$$(ls $(CURDIR)/$(SDIST_DIR)/pysoftmax-*.tar.gz) && \
	$(SDIST_DIR)/venv/bin/python -m pip install --disable-pip-version-check --no-cache-dir -q \
		"pysoftmax[sklearn] @ file://$$sdist"
	cd $(SDIST_DIR) && venv/bin/python $(CURDIR)/tests/sdist_smoke.py

clean:
	rm -rf $(VENV) build *.egg-info pysoftmax/*.so
