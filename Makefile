# Every target is a thin call into uv. A fresh machine needs only Python 3.11+ and make:
# uv is bootstrapped into .tools/ (project-local) and the workspace is synced from uv.lock.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
export UV := $(abspath $(UV))

.PHONY: up demo test test-fast test-quick coverage test-long reliability lint format bench sync contracts clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) uv.lock pyproject.toml */pyproject.toml libs/*/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen --all-packages
	touch $@

sync: $(VENV)/.synced

up: sync  ## run NATS and the five services locally (Ctrl-C stops)
	$(BIN)/yts up

demo: sync  ## the same, filled with a demo programme
	$(BIN)/yts up --demo

lint: sync  ## ruff (lint and format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy contracts/src libs/chassis/src services/*/src deploy/src tests bench

# The suite runs on PYTEST_WORKERS pytest-xdist workers (0: in this process, one at a time),
# each test module whole on one worker (they share module-scoped apps; see tests/conftest.py).
PYTEST_WORKERS ?= 2
PARALLEL := -n $(PYTEST_WORKERS) --dist loadfile
COVERAGE := --cov --cov-report=term:skip-covered --cov-report=xml:coverage.xml

test: lint  ## lint, type-check and the whole test suite (SQLite; PostgreSQL with YTS_TEST_POSTGRES_URL)
	$(BIN)/pytest -m "not slow" $(PARALLEL) $(PYTEST_ARGS)

test-fast: sync  ## the pure tests alone (no server, process or browser): seconds
	$(BIN)/pytest -m fast $(PYTEST_ARGS)

test-quick: sync  ## the suite without the heavy tests (venv installs, Chromium, cluster, reliability)
	$(BIN)/pytest -m "not slow and not heavy" $(PARALLEL) $(PYTEST_ARGS)

coverage: sync  ## make test's tests with line coverage of contracts, libs, services and deploy
	$(BIN)/pytest -m "not slow" $(PARALLEL) $(COVERAGE) $(PYTEST_ARGS)

test-long: sync  ## the long suites (load, fault loops)
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

RELIABILITY_RESULTS ?= results/reliability
RELIABILITY := YTS_RELIABILITY_RESULTS=$(abspath $(RELIABILITY_RESULTS)) \
	YTS_RELIABILITY_SCALE=$${YTS_RELIABILITY_SCALE:-1} YTS_FUZZ_EXAMPLES=$${YTS_FUZZ_EXAMPLES:-100}

reliability: sync  ## long crash/restart, scaled-out and fuzz runs: SQLite, then PostgreSQL if YTS_TEST_POSTGRES_URL
	@# Every pass runs even if one fails, so that the figures table is whole; failure at the end.
	failed=0; \
	env -u YTS_TEST_POSTGRES_URL $(RELIABILITY) $(BIN)/pytest tests/reliability -m slow $(PYTEST_ARGS) || failed=1; \
	env -u YTS_TEST_POSTGRES_URL $(RELIABILITY) $(BIN)/pytest tests/reliability/test_http_fuzz.py $(PYTEST_ARGS) || failed=1; \
	if [ -n "$$YTS_TEST_POSTGRES_URL" ]; then \
	  $(RELIABILITY) $(BIN)/pytest tests/reliability -m slow $(PYTEST_ARGS) || failed=1; fi; \
	cat $(RELIABILITY_RESULTS)/figures.md; \
	exit $$failed

format: sync
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

contracts: sync  ## regenerate JSON Schemas and the AsyncAPI document
	$(BIN)/python -m yts_contracts.generate

bench: sync  ## the speed table of docs/performance.md; e.g. BENCH_ARGS="--postgres URL" or "--smoke"
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) .state .pytest_cache .mypy_cache .ruff_cache .coverage coverage.xml
