# make demo / make test / make bench: each creates .venv, installs pysoftmax into it (editable,
# so the compiled module sits next to the sources) and runs. Re-installs only when sources change.
# make bench BENCH_ARGS="--quick --plot k.png": options of `python -m pysoftmax bench`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SOURCES := setup.py pyproject.toml $(wildcard csrc/*.cpp csrc/*.h)
BENCH_ARGS ?=

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The demo trains SoftmaxRegression against scikit-learn and draws its templates: the sklearn
# (scikit-learn, SciPy, tqdm) and plot (matplotlib) extras. The test and bench extras hold them.
$(VENV)/.installed-demo: $(BIN)/python $(SOURCES)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[sklearn,plot]"
	touch $@

$(VENV)/.installed-test: $(BIN)/python $(SOURCES)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[test]"
	touch $@ $(VENV)/.installed-demo

# torch is a peer of the benchmark, not a dependency of the extra (it is large).
$(VENV)/.installed-bench: $(BIN)/python $(SOURCES)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[bench]" torch==2.13.0
	touch $@ $(VENV)/.installed-demo

demo: $(VENV)/.installed-demo
	$(BIN)/python -m pysoftmax demo

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-bench
	$(BIN)/python -m pysoftmax bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info pysoftmax/*.so
