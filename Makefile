# Two set-up commands, each working on a fresh machine: `make test` and `make demo`.
# Both create .venv, install the locked dependency set and the package, then run.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
UV_VERSION := 0.13.9
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck unit e2e demo lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip install --quiet --python $(BIN)/python -r requirements.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check airflow_provider_cfw tests example_dags
	$(BIN)/ruff format --check airflow_provider_cfw tests example_dags

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -m "not e2e"

e2e: $(STAMP)
	$(BIN)/pytest -m e2e

# The whole suite: lint, type check, unit and end-to-end tests.
test: lint typecheck
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/python -m tests.e2e.demo

# Re-resolve requirements.lock from requirements.in (needs the package index).
lock:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip compile --quiet --python-version 3.11 --no-emit-package airflow-provider-cfw requirements.in -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
