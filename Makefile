# Touchpoint: `make run` (the nightly pipeline on a sample day) and `make test`.
# Both bootstrap everything on a fresh machine: a pinned uv, the locked venv, the
# embedded PostgreSQL warehouse (unless WAREHOUSE_URL is set).
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
UV_HOME := .local/uv
UV := $(UV_HOME)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
SAMPLE_DATE ?= 2026-11-01
SAMPLE_CUSTOMERS ?= 2000
# days simulated before SAMPLE_DATE; delivered in the SAMPLE_DATE folder as an initial backfill
SAMPLE_HISTORY_DAYS ?= 28
SAMPLE_DIR ?= .local/sample
PYTEST_ARGS ?=

export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export UV_CACHE_DIR ?= $(CURDIR)/.local/uv-cache

.PHONY: help setup run test test-slow bench docs warehouse-start warehouse-stop compose-env lint clean

help:
	@echo "make run    - set up, start the embedded warehouse, generate a sample day (with history), run the nightly DAG"
	@echo "make test   - set up, then run the test suite against a real PostgreSQL"
	@echo "make bench  - run the benchmarks under bench/"
	@echo "make compose-env - write .env with random secrets for docker compose"
	@echo "make clean  - remove the venv and everything under .local/"

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Touchpoint needs Python 3.11+; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# Reinstall only when the lock changes; --frozen: exactly the locked versions.
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced

# The sample is regenerated on every run (no stamp), so a changed SAMPLE_* setting always
# takes effect; the loader replaces a delivery file whose content changed.
run: $(VENV)/.synced
	$(BIN)/touchpoint warehouse start
	$(BIN)/touchpoint generate --customers $(SAMPLE_CUSTOMERS) --days 1 --start $(SAMPLE_DATE) \
		--history-days $(SAMPLE_HISTORY_DAYS) --seed 7 --out $(SAMPLE_DIR)
	TOUCHPOINT_LANDING_DIR=$(SAMPLE_DIR)/landing $(BIN)/touchpoint run --date $(SAMPLE_DATE)

test: $(VENV)/.synced
	$(BIN)/touchpoint warehouse start
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Also the tests that run real DAG nights through the benchmark harness (slow).
test-slow: $(VENV)/.synced
	$(BIN)/touchpoint warehouse start
	TOUCHPOINT_SLOW_TESTS=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.synced
	$(BIN)/touchpoint warehouse start
	for script in bench/bench_*.py; do $(BIN)/python $$script || exit 1; done

docs: $(VENV)/.synced
	$(BIN)/python -m ingestion.render_docs

warehouse-start: $(VENV)/.synced
	$(BIN)/touchpoint warehouse start

warehouse-stop: $(VENV)/.synced
	$(BIN)/touchpoint warehouse stop

# The untracked .env docker-compose.yml reads its secrets from (random; never overwritten).
compose-env:
	$(PYTHON) docker/make_env.py

clean:
	-$(BIN)/touchpoint warehouse stop 2>/dev/null
	rm -rf $(VENV) .local
