# Kith — every set-up step lives here so `make run` and `make test` work on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)

# The PostgreSQL + Redis pass of `make test` (CI sets the same values).
PG_URL ?= $(or $(KITH_TEST_DATABASE_URL),postgresql+psycopg://postgres@127.0.0.1:5432/test)
REDIS_URL ?= $(or $(KITH_TEST_REDIS_URL),redis://127.0.0.1:6379/0)
PYTEST_ARGS ?=

.PHONY: install run serve test test-sqlite test-postgres lint format bench lock clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

## Run Kith on SQLite (./var/kith.db): migrate, demo data on first run, serve on :8000.
run: install
	$(BIN)/kith migrate
	$(BIN)/kith demo --if-empty
	$(BIN)/kith serve

## Lint, type-check, then the whole suite on SQLite and again on PostgreSQL + Redis.
test: install lint test-sqlite test-postgres

test-sqlite: install
	KITH_TEST_DATABASE_URL= KITH_TEST_REDIS_URL= $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: install
	KITH_TEST_DATABASE_URL=$(PG_URL) KITH_TEST_REDIS_URL=$(REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check kith tests bench
	$(BIN)/ruff format --check kith tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff format kith tests bench
	$(BIN)/ruff check --fix kith tests bench

bench: install
	$(BIN)/python -m bench

## Re-resolve requirements.lock from pyproject.toml.
lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis
