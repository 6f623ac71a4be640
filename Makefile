# The two commands of the README. Both set up what they need first, so each works on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint setup test-setup

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
