# Two set-up commands, each working on a fresh machine: `make test` and `make demo`.
# Both create .venv, install the locked dependency set and the package, then run.
SHELL := /bin/bash
# The interpreter of each leg: the main one (Airflow 3.3) on Python 3.12, what Airflow's official images
# run; the Airflow 2.11 leg on 3.11, so both are tested. Found on PATH or in pyenv (a pyenv shim that
# would not run is skipped); `make PYTHON=/path/to/python3.12 PYTHON2=...` overrides.
find-python = $(firstword $(foreach p,$(shell command -v python$(1) 2>/dev/null) \
  $(sort $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/$(1).*/bin/python$(1))) \
  /usr/local/bin/python$(1) /usr/bin/python$(1),$(if $(shell $(p) -c 'import sys; print(sys.version_info[:2] == ($(subst .,$(comma),$(1))))' 2>/dev/null | grep True),$(p))))
comma := ,
PYTHON ?= $(call find-python,3.12)
PYTHON2 ?= $(call find-python,3.11)
VENV ?= .venv
UV_VERSION := 0.13.9
BIN := $(VENV)/bin
UV := $(BIN)/uv
STAMP := $(VENV)/.installed
# The Airflow 2.11 leg: its own environment, from its own lock.
VENV2 ?= .venv-airflow2
STAMP2 := $(VENV2)/.installed
# The production stack (CeleryExecutor, Redis, OpenLineage): its own environment, from its own lock, so
# OpenLineage's listeners stay out of every other test.
VENV_PROD ?= .venv-production
STAMP_PROD := $(VENV_PROD)/.installed
# Where `make docs` writes the site.
DOCS_OUT ?= docs/_build

# $(1), run with AIRFLOW_HOME set to a new temporary folder that is removed afterwards, whatever the
# outcome: Airflow writes airflow.cfg (and more) into its home when it is first imported, and without
# this that home is the developer's ~/airflow.
with-airflow-home = home=$$(mktemp -d) && trap 'rm -rf "$$home"' EXIT && AIRFLOW_HOME=$$home $(1)

.PHONY: test lint typecheck unit e2e e2e-ha e2e-airflow2 e2e-production postgres-server redis-server test-airflow2 reliability docs dist demo bench race lock clean

# $(1): the environment's folder; $(2): its lock file; $(3): the interpreter, $(4) its version.
define make-env
	@test -n "$(3)" || { echo "Python $(4) not found (on PATH, in pyenv, /usr/local/bin, /usr/bin): install it (pyenv install $(4)) or pass its path: make $(5)=/path/to/python$(4)" >&2; exit 1; }
	$(3) -m venv --clear $(1)
	$(1)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(1)/bin/uv pip install --quiet --python $(1)/bin/python -r $(2)
	$(1)/bin/uv pip install --quiet --python $(1)/bin/python --no-deps -e .
	touch $(1)/.installed
endef

$(STAMP): pyproject.toml requirements.lock
	$(call make-env,$(VENV),requirements.lock,$(PYTHON),3.12,PYTHON)

$(STAMP2): pyproject.toml requirements-airflow2.lock
	$(call make-env,$(VENV2),requirements-airflow2.lock,$(PYTHON2),3.11,PYTHON2)

$(STAMP_PROD): pyproject.toml requirements-production.lock
	$(call make-env,$(VENV_PROD),requirements-production.lock,$(PYTHON),3.12,PYTHON)

lint: $(STAMP)
	$(BIN)/ruff check airflow_provider_cfw tests example_dags benchmarks docs/conf.py docs/_ext docs/examples
	$(BIN)/ruff format --check airflow_provider_cfw tests example_dags benchmarks docs/conf.py docs/_ext docs/examples

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(call with-airflow-home,$(BIN)/pytest -p no:cacheprovider -m "not e2e and not e2e_ha and not e2e_airflow2 and not e2e_production")

e2e: $(STAMP)
	$(call with-airflow-home,$(BIN)/pytest -p no:cacheprovider -m e2e)

# The stacks below keep Airflow's metadata in PostgreSQL: Debian's server (initdb, postgres), started
# by the tests as an unprivileged user on a free 127.0.0.1 port. Installed here if it is missing.
postgres-server:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { echo "PostgreSQL's server is missing: installing Debian's postgresql"; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; }

# Airflow's scale-out path: PostgreSQL, several triggerers, one SIGKILLed while it holds 40 mapped
# deferred waits; prints one "HA: ..." summary line per round (CI runs it from .ci/run).
e2e-ha: $(STAMP) postgres-server
	$(call with-airflow-home,$(BIN)/pytest -p no:cacheprovider -m e2e_ha tests/e2e/test_e2e_ha.py)

# Airflow 2.11 on a real stack: PostgreSQL, LocalExecutor, scheduler and triggerer, every sensor mode.
e2e-airflow2: $(STAMP2) postgres-server
	$(call with-airflow-home,$(VENV2)/bin/pytest -p no:cacheprovider -m e2e_airflow2 tests/e2e/test_e2e_airflow2.py)

# The Celery broker of the production stack: Debian's redis-server, started by the test as an
# unprivileged process on a free 127.0.0.1 port, without persistence. Installed here if it is missing.
redis-server:
	@command -v redis-server >/dev/null || \
	  { echo "Redis's server is missing: installing Debian's redis-server"; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends redis-server; }

# Production as most deployments run it: CeleryExecutor with two workers, a Redis broker, PostgreSQL
# as metadata database and result backend, OpenLineage's listener installed. Every sensor mode, the
# lifecycle, a batch of fast waits and a SIGKILLed worker; prints one "production: ..." summary line.
e2e-production: $(STAMP_PROD) postgres-server redis-server
	$(call with-airflow-home,$(VENV_PROD)/bin/pytest -p no:cacheprovider -m e2e_production tests/e2e/test_e2e_production.py)

# The unit and integration tests and the example DAGs' integrity on Airflow 2.11 (end-to-end runs are Airflow 3's).
test-airflow2: $(STAMP2)
	$(call with-airflow-home,$(VENV2)/bin/pytest -p no:cacheprovider -m "not e2e" --ignore=tests/e2e)

# Rewrite docs/reliability.md from what the retry-table tests observe (`make test` fails when it is stale).
reliability: $(STAMP)
	$(call with-airflow-home,CFW_WRITE_RELIABILITY=1 $(BIN)/pytest -q tests/hooks/test_retries.py)

# The documentation site, warnings as errors: docs/_build/html/index.html. (Autodoc imports Airflow; docs/conf.py
# keeps Airflow's import-time INFO lines quiet.)
docs: $(STAMP)
	rm -rf $(DOCS_OUT)
	$(call with-airflow-home,$(BIN)/sphinx-build -W --keep-going -q -b html docs $(DOCS_OUT)/html)
	@echo "docs: $(DOCS_OUT)/html/index.html"

# The sdist and the wheel, as released (setuptools in an isolated environment, installed by uv), and
# twine's check of their metadata.
dist: $(STAMP)
	rm -rf dist
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m build --quiet --installer uv --outdir dist .
	$(BIN)/twine check --strict dist/*

# The whole suite: lint, type check, docs, the release archives; Airflow 3's unit and end-to-end tests
# side by side; the Airflow 2.11 leg; then the stacks on PostgreSQL, one at a time: Airflow 2.11's, the
# triggerer failover and the production stack (Celery, Redis, OpenLineage).
test: lint typecheck docs dist postgres-server $(STAMP) $(STAMP2)
	$(call side-by-side,e2e,unit)
	$(MAKE) test-airflow2
	$(MAKE) e2e-airflow2
	$(MAKE) e2e-ha
	$(MAKE) e2e-production

# Two targets at once, to keep `make test` well inside CI's time on 2 cores: $(1), the stacks that mostly
# wait on Airflow's loops, in the background, its output printed when both have ended; $(2), tests that
# mostly compute, in the foreground. Each pytest leg has its own AIRFLOW_HOME; the result fails if either does.
# A shell starts a background job with SIGINT and SIGQUIT ignored, and that outlives exec: `env` gives them
# back their defaults, so Ctrl-C stops both halves and the processes a test interrupts hear it.
define side-by-side
	+@log=$$(mktemp) && trap 'rm -f "$$log"' EXIT; \
	env --default-signal=INT,QUIT $(MAKE) --no-print-directory $(1) >"$$log" 2>&1 & background=$$!; \
	$(MAKE) --no-print-directory $(2); foreground=$$?; \
	wait $$background; background=$$?; \
	echo "==== make $(1), run beside make $(2) (exit $$background):"; cat "$$log"; \
	test $$foreground -eq 0 && test $$background -eq 0
endef

demo: $(STAMP)
	$(BIN)/python -m tests.e2e.demo

# What a wait costs on the triggerer, the provider against a bare aiohttp floor (docs/performance.md);
# about 10 minutes. BENCH_QUICK=1 for a one-minute run; options: BENCH_ARGS="--help".
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# Issue 26's full measurement: RACE_WAITS (default 100) short deferred waits per way to wait on a real
# Airflow 3 stack, the tasks failed although their job succeeded counted from Airflow's records and
# its scheduler log (exit 1 if any); also worker starts, CPU and latency per wait. Airflow's timing
# defaults, 7 modes, the listeners one on a second stack: about 70 minutes on 2 busy cores.
RACE_WAITS ?= 100
race: $(STAMP)
	$(BIN)/python -m tests.e2e.race_bench --waits $(RACE_WAITS) $(RACE_ARGS)

# Re-resolve both lock files from their .in files (needs the package index), each for its leg's Python.
lock:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) pip compile --quiet --python-version 3.12 --no-emit-package airflow-provider-cfw requirements.in -o requirements.lock
	$(UV) pip compile --quiet --python-version 3.11 --no-emit-package airflow-provider-cfw requirements-airflow2.in -o requirements-airflow2.lock
	$(UV) pip compile --quiet --python-version 3.12 --no-emit-package airflow-provider-cfw requirements-production.in -o requirements-production.lock

clean:
	rm -rf $(VENV) $(VENV2) $(VENV_PROD) .mypy_cache .pytest_cache .ruff_cache docs/_build dist build
