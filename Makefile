# PriceHub: `make run` starts the whole stack, `make test` runs every test. Both set up what is missing.
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv

AWS_VENV := .venv-aws
AWS_OUT := deploy/aws/cdk.out

.PHONY: run test tests bench chaos lint format setup browser openapi aws

run: setup
	$(PY) -m deploy.run

# Two jobs: the AWS templates (and their virtualenv) beside the set-up, lint and the tests.
test:
	$(MAKE) --no-print-directory -j2 aws tests

# Three test processes: most tests wait on the stacks they start (docs/operations.md).
tests: setup browser lint
	$(PY) -m pytest --numprocesses 3 --ignore deploy/tests/test_aws.py

bench: setup $(VENV)/bench-installed
	bench/setup.sh
	$(PY) -m bench.load

chaos: setup $(VENV)/bench-installed
	$(PY) -m bench.chaos

lint: $(VENV)/installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-logo --cache-dir .cache/import-linter
	$(PY) -m bandit --quiet --configfile pyproject.toml --recursive . --severity-level medium

format: $(VENV)/installed
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

openapi: $(VENV)/installed
	$(PY) manage.py spectacular --file openapi.yaml --validate --fail-on-warn

# AWS as code (deploy/aws, docs/deployment.md): synthesize both stacks offline, with the
# example context, lint the templates, then test them (deploy/tests/test_aws.py, which the
# other tests leave out: run beside them, it could start before the templates exist). The
# tools live in a virtualenv of their own. The app imports deploy.services (the front's
# configuration) from the project's root.
aws: $(AWS_VENV)/installed $(VENV)/installed
	rm -rf $(AWS_OUT)
	cd deploy/aws && CDK_OUTDIR=cdk.out CDK_CONTEXT_JSON="$$(cat example-context.json)" \
	  JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 PYTHONPATH=../.. \
	  ../../$(AWS_VENV)/bin/python app.py
	$(AWS_VENV)/bin/cfn-lint --config-file deploy/aws/cfnlintrc.yaml $(AWS_OUT)/*.template.json
	$(AWS_VENV)/bin/checkov --config-file deploy/aws/checkov.yaml \
	  -f $(AWS_OUT)/PriceHubImages.template.json -f $(AWS_OUT)/PriceHub.template.json
	$(PY) -m pytest deploy/tests/test_aws.py

setup: $(VENV)/installed
	deploy/setup.sh

# Debian's Chromium for the browser tests, which skip with a message where it cannot be installed.
browser:
	@command -v chromium >/dev/null || deploy/apt-install.sh chromium || \
	  echo "No Chromium: the browser tests will be skipped."

$(VENV)/bench-installed: $(VENV)/installed bench/requirements.txt
	$(UV) pip install --quiet --python $(PY) --compile-bytecode -r bench/requirements.txt
	touch $@

# Not byte-compiled at install: the tools import a few hundred of its 9,000 modules.
$(AWS_VENV)/installed: deploy/aws/requirements.txt $(VENV)/installed
	$(UV) venv --quiet --allow-existing --python python3 $(AWS_VENV)
	$(UV) pip install --quiet --python $(AWS_VENV)/bin/python -r $<
	touch $@

# uv installs the pinned packages (the same ones pip would) in 8 s where pip takes 28 s.
# Byte-compiled at install: the tests' many processes then never compile a module.
$(VENV)/installed: requirements.txt requirements-dev.txt | $(UV)
	$(UV) pip install --quiet --python $(PY) --compile-bytecode -r requirements-dev.txt
	touch $@

# A rule of its own, so that a virtualenv made before uv was used gets it too.
$(UV):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==0.13.9
