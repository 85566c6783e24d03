# PriceHub: `make run` starts the whole stack, `make test` runs every test. Both set up what is missing.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test bench chaos lint format setup openapi

run: setup
	$(PY) -m deploy.run

test: setup lint
	$(PY) -m pytest --numprocesses 2

bench: setup $(VENV)/bench-installed
	bench/setup.sh
	$(PY) -m bench.load

chaos: setup $(VENV)/bench-installed
	$(PY) -m bench.chaos

lint: $(VENV)/installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(VENV)/installed
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

openapi: $(VENV)/installed
	$(PY) manage.py spectacular --file openapi.yaml --validate --fail-on-warn

setup: $(VENV)/installed
	deploy/setup.sh

$(VENV)/bench-installed: $(VENV)/installed bench/requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $@

$(VENV)/installed: requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@
