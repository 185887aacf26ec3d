# make demo / make test: each creates .venv, installs pysoftmax into it (editable, so the
# compiled module sits next to the sources) and runs. Re-installs only when sources change.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SOURCES := setup.py pyproject.toml $(wildcard csrc/*.cpp csrc/*.h)

.PHONY: demo test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-base: $(BIN)/python $(SOURCES)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python $(SOURCES)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e ".[test]"
	touch $@ $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	$(BIN)/python -m pysoftmax demo

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info pysoftmax/*.so
