# FleetOps: `make run` sets up and starts everything; `make test` sets up and runs the suite.
SHELL := /bin/bash
.DEFAULT_GOAL := run
.PHONY: run test setup services stop migrate demo bench lint shell assets

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PG_PORT ?= 55432
REDIS_PORT ?= 56379
WEB_PORT ?= 8000
# `make test PYTEST_ARGS="tests/pricing -x"` runs part of the suite.
PYTEST_ARGS ?=
export FLEETOPS_PG_PORT := $(PG_PORT)
export FLEETOPS_REDIS_PORT := $(REDIS_PORT)
export WEB_PORT

# Without DATABASE_URL / REDIS_URL a private PostgreSQL and Redis run under var/.
# Two database roles, as in production (docs/operations.md): DATABASE_URL is the application's
# (fleetops_app, no superuser: web, workers, beat, every command of `make run`), DATABASE_OWNER_URL
# the owner's, used only by the steps that change the schema (migrate, db_app_role, the benchmarks'
# databases) and by the test runner to create and migrate its database. Given only DATABASE_URL,
# that one role does everything, as before.
ifeq ($(origin DATABASE_URL),undefined)
export PRIVATE_PG := 1
export DATABASE_URL := postgres://fleetops_app@127.0.0.1:$(PG_PORT)/fleetops
DATABASE_OWNER_URL ?= postgres://fleetops@127.0.0.1:$(PG_PORT)/fleetops
else
export PRIVATE_PG := 0
DATABASE_OWNER_URL ?= $(DATABASE_URL)
endif
export DATABASE_OWNER_URL
# A streaming replica of the private cluster for the replica router's test (tests/common/test_replica.py).
PG_REPLICA_PORT ?= $(shell echo $$(($(PG_PORT) + 10)))
export FLEETOPS_PG_REPLICA_PORT := $(PG_REPLICA_PORT)
AS_OWNER := DATABASE_URL=$(DATABASE_OWNER_URL)
ifeq ($(origin REDIS_URL),undefined)
export PRIVATE_REDIS := 1
export REDIS_URL := redis://127.0.0.1:$(REDIS_PORT)/0
else
export PRIVATE_REDIS := 0
endif

$(VENV)/.installed: requirements/base.txt requirements/dev.txt
	@test -x $(PY) || scripts/bootstrap_venv.sh $(PYTHON) $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/dev.txt
	@touch $@

setup: $(VENV)/.installed services

services:
	@scripts/services.sh start

stop:
	@scripts/services.sh stop

migrate: setup
	$(AS_OWNER) $(PY) manage.py migrate --noinput
	$(AS_OWNER) $(PY) manage.py db_app_role

# The demo world once (seed_demo records it in the database and says so on later runs); seed_demo
# loads the missing reference data first, every time, so no separate load_reference_data start.
demo: migrate
	$(PY) manage.py seed_demo --size small

# Front-end libraries from npm (package-lock.json) into static/vendor (git-ignored).
assets:
	@scripts/assets.sh

run: demo assets
	@$(PY) manage.py collectstatic --noinput -v 0
	@$(PY) manage.py demo_logins --port $(WEB_PORT)
	$(VENV)/bin/honcho start -f Procfile

test: setup assets
	@scripts/ensure_chromium.sh
	$(VENV)/bin/pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m pip install -q --no-deps -r requirements/bench.txt
	$(AS_OWNER) $(PY) bench/run_all.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

shell: migrate
	$(PY) manage.py shell
