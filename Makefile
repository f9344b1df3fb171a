# Developer entry points. Everything runs from .venv without activating it.
#   make run    migrate + demo data + development server on SQLite (no other service needed)
#   make test   the CI quality gates: ruff, ruff format, makemigrations --check, pytest

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Prefer python3.11 (what production runs), fall back to python3.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff
STAMP := $(VENV)/.installed
PORT ?= 8000
PYTEST_ARGS ?=

# `make run` needs nothing but Python: SQLite in the project folder, Celery's in-memory broker
# with tasks run inline, e-mail to the console. Set explicitly so a .env or shell variable
# pointing at PostgreSQL/Redis/SMTP cannot leak in.
RUN_ENV := SROI_ENV=development \
	SROI_BASE_URL=http://127.0.0.1:$(PORT) \
	DATABASE_URL="sqlite:///$(CURDIR)/db.sqlite3" \
	REDIS_URL= \
	CELERY_BROKER_URL=memory:// \
	CELERY_RESULT_BACKEND= \
	CELERY_TASK_ALWAYS_EAGER=true \
	EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend

# Tests always run with the test profile (pytest-django reads sroi.settings).
TEST_ENV := SROI_ENV=test

.PHONY: help venv run demo-code test lint format bench clean distclean

help:
	@echo "make venv       create .venv and install requirements-dev.txt (only when they changed)"
	@echo "make run        migrate, load demo data (prints the demo logins), serve on 127.0.0.1:$(PORT)"
	@echo "make demo-code  EMAIL=<demo e-mail>: print that demo user's current two-factor code"
	@echo "make test       ruff check, ruff format --check, makemigrations --check, pytest"
	@echo "make lint       apply ruff fixes and formatting (same as make format)"
	@echo "make format     apply ruff fixes and formatting"
	@echo "make bench      run the benchmarks (python -m benchmarks) if there are any"
	@echo "make clean      remove caches and collected static files"
	@echo "make distclean  clean + remove .venv, the development database and var/"

$(PY):
	@test -n "$(PYTHON)" || { echo "python3.11 or python3 not found" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install "setuptools<81" wheel
	$(PY) -m pip install --no-build-isolation $$(grep -h '^xstatic-' requirements.txt)
	$(PY) -m pip install -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

run: venv
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) PORT=$(PORT) $(PY) manage.py seed_demo
	$(RUN_ENV) $(PY) manage.py run_monitoring
	@echo
	@echo "Development server: http://127.0.0.1:$(PORT)/  (Ctrl-C to stop)"
	@echo "Log in as adviseur@demo.sroi.nl with password demo-sroi-2026 (all demo logins above)."
	@echo "Staff logins then ask for a 6-digit code: make demo-code EMAIL=adviseur@demo.sroi.nl"
	@echo "Periodic jobs (CELERY_BEAT_SCHEDULE) run in-process: manage.py run_scheduler"
	@$(RUN_ENV) $(PY) manage.py run_scheduler --no-initial-run & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null' EXIT INT TERM; \
	$(RUN_ENV) $(PY) manage.py runserver 127.0.0.1:$(PORT)

# The current two-factor code of a demo user (development database only).
demo-code: venv
	@test -n "$(EMAIL)" || { echo "usage: make demo-code EMAIL=adviseur@demo.sroi.nl" >&2; exit 2; }
	@$(RUN_ENV) $(PY) manage.py demo_otp_code "$(EMAIL)"

test: venv
	$(RUFF) check .
	$(RUFF) format --check .
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run
	@rc=0; $(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: treated as a failure" >&2; fi; \
	exit $$rc

format: venv
	$(RUFF) check --fix .
	$(RUFF) format .

lint: format

bench:
	@if [ -d benchmarks ]; then \
		$(MAKE) --no-print-directory venv && $(PY) -m benchmarks; \
	else \
		echo "no benchmarks yet"; \
	fi

clean:
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache .hypothesis htmlcov .coverage staticfiles

distclean: clean
	rm -rf $(VENV) db.sqlite3 var
