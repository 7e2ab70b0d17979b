# DeltaCrown Leaderboards: developer commands. Everything runs in .venv with Python 3.11.
# With no environment variables set the service uses SQLite (db.sqlite3) and an embedded Redis.
# See .env.example for the variables (DATABASE_URL, REDIS_URL, ...).

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check --quiet --quiet
# python3.11 when present, else python3 (which must then be 3.11). Override: make PYTHON=...
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

# Stamps: pip runs again only when a requirements file is newer than its stamp. pip is run
# with -qq: errors only (this machine kind's pip configuration warns about absent local indexes).
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: help install install-dev migrate seed run serve-prod test lint format migrations-check schema \
	check clean

help:
	@echo "make run     create .venv, install, migrate, seed demo data, serve on http://$(HOST):$(PORT)/"
	@echo "make test    create .venv, install dev tools, run the whole test suite (pytest)"
	@echo "make serve-prod  gunicorn + PostgreSQL + Redis, production settings (scripts/serve_prod.sh)"
	@echo "make check   lint + format check + migrations check + OpenAPI schema check + tests"
	@echo "make lint    ruff check, ruff format --check, lint-imports (the layers in pyproject.toml)"
	@echo "make format  ruff format and ruff check --fix"
	@echo "make seed    migrate and load the demo data set (idempotent; manage.py seed_demo --reset rebuilds)"
	@echo "make clean   remove caches and collected static files (keeps .venv and db.sqlite3)"

$(PY):
	@test -n "$(PYTHON)" || { echo "Python 3.11 not found: install it or pass PYTHON=/path/to/python3.11" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required; $(PYTHON) is " + sys.version.split()[0])'
	@echo "Creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt | $(PY)
	@echo "Installing requirements.txt into $(VENV)"
	$(PIP) install -r requirements.txt
	@touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	@echo "Installing requirements-dev.txt into $(VENV)"
	$(PIP) install -r requirements-dev.txt
	@touch $@ $(RUNTIME_STAMP)

install: $(RUNTIME_STAMP)

install-dev: $(DEV_STAMP)

migrate: $(RUNTIME_STAMP)
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo --base-url http://$(HOST):$(PORT)

# runserver, not gunicorn: DEBUG is off by default and --insecure makes runserver serve the
# static files of the Django admin and Swagger UI. Production runs gunicorn (see Dockerfile).
run: seed
	@echo "Serving on http://$(HOST):$(PORT)/ (manage.py runserver --insecure; Ctrl-C stops it)"
	$(PY) manage.py runserver --insecure $(HOST):$(PORT)

# The production shape on this machine: gunicorn (deltacrown/gunicorn.conf.py), PostgreSQL,
# Redis, multiprocess metrics, DJANGO_ENV=production. See scripts/serve_prod.sh and
# docs/performance.md.
serve-prod: $(RUNTIME_STAMP)
	scripts/serve_prod.sh

test: $(DEV_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(DEV_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrations-check: $(RUNTIME_STAMP)
	$(PY) manage.py makemigrations --check --dry-run

schema: $(RUNTIME_STAMP)
	$(PY) manage.py spectacular --validate --fail-on-warn --file $(VENV)/openapi-schema.yaml
	@echo "OpenAPI schema valid ($(VENV)/openapi-schema.yaml)"

# In this order: the cheap checks fail first.
check: lint migrations-check schema test

clean:
	rm -rf staticfiles .pytest_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
