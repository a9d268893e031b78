# Brenda's developer commands. `make run` and `make test` set everything up on their own.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install lock run dev-setup test lint bench clean

install: $(STAMP)

# Installs exactly the locked set: requirements.lock pins every package, transitive ones included, each with
# its hashes (pip refuses anything else). Re-installs only when the lock changed (the stamp is newer otherwise).
$(STAMP): requirements.lock
	@set -e; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		PYTHON=$$(bash scripts/find-python.sh); \
		echo "Creating $(VENV) with $$PYTHON ($$($$PYTHON --version))"; \
		rm -rf $(VENV); "$$PYTHON" -m venv $(VENV); \
	fi; \
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock; \
	touch $(STAMP); \
	echo "Installed requirements.lock into $(VENV) ($$($(PY) --version))"

# Refresh requirements.lock after editing requirements.txt or requirements-dev.txt (the direct, pinned
# dependencies); pins already in the lock are kept unless LOCK_ARGS=--upgrade (or --upgrade-package NAME).
lock: install
	CUSTOM_COMPILE_COMMAND="make lock" \
	$(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links $(LOCK_ARGS) -o requirements.lock requirements-dev.txt

# A development server on HOST:PORT (make run PORT=8001) after the development setup below.
run: install dev-setup
	DEBUG=$${DEBUG:-true} $(PY) manage.py runserver $(HOST):$(PORT)

# The development setup: a .env with DEBUG=true and a random SECRET_KEY when there is none (so every README
# command works in any terminal), the database migrated, the demo catalogue loaded into an empty catalogue only.
dev-setup: install
	@bash scripts/dev-env.sh $(PY)
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(PY) manage.py load_demo_catalogue

test: install
	@$(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "No tests were collected: that is a failure."; exit 1; fi; exit $$status

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true $(VENV)/bin/mypy

# BENCH_DB names the PostgreSQL database of the ack/e2e benches (created, and dropped only if the bench created
# it); BENCH_ARGS passes other options, e.g. make bench BENCH_DB=brenda_bench_me BENCH_ARGS=--quick.
bench: install
	$(PY) -m bench $(if $(BENCH_DB),--db-name $(BENCH_DB)) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache staticfiles
