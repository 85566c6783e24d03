# PriceHub: `make run` starts the whole stack, `make test` runs every test. Both set up what is missing.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test bench chaos lint format setup browser openapi

run: setup
	$(PY) -m deploy.run

test: setup browser lint
	$(PY) -m pytest --numprocesses 2

bench: setup $(VENV)/bench-installed
	bench/setup.sh
	$(PY) -m bench.load

chaos: setup $(VENV)/bench-installed
	$(PY) -m bench.chaos

lint: $(VENV)/installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-logo --cache-dir .cache/import-linter

format: $(VENV)/installed
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

openapi: $(VENV)/installed
	$(PY) manage.py spectacular --file openapi.yaml --validate --fail-on-warn

setup: $(VENV)/installed
	deploy/setup.sh

# Debian's Chromium for the browser tests, which skip with a message where it cannot be installed.
browser:
	@command -v chromium >/dev/null || deploy/apt-install.sh chromium || \
	  echo "No Chromium: the browser tests will be skipped."

$(VENV)/bench-installed: $(VENV)/installed bench/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $@

$(VENV)/installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@
