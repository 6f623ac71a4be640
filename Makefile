# The two commands of the README. Both set up what they need first, so each works on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test test-team lint setup test-setup

run: setup
	$(PY) manage.py runserver

test: test-setup
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup $(VENV)/.requirements-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

setup: $(VENV)/.requirements

$(VENV)/.requirements: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

test-setup: setup $(VENV)/.requirements-dev
	bash scripts/test-setup

$(VENV)/.requirements-dev: requirements-dev.txt requirements.txt requirements-grpc.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# The whole suite again on a team's backends: PostgreSQL and Redis (both on 127.0.0.1, as on CI),
# a database and a Redis prefix of this run's own.
TEAM_DB ?= postgres://postgres@127.0.0.1:5432/studio_ci_$(shell echo $$$$)
test-team: test-setup
	DATABASE_URL=$(TEAM_DB) REDIS_URL=redis://127.0.0.1:6379/0 STUDIO_REDIS_PREFIX=ci$(shell echo $$$$) \
		$(PY) -m pytest $(PYTEST_ARGS)
