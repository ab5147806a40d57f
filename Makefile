# kycd: two commands on a fresh clone. `make run` serves, `make test` tests.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
HOST   ?= 127.0.0.1
PORT   ?= 8000
export KYCD_DATA_DIR ?= ./data

.PHONY: run test lint typecheck bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP) $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

## Serve kycd on the embedded SQLite database in ./data, with a demo tenant, and
## the worker (webhook delivery, periodic jobs) beside it; Ctrl-C stops both.
# Links kycd hands out (verification_url, the console) point at the served port.
run: export KYCD_PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
run: $(STAMP)
	$(BIN)/kycd migrate
	$(BIN)/kycd demo
	$(BIN)/kycd serve --with-worker --host $(HOST) --port $(PORT)

## Run the whole test suite, on SQLite and on PostgreSQL.
test: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -n 2 -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

## Benchmarks; figures go to BENCHMARKS.md.
bench: $(DEV_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
